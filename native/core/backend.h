// Backend: the seam between the training step's orchestration (encoder.cpp,
// electra_model.cpp, written once) and where the ops run. The CPU backend
// (cpu/backend_cpu.cpp) forwards to the oracle in cpu/ops.h; the CUDA backend
// (cuda/backend_cuda.cu) to the kernels in cuda/. Because the orchestration is
// shared, every test that the CPU step passes (HF golden parity, whole-step
// finite differences, bit-exact resume) also checks the sequence of ops the
// GPU runs; the CUDA-vs-CPU tests then only have to check the ops themselves.
//
// Contract of every op: the arguments and semantics of the cpu/ops.h function
// of the same name (accumulating backward ops, *_write variants that write,
// fused losses that write their gradient), with these differences:
//  - pointers are backend memory (from alloc), except where a comment says host;
//  - every op returns a Status (the CPU ones always succeed);
//  - ops are stream-ordered: they may run after the call returns. download()
//    results are valid after sync(). Scalar results (loss sums, norms) are
//    written to a backend double so no op needs a host round trip.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <unordered_map>

#include "adamw_hyper.h"
#include "params.h"
#include "status.h"

namespace electra {

enum class BackendKind { kCpu = 0, kCuda = 1 };

// Matrix-product precision. fp32 everywhere on the CPU; on CUDA, kBf16 rounds
// GEMM inputs to bf16 (tensor cores) and keeps fp32 accumulation, fp32
// activations, fp32 master weights and fp32 optimizer state.
enum class Precision { kFp32 = 0, kBf16 = 1 };

struct ExecOptions {
  BackendKind backend = BackendKind::kCpu;
  int device = 0;  // CUDA device ordinal
  Precision precision = Precision::kFp32;
};

const char* backend_kind_name(BackendKind k);
const char* precision_name(Precision p);

// What a backend needs to know to bound the workspaces a training step grows
// on first use (Backend::step_workspace_bytes): the micro-batch and the
// model's widths, read from its parameter table by ElectraModel.
struct StepWorkspaceShape {
  int64_t rows = 0, seq = 0;             // micro-batch B x S
  int64_t embedding = 0;                 // E
  std::vector<int64_t> norm_widths;      // every LayerNorm's width
  int64_t max_out = 0;                   // most output features of any weight matrix
  int64_t max_weight = 0;                // most elements of any weight matrix
  int64_t params = 0;                    // parameter table total (the AdamW decay mask)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // True when backend memory is host memory, so a caller's host buffers can
  // serve as the working copy with no upload or download (the CPU backend).
  virtual bool memory_is_host() const { return false; }
  virtual Precision precision() const = 0;
  // "cpu", or "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, bf16)".
  virtual std::string describe() const = 0;

  // ---- memory (bytes) ----------------------------------------------------
  // Allocation failure is kOutOfMemory. Contents are uninitialised.
  virtual Status alloc(size_t bytes, void** out) = 0;
  virtual void release(void* p) = 0;
  virtual Status upload(void* dst, const void* host_src, size_t bytes) = 0;
  // Host data valid after sync().
  virtual Status download(void* host_dst, const void* src, size_t bytes) = 0;
  virtual Status copy(void* dst, const void* src, size_t bytes) = 0;
  virtual Status zero(void* p, size_t bytes) = 0;
  // Waits for every op issued so far; reports errors raised while they ran.
  virtual Status sync() = 0;
  // Host staging memory that upload()/download() move asynchronously (CUDA:
  // page-locked, so a download is not a hidden host synchronisation and the
  // step stays capturable); plain host memory elsewhere. Contents are
  // uninitialised; not counted in bytes_in_use() (it is not backend memory).
  // A download into it is valid after sync(); a buffer an upload reads must not
  // be rewritten before the next sync().
  virtual Status alloc_host(size_t bytes, void** out);
  virtual void release_host(void* p);
  // mark(i) records the point the op stream has reached (CUDA: an event, one
  // per i < kMarks); wait_marked(i) waits for the ops issued before the last
  // mark(i) only, so the host can go on while later ops still run. Downloads
  // issued before the mark are then valid, and uploads before it done.
  static constexpr int kMarks = 2;
  virtual Status mark(int i = 0) { return i >= 0 && i < kMarks ? Status::Ok() : InvalidArgument("no such mark"); }
  virtual Status wait_marked(int i = 0) { return i >= 0 && i < kMarks ? sync() : InvalidArgument("no such mark"); }
  // The step's Philox offset base, in backend memory (one uint64_t, read when
  // the ops run): every op that takes (seed, offset) then draws with offset +
  // *base, so a per-step offset reaches a replayed graph. nullptr (the
  // default): + 0.
  void set_philox_base(const uint64_t* base) { philox_base_ = base; }

