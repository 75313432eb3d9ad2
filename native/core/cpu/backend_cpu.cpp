#include "backend_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "ops.h"
#include "sampling.h"

namespace electra {
namespace cpu {
namespace {

class CpuBackend final : public Backend {
  // The Philox offset with the step's base added (set_philox_base; host memory here).
  uint64_t off(uint64_t offset) const { return offset + (philox_base_ ? *philox_base_ : 0); }

 public:
  BackendKind kind() const override { return BackendKind::kCpu; }
  bool memory_is_host() const override { return true; }
  Precision precision() const override { return Precision::kFp32; }
  std::string describe() const override { return "cpu"; }

  Status alloc(size_t bytes, void** out) override {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) return OutOfMemory("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
    note_alloc(p, rounded);
    *out = p;
    return Status::Ok();
  }
  void release(void* p) override {
    if (!p) return;
    note_release(p);
    std::free(p);
  }
  Status upload(void* dst, const void* src, size_t bytes) override { return copy(dst, src, bytes); }
  Status download(void* dst, const void* src, size_t bytes) override { return copy(dst, src, bytes); }
  Status copy(void* dst, const void* src, size_t bytes) override {
    if (bytes && dst != src) std::memmove(dst, src, bytes);
    return Status::Ok();
  }
  Status zero(void* p, size_t bytes) override {
    if (bytes) std::memset(p, 0, bytes);
    return Status::Ok();
  }
  Status sync() override { return Status::Ok(); }

