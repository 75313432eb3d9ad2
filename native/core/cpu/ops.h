// The CPU backend's op library: plain fp32 forward and backward for every
// layer of an ELECTRA training step. This is the oracle every other backend
// is tested against, so each op is written to be read.
//
// Conventions (all ops):
//  - Tensors are row-major; shapes are given in the comments as [dims].
//  - Linear weights use PyTorch's layout: weight[out, in].
//  - Backward ops ACCUMULATE (+=) into every gradient buffer they receive,
//    so shared weights and residual branches just add up; callers zero
//    gradient buffers when a step starts. The fused loss ops are the one
//    exception: they WRITE their logits gradient (and may run in place).
//  - A gradient pointer may be nullptr when that gradient is not needed.
//  - No op allocates more than O(threads * row) scratch, checks arguments or
//    fails: argument checks live in ops_check.h, at the boundary.
//  - Randomness comes only from philox.h: (seed, offset, flat element index).
#pragma once
#include <cstdint>

#include "../adamw_hyper.h"
#include "../params.h"

namespace electra {
namespace cpu {

// ---------------------------------------------------------------- gemm.cpp
// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C[M,N]
// op(X) = X, or X^T when trans*. lda/ldb/ldc are row strides of the stored
// matrices. beta == 0 ignores C's old content (NaNs included). Blocked,
// packed, vectorised (AVX2/FMA or AVX-512 picked at run time) and threaded.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

// -------------------------------------------------------------- linear.cpp
// out[M,N] = inp[M,K] @ weight[N,K]^T + bias[N]          (bias may be nullptr)
void linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int64_t M, int64_t K, int64_t N);
// dinp[M,K] += dout[M,N] @ weight[N,K]
// dweight[N,K] += dout^T @ inp[M,K]
// dbias[N] += sum over rows of dout
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int64_t M, int64_t K, int64_t N);
// As linear_backward, but dinp is WRITTEN (dinp = dout @ weight, old content
// ignored, NaNs included) — for a gradient buffer this linear alone produces,
// so the caller needs no zeroing. dweight/dbias still accumulate.
void linear_backward_write(float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int64_t M, int64_t K, int64_t N);

// ----------------------------------------------------------- embedding.cpp
// out[B*S,E] = wte[ids[r]] + wpe[r % S] + wtt[types[r]]  for r in [0, B*S)
// ids[B*S] index wte[V,E]; types[B*S] index wtt[T,E]; wpe[>=S,E].
void embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                       const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E);
// Scatter-add of dout[B*S,E] into dwte, dwpe, dwtt (rows repeat: summed).
void embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                        const int32_t* ids, const int32_t* types, int64_t B, int64_t S,
                        int64_t E);

// out[R,C] = inp[rows[r], :]   (the generator head runs at masked rows only)
void gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C);
// dinp[rows[r], :] += dout[r, :]
void gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R,
                          int64_t C);

// ----------------------------------------------------------- layernorm.cpp
// out[N,C] = (inp - mean) * rstd * gamma[C] + beta[C]; rstd = 1/sqrt(var + eps)
// (biased variance, as torch). Saves mean[N] and rstd[N] for the backward.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                       const float* gamma, const float* beta, int64_t N, int64_t C, float eps);
void layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout,
                        const float* inp, const float* gamma, const float* mean,
                        const float* rstd, int64_t N, int64_t C);

// ---------------------------------------------------------------- gelu.cpp
// out[n] = x * 0.5 * (1 + erf(x / sqrt(2)))   (the exact form, as HF "gelu";
// on AVX-512 an erfc fit with relative error < 6e-7, see gelu.cpp)
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
// As gelu_backward, but WRITES: dinp[n] = dout * gelu'(inp) (may alias dout),
// for a gradient buffer this op alone produces (no zeroing needed).
void gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n);

// ------------------------------------------------------------- dropout.cpp
// keep(i) = philox_uniform(seed, offset, i) >= p
// out[i] = keep(i) ? inp[i] / (1 - p) : 0.   p == 0 copies; requires p < 1.
void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                     uint64_t offset);
// dinp[i] += keep(i) ? dout[i] / (1 - p) : 0 — the mask is recomputed, not stored.
void dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                      uint64_t offset);

// ------------------------------------------------------------ residual.cpp
// out[n] = a[n] + b[n]   (out may alias a or b)
void residual_forward(float* out, const float* a, const float* b, int64_t n);
// da[n] += dout; db[n] += dout
void residual_backward(float* da, float* db, const float* dout, int64_t n);