  // ---- graphs of ops (CUDA graphs) ------------------------------------------
  // The ops issued between begin_capture() and end_capture(key) are recorded
  // as one graph kept under `key`, not run; launch_graph(key) runs it. Each op
  // runs with its arguments as they were at capture: a value that changes
  // from launch to launch must reach the graph through memory (backend memory,
  // or alloc_host memory that an upload inside the graph reads at each launch).
  // While capturing: no sync(), mark(), wait_marked(), alloc() or release(),
  // and no download/upload of memory that is not from alloc_host. A capture
  // that fails ends it (the ops issued were not run: the caller reruns them
  // plainly) and keeps the graphs made before.
  // Graphs are off on backends without them (the CPU: graphs_enabled() is
  // false, begin_capture() a kInternal error) and on CUDA when the
  // ELECTRA_CUDA_GRAPHS environment variable is 0 at the backend's creation.
  virtual bool graphs_enabled() const { return false; }
  virtual Status begin_capture() { return Status(StatusCode::kInternal, "this backend has no graphs"); }
  virtual Status end_capture(const std::string& key) {
    (void)key;
    return Status(StatusCode::kInternal, "this backend has no graphs");
  }
  // *found = false (and nothing runs) when no graph is kept under key.
  virtual Status launch_graph(const std::string& key, bool* found) {
    (void)key;
    *found = false;
    return Status::Ok();
  }
  // How many graphs are kept; forgetting them all (they may point at freed buffers).
  virtual size_t graph_count() const { return 0; }
  virtual void drop_graphs() {}

  // Bytes this backend holds now and at most since creation (device memory
  // on CUDA; the allocations made through alloc() on the CPU).
  int64_t bytes_in_use() const;
  int64_t peak_bytes() const;
  // At most how many more bytes a training step of this shape can make the
  // backend allocate beyond the model's own buffers and its activations
  // (which lib/memory-plan.ts counts): workspaces grown on first use, less
  // what is already held. 0 on the CPU, whose scratch is per-thread host
  // memory outside the plan. The memory plan adds it on CUDA.
  virtual int64_t step_workspace_bytes(const StepWorkspaceShape& shape) const {
    (void)shape;
    return 0;
  }

