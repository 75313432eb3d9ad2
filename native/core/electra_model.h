// ElectraModel: the generator + discriminator pair with shared embeddings,
// their parameters in one buffer, and the whole replaced-token-detection
// training step (masking, generator, Gumbel sampling, discriminator, both
// losses, backward, clipping, AdamW) run without returning to the caller.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backend.h"
#include "encoder.h"
#include "model_config.h"
#include "params.h"
#include "status.h"

namespace electra {

// One training batch of k = grad_accum micro-batches, each B x S, row-major.
struct Batch {
  const int32_t* input_ids = nullptr;       // [k*B, S]
  const int32_t* token_type_ids = nullptr;  // [k*B, S] (nullptr = all 0)
  const int32_t* attention_mask = nullptr;  // [k*B, S] 1 real, 0 pad (nullptr = all 1)
  int64_t rows = 0;                         // k*B
  int64_t seq_len = 0;                      // S
};

// Test hook: replaces the random parts of the step with given values, so a
// step can be compared against a reference implementation (then grad_accum
// must be 1). With the three vectors empty only the flags apply, for any
// grad_accum (logits outputs then hold the last micro-batch's).
struct StepOverrides {
  std::vector<int32_t> masked_positions;     // [M] sorted flat indices b*S+s
  std::vector<int32_t> generator_input_ids;  // [B*S]
  std::vector<int32_t> sampled_ids;          // [M]
  bool apply_update = true;  // false: stop after the backward (grads unclipped)
  // Filled when non-null: generator logits at masked rows [M,V], discriminator logits [B*S].
  std::vector<float>* gen_logits_out = nullptr;
  std::vector<float>* disc_logits_out = nullptr;
};

// The discriminator's logits of real tokens, counted in kAucBins equal bins
// over [-kAucLogitRange, kAucLogitRange] (values outside land in the end bins),
// one histogram for replaced and one for original tokens. Summed over batches
// they give the ROC-AUC of "replaced" (lib/metrics/auc.ts); two scores in one
// bin count as a tie (half a correctly ordered pair), so the AUC is exact up to
// pairs closer than one bin width (32/2048 = 1/64 in logit).
constexpr int kAucBins = 2048;
constexpr float kAucLogitRange = 16.0f;
inline int auc_bin(float logit) {
  const float x = (logit + kAucLogitRange) * (kAucBins / (2.0f * kAucLogitRange));
  if (!(x >= 0.0f)) return 0;  // NaN too: the step reports it as a non-finite loss
  return x >= kAucBins ? kAucBins - 1 : static_cast<int>(x);
}

struct StepMetrics {
  // loss, gen/disc losses, accuracies, precision/recall of "replaced",
  // replaced fraction, grad norm (before clipping), lr, token counts: config_table.h.
  ELECTRA_STEP_METRIC_FIELDS(ELECTRA_DECLARE_FIELD)
  std::array<double, kAucBins> disc_hist_replaced{}, disc_hist_original{};  // see auc_bin
  bool skipped = false;         // the loss exceeded TrainConfig::skip_above_loss: no update
};

// Philox offsets: every micro-batch gets a disjoint window of offsets.
constexpr uint64_t kRngWindow = 4096;

class ElectraModel {
 public:
  // exec picks the backend (CPU, or CUDA device N) and the GEMM precision.
  static Status create(const ModelConfig& cfg, std::unique_ptr<ElectraModel>* out,
                       const ExecOptions& exec = ExecOptions());

  const ModelConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  const ExecOptions& exec() const { return exec_; }
  Backend& backend() { return *be_; }
  // The host copy of params, grads and AdamW moments. On the CPU backend it is
  // the working memory itself. On CUDA the working copy lives on the device:
  // call sync_to_host() before reading or writing these buffers, and
  // host_modified() after writing them (the next native call uploads them).
  ParamBuffers& buffers() { return buf_; }
  Status sync_to_host();
  void host_modified() { device_stale_ = true; }
  int64_t num_parameters() const;  // unique trainable scalars (no padding)
  // Backend memory a training step on micro-batches of B x S may still grow
  // beyond this model's buffers and activations (Backend::step_workspace_bytes;
  // 0 on the CPU). The memory plan adds it.
  int64_t step_workspace_bytes(int64_t B, int64_t S) const;

