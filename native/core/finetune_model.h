// FinetuneModel: a discriminator encoder (embeddings + transformer, as in
// ElectraModel) with a task head, its own parameter/gradient buffers and
// AdamW state, and the whole fine-tuning step (forward, loss, backward, clip,
// AdamW with layer-wise learning rates) run without returning to the caller.
//
// Heads, as HF transformers (names included, so HF checkpoints load as is):
//  - kClassification / kRegression: ElectraClassificationHead on the first
//    token: dropout -> dense -> GELU -> dropout -> out_proj
//    (classifier.dense.*, classifier.out_proj.*); cross-entropy over
//    num_labels classes, or squared error on one output (num_labels == 1).
//  - kToken: ElectraForTokenClassification: dropout -> linear on every token
//    (classifier.*); cross-entropy over the tokens whose label is not -1.
// Losses are means (over the batch, or over the labelled tokens).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "electra_model.h"  // Batch, kRngWindow
#include "encoder.h"
#include "model_config.h"
#include "params.h"
#include "status.h"

namespace electra {

enum class HeadKind { kClassification = 0, kRegression = 1, kToken = 2 };

struct FinetuneConfig {
  // Embeddings and the discriminator encoder (model.disc); model.gen and
  // model.objective are not used.
  ModelConfig model;
  HeadKind head = HeadKind::kClassification;
  int64_t num_labels = 2;         // classes; 1 for regression
  float classifier_dropout = -1;  // < 0: model.hidden_dropout (HF: classifier_dropout None)
};

Status validate(const FinetuneConfig& c);

// The layer-wise learning-rate multiplier of one tensor of an L-layer encoder
// (the ELECTRA paper's fine-tuning recipe): the head and the top layer get
// the full rate, layer i (0-based) decay^(L-1-i), the embeddings (and the
// embedding projection) decay^L.
// google-research/electra's _get_layer_lrs uses depths 0 (embeddings), i+1
// (layer i) and L+2 (task head) with exponent L+2-depth, i.e. one extra
// factor decay^1 on every encoder layer and the embeddings relative to this
// (top layer decay^2); earlier versions also matched names by substring, so
// "layer_1" caught "layer_10"/"layer_11". Here the layer index is parsed
// exactly and the top layer gets the full rate, as the issue specifies.
// Names not under electra.embeddings*, electra.encoder.layer.<i>. are head
// tensors (scale 1). decay == 1 gives 1 everywhere.
float layer_lr_scale(const std::string& name, int64_t layers, float decay);

// One fine-tuning batch: rows sequences of seq_len tokens, and its labels.
struct FinetuneBatch {
  Batch batch;                    // input ids, token types, attention mask (no grad_accum)
  const int32_t* labels = nullptr;  // kClassification: [rows]; kToken: [rows*S], -1 = ignored
  const float* targets = nullptr;   // kRegression: [rows]
};

struct FinetuneMetrics {
  double loss = 0;         // mean over counted examples / tokens
  int64_t counted = 0;     // examples (sequence heads) or labelled tokens (token head)
  int64_t correct = 0;     // argmax == label (classification and token heads)
  double grad_norm = 0;    // before clipping
  double lr = 0;           // base rate of this step (the head's)
};

class FinetuneModel {
 public:
  static Status create(const FinetuneConfig& cfg, std::unique_ptr<FinetuneModel>* out,
                       const ExecOptions& exec = ExecOptions());

  const FinetuneConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  const ExecOptions& exec() const { return exec_; }
  Backend& backend() { return *be_; }
  // Host copy of params, grads, m, v (see ElectraModel::buffers()).
  ParamBuffers& buffers() { return buf_; }
  Status sync_to_host();
  void host_modified() { device_stale_ = true; }
  int64_t num_parameters() const;
  // Logits per example (sequence heads) or per token (token head).
  int64_t num_outputs() const { return cfg_.num_labels; }

  // HF-style init from Philox (weights N(0, 0.02), biases 0, LayerNorm 1/0);
  // resets the optimizer moments. Loading a pre-trained encoder overwrites
  // the encoder's part afterwards.
  void init_weights(uint64_t seed);
  // Sets every tensor's lr_scale from layer_lr_scale(name, layers, decay).
  Status set_layer_decay(float decay);

  // One optimizer step at 0-based `step` (train.batch, train.seq_len and the
  // mask/generator fields of TrainConfig are not used: the batch gives its
  // own shape). logits_out (test hook): the logits before the loss.
  // apply_update false: stop after the backward (grads unclipped).
  Status train_step(const TrainConfig& train, const FinetuneBatch& batch, int64_t step, FinetuneMetrics* m,
                    bool apply_update = true, std::vector<float>* logits_out = nullptr);
  // Inference, dropout off: logits [rows, C] or, for the token head, [rows*S, C].
  Status predict(const Batch& batch, std::vector<float>* logits);

 private:
  FinetuneModel(const FinetuneConfig& cfg, const ExecOptions& exec) : cfg_(cfg), exec_(exec) {}
  Status build();
  Status resize(int64_t B, int64_t S);
  Status ensure_device();
  Status check_batch(const Batch& b) const;
  Status upload_batch(const Batch& b);
  // Embeddings -> encoder -> head logits (into logits_); p: dropout rate.
  Status forward(float hidden_p, float attn_p, float head_p, uint64_t seed, uint64_t base);
  Status backward(float hidden_p, float attn_p, float head_p, uint64_t seed, uint64_t base);
  float head_dropout() const;

  FinetuneConfig cfg_;
  ExecOptions exec_;
  std::unique_ptr<Backend> be_;
  ParamTable table_;
  ParamBuffers buf_;
  BackendBuffer<float> dev_;
  float *P_ = nullptr, *G_ = nullptr, *M_ = nullptr, *V_ = nullptr;
  bool device_stale_ = true, host_stale_ = false;
  Encoder enc_;
  int64_t wte_, wpe_, wtt_, eln_g_, eln_b_;
  int64_t cd_w_ = -1, cd_b_ = -1, co_w_ = -1, co_b_ = -1;  // classifier.dense / out_proj, or classifier.* (token)

  int64_t B_ = 0, S_ = 0;
  std::vector<int32_t> h_types_, h_mask_, h_rows_, h_targets_, h_argmax_;
  std::vector<float> h_losses_;
  BackendBuffer<int32_t> d_ids_, d_types_, d_mask_, d_rows_, d_targets_, d_argmax_, d_first_;
  BackendBuffer<float> d_regr_, losses_;
  BackendBuffer<double> d_scalars_;  // loss sum (regression), grad norm
  BackendBuffer<float> emb_pre_, emb_mean_, emb_rstd_, emb_out_, emb_dout_, emb_scratch_;  // [N,E], [N]
  const float* hidden_ = nullptr;    // encoder output [N,H]
  BackendBuffer<float> x0_, x0d_, pre_, g_, gd_, dtmp_;  // sequence head [B,H]
  BackendBuffer<float> hd_;                             // token head: dropout(hidden) [N,H]
  BackendBuffer<float> logits_, dlogits_;               // [B or N, C]
  BackendBuffer<float> dh_;                             // [N,H]
};

}  // namespace electra