  // ---- layers (cpu/ops.h) ------------------------------------------------
  virtual Status linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t M,
                                int64_t K, int64_t N) = 0;
  // out = gelu(inp @ weight^T + bias); pre (the GELU input) is saved for the backward.
  virtual Status linear_gelu_forward(float* pre, float* out, const float* inp, const float* weight,
                                     const float* bias, int64_t M, int64_t K, int64_t N) = 0;
  virtual Status linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                 const float* weight, int64_t M, int64_t K, int64_t N) = 0;
  virtual Status linear_backward_write(float* dinp, float* dweight, float* dbias, const float* dout,
                                       const float* inp, const float* weight, int64_t M, int64_t K, int64_t N) = 0;
  // The linear after a GELU, backward: linear_backward_write, then dinp =
  // gelu_backward(dinp, pre) (pre [M,K], the GELU's input). Backends may fuse
  // the second into the dX GEMM's epilogue; dweight and dbias are as
  // linear_backward_write's (from dout and inp).
  virtual Status linear_backward_gelu_write(float* dinp, float* dweight, float* dbias, const float* dout,
                                            const float* inp, const float* weight, const float* pre, int64_t M,
                                            int64_t K, int64_t N) {
    ELECTRA_RETURN_IF_ERROR(linear_backward_write(dinp, dweight, dbias, dout, inp, weight, M, K, N));
    return gelu_backward_write(dinp, dinp, pre, M * K);
  }
  // Three linears of one input (attention's query, key, value), in order:
  // out[g] = inp @ weight[g]^T + bias[g]. Backends may run them as one grouped GEMM.
  virtual Status linear_forward3(float* const out[3], const float* inp, const float* const weight[3],
                                 const float* const bias[3], int64_t M, int64_t K, int64_t N) {
    for (int g = 0; g < 3; ++g) ELECTRA_RETURN_IF_ERROR(linear_forward(out[g], inp, weight[g], bias[g], M, K, N));
    return Status::Ok();
  }
  // Their backward: linear_backward of each, in order (dinp accumulates all
  // three; backends may sum the three products before adding them to dinp).
  // With every dweight and dbias null, the input gradient alone (the weight
  // gradients then come from linear_backward_weights).
  virtual Status linear_backward3(float* dinp, float* const dweight[3], float* const dbias[3],
                                  const float* const dout[3], const float* inp, const float* const weight[3],
                                  int64_t M, int64_t K, int64_t N) {
    for (int g = 0; g < 3; ++g)
      ELECTRA_RETURN_IF_ERROR(linear_backward(dinp, dweight[g], dbias[g], dout[g], inp, weight[g], M, K, N));
    return Status::Ok();
  }
  // The weight and bias gradients of n (1 to 4) linears of one shape, each
  // with its own output gradient dout[g] [M,N] and input inp[g] [M,K]:
  // dweight[g] [N,K] += dout[g]^T @ inp[g], dbias[g] [N] += colsum(dout[g])
  // (null: none), i.e. linear_backward(nullptr, ...) of each, in order. For a
  // caller that takes the input gradients first and the weight gradients of
  // several linears later (their douts and inputs kept); backends may run
  // them as one grouped GEMM.
  virtual Status linear_backward_weights(int n, float* const dweight[], float* const dbias[],
                                         const float* const dout[], const float* const inp[], int64_t M, int64_t K,
                                         int64_t N) {
    if (n < 1 || n > 4) return InvalidArgument("linear_backward_weights: 1 to 4 linears");
    for (int g = 0; g < n; ++g)
      ELECTRA_RETURN_IF_ERROR(linear_backward(nullptr, dweight[g], dbias[g], dout[g], inp[g], nullptr, M, K, N));
    return Status::Ok();
  }
  // The weight and bias gradients of a linear pair of transposed shapes (the
  // FFN's output and input projections), each with its own output gradient
  // and input: linear 0 (dout[0] [M,N], inp[0] [M,K], dweight[0] [N,K]) and
  // linear 1 (dout[1] [M,K], inp[1] [M,N], dweight[1] [K,N]), i.e.
  // linear_backward(nullptr, ...) of each, in order. Backends may run them as
  // one grouped GEMM.
  virtual Status linear_backward_weights_pair(float* const dweight[2], float* const dbias[2],
                                              const float* const dout[2], const float* const inp[2], int64_t M,
                                              int64_t K, int64_t N) {
    ELECTRA_RETURN_IF_ERROR(linear_backward(nullptr, dweight[0], dbias[0], dout[0], inp[0], nullptr, M, K, N));
    return linear_backward(nullptr, dweight[1], dbias[1], dout[1], inp[1], nullptr, M, N, K);
  }
  // The FFN's GELU output g [M,F] stored as bf16 (uint16_t bits, round to
  // nearest even). Its only consumers are the output projection's GEMMs (the
  // forward's input, the weight gradient's), so a backend whose GEMMs round
  // their operands to bf16 anyway can keep g as bf16 with the step's bits
  // unchanged and half the buffer. ffn_gelu_bf16(H, F): whether the Encoder
  // (hidden H, intermediate F) should, through the three ops below (called
  // only then). The CPU backend (the oracle) keeps fp32: false.
  virtual bool ffn_gelu_bf16(int64_t H, int64_t F) const {
    (void)H, (void)F;
    return false;
  }
  // linear_gelu_forward writing out as the bf16 rounding of its fp32 result.
  virtual Status linear_gelu_forward_bf16(float* pre, uint16_t* out, const float* inp, const float* weight,
                                          const float* bias, int64_t M, int64_t K, int64_t N) {
    (void)pre, (void)out, (void)inp, (void)weight, (void)bias, (void)M, (void)K, (void)N;
    return Internal("linear_gelu_forward_bf16: not offered by this backend (ffn_gelu_bf16)");
  }
  // linear_dropout_residual_layernorm_forward of a bf16 input.
  virtual Status linear_dropout_residual_layernorm_forward_bf16(float* res, float* out, float* mean, float* rstd,
                                                                const uint16_t* inp, const float* weight,
                                                                const float* bias, const float* x, const float* gamma,
                                                                const float* beta, int64_t M, int64_t K, int64_t N,
                                                                float eps, float p, uint64_t seed, uint64_t offset) {
    (void)res, (void)out, (void)mean, (void)rstd, (void)inp, (void)weight, (void)bias, (void)x, (void)gamma;
    (void)beta, (void)M, (void)K, (void)N, (void)eps, (void)p, (void)seed, (void)offset;
    return Internal("linear_dropout_residual_layernorm_forward_bf16: not offered by this backend (ffn_gelu_bf16)");
  }
  // linear_backward_weights_pair with linear 0's input (inp0 [M,K]) in bf16.
  virtual Status linear_backward_weights_pair_bf16(float* const dweight[2], float* const dbias[2],
                                                   const float* const dout[2], const uint16_t* inp0,
                                                   const float* inp1, int64_t M, int64_t K, int64_t N) {
    (void)dweight, (void)dbias, (void)dout, (void)inp0, (void)inp1, (void)M, (void)K, (void)N;
    return Internal("linear_backward_weights_pair_bf16: not offered by this backend (ffn_gelu_bf16)");
  }
  // The attention's q, k, v [N,H] stored as bf16 (uint16_t bits, round to
  // nearest even). Their only consumers are the attention's forward and
  // backward, which on the bf16 CUDA backend's tensor-core kernels round
  // them to bf16 as they load them: the step's bits do not change and the
  // three buffers halve. attention_qkv_bf16(S, NH, hd): whether the Encoder
  // (sequence length S, NH heads of hd) should, through the three ops below
  // (called only then). The CPU backend (the oracle) keeps fp32: false.
  virtual bool attention_qkv_bf16(int64_t S, int64_t NH, int64_t hd) const {
    (void)S, (void)NH, (void)hd;
    return false;
  }
  // linear_forward3 writing its three outputs as the bf16 rounding of their fp32 results.
  virtual Status linear_forward3_bf16(uint16_t* const out[3], const float* inp, const float* const weight[3],
                                      const float* const bias[3], int64_t M, int64_t K, int64_t N) {
    (void)out, (void)inp, (void)weight, (void)bias, (void)M, (void)K, (void)N;
    return Internal("linear_forward3_bf16: not offered by this backend (attention_qkv_bf16)");
  }
  // attention_forward and attention_backward_write of bf16 q, k, v.
  virtual Status attention_forward_bf16(float* out, float* probs, const uint16_t* q, const uint16_t* k,
                                        const uint16_t* v, int64_t ld, const int32_t* mask, int64_t B, int64_t S,
                                        int64_t NH, int64_t hd, float p, uint64_t seed, uint64_t offset) {
    (void)out, (void)probs, (void)q, (void)k, (void)v, (void)ld, (void)mask, (void)B, (void)S, (void)NH, (void)hd;
    (void)p, (void)seed, (void)offset;
    return Internal("attention_forward_bf16: not offered by this backend (attention_qkv_bf16)");
  }
  virtual Status attention_backward_write_bf16(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                               const float* probs, const uint16_t* q, const uint16_t* k,
                                               const uint16_t* v, int64_t ld, const int32_t* mask, int64_t B,
                                               int64_t S, int64_t NH, int64_t hd, float p, uint64_t seed,
                                               uint64_t offset) {
    (void)dq, (void)dk, (void)dv, (void)dout, (void)out, (void)probs, (void)q, (void)k, (void)v, (void)ld;
    (void)mask, (void)B, (void)S, (void)NH, (void)hd, (void)p, (void)seed, (void)offset;
    return Internal("attention_backward_write_bf16: not offered by this backend (attention_qkv_bf16)");
  }
  virtual Status embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                                   const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E) = 0;
  virtual Status embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                                    const int32_t* types, int64_t B, int64_t S, int64_t E) = 0;
  // A row index < 0 is a padding row: gather_rows writes zeros for it, and
  // gather_rows_backward skips it (a step padded to a fixed row count).
  virtual Status gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C) = 0;
  virtual Status gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R,
                                      int64_t C) = 0;
  virtual Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* gamma,
                                   const float* beta, int64_t N, int64_t C, float eps) = 0;
  virtual Status layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* inp,
                                    const float* gamma, const float* mean, const float* rstd, int64_t N,
                                    int64_t C) = 0;
  // layernorm_backward WRITING dinp (as into a zeroed dinp: the same bits),
  // then, when ddrop is set, ddrop = dropout_forward(dinp; p, seed, offset):
  // the dropout backward of the branch that fed a post-LayerNorm residual,
  // fused where the backend can. dgamma/dbeta accumulate.
  virtual Status layernorm_backward_write(float* dinp, float* ddrop, float* dgamma, float* dbeta,
                                          const float* dout, const float* inp, const float* gamma, const float* mean,
                                          const float* rstd, int64_t N, int64_t C, float p, uint64_t seed,
                                          uint64_t offset) = 0;
  // The embeddings' tail: out = layernorm(inp) (mean, rstd saved), then out =
  // dropout(out; p, seed, offset) -- layernorm_forward and dropout_forward in
  // place, in that order (this default); fused where the backend can.
  virtual Status layernorm_dropout_forward(float* out, float* mean, float* rstd, const float* inp,
                                           const float* gamma, const float* beta, int64_t N, int64_t C, float eps,
                                           float p, uint64_t seed, uint64_t offset) {
    ELECTRA_RETURN_IF_ERROR(layernorm_forward(out, mean, rstd, inp, gamma, beta, N, C, eps));
    return dropout_forward(out, out, N * C, p, seed, offset);
  }
  // Its backward: dout (the gradient of the dropout's output) = dropout(dout;
  // p, seed, offset) in place -- the dropout's backward into a fresh buffer --
  // then layernorm_backward_write(dinp, nullptr, dgamma, dbeta, dout, ...)
  // (this default). A fused backend reads dout through the mask instead, so
  // afterwards dout holds either its old values or their dropout.
  virtual Status dropout_layernorm_backward_write(float* dinp, float* dgamma, float* dbeta, float* dout,
                                                  const float* inp, const float* gamma, const float* mean,
                                                  const float* rstd, int64_t N, int64_t C, float p, uint64_t seed,
                                                  uint64_t offset) {
    ELECTRA_RETURN_IF_ERROR(dropout_forward(dout, dout, N * C, p, seed, offset));
    return layernorm_backward_write(dinp, nullptr, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, 0.0f, 0, 0);
  }
  // A LayerNorm after a GELU, backward: layernorm_backward_write(d, nullptr,
  // ...), then dpre = gelu_backward_write(d; pre) (pre [N,C], the GELU's
  // input), d = dinp, or dpre itself when dinp is null (the LayerNorm's input
  // gradient not wanted) -- exactly these two ops (this default); fused where
  // the backend can. dpre must not alias dout.
  virtual Status layernorm_backward_gelu_write(float* dinp, float* dpre, float* dgamma, float* dbeta,
                                               const float* dout, const float* inp, const float* gamma,
                                               const float* mean, const float* rstd, const float* pre, int64_t N,
                                               int64_t C) {
    float* d = dinp ? dinp : dpre;
    ELECTRA_RETURN_IF_ERROR(
        layernorm_backward_write(d, nullptr, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, 0.0f, 0, 0));
    return gelu_backward_write(dpre, d, pre, N * C);
  }
  virtual Status gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n) = 0;
  virtual Status dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                                 uint64_t offset) = 0;
  virtual Status residual_backward(float* da, float* db, const float* dout, int64_t n) = 0;
  // The post-LayerNorm sublayer tail: res = dropout(a) + x, out = layernorm(res)
  // (mean, rstd saved) -- dropout_forward, residual_forward, layernorm_forward
  // in that order, fused where the backend can. res may alias a.
  virtual Status dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd,
                                                    const float* a, const float* x, const float* gamma,
                                                    const float* beta, int64_t N, int64_t C, float eps, float p,
                                                    uint64_t seed, uint64_t offset) = 0;
  // A linear feeding that tail: res = inp[M,K] @ weight[N,K]^T + bias (the
  // linear's output, kept as the tail's pre-LayerNorm sum), then
  // dropout_residual_layernorm_forward(res, out, mean, rstd, res, x, ...) --
  // exactly these two ops (this default); CUDA fuses the tail into the GEMM.
  virtual Status linear_dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd,
                                                           const float* inp, const float* weight, const float* bias,
                                                           const float* x, const float* gamma, const float* beta,
                                                           int64_t M, int64_t K, int64_t N, float eps, float p,
                                                           uint64_t seed, uint64_t offset) {
    ELECTRA_RETURN_IF_ERROR(linear_forward(res, inp, weight, bias, M, K, N));
    return dropout_residual_layernorm_forward(res, out, mean, rstd, res, x, gamma, beta, M, N, eps, p, seed, offset);
  }
  // probs is the backend's saved state between the two calls, of
  // attention_saved_floats(B, S, NH, hd) floats: the CPU and the fp32 CUDA
  // path store the probabilities [B,NH,S,S] there; the bf16 CUDA path on
  // tensor cores stores one float per query row [B,NH,S] and recomputes P,
  // using `out` (the forward's output, which the CPU ignores).
  //
  // The size of that state, which the caller allocates (Encoder::resize) and
  // the memory plan counts (lib/memory-plan.ts asks it through the addon):
  // B*NH*S*S unless the backend recomputes P for this shape. hd matters
  // because whether the recomputing kernels fit the device depends on it.
  virtual int64_t attention_saved_floats(int64_t B, int64_t S, int64_t NH, int64_t hd) const = 0;
  virtual Status attention_forward(float* out, float* probs, const float* q, const float* k, const float* v,
                                   int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                                   float p, uint64_t seed, uint64_t offset) = 0;
  // Writes dq, dk, dv (each head's columns of every row: no zeroing needed).
  virtual Status attention_backward_write(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                          const float* probs, const float* q, const float* k, const float* v,
                                          int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                                          int64_t hd, float p, uint64_t seed, uint64_t offset) = 0;

  // ---- losses and the fused sampling step ---------------------------------
  // A row whose target is < 0 is padding: loss 0, gradient 0 (argmax still
  // written). grad_scale_mem (backend memory, or nullptr): when set, the
  // scale is read from it when the op runs instead of grad_scale.
  virtual Status crossentropy_forward_backward(float* losses, int32_t* argmax, float* dlogits, const float* logits,
                                               const int32_t* rows, const int32_t* targets, int64_t R, int64_t V,
                                               float grad_scale, const float* grad_scale_mem = nullptr) = 0;
  // *loss_sum = sum_i loss_i (backend double). grad_scale_mem: as the cross-entropy's.
  virtual Status bce_forward_backward(double* loss_sum, float* dlogits, const float* logits, const float* labels,
                                      const float* weights, int64_t N, float grad_scale,
                                      const float* grad_scale_mem = nullptr) = 0;
  // *loss_sum = sum_i (pred_i - target_i)^2 (backend double); cpu::mse_forward_backward.
  virtual Status mse_forward_backward(double* loss_sum, float* dpred, const float* pred, const float* target,
                                      int64_t N, float grad_scale) = 0;
  // cpu::gumbel_sample: sampled[R] from logits[R,V].
  virtual Status gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T, uint64_t seed,
                               uint64_t offset) = 0;
  // The discriminator's inputs: disc_ids = ids with sampled[r] at positions[r];
  // labels[i] = disc_ids[i] != ids[i] (a sample equal to the original is "original").
  //   ids, disc_ids: [N]; positions, sampled: [M]; labels: [N] floats 0/1.
  // A position < 0 is a padding row: skipped.
  virtual Status make_disc_inputs(int32_t* disc_ids, float* labels, const int32_t* ids, const int32_t* positions,
                                  const int32_t* sampled, int64_t M, int64_t N) = 0;

  // ---- the step's scalars, where the step runs (no host round trip) ---------
  // One micro-batch's generator loss and accuracy, and the step's loss so far
  // (s, loss: backend doubles; the arithmetic of ElectraModel's host metrics,
  // so the host, reading s and *disc_sum after the step, gets the same bits):
  //   s[0] = (sum over r < M of double(losses[r]), in index order) / M  (0 when M == 0)
  //   s[1] = #{r < M : argmax[r] == targets[r]}
  // where rows with targets[r] < 0 (padding) are left out, of the sum and of M.
  //   *loss = (first ? 0 : *loss) + (s[0] + disc_weight * (*disc_sum / max(real, 1))) / k,
  //           or + s[0] / k when disc_sum is nullptr (MLM).
  // real_mem (backend double, or nullptr): when set, real is read from it when
  // the op runs.
  virtual Status step_loss(double* s, double* loss, const float* losses, const int32_t* argmax,
                           const int32_t* targets, int64_t M, const double* disc_sum, float disc_weight,
                           int64_t real, int64_t k, bool first, const double* real_mem = nullptr) = 0;
  // The update's guard, decided where the gradients are: *apply = 1 when
  // `update`, *loss is finite and not (skip_above > 0 and *loss > skip_above),
  // and the global norm is finite; else 0. *norm = the norm before clipping;
  // when *apply, grads are clipped as clip_grad_norm(max_norm) does. Pass
  // AdamWHyper::apply = apply to make the update follow the same flag.
  virtual Status guard_clip_grad_norm(double* norm, double* apply, float* grads, int64_t n, float max_norm,
                                      const double* loss, float skip_above, bool update) = 0;

  // ---- optimizer -----------------------------------------------------------
  // *norm = sqrt(sum g^2) before clipping; grads *= max_norm / max(norm, max_norm) when max_norm > 0.
  virtual Status clip_grad_norm(double* norm, float* grads, int64_t n, float max_norm) = 0;
  // cpu::adamw_update_table over the whole buffer, each spec with its decay flag.
  virtual Status adamw_update_table(const ParamTable& table, float* params, const float* grads, float* m, float* v,
                                    const AdamWHyper& hp) = 0;

 protected:
  const uint64_t* philox_base_ = nullptr;  // set_philox_base
  // The accounting behind bytes_in_use()/peak_bytes(): implementations call
  // these for every allocation they make (alloc() and internal workspaces).
  void note_alloc(const void* p, size_t bytes);
  void note_release(const void* p);

 private:
  mutable std::mutex mem_mu_;
  std::unordered_map<const void*, size_t> mem_sizes_;
  int64_t mem_in_use_ = 0, mem_peak_ = 0;
};