  // The reference's init from Philox: weights truncated normal(0, 0.02) cut at
  // 2 stddev, Glorot-uniform for embeddings_project and the discriminator's
  // dense(1), biases 0, LayerNorm 1/0, the [PAD] embedding row 0. Resets
  // optimizer moments.
  void init_weights(uint64_t seed);

  // One optimizer step at 0-based `step` over batch.rows / train.batch micro-batches.
  // m == nullptr asks for no metrics: the step is enqueued and the call returns
  // without waiting for the device (CUDA; the CPU runs it in the call), so the
  // host prepares the next step while this one runs. Its metrics are not
  // read, so a non-finite loss or norm is not reported by this call (the
  // device skips such an update all the same); the next step with metrics
  // reports its own. The host waits for a step only before reusing its
  // staging (two sets, alternating), or before anything else reads the model.
  Status train_step(const TrainConfig& train, const Batch& batch, int64_t step, StepMetrics* m,
                    const StepOverrides* ov = nullptr);
  // Waits for the steps enqueued without metrics (a no-op when none is).
  Status settle();

  // Held-out evaluation: the same masking, sampling and losses as a training
  // step (dropout off), without backward or update. `index` plays the role of
  // the step in the Philox stream, so fixed (seed, index) gives fixed masks.
  Status evaluate(const TrainConfig& train, const Batch& batch, int64_t index, StepMetrics* m);

  // Discriminator inference: per-token logit of "replaced" [rows*S]; dropout off.
  Status discriminate(const Batch& batch, std::vector<float>* logits);

  // Generator (masked LM) inference: logits [R,V] at the flat positions `rows`
  // (b*S+s) of the batch; dropout off.
  Status generator_logits(const Batch& batch, const std::vector<int32_t>& rows, std::vector<float>* logits);

  static double learning_rate(const TrainConfig& t, int64_t step);

  // CUDA graphs of the training step (Backend::begin_capture): a step whose
  // shape key (graph_key) matches the previous step's is captured once, then
  // replayed; `fallback` says why the last capture failed ("" when none did).
  struct GraphStats {
    int64_t captures = 0, launches = 0, plain = 0;
    std::string fallback;
  };
  const GraphStats& graph_stats() const { return graph_stats_; }