  Status linear_forward(float* out, const float* inp, const float* w, const float* b, int64_t M, int64_t K,
                        int64_t N) override {
    cpu::linear_forward(out, inp, w, b, M, K, N);
    return Status::Ok();
  }
  Status linear_gelu_forward(float* pre, float* out, const float* inp, const float* w, const float* b, int64_t M,
                             int64_t K, int64_t N) override {
    cpu::linear_forward(pre, inp, w, b, M, K, N);
    cpu::gelu_forward(out, pre, M * N);
    return Status::Ok();
  }
  Status linear_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                         int64_t M, int64_t K, int64_t N) override {
    cpu::linear_backward(dinp, dw, db, dout, inp, w, M, K, N);
    return Status::Ok();
  }
  Status linear_backward_write(float* dinp, float* dw, float* db, const float* dout, const float* inp,
                               const float* w, int64_t M, int64_t K, int64_t N) override {
    cpu::linear_backward_write(dinp, dw, db, dout, inp, w, M, K, N);
    return Status::Ok();
  }
  Status embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                           const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E) override {
    cpu::embedding_forward(out, ids, types, wte, wpe, wtt, B, S, E);
    return Status::Ok();
  }
  Status embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                            const int32_t* types, int64_t B, int64_t S, int64_t E) override {
    cpu::embedding_backward(dwte, dwpe, dwtt, dout, ids, types, B, S, E);
    return Status::Ok();
  }
  Status gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C) override {
    cpu::gather_rows(out, inp, rows, R, C);
    return Status::Ok();
  }
  Status gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R, int64_t C) override {
    cpu::gather_rows_backward(dinp, dout, rows, R, C);
    return Status::Ok();
  }
  Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* g, const float* b,
                           int64_t N, int64_t C, float eps) override {
    cpu::layernorm_forward(out, mean, rstd, inp, g, b, N, C, eps);
    return Status::Ok();
  }
  Status layernorm_backward(float* dinp, float* dg, float* db, const float* dout, const float* inp, const float* g,
                            const float* mean, const float* rstd, int64_t N, int64_t C) override {
    cpu::layernorm_backward(dinp, dg, db, dout, inp, g, mean, rstd, N, C);
    return Status::Ok();
  }
  Status gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n) override {
    cpu::gelu_backward_write(dinp, dout, inp, n);
    return Status::Ok();
  }
  Status layernorm_backward_write(float* dinp, float* ddrop, float* dg, float* db, const float* dout,
                                  const float* inp, const float* g, const float* mean, const float* rstd, int64_t N,
                                  int64_t C, float p, uint64_t seed, uint64_t offset) override {
    if (dinp) std::memset(dinp, 0, sizeof(float) * static_cast<size_t>(N * C));
    cpu::layernorm_backward(dinp, dg, db, dout, inp, g, mean, rstd, N, C);
    if (ddrop) cpu::dropout_forward(ddrop, dinp, N * C, p, seed, off(offset));
    return Status::Ok();
  }
  Status dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                         uint64_t offset) override {
    cpu::dropout_forward(out, inp, n, p, seed, off(offset));
    return Status::Ok();
  }
  Status residual_backward(float* da, float* db, const float* dout, int64_t n) override {
    cpu::residual_backward(da, db, dout, n);
    return Status::Ok();
  }
  Status dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd, const float* a,
                                            const float* x, const float* g, const float* b, int64_t N, int64_t C,
                                            float eps, float p, uint64_t seed, uint64_t offset) override {
    cpu::dropout_forward(res, a, N * C, p, seed, off(offset));
    cpu::residual_forward(res, res, x, N * C);
    cpu::layernorm_forward(out, mean, rstd, res, g, b, N, C, eps);
    return Status::Ok();
  }
  Status attention_forward(float* out, float* probs, const float* q, const float* k, const float* v, int64_t ld,
                           const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd, float p,
                           uint64_t seed, uint64_t offset) override {
    cpu::attention_forward(out, probs, q, k, v, ld, mask, B, S, NH, hd, p, seed, off(offset));
    return Status::Ok();
  }
  int64_t attention_saved_floats(int64_t B, int64_t S, int64_t NH, int64_t /*hd*/) const override {
    return B * NH * S * S;  // the probabilities
  }
  Status attention_backward_write(float* dq, float* dk, float* dv, const float* dout, const float* /*out*/,
                                  const float* probs, const float* q, const float* k, const float* v, int64_t ld,
                                  const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd, float p,
                                  uint64_t seed, uint64_t offset) override {
    cpu::attention_backward_write(dq, dk, dv, dout, probs, q, k, v, ld, mask, B, S, NH, hd, p, seed, off(offset));
    return Status::Ok();
  }
  Status crossentropy_forward_backward(float* losses, int32_t* argmax, float* dlogits, const float* logits,
                                       const int32_t* rows, const int32_t* targets, int64_t R, int64_t V,
                                       float grad_scale, const float* grad_scale_mem = nullptr) override {
    if (grad_scale_mem) grad_scale = *grad_scale_mem;
    cpu::crossentropy_forward_backward(losses, argmax, dlogits, logits, rows, targets, R, V, grad_scale);
    return Status::Ok();
  }
  Status bce_forward_backward(double* loss_sum, float* dlogits, const float* logits, const float* labels,
                              const float* weights, int64_t N, float grad_scale,
                              const float* grad_scale_mem = nullptr) override {
    if (grad_scale_mem) grad_scale = *grad_scale_mem;
    *loss_sum = cpu::bce_forward_backward(dlogits, logits, labels, weights, N, grad_scale);
    return Status::Ok();
  }
  Status mse_forward_backward(double* loss_sum, float* dpred, const float* pred, const float* target, int64_t N,
                              float grad_scale) override {
    *loss_sum = cpu::mse_forward_backward(dpred, pred, target, N, grad_scale);
    return Status::Ok();
  }
  Status gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T, uint64_t seed,
                       uint64_t offset) override {
    cpu::gumbel_sample(sampled, logits, R, V, T, seed, off(offset));
    return Status::Ok();
  }
  Status make_disc_inputs(int32_t* disc_ids, float* labels, const int32_t* ids, const int32_t* positions,
                          const int32_t* sampled, int64_t M, int64_t N) override {
    std::memcpy(disc_ids, ids, sizeof(int32_t) * static_cast<size_t>(N));
    for (int64_t r = 0; r < M; ++r)
      if (positions[r] >= 0) disc_ids[positions[r]] = sampled[r];
    for (int64_t i = 0; i < N; ++i) labels[i] = disc_ids[i] != ids[i] ? 1.0f : 0.0f;
    return Status::Ok();
  }
  Status clip_grad_norm(double* norm, float* grads, int64_t n, float max_norm) override {
    *norm = max_norm > 0 ? cpu::clip_grad_norm(grads, n, max_norm) : cpu::global_norm(grads, n);
    return Status::Ok();
  }
  Status adamw_update_table(const ParamTable& table, float* params, const float* grads, float* m, float* v,
                            const AdamWHyper& hp) override {
    if (hp.apply && *hp.apply == 0.0) return Status::Ok();
    AdamWHyper h = hp;
    if (hp.step_values) {  // host memory here; CUDA reads it when its kernel runs
      h.lr = hp.step_values->lr;
      h.step = hp.step_values->step;
    }
    cpu::adamw_update_table(table, params, grads, m, v, h);
    return Status::Ok();
  }
  Status step_loss(double* s, double* loss, const float* losses, const int32_t* argmax, const int32_t* targets,
                   int64_t M, const double* disc_sum, float disc_weight, int64_t real, int64_t k,
                   bool first, const double* real_mem = nullptr) override {
    if (real_mem) real = static_cast<int64_t>(*real_mem);
    double sum = 0, correct = 0;
    int64_t rows = 0;
    for (int64_t r = 0; r < M; ++r) {
      if (targets[r] < 0) continue;  // padding
      sum += losses[r];
      correct += argmax[r] == targets[r] ? 1.0 : 0.0;
      ++rows;
    }
    const double mean = rows > 0 ? sum / static_cast<double>(rows) : 0.0;
    s[0] = mean;
    s[1] = correct;
    const double prev = first ? 0.0 : *loss;
    if (disc_sum) {
      const double dl = *disc_sum / static_cast<double>(std::max<int64_t>(real, 1));
      *loss = prev + (mean + static_cast<double>(disc_weight) * dl) / static_cast<double>(k);
    } else {
      *loss = prev + mean / static_cast<double>(k);
    }
    return Status::Ok();
  }
  Status guard_clip_grad_norm(double* norm, double* apply, float* grads, int64_t n, float max_norm,
                              const double* loss, float skip_above, bool update) override {
    const double l = *loss;
    // The loss decides first; clip_grad_norm leaves the gradients alone when
    // the norm is not finite, so clipping before knowing the norm is safe.
    const bool ok = update && std::isfinite(l) && !(skip_above > 0 && l > static_cast<double>(skip_above));
    *norm = ok && max_norm > 0 ? cpu::clip_grad_norm(grads, n, max_norm) : cpu::global_norm(grads, n);
    *apply = ok && std::isfinite(*norm) ? 1.0 : 0.0;
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::unique_ptr<Backend>(new (std::nothrow) CpuBackend()); }

}  // namespace cpu
}  // namespace electra
