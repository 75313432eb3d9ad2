// The CUDA backend: Backend's ops on one GPU, all enqueued on one stream of
// the backend's own. Linears are cuda::gemm (fp32 SIMT, or bf16 tensor cores
// with fp32 accumulation) plus a deterministic bias-gradient reduction; every
// other op is the kernel of the same name in this folder.
//
// Threads: the addon runs steps on libuv worker threads, and the CUDA current
// device is per thread, so every entry point first makes dev_ current.
#include <cuda_runtime.h>

#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "core/device.h"
#include "cuda/backend_cuda.h"
#include "cuda/cuda_util.h"
#include "cuda/gemm_cuda.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

__global__ void probe_kernel(int* p) {
  if (p) *p = 1;
}

std::string version_text(int v) {
  if (v <= 0) return "none";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string versions(const DeviceInfo& info) {
  return "driver " + version_text(info.driver_version) + ", runtime " + version_text(info.runtime_version);
}

#define ON_DEVICE() ELECTRA_RETURN_IF_ERROR(make_current())

class CudaBackend final : public Backend {
 public:
  CudaBackend(int dev, Precision prec, std::string desc, bool graphs, bool bf16_acts)
      : dev_(dev), prec_(prec), desc_(std::move(desc)), graphs_on_(graphs), bf16_acts_on_(bf16_acts) {}
  ~CudaBackend() override {
    cudaSetDevice(dev_);
    if (capturing_) {
      cudaGraph_t g = nullptr;
      if (cudaStreamEndCapture(stream_, &g) == cudaSuccess && g) cudaGraphDestroy(g);
      cudaGetLastError();
    }
    drop_graphs();
    note_release(scratch_.data());
    note_release(counter_.data());
    note_release(decay_.data());
    note_release(splitk_.data());
    scratch_.reset();
    counter_.reset();
    decay_.reset();
    splitk_.reset();
    for (cudaEvent_t e : marked_)
      if (e) cudaEventDestroy(e);
    if (stream_) cudaStreamDestroy(stream_);
  }

  Status init() {
    ON_DEVICE();
    CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    for (cudaEvent_t& e : marked_) CUDA_TRY(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    ELECTRA_RETURN_IF_ERROR(scratch_.alloc(kReduceBlocks));
    note_alloc(scratch_.data(), scratch_.bytes());
    // Zeroed once: each kernel that counts finished blocks leaves it at 0.
    // counter_[0] counts the LayerNorm and BCE kernels' blocks; the split GEMMs' tiles use all of it.
    ELECTRA_RETURN_IF_ERROR(counter_.alloc(size_t(std::max<int64_t>(1, gemm_tile_counters(gemm_precision())))));
    note_alloc(counter_.data(), counter_.bytes());
    CUDA_TRY(cudaMemsetAsync(counter_.data(), 0, counter_.bytes(), stream_));
    return Status::Ok();
  }

  BackendKind kind() const override { return BackendKind::kCuda; }

  // The split-K / reduction workspace is one buffer (splitk_), grown to the
  // largest need of the step's GEMMs, LayerNorm and embedding backwards; the
  // AdamW decay mask is made at the first update.
  int64_t step_workspace_bytes(const StepWorkspaceShape& s) const override {
    const int64_t tokens = s.rows * s.seq;
    int64_t floats = gemm_workspace_floats_bound(gemm_precision(), s.max_out, s.max_weight);
    for (int64_t w : s.norm_widths) floats = std::max(floats, layernorm_backward_workspace_floats(tokens, w));
    floats = std::max(floats, embedding_backward_workspace_floats(s.rows, s.seq, s.embedding));
    int64_t bytes = std::max<int64_t>(0, floats * int64_t(sizeof(float)) - int64_t(splitk_.bytes()));
    if (decay_.size() != size_t(s.params)) bytes += s.params;
    return bytes;
  }
  Precision precision() const override { return prec_; }
  std::string describe() const override { return desc_; }

  // ---- memory ----
  Status alloc(size_t bytes, void** out) override {
    ON_DEVICE();
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes == 0 ? 256 : bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      if (e == cudaErrorMemoryAllocation) {
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        return OutOfMemory("GPU out of memory on " + desc_ + ": cannot allocate " + mib(bytes) + " (" + mib(free_b) +
                           " free of " + mib(total_b) + ", " + mib(size_t(bytes_in_use())) +
                           " held by this model); lower the batch size or sequence length");
      }
      return cuda_status(e, "cudaMalloc");
    }
    note_alloc(p, bytes);
    *out = p;
    return Status::Ok();
  }
  void release(void* p) override {
    if (!p) return;
    cudaSetDevice(dev_);
    note_release(p);
    cudaFree(p);
  }
  Status upload(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return Status::Ok();
    ON_DEVICE();
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    return Status::Ok();
  }
  Status download(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return Status::Ok();
    ON_DEVICE();
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    return Status::Ok();
  }
  Status copy(void* dst, const void* src, size_t bytes) override {
    if (!bytes || dst == src) return Status::Ok();
    ON_DEVICE();
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
    return Status::Ok();
  }
  Status zero(void* p, size_t bytes) override {
    if (!bytes) return Status::Ok();
    ON_DEVICE();
    CUDA_TRY(cudaMemsetAsync(p, 0, bytes, stream_));
    return Status::Ok();
  }
  Status sync() override {
    ON_DEVICE();
    CUDA_TRY(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }
  Status mark(int i) override {
    if (i < 0 || i >= kMarks) return InvalidArgument("no such mark");
    ON_DEVICE();
    CUDA_TRY(cudaEventRecord(marked_[i], stream_));
    return Status::Ok();
  }
  Status wait_marked(int i) override {
    if (i < 0 || i >= kMarks) return InvalidArgument("no such mark");
    ON_DEVICE();
    CUDA_TRY(cudaEventSynchronize(marked_[i]));
    return Status::Ok();
  }
  // Page-locked: copies to and from it are truly asynchronous (a pageable
  // download blocks the host until the stream drains).
  Status alloc_host(size_t bytes, void** out) override {
    ON_DEVICE();
    void* p = nullptr;
    cudaError_t e = cudaMallocHost(&p, bytes == 0 ? 64 : bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      return e == cudaErrorMemoryAllocation ? OutOfMemory("cannot allocate " + mib(bytes) + " of pinned host memory")
                                            : cuda_status(e, "cudaMallocHost");
    }
    *out = p;
    return Status::Ok();
  }
  void release_host(void* p) override {
    if (p) cudaFreeHost(p);
  }

  // ---- graphs ----
  bool graphs_enabled() const override { return graphs_on_; }
  // Thread-local mode: a call of this thread that could wait for the device
  // (a sync, a blocking copy, cudaMalloc/cudaFree, e.g. a workspace that has
  // to grow) fails and invalidates the capture instead of silently breaking
  // the graph; other threads (another model's) are not restricted, as they
  // would be in global mode.
  Status begin_capture() override {
    if (!graphs_on_) return Status(StatusCode::kInternal, "CUDA graphs are off (ELECTRA_CUDA_GRAPHS=0)");
    if (capturing_) return Status(StatusCode::kInternal, "a graph capture is already running");
    ON_DEVICE();
    CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    capturing_ = true;
    return Status::Ok();
  }
  Status end_capture(const std::string& key) override {
    if (!capturing_) return Status(StatusCode::kInternal, "end_capture without begin_capture");
    ON_DEVICE();
    capturing_ = false;
    cudaGraph_t g = nullptr;
    cudaError_t e = cudaStreamEndCapture(stream_, &g);
    if (e != cudaSuccess) {
      cudaGetLastError();  // the failing call inside the capture set it too
      return cuda_status(e, "cudaStreamEndCapture (an op inside the capture was not capturable)");
    }
    cudaGraphExec_t x = nullptr;
    e = cudaGraphInstantiate(&x, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
      cudaGetLastError();
      return cuda_status(e, "cudaGraphInstantiate");
    }
    auto old = graphs_.find(key);
    if (old != graphs_.end()) {
      cudaGraphExecDestroy(old->second.exec);
      graphs_.erase(old);
    }
    if (graphs_.size() >= kMaxGraphs) {  // the least recently launched goes
      auto lru = graphs_.begin();
      for (auto it = graphs_.begin(); it != graphs_.end(); ++it)
        if (it->second.used < lru->second.used) lru = it;
      cudaGraphExecDestroy(lru->second.exec);
      graphs_.erase(lru);
    }
    graphs_[key] = Graph{x, ++graph_tick_};
    return Status::Ok();
  }
  Status launch_graph(const std::string& key, bool* found) override {
    *found = false;
    auto it = graphs_.find(key);
    if (!graphs_on_ || capturing_ || it == graphs_.end()) return Status::Ok();
    ON_DEVICE();
    CUDA_TRY(cudaGraphLaunch(it->second.exec, stream_));
    it->second.used = ++graph_tick_;
    *found = true;
    return Status::Ok();
  }
  size_t graph_count() const override { return graphs_.size(); }
  void drop_graphs() override {
    for (auto& [k, g] : graphs_) cudaGraphExecDestroy(g.exec);
    graphs_.clear();
  }

  // ---- linears ----
  Status linear_forward(float* out, const float* inp, const float* w, const float* b, int64_t M, int64_t K,
                        int64_t N) override {
    ON_DEVICE();
    GemmOptions o = gemm_options();
    o.bias = b;
    ELECTRA_RETURN_IF_ERROR(with_workspace(&o, false, true, M, N, K));
    return gemm(false, true, M, N, K, 1.0f, inp, K, w, K, 0.0f, out, N, o);
  }
  // One GEMM whose last block per row block runs the dropout + residual +
  // LayerNorm over the finished rows (gemm_cuda.h's layernorm finish): the
  // bits of the two-op default. Rows wider than 1024 or more row blocks than
  // the counters hold take the default.
  Status linear_dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd,
                                                   const float* inp, const float* w, const float* b, const float* x,
                                                   const float* gamma, const float* beta, int64_t M, int64_t K,
                                                   int64_t N, float eps, float p, uint64_t seed,
                                                   uint64_t offset) override {
    ON_DEVICE();
    if (!gemm_layernorm_finish_fits(gemm_precision(), M, N))
      return Backend::linear_dropout_residual_layernorm_forward(res, out, mean, rstd, inp, w, b, x, gamma, beta, M,
                                                                K, N, eps, p, seed, offset);
    GemmLayerNormFinish ln;
    ln.res = res, ln.out = out, ln.mean = mean, ln.rstd = rstd, ln.x = x, ln.gamma = gamma, ln.beta = beta;
    ln.eps = eps, ln.p = p, ln.seed = seed, ln.offset = offset, ln.offset_base = philox_base_;
    GemmOptions o = gemm_options();
    o.bias = b;
    o.layernorm = &ln;
    ELECTRA_RETURN_IF_ERROR(with_workspace(&o, false, true, M, N, K));
    return gemm(false, true, M, N, K, 1.0f, inp, K, w, K, 0.0f, res, N, o);
  }
  // One GEMM writes both the GELU's input (pre, which the backward needs)
  // and its output: the bits of linear_forward then gelu_forward.
  Status linear_gelu_forward(float* pre, float* out, const float* inp, const float* w, const float* b, int64_t M,
                             int64_t K, int64_t N) override {
    ON_DEVICE();
    GemmOptions o = gemm_options();
    o.bias = b;
    o.gelu = true;
    o.gelu_pre = pre;
    ELECTRA_RETURN_IF_ERROR(with_workspace(&o, false, true, M, N, K));
    return gemm(false, true, M, N, K, 1.0f, inp, K, w, K, 0.0f, out, N, o);
  }
  Status linear_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                         int64_t M, int64_t K, int64_t N) override {
    return linear_bwd(dinp, 1.0f, dw, db, dout, inp, w, M, K, N);
  }
  Status linear_backward_write(float* dinp, float* dw, float* db, const float* dout, const float* inp,
                               const float* w, int64_t M, int64_t K, int64_t N) override {
    return linear_bwd(dinp, 0.0f, dw, db, dout, inp, w, M, K, N);
  }
  Status linear_backward_gelu_write(float* dinp, float* dw, float* db, const float* dout, const float* inp,
                                    const float* w, const float* pre, int64_t M, int64_t K, int64_t N) override {
    return linear_bwd(dinp, 0.0f, dw, db, dout, inp, w, M, K, N, pre);  // GELU backward in the dX epilogue
  }

  // Q, K, V: one grouped GEMM forward; backward one segmented dX GEMM
  // (dinp += dq @ Wq + dk @ Wk + dv @ Wv, one k-loop) and, unless deferred,
  // one grouped dW GEMM with the bias gradients (linear_backward_weights).
  Status linear_forward3(float* const out[3], const float* inp, const float* const w[3], const float* const b[3],
                         int64_t M, int64_t K, int64_t N) override {
    return qkv_forward(out, nullptr, inp, w, b, M, K, N);
  }
  Status linear_backward3(float* dinp, float* const dw[3], float* const db[3], const float* const dout[3],
                          const float* inp, const float* const w[3], int64_t M, int64_t K, int64_t N) override {
    const bool all_dw = dw[0] && dw[1] && dw[2];
    const bool no_grads = !dw[0] && !dw[1] && !dw[2] && !db[0] && !db[1] && !db[2];
    if (!all_dw && !no_grads) return Backend::linear_backward3(dinp, dw, db, dout, inp, w, M, K, N);
    ON_DEVICE();
    if (dinp) {
      GemmSegment seg[3];
      for (int i = 0; i < 3; ++i) seg[i].A = dout[i], seg[i].B = w[i];
      GemmOptions o = gemm_options();
      ELECTRA_RETURN_IF_ERROR(grow_workspace(gemm_segmented_workspace_floats(false, false, M, K, N, 3, o)));
      o.workspace = splitk_.data();
      o.workspace_floats = int64_t(splitk_.size());
      ELECTRA_RETURN_IF_ERROR(gemm_segmented(false, false, M, K, N, 1.0f, 3, seg, N, K, 1.0f, dinp, K, o));
    }
    if (no_grads) return Status::Ok();
    const float* const in[3] = {inp, inp, inp};
    return linear_backward_weights(3, dw, db, dout, in, M, K, N);
  }
  // One grouped dW GEMM (its split-K finish adds the bias gradients).
  Status linear_backward_weights(int n, float* const dw[], float* const db[], const float* const dout[],
                                 const float* const inp[], int64_t M, int64_t K, int64_t N) override {
    if (n < 1 || n > 4) return Backend::linear_backward_weights(n, dw, db, dout, inp, M, K, N);
    bool all_dw = true, all_db = true, no_db = true;
    for (int i = 0; i < n; ++i) all_dw = all_dw && dw[i], all_db = all_db && db[i], no_db = no_db && !db[i];
    if (!all_dw || !(all_db || no_db)) return Backend::linear_backward_weights(n, dw, db, dout, inp, M, K, N);
    ON_DEVICE();
    GemmGroup g[4];
    for (int i = 0; i < n; ++i) g[i].A = dout[i], g[i].B = inp[i], g[i].C = dw[i], g[i].a_row_sum = db[i];
    GemmOptions o = gemm_options();
    ELECTRA_RETURN_IF_ERROR(with_grouped_workspace(&o, true, false, N, K, M, n, all_db));
    return gemm_grouped(true, false, N, K, M, 1.0f, n, g, N, K, 1.0f, K, o);
  }

  // The FFN's GELU output in bf16 (Backend::ffn_gelu_bf16): on the bf16
  // tensor-core GEMMs, which round it to bf16 anyway (the step's bits do not
  // change), when their 16-byte copies allow the shapes (gemm_cuda.h: a bf16
  // operand's ld a multiple of 8, the fp32 one beside it of 4), unless
  // ELECTRA_CUDA_BF16_ACTS=0 (read at creation; tests compare the two).
  bool ffn_gelu_bf16(int64_t H, int64_t F) const override {
    return bf16_acts_on_ && prec_ == Precision::kBf16 && F % 8 == 0 && H % 4 == 0;
  }
  Status linear_gelu_forward_bf16(float* pre, uint16_t* out, const float* inp, const float* w, const float* b,
                                  int64_t M, int64_t K, int64_t N) override {
    ON_DEVICE();
    GemmOptions o = gemm_options();
    o.bias = b;
    o.gelu = true;
    o.gelu_pre = pre;
    o.c_bf16 = out;
    ELECTRA_RETURN_IF_ERROR(with_workspace(&o, false, true, M, N, K));
    return gemm(false, true, M, N, K, 1.0f, inp, K, w, K, 0.0f, nullptr, N, o);
  }
  Status linear_dropout_residual_layernorm_forward_bf16(float* res, float* out, float* mean, float* rstd,
                                                        const uint16_t* inp, const float* w, const float* b,
                                                        const float* x, const float* gamma, const float* beta,
                                                        int64_t M, int64_t K, int64_t N, float eps, float p,
                                                        uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    GemmLayerNormFinish ln;
    ln.res = res, ln.out = out, ln.mean = mean, ln.rstd = rstd, ln.x = x, ln.gamma = gamma, ln.beta = beta;
    ln.eps = eps, ln.p = p, ln.seed = seed, ln.offset = offset, ln.offset_base = philox_base_;
    const bool fused = gemm_layernorm_finish_fits(gemm_precision(), M, N);
    GemmOptions o = gemm_options();
    o.bias = b;
    o.a_bf16 = inp;
    o.layernorm = fused ? &ln : nullptr;
    ELECTRA_RETURN_IF_ERROR(with_workspace(&o, false, true, M, N, K));
    ELECTRA_RETURN_IF_ERROR(gemm(false, true, M, N, K, 1.0f, nullptr, K, w, K, 0.0f, res, N, o));
    if (fused) return Status::Ok();
    return dropout_residual_layernorm_forward(res, out, mean, rstd, res, x, gamma, beta, M, N, eps, p, seed, offset);
  }
  // q, k, v in bf16 (Backend::attention_qkv_bf16): on the bf16 backend where
  // the tensor-core attention runs (attention_tc_fits, the kernels that round
  // q, k, v to bf16 as they load them, so the bits do not change), unless
  // ELECTRA_CUDA_BF16_ACTS=0.
  bool attention_qkv_bf16(int64_t S, int64_t NH, int64_t hd) const override {
    (void)NH;
    if (!bf16_acts_on_ || prec_ != Precision::kBf16) return false;
    if (cudaSetDevice(dev_) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    bool fits = false;
    return attention_tc_fits(S, hd, &fits).ok() && fits;
  }
  Status linear_forward3_bf16(uint16_t* const out[3], const float* inp, const float* const w[3],
                              const float* const b[3], int64_t M, int64_t K, int64_t N) override {
    return qkv_forward(nullptr, out, inp, w, b, M, K, N);
  }
  // The three projections of one input as one grouped GEMM, writing out32 or
  // (GemmGroup::c_bf16) out16.
  Status qkv_forward(float* const* out32, uint16_t* const* out16, const float* inp, const float* const w[3],
                     const float* const b[3], int64_t M, int64_t K, int64_t N) {
    ON_DEVICE();
    GemmGroup g[3];
    for (int i = 0; i < 3; ++i) {
      g[i].A = inp, g[i].B = w[i], g[i].bias = b[i];
      if (out16) g[i].c_bf16 = out16[i];
      else g[i].C = out32[i];
    }
    GemmOptions o = gemm_options();
    ELECTRA_RETURN_IF_ERROR(with_grouped_workspace(&o, false, true, M, N, K, 3, false));
    return gemm_grouped(false, true, M, N, K, 1.0f, 3, g, K, K, 0.0f, N, o);
  }
  Status attention_forward_bf16(float* out, float* probs, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                                int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                                float p, uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    return cuda::attention_forward_bf16(out, probs, q, k, v, ld, mask, B, S, NH, hd, p, seed, offset, stream_,
                                        philox_base_);
  }
  Status attention_backward_write_bf16(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                       const float* probs, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                                       int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                                       float p, uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    return cuda::attention_backward_write_bf16(dq, dk, dv, dout, out, probs, q, k, v, ld, mask, B, S, NH, hd, p, seed,
                                               offset, stream_, philox_base_);
  }
  Status linear_backward_weights_pair_bf16(float* const dw[2], float* const db[2], const float* const dout[2],
                                           const uint16_t* inp0, const float* inp1, int64_t M, int64_t K,
                                           int64_t N) override {
    const bool all_db = db[0] && db[1], no_db = !db[0] && !db[1];
    if (!dw[0] || !dw[1] || !(all_db || no_db))
      return InvalidArgument("linear_backward_weights_pair_bf16: both weight gradients, and both or no bias gradients");
    ON_DEVICE();
    GemmGroup g[2];
    for (int i = 0; i < 2; ++i) g[i].A = dout[i], g[i].C = dw[i], g[i].a_row_sum = db[i];
    g[0].b_bf16 = inp0, g[1].B = inp1;
    GemmOptions o = gemm_options();
    ELECTRA_RETURN_IF_ERROR(grow_workspace(cuda::gemm_grouped_swapped_workspace_floats(N, K, M, all_db, o)));
    o.workspace = splitk_.data();
    o.workspace_floats = int64_t(splitk_.size());
    return gemm_grouped_swapped(N, K, M, g, 1.0f, o);  // two launches: the groups' operand types differ
  }

  // One launch for the pair (gemm_grouped_swapped: dweight[1] is dweight[0]'s shape transposed).
  Status linear_backward_weights_pair(float* const dw[2], float* const db[2], const float* const dout[2],
                                      const float* const inp[2], int64_t M, int64_t K, int64_t N) override {
    const bool all_db = db[0] && db[1], no_db = !db[0] && !db[1];
    if (!dw[0] || !dw[1] || !(all_db || no_db)) return Backend::linear_backward_weights_pair(dw, db, dout, inp, M, K, N);
    ON_DEVICE();
    GemmGroup g[2];
    for (int i = 0; i < 2; ++i) g[i].A = dout[i], g[i].B = inp[i], g[i].C = dw[i], g[i].a_row_sum = db[i];
    GemmOptions o = gemm_options();
    ELECTRA_RETURN_IF_ERROR(grow_workspace(cuda::gemm_grouped_swapped_workspace_floats(N, K, M, all_db, o)));
    o.workspace = splitk_.data();
    o.workspace_floats = int64_t(splitk_.size());
    return gemm_grouped_swapped(N, K, M, g, 1.0f, o);
  }

  // ---- layers ----
  Status embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                           const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E) override {
    ON_DEVICE();
    return cuda::embedding_forward(out, ids, types, wte, wpe, wtt, B, S, E, stream_);
  }
  Status embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                            const int32_t* types, int64_t B, int64_t S, int64_t E) override {
    ON_DEVICE();
    ELECTRA_RETURN_IF_ERROR(grow_workspace(cuda::embedding_backward_workspace_floats(B, S, E)));
    return cuda::embedding_backward(dwte, dwpe, dwtt, dout, ids, types, B, S, E, stream_, splitk_.data(),
                                    int64_t(splitk_.size()));
  }
  Status gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C) override {
    ON_DEVICE();
    return cuda::gather_rows(out, inp, rows, R, C, stream_);
  }
  Status gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R, int64_t C) override {
    ON_DEVICE();
    return cuda::gather_rows_backward(dinp, dout, rows, R, C, stream_);
  }
  Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* g, const float* b,
                           int64_t N, int64_t C, float eps) override {
    ON_DEVICE();
    return cuda::layernorm_forward(out, mean, rstd, inp, g, b, N, C, eps, stream_);
  }
  Status layernorm_backward(float* dinp, float* dg, float* db, const float* dout, const float* inp, const float* g,
                            const float* mean, const float* rstd, int64_t N, int64_t C) override {
    ON_DEVICE();
    ELECTRA_RETURN_IF_ERROR(grow_workspace(cuda::layernorm_backward_workspace_floats(N, C)));
    return cuda::layernorm_backward(dinp, dg, db, dout, inp, g, mean, rstd, N, C, stream_, splitk_.data(),
                                    int64_t(splitk_.size()), counter_.data());
  }
  Status layernorm_backward_write(float* dinp, float* ddrop, float* dg, float* db, const float* dout,
                                  const float* inp, const float* g, const float* mean, const float* rstd, int64_t N,
                                  int64_t C, float p, uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    ELECTRA_RETURN_IF_ERROR(grow_workspace(cuda::layernorm_backward_workspace_floats(N, C)));
    return cuda::layernorm_backward_write(dinp, ddrop, dg, db, dout, inp, g, mean, rstd, N, C, p, seed, offset,
                                          stream_, splitk_.data(), int64_t(splitk_.size()), counter_.data(),
                                          philox_base_);
  }
  Status layernorm_dropout_forward(float* out, float* mean, float* rstd, const float* inp, const float* g,
                                   const float* b, int64_t N, int64_t C, float eps, float p, uint64_t seed,
                                   uint64_t offset) override {
    ON_DEVICE();
    return cuda::layernorm_dropout_forward(out, mean, rstd, inp, g, b, N, C, eps, p, seed, offset, stream_,
                                           philox_base_);
  }
  Status dropout_layernorm_backward_write(float* dinp, float* dg, float* db, float* dout, const float* inp,
                                          const float* g, const float* mean, const float* rstd, int64_t N, int64_t C,
                                          float p, uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    ELECTRA_RETURN_IF_ERROR(grow_workspace(cuda::layernorm_backward_workspace_floats(N, C)));
    return cuda::dropout_layernorm_backward_write(dinp, dg, db, dout, inp, g, mean, rstd, N, C, p, seed, offset,
                                                  stream_, splitk_.data(), int64_t(splitk_.size()), counter_.data(),
                                                  philox_base_);
  }
  Status layernorm_backward_gelu_write(float* dinp, float* dpre, float* dg, float* db, const float* dout,
                                       const float* inp, const float* g, const float* mean, const float* rstd,
                                       const float* pre, int64_t N, int64_t C) override {
    ON_DEVICE();
    ELECTRA_RETURN_IF_ERROR(grow_workspace(cuda::layernorm_backward_workspace_floats(N, C)));
    return cuda::layernorm_backward_gelu_write(dinp, dpre, dg, db, dout, inp, g, mean, rstd, pre, N, C, stream_,
                                               splitk_.data(), int64_t(splitk_.size()), counter_.data());
  }
  Status gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n) override {
    ON_DEVICE();
    return cuda::gelu_backward_write(dinp, dout, inp, n, stream_);
  }
  Status dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                         uint64_t offset) override {
    ON_DEVICE();
    return cuda::dropout_forward(out, inp, n, p, seed, offset, stream_, philox_base_);
  }
  Status residual_backward(float* da, float* db, const float* dout, int64_t n) override {
    ON_DEVICE();
    return cuda::residual_backward(da, db, dout, n, stream_);
  }
  Status dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd, const float* a,
                                            const float* x, const float* g, const float* b, int64_t N, int64_t C,
                                            float eps, float p, uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    return cuda::dropout_residual_layernorm_forward(res, out, mean, rstd, a, x, g, b, N, C, eps, p, seed, offset,
                                                    stream_, philox_base_);
  }
  Status attention_forward(float* out, float* probs, const float* q, const float* k, const float* v, int64_t ld,
                           const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd, float p,
                           uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    if (prec_ == Precision::kBf16)  // tensor cores, P recomputed (attention_tc.cu)
      return cuda::attention_forward_bf16(out, probs, q, k, v, ld, mask, B, S, NH, hd, p, seed, offset, stream_,
                                          philox_base_);
    return cuda::attention_forward(out, probs, q, k, v, ld, mask, B, S, NH, hd, p, seed, offset, stream_,
                                   philox_base_);
  }
  // The bf16 entry points take the tensor-core kernels (a log-sum-exp per
  // query row) exactly when attention_tc_fits(S, hd) on this device, the
  // decision asked here, so the buffer sized from this always fits the path
  // taken. When the question itself fails: the full size, which either path
  // can use.
  int64_t attention_saved_floats(int64_t B, int64_t S, int64_t NH, int64_t hd) const override {
    const int64_t probs = B * NH * S * S;
    if (prec_ != Precision::kBf16) return probs;
    if (cudaSetDevice(dev_) != cudaSuccess) {
      cudaGetLastError();
      return probs;
    }
    bool fits = false;
    if (!attention_tc_fits(S, hd, &fits).ok() || !fits) return probs;
    return B * NH * S;
  }
  Status attention_backward_write(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                  const float* probs, const float* q, const float* k, const float* v, int64_t ld,
                                  const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd, float p,
                                  uint64_t seed, uint64_t offset) override {
    ON_DEVICE();
    if (prec_ == Precision::kBf16)
      return cuda::attention_backward_write_bf16(dq, dk, dv, dout, out, probs, q, k, v, ld, mask, B, S, NH, hd, p,
                                                 seed, offset, stream_, philox_base_);
    return cuda::attention_backward_write(dq, dk, dv, dout, probs, q, k, v, ld, mask, B, S, NH, hd, p, seed, offset,
                                          stream_, philox_base_);
  }

  // ---- losses and sampling ----
  Status crossentropy_forward_backward(float* losses, int32_t* argmax, float* dlogits, const float* logits,
                                       const int32_t* rows, const int32_t* targets, int64_t R, int64_t V,
                                       float grad_scale, const float* grad_scale_mem = nullptr) override {
    ON_DEVICE();
    return cuda::crossentropy_forward_backward(losses, argmax, dlogits, logits, rows, targets, R, V, grad_scale,
                                               stream_, grad_scale_mem);
  }
  Status bce_forward_backward(double* loss_sum, float* dlogits, const float* logits, const float* labels,
                              const float* weights, int64_t N, float grad_scale,
                              const float* grad_scale_mem = nullptr) override {
    ON_DEVICE();
    return cuda::bce_forward_backward(loss_sum, scratch_.data(), dlogits, logits, labels, weights, N, grad_scale,
                                      stream_, grad_scale_mem, counter_.data());
  }
  Status mse_forward_backward(double* loss_sum, float* dpred, const float* pred, const float* target, int64_t N,
                              float grad_scale) override {
    ON_DEVICE();
    return cuda::mse_forward_backward(loss_sum, dpred, pred, target, N, grad_scale, stream_);
  }
  Status gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T, uint64_t seed,
                       uint64_t offset) override {
    ON_DEVICE();
    return cuda::gumbel_sample(sampled, logits, R, V, T, seed, offset, stream_, philox_base_);
  }
  Status make_disc_inputs(int32_t* disc_ids, float* labels, const int32_t* ids, const int32_t* positions,
                          const int32_t* sampled, int64_t M, int64_t N) override {
    ON_DEVICE();
    return cuda::make_disc_inputs(disc_ids, labels, ids, positions, sampled, M, N, stream_);
  }

  // ---- the step's scalars ----
  Status step_loss(double* s, double* loss, const float* losses, const int32_t* argmax, const int32_t* targets,
                   int64_t M, const double* disc_sum, float disc_weight, int64_t real, int64_t k,
                   bool first, const double* real_mem = nullptr) override {
    ON_DEVICE();
    return cuda::step_loss(s, loss, losses, argmax, targets, M, disc_sum, disc_weight, real, k, first, stream_,
                           real_mem);
  }
  Status guard_clip_grad_norm(double* norm, double* apply, float* grads, int64_t n, float max_norm,
                              const double* loss, float skip_above, bool update) override {
    ON_DEVICE();
    return cuda::guard_clip_grad_norm(norm, apply, scratch_.data(), grads, n, max_norm, loss, skip_above, update,
                                      stream_);
  }

  // ---- optimizer ----
  Status clip_grad_norm(double* norm, float* grads, int64_t n, float max_norm) override {
    ON_DEVICE();
    if (max_norm > 0) return cuda::clip_grad_norm(norm, scratch_.data(), grads, n, max_norm, stream_);
    return cuda::global_norm(norm, scratch_.data(), grads, n, stream_);
  }
  Status adamw_update_table(const ParamTable& table, float* params, const float* grads, float* m, float* v,
                            const AdamWHyper& hp) override {
    ON_DEVICE();
    // Layer-wise learning rates (fine-tuning): one launch per tensor with its
    // own rate. Pre-training keeps the single masked launch.
    bool scaled = false;
    for (const auto& s : table.specs()) scaled = scaled || s.lr_scale != 1.0f;
    if (scaled) {
      if (hp.step_values)
        return InvalidArgument("adamw_update_table: per-tensor learning-rate scales with step values in memory");
      for (const auto& s : table.specs()) {
        AdamWHyper h = hp;
        h.lr = hp.lr * s.lr_scale;
        ELECTRA_RETURN_IF_ERROR(cuda::adamw_update(params + s.offset, grads + s.offset, m + s.offset,
                                                   v + s.offset, s.numel, h, s.decay, stream_));
      }
      return Status::Ok();
    }
    ELECTRA_RETURN_IF_ERROR(decay_mask(table));
    return cuda::adamw_update_masked(params, grads, m, v, decay_.data(), table.total(), hp, stream_);
  }

 private:
  static std::string mib(size_t b) { return std::to_string((b + (1u << 20) - 1) >> 20) + " MiB"; }

  Status make_current() {
    cudaError_t e = cudaSetDevice(dev_);
    if (e != cudaSuccess) {
      cudaGetLastError();
      return cuda_status(e, "cudaSetDevice");
    }
    return Status::Ok();
  }
  GemmPrecision gemm_precision() const {
    return prec_ == Precision::kBf16 ? GemmPrecision::kBf16 : GemmPrecision::kFp32;
  }
  GemmOptions gemm_options() {
    GemmOptions o;
    o.precision = gemm_precision();
    o.stream = stream_;
    o.tile_counters = counter_.data();
    return o;
  }
  // Points o at the split-K workspace, grown first if this GEMM needs more.
  // Growing frees the old buffer, which waits for the device: it happens in
  // the first step, and again only for a larger shape.
  Status with_grouped_workspace(GemmOptions* o, bool tA, bool tB, int64_t M, int64_t N, int64_t K, int groups,
                                bool row_sums) {
    ELECTRA_RETURN_IF_ERROR(grow_workspace(gemm_grouped_workspace_floats(tA, tB, M, N, K, groups, row_sums, *o)));
    o->workspace = splitk_.data();
    o->workspace_floats = int64_t(splitk_.size());
    return Status::Ok();
  }
  Status with_workspace(GemmOptions* o, bool tA, bool tB, int64_t M, int64_t N, int64_t K) {
    ELECTRA_RETURN_IF_ERROR(grow_workspace(gemm_workspace_floats(tA, tB, M, N, K, *o)));
    o->workspace = splitk_.data();
    o->workspace_floats = int64_t(splitk_.size());
    return Status::Ok();
  }
  Status grow_workspace(int64_t need) {
    if (need > 0 && size_t(need) > splitk_.size()) {
      drop_graphs();  // they point at the old workspace
      note_release(splitk_.data());
      ELECTRA_RETURN_IF_ERROR(splitk_.alloc(size_t(need)));
      note_alloc(splitk_.data(), splitk_.bytes());
    }
    return Status::Ok();
  }
  // dinp[M,K] = beta*dinp + dout[M,N] @ w[N,K]; dw[N,K] += dout^T @ inp; db[N] += colsum(dout).
  // K of the dw GEMM is the token count, so it splits K; its reduce also adds
  // db (the row sums of dout^T), so db costs no pass of its own.
  Status linear_bwd(float* dinp, float beta, float* dw, float* db, const float* dout, const float* inp,
                    const float* w, int64_t M, int64_t K, int64_t N, const float* gelu_pre = nullptr) {
    ON_DEVICE();
    if (dinp) {
      GemmOptions o = gemm_options();
      o.gelu_grad_input = gelu_pre;  // [M,K]
      o.ld_gelu_grad = K;
      ELECTRA_RETURN_IF_ERROR(with_workspace(&o, false, false, M, K, N));
      ELECTRA_RETURN_IF_ERROR(gemm(false, false, M, K, N, 1.0f, dout, N, w, K, beta, dinp, K, o));
    }
    bool db_done = false;
    if (dw) {
      GemmOptions o = gemm_options();
      o.a_row_sum = db;
      ELECTRA_RETURN_IF_ERROR(with_workspace(&o, true, false, N, K, M));
      ELECTRA_RETURN_IF_ERROR(gemm(true, false, N, K, M, 1.0f, dout, N, inp, K, 1.0f, dw, K, o));
      db_done = db != nullptr;
    }
    if (db && !db_done) ELECTRA_RETURN_IF_ERROR(cuda::bias_grad(db, dout, M, N, stream_));
    return Status::Ok();
  }
  // One byte per parameter: 1 where AdamW decays it. Built once per table.
  Status decay_mask(const ParamTable& table) {
    if (decay_for_ == &table && decay_.size() == size_t(table.total())) return Status::Ok();
    std::vector<uint8_t> host(size_t(table.total()), 0);
    for (const auto& s : table.specs())
      if (s.decay) std::fill(host.begin() + s.offset, host.begin() + s.offset + s.numel, uint8_t(1));
    drop_graphs();  // they point at the old mask
    note_release(decay_.data());  // a previous table's mask is freed by alloc
    ELECTRA_RETURN_IF_ERROR(decay_.alloc(host.size()));
    note_alloc(decay_.data(), decay_.bytes());
    // On stream_, like every other transfer: a synchronous cudaMemcpy from pageable
    // memory runs on the legacy default stream, which the non-blocking stream_ is
    // not ordered after (and it may return before the DMA lands), so the AdamW
    // kernel could read the mask before it arrives. Pageable source: staged
    // before the call returns, so `host` may go out of scope.
    ELECTRA_RETURN_IF_ERROR(copy_to_device_async(decay_.data(), host.data(), host.size(), stream_));
    decay_for_ = &table;
    return Status::Ok();
  }

  const int dev_;
  const Precision prec_;
  const std::string desc_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t marked_[kMarks] = {};  // mark(i) / wait_marked(i)
  DeviceBuffer<double> scratch_;  // kReduceBlocks partial sums (BCE, norm)
  DeviceBuffer<unsigned> counter_;  // finished-block counts of last-block reductions (0 between ops)
  // Partial sums of the split reductions (split-K GEMMs, LayerNorm dgamma/dbeta,
  // the token-type embedding gradient),
  // used by one op at a time on stream_; grown to the largest need.
  DeviceBuffer<float> splitk_;
  DeviceBuffer<uint8_t> decay_;
  const ParamTable* decay_for_ = nullptr;
  // Instantiated graphs by key (begin_capture/end_capture), at most kMaxGraphs.
  struct Graph {
    cudaGraphExec_t exec;
    uint64_t used;  // graph_tick_ at the last launch or capture
  };
  static constexpr size_t kMaxGraphs = 4;
  const bool graphs_on_;
  const bool bf16_acts_on_;  // ffn_gelu_bf16, attention_qkv_bf16 (ELECTRA_CUDA_BF16_ACTS)
  bool capturing_ = false;
  std::map<std::string, Graph> graphs_;
  uint64_t graph_tick_ = 0;
};

}  // namespace