 private:
  ElectraModel(const ModelConfig& cfg, const ExecOptions& exec) : cfg_(cfg), exec_(exec) {}
  Status build();
  // Sizes the activations for B x S batches with at most maxM masked rows.
  Status resize(int64_t B, int64_t S, int64_t maxM);
  Status ensure_device();  // uploads the host buffers when they changed
  // One micro-batch's host side of the step, in the backend's host staging
  // memory (pinned on CUDA), so every transfer of the step is asynchronous and
  // the step's only host synchronisation is the one before its metrics are read.
  // One micro-batch's loss scales and real-token count, read by the ops when
  // they run (so they are not part of a step graph's shape).
  struct MicroScales {
    float ce = 0, bce = 0;  // the generator's 1 / (M k), the discriminator's disc_weight / (real k)
    double real = 0;
  };
  struct Slot {
    int32_t *ids, *types, *mask, *gen_ids, *positions, *targets;  // uploaded: [N] x4, [maxM] x2
    float* dweights;                                              // uploaded: [N]
    MicroScales* scales;                                          // uploaded
    int32_t* sampled_in;  // uploaded by the test hook only: [maxM]
    float* dlogit;        // downloaded: [N]
    int32_t* sampled;     // downloaded: [maxM]
    double* scalars;      // downloaded: disc BCE sum, generator mean loss, generator correct count
  };
  // The uploaded part of a slot, laid out alike at the slot's start and in
  // d_in_ (byte offsets), so a micro-batch's inputs are one copy:
  //   ids, types, mask, dweights [N] | gen_ids [N], positions, targets [maxM], scales
  // The batch inputs (inputs_end: what inference needs) come first.
  struct InputLayout {
    int64_t ids, types, mask, dweights, inputs_end, gen_ids, positions, targets, scales, end;
  };
  InputLayout input_layout() const;
  // Sizes the staging: kStageSets sets of k micro-batch slots plus the step's
  // tail scalars. Consecutive steps use alternate sets, so a step enqueued
  // without metrics may still read its set while the host fills the other.
  static constexpr int kStageSets = 2;
  Status ensure_staging(int64_t k);
  Slot slot(int set, int64_t i);
  double* tail_scalars(int set);  // downloaded after the update: grad norm, apply flag
  // Host-side batch preparation into slot `sl`: types, mask and dweights of
  // micro-batch rows [r0, r0 + B_), uploaded with the ids.
  Status upload_batch(const Batch& b, int64_t r0, const Slot& sl, int64_t* real_tokens);
  // Its two halves: the host staging filled, then uploaded from it.
  void fill_batch(const Batch& b, int64_t r0, const Slot& sl, int64_t* real_tokens);
  Status upload_inputs(const Slot& sl);
  // The whole uploaded part of a micro-batch's slot (inputs, masking, scales).
  Status upload_micro(const Slot& sl);
  // Shared embeddings: ids -> emb [N,E] after LayerNorm and dropout.
  struct EmbActs {
    BackendBuffer<float> pre, mean, rstd, out, dout;  // [N,E], [N], [N], [N,E], [N,E]
  };
  Status embed_forward(const int32_t* ids, EmbActs* a, float p, uint64_t seed, uint64_t off);
  Status embed_backward(const int32_t* ids, EmbActs* a, float p, uint64_t seed, uint64_t off);
  Status gen_head_forward(const float* hg, const int32_t* rows, int64_t M, float* logits);
  Status disc_head_forward(const float* h, float* logits);
  // The step, in phases: run_step runs mask, generator, sample,
  // discriminator and backward per micro-batch, then update.
  Status run_step(const TrainConfig& t, const Batch& batch, int64_t step, StepMetrics* m, const StepOverrides* ov,
                  bool train);
  // What the phases of one step's device part share, beyond the micro-batches.
  struct StepRun {
    int set = 0;           // its staging set (slot(), tail_scalars(), h_step_)
    bool metrics = true;   // download what the metrics read (else skip those copies)
    bool train = true, update = true;
  };
  struct Micro {  // one micro-batch's state, passed from phase to phase
    const TrainConfig* t = nullptr;
    const StepOverrides* ov = nullptr;
    bool fixed = false;                 // the overrides set masks and samples
    uint64_t base = 0;                  // Philox window within the step (+ the step's base, in memory)
    uint64_t host_base = 0;             // the whole offset, for the host's masking
    const int32_t* ids = nullptr;       // [B*S] original tokens
    float hp = 0, ap = 0;               // dropout (0 when evaluating)
    int64_t real = 0, M = 0;            // non-padding tokens, masked rows
    MicroScales scales;                 // its loss scales (uploaded from the slot)
    const float *hg = nullptr, *hd = nullptr;  // encoder outputs
    Slot sl{};                          // its host staging
    const StepRun* run = nullptr;       // the step's set and what it downloads
  };
  struct MetricCounts {
    int64_t gen_correct = 0, disc_correct = 0, tp = 0, pred_pos = 0;
  };
  void mask_host(Micro* mb);
  Status phase_generator(Micro* mb);
  Status phase_sample(Micro* mb);
  Status phase_discriminator(Micro* mb);
  Status phase_losses(Micro* mb, int64_t micro);
  Status phase_backward(Micro* mb);
  Status phase_update(const TrainConfig& t, const StepRun& r);
  // The device part of a step (uploads from the staging, the phases, the
  // update), enqueued plainly, or as a CUDA graph replayed or captured.
  Status enqueue_step(std::vector<Micro>& micros, const TrainConfig& t, const StepRun& r);
  Status run_device_step(std::vector<Micro>& micros, const TrainConfig& t, const StepRun& r, bool graphs);
  std::string graph_key(const std::vector<Micro>& micros, const TrainConfig& t, const StepRun& r) const;
  void forget_graphs();
  Status check_update(int64_t step, const StepRun& r, StepMetrics* m);
  void collect_metrics(const Micro& mb, int64_t k, StepMetrics* m, MetricCounts* c);
  void finish_metrics(const MetricCounts& c, StepMetrics* m) const;
  Status check_inference_batch(const Batch& b);