// ----------------------------------------------------------- attention.cpp
// Multi-head self-attention core (the q/k/v/output projections are linears).
// q, k, v: [B,S,*] rows of stride ld (>= NH*hd); head h uses columns
// [h*hd, (h+1)*hd). mask[B,S]: 1 = real token, 0 = padding (never attended).
// probs[B,NH,S,S] = softmax(q k^T / sqrt(hd) over unmasked keys), saved;
// attention dropout (p, seed, offset) on probs, element index = flat index
// into probs; out[B,S,NH*hd] = dropout(probs) @ v (row stride NH*hd).
void attention_forward(float* out, float* probs, const float* q, const float* k,
                       const float* v, int64_t ld, const int32_t* mask, int64_t B, int64_t S,
                       int64_t NH, int64_t hd, float p, uint64_t seed, uint64_t offset);
// dq, dk, dv share q/k/v's stride ld and are WRITTEN (each head's columns of
// every row; other columns untouched; any may be nullptr); dout has stride NH*hd.
// Both directions run per (batch, head) on sgemm; scratch is 2*S*S floats per
// thread (thread-local, reused across calls). A query whose sequence is
// all padding gets zero probabilities and a zero output (every backend must
// agree); mask == nullptr means every token is real.
void attention_backward_write(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                        const float* q, const float* k, const float* v, int64_t ld,
                        const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                        float p, uint64_t seed, uint64_t offset);

// -------------------------------------------------------------- losses.cpp
// Softmax cross-entropy over V classes, at selected rows only, fused with its
// backward. For r in [0,R): x = logits[rows[r], :] (logits is [N,V]),
//   losses[r] = logsumexp(x) - x[targets[r]]
//   argmax[r] = index of max x (ties: lowest index)          (argmax may be nullptr)
//   dlogits[rows[r], :] = grad_scale * (softmax(x) - onehot(targets[r]))
// dlogits is WRITTEN (not accumulated) and may alias logits; nullptr skips it.
// Rows not listed are neither read nor written. Per thread, at most one row
// of probabilities is live at a time.
void crossentropy_forward_backward(float* losses, int32_t* argmax, float* dlogits,
                                   const float* logits, const int32_t* rows,
                                   const int32_t* targets, int64_t R, int64_t V,
                                   float grad_scale);

// Sigmoid binary cross-entropy with logits, fused with its backward:
//   loss_i  = w_i * (max(x,0) - x*y + log1p(exp(-|x|)))     (stable form)
//   dlogits[i] = grad_scale * w_i * (sigmoid(x_i) - y_i)      (WRITTEN; may alias)
// weights[N] (nullptr = all 1) is 0 on padding. Returns sum_i loss_i in double.
double bce_forward_backward(float* dlogits, const float* logits, const float* labels,
                            const float* weights, int64_t N, float grad_scale);

// Squared error (the regression head's loss, as torch MSELoss before its mean),
// fused with its backward:
//   loss_i = (x_i - y_i)^2;  dpred[i] = grad_scale * 2 * (x_i - y_i)  (WRITTEN; may alias pred)
// Returns sum_i loss_i in double (callers divide by N for the mean).
double mse_forward_backward(float* dpred, const float* pred, const float* target, int64_t N,
                            float grad_scale);

// --------------------------------------------------------------- adamw.cpp
using electra::AdamWHyper;  // core/adamw_hyper.h
// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
// mh = m / (1 - b1^t), vh = v / (1 - b2^t) when bias_correction, else m, v
// p -= lr * (mh / (sqrt(vh) + eps) + (decay ? wd * p : 0))   (decoupled decay)
void adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                  const AdamWHyper& hp, bool decay);
// Applies adamw_update tensor by tensor, with each spec's decay flag and its
// learning rate hp.lr * spec.lr_scale.
void adamw_update_table(const ParamTable& table, float* params, const float* grads, float* m,
                        float* v, const AdamWHyper& hp);

// ---------------------------------------------------------------- clip.cpp
// sqrt(sum g^2), accumulated in double.
double global_norm(const float* grads, int64_t n);
// As tf.clip_by_global_norm: g *= max_norm / max(norm, max_norm).
// Returns the norm before clipping.
double clip_grad_norm(float* grads, int64_t n, float max_norm);

}  // namespace cpu
}  // namespace electra