Status make_cuda_backend(const ExecOptions& o, std::unique_ptr<Backend>* out) {
  DeviceInfo info;
  ELECTRA_RETURN_IF_ERROR(cuda_device_count(&info));
  if (info.count == 0)
    return Status(StatusCode::kNoDevice, "CUDA was requested, but no usable GPU was found: " + info.reason + " (" +
                                             versions(info) + ")");
  if (o.device < 0 || o.device >= info.count)
    return Status(StatusCode::kNoDevice, "cuda:" + std::to_string(o.device) + " was requested, but this machine has " +
                                             std::to_string(info.count) + " GPU(s) (" + versions(info) + ")");
  const DeviceProps& p = info.devices[size_t(o.device)];
  const std::string arch = "sm_" + std::to_string(p.cc_major) + std::to_string(p.cc_minor);
  if (p.cc_major < 8)
    return Status(StatusCode::kNoDevice, "cuda:" + std::to_string(o.device) + " (" + p.name + ", " + arch +
                                             ") is older than sm_80, the oldest architecture this build supports (" +
                                             versions(info) + ")");
  cudaError_t e = cudaSetDevice(o.device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Status(StatusCode::kNoDevice, cuda_error_text("cudaSetDevice", e) + " (" + versions(info) + ")");
  }
  // A binary without code for this GPU fails here with a clear reason rather
  // than at the first training kernel.
  cudaFuncAttributes attr;
  e = cudaFuncGetAttributes(&attr, probe_kernel);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Status(StatusCode::kNoDevice, "cuda:" + std::to_string(o.device) + " (" + p.name + ", " + arch +
                                             ") cannot run this binary's kernels: " +
                                             cuda_error_text("cudaFuncGetAttributes", e) + " (" + versions(info) +
                                             ")");
  }
  const std::string desc = "cuda:" + std::to_string(o.device) + " (" + p.name + ", " + arch + ", " +
                           precision_name(o.precision) + ")";
  // The off switch of CUDA graphs, read once per backend (Backend::graphs_enabled).
  const char* graphs = std::getenv("ELECTRA_CUDA_GRAPHS");
  const bool graphs_on = !(graphs && std::string(graphs) == "0");
  // The off switch of bf16 activation storage (Backend::ffn_gelu_bf16), likewise.
  const char* acts = std::getenv("ELECTRA_CUDA_BF16_ACTS");
  const bool bf16_acts_on = !(acts && std::string(acts) == "0");
  std::unique_ptr<CudaBackend> b(
      new (std::nothrow) CudaBackend(o.device, o.precision, desc, graphs_on, bf16_acts_on));
  if (!b) return OutOfMemory("cannot allocate the CUDA backend");
  ELECTRA_RETURN_IF_ERROR(b->init());
  *out = std::move(b);
  return Status::Ok();
}

}  // namespace cuda
}  // namespace electra