  ModelConfig cfg_;
  ExecOptions exec_;
  std::unique_ptr<Backend> be_;
  ParamTable table_;
  ParamBuffers buf_;           // host copy (the working copy on the CPU backend)
  BackendBuffer<float> dev_;   // CUDA: params, grads, m, v (4 x total floats); empty on the CPU
  float *P_ = nullptr, *G_ = nullptr, *M_ = nullptr, *V_ = nullptr;  // working copies
  bool device_stale_ = true;   // the host buffers changed since the last upload
  bool host_stale_ = false;    // the device buffers changed since the last download
  Encoder gen_, disc_;
  bool electra_ = true;
  // offsets of the shared and head tensors
  int64_t wte_, wpe_, wtt_, eln_g_, eln_b_;
  int64_t gpd_w_, gpd_b_, gpln_g_, gpln_b_, glm_b_;
  int64_t dpd_w_ = -1, dpd_b_ = -1, dpp_w_ = -1, dpp_b_ = -1;

  // Activations, sized by resize(). h_ = host scratch, stage_ = host staging
  // (Slot), d_ = backend memory.
  int64_t B_ = 0, S_ = 0, maxM_ = 0;
  std::vector<int32_t> h_positions_;   // the masking's output
  std::vector<float> h_labels_;        // [N] the discriminator's labels, for the metrics
  HostBuffer<char> stage_;             // k slots + the tail scalars
  int64_t stage_slots_ = 0, slot_bytes_ = 0, set_bytes_ = 0;
  int last_set_ = 0;                        // the staging set of the last step
  bool in_flight_[kStageSets] = {};         // a step without metrics may still use this set
  // A typed region of d_in_ (input_layout()).
  template <class T>
  class InputView {
   public:
    T* data() const { return p_; }
    void point(char* base, int64_t offset) { p_ = reinterpret_cast<T*>(base + offset); }
   private:
    T* p_ = nullptr;
  };
  BackendBuffer<char> d_in_;                                                        // input_layout().end bytes
  InputView<int32_t> d_ids_, d_types_, d_mask_, d_gen_ids_;                        // [N]: regions of d_in_
  InputView<float> d_dweights_;                                                     // [N]
  InputView<int32_t> d_positions_, d_targets_;                                     // [maxM]
  InputView<MicroScales> d_scales_;                                                 // [1]: this micro-batch's
  BackendBuffer<int32_t> d_disc_ids_;                                               // [N]
  BackendBuffer<int32_t> d_sampled_, d_argmax_, d_rows_;                           // [maxM]
  BackendBuffer<float> d_labels_;                                                   // [N]
  // [8]: disc BCE sum, gen mean loss, gen correct (one micro-batch's, downloaded
  // each micro-batch), step loss, grad norm, apply flag (downloaded at the end), 2 spare.
  BackendBuffer<double> d_scalars_;
  EmbActs g_emb_, d_emb_;                                                          // generator / discriminator
  BackendBuffer<float> emb_scratch_;                       // [N,E] embed_backward's LayerNorm gradient
  BackendBuffer<float> dh_gen_;                            // [N,Hg]
  BackendBuffer<float> hm_, hd1_, hg1_, hl_, hl_mean_, hl_rstd_, logits_, dtmp_m_, dtmp_m2_, hd1_grad_;  // gen head [M,*]
  BackendBuffer<float> losses_;                            // [maxM]
  BackendBuffer<float> dd1_, dg1_, dlogit_, dh_disc_, dtmp_n_;  // disc head [N,*]

  // The values that change from step to step, uploaded at the start of the
  // step's device part from a pinned slot (so a replayed graph reads the
  // step's own): the Philox offset base (step * k * kRngWindow, added by the
  // backend to every op's offset) and the AdamW learning rate and step.
  struct StepValues {
    uint64_t philox_base = 0;
    AdamWStep adam;
  };
  BackendBuffer<StepValues> d_step_;
  HostBuffer<StepValues> h_step_;  // [kStageSets]: one per staging set
  GraphStats graph_stats_;
  std::set<std::string> warm_keys_;  // keys run plainly since the last resize
  std::set<std::string> no_graph_;   // keys whose capture failed
};

}  // namespace electra