// Creates the backend `o` asks for. kCuda: kNoDevice when the build has no
// CUDA or there is no usable GPU, naming the driver and runtime versions.
Status make_backend(const ExecOptions& o, std::unique_ptr<Backend>* out);

// A typed, resizable allocation in a backend's memory (Backend::alloc), or,
// with kHost, in its host staging memory (Backend::alloc_host). Move-only.
template <class T, bool kHost = false>
class BackendBuffer {
 public:
  BackendBuffer() = default;
  ~BackendBuffer() { reset(); }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;
  BackendBuffer(BackendBuffer&& o) noexcept : be_(o.be_), p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  BackendBuffer& operator=(BackendBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = o.be_; p_ = o.p_; n_ = o.n_;
      o.p_ = nullptr; o.n_ = 0;
    }
    return *this;
  }
  // Reallocates when n differs (contents then undefined); n == 0 frees.
  Status resize(Backend* be, size_t n) {
    if (n == n_ && be == be_) return Status::Ok();
    reset();
    be_ = be;
    if (n == 0) return Status::Ok();
    void* p = nullptr;
    ELECTRA_RETURN_IF_ERROR(kHost ? be->alloc_host(n * sizeof(T), &p) : be->alloc(n * sizeof(T), &p));
    p_ = static_cast<T*>(p);
    n_ = n;
    return Status::Ok();
  }
  void reset() {
    if (p_ && be_) {
      if (kHost) be_->release_host(p_);
      else be_->release(p_);
    }
    p_ = nullptr;
    n_ = 0;
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  Backend* be_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

template <class T>
using HostBuffer = BackendBuffer<T, true>;

}  // namespace electra
