// The CUDA backend's op library (first slice: everything but GEMM, linear and
// attention). Each op mirrors the CPU oracle in core/cpu/ops.h — same
// arguments, same semantics — with these differences:
//  - Every pointer is a DEVICE pointer (ids/rows/targets included), except
//    the AdamWHyper struct, which is passed by value.
//  - Each op launches on `stream` (default: the legacy default stream) and
//    returns a Status: kDeviceError when the launch fails (cudaGetLastError).
//    Ops do not synchronise, so an error inside a kernel shows up at the next
//    synchronising call. Ops never allocate device memory.
//  - Backward ops ACCUMULATE (+=); the fused losses WRITE dlogits (and may run
//    in place), exactly as on the CPU. nullptr skips a gradient.
//  - Scalar results (the BCE loss sum, the global norm) are written to a
//    device double, via a deterministic two-pass reduction over a fixed grid
//    of kReduceBlocks blocks; `scratch` is a device buffer of at least
//    kReduceBlocks doubles. No host synchronisation is needed.
//  - Floating-point: fp32 data, double accumulators where the CPU uses them,
//    except the LayerNorm of rows up to 1,024 wide (fp32 warp sums; its
//    error bound is in layernorm.cu).
//    Scatter-adds (embedding word/type rows, gather_rows_backward) use
//    atomicAdd, so their summation order (and last bits) vary run to run.
//  - Randomness: philox.h with the project convention (element i = word i%4
//    of block i/4); dropout masks equal the CPU's bit for bit.
//  - No argument checking (as on the CPU: ops_check.h lives at the boundary).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/adamw_hyper.h"
#include "core/status.h"

namespace electra {
namespace cuda {

// Partial sums per reduction; `scratch` arguments hold this many doubles.
constexpr int kReduceBlocks = 256;

// ------------------------------------------------------------ embedding.cu
Status embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                         const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E,
                         cudaStream_t stream = 0);
// dwpe is a deterministic per-position sum over the batch; dwte and dwtt add
// the rows in token order (deterministic). With a workspace of
// embedding_backward_workspace_floats(B, S, E) floats (0: not needed), dwtt's
// small table splits the tokens into chunks for enough blocks to fill the
// GPU, then adds the chunks in chunk order. A smaller workspace is an
// InvalidArgument.
Status embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                          const int32_t* ids, const int32_t* types, int64_t B, int64_t S,
                          int64_t E, cudaStream_t stream = 0, float* workspace = nullptr,
                          int64_t workspace_floats = 0);
int64_t embedding_backward_workspace_floats(int64_t B, int64_t S, int64_t E);
Status gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C,
                   cudaStream_t stream = 0);
// atomicAdd: rows may repeat.
Status gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R,
                            int64_t C, cudaStream_t stream = 0);

// ------------------------------------------------------------ layernorm.cu
// C <= 1024: a warp per row, fp32 (layernorm.cu states the error bound);
// wider rows: one block per row, double accumulators.
Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                         const float* gamma, const float* beta, int64_t N, int64_t C, float eps,
                         cudaStream_t stream = 0);
// res[N,C] = dropout(a; p, seed, offset) + x, then out = layernorm(res) with
// mean/rstd saved: dropout_forward, residual_forward and layernorm_forward in
// one kernel, the same element arithmetic for res (res may alias a).
Status dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd,
                                          const float* a, const float* x, const float* gamma,
                                          const float* beta, int64_t N, int64_t C, float eps,
                                          float p, uint64_t seed, uint64_t offset,
                                          cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);
// dinp += ...: re-centred against the saved mean with the CPU's correction
// term (fp32 for C <= 1024, double beyond). dgamma/dbeta, with a workspace of
// layernorm_backward_workspace_floats(N, C) floats: per-block partial sums
// (about two waves of blocks) plus a fixed-order pass, deterministic; without
// one (direct callers), a block per 32 columns in double. A smaller workspace
// is an InvalidArgument. counter (device, 0 on entry and on return; one op
// at a time): the fixed-order pass runs in the backward kernel's last block
// instead of a second launch.
Status layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout,
                          const float* inp, const float* gamma, const float* mean,
                          const float* rstd, int64_t N, int64_t C, cudaStream_t stream = 0,
                          float* workspace = nullptr, int64_t workspace_floats = 0,
                          unsigned* counter = nullptr);
// The same, WRITING dinp (no zeroing needed), and when ddrop is set also
// ddrop = dropout_forward(dinp; p, seed, offset), from the same kernel: the
// dropout backward of the branch that fed a post-LayerNorm residual.
Status layernorm_backward_write(float* dinp, float* ddrop, float* dgamma, float* dbeta,
                                const float* dout, const float* inp, const float* gamma,
                                const float* mean, const float* rstd, int64_t N, int64_t C,
                                float p, uint64_t seed, uint64_t offset, cudaStream_t stream = 0,
                                float* workspace = nullptr, int64_t workspace_floats = 0,
                                unsigned* counter = nullptr,
    const uint64_t* offset_base = nullptr);
int64_t layernorm_backward_workspace_floats(int64_t N, int64_t C);
// out = layernorm(inp) (mean/rstd saved), then out = dropout_forward(out; p,
// seed, offset): layernorm_forward and dropout_forward in place, one kernel
// for C <= 1024, the same bits.
Status layernorm_dropout_forward(float* out, float* mean, float* rstd, const float* inp, const float* gamma,
                                 const float* beta, int64_t N, int64_t C, float eps, float p, uint64_t seed,
                                 uint64_t offset, cudaStream_t stream = 0, const uint64_t* offset_base = nullptr);
// Its backward: dout = dropout_forward(dout; p, seed, offset) in place (the
// dropout's backward), then layernorm_backward_write(dinp, nullptr, ...) --
// one kernel for C <= 1024 with a workspace (dout then left as it was), the
// same bits. dout afterwards holds either its old values or their dropout.
Status dropout_layernorm_backward_write(float* dinp, float* dgamma, float* dbeta, float* dout, const float* inp,
                                       const float* gamma, const float* mean, const float* rstd, int64_t N, int64_t C,
                                       float p, uint64_t seed, uint64_t offset, cudaStream_t stream = 0,
                                       float* workspace = nullptr, int64_t workspace_floats = 0,
                                       unsigned* counter = nullptr, const uint64_t* offset_base = nullptr);
// layernorm_backward_write(d, nullptr, ...), then dpre = gelu_backward_write
// (d; pre) (pre [N,C]: the input of a GELU that fed the LayerNorm), d = dinp,
// or nothing stored when dinp is null; one kernel for C <= 1024, the same
// bits. dpre must not alias dout.
Status layernorm_backward_gelu_write(float* dinp, float* dpre, float* dgamma, float* dbeta, const float* dout,
                                     const float* inp, const float* gamma, const float* mean, const float* rstd,
                                     const float* pre, int64_t N, int64_t C, cudaStream_t stream = 0,
                                     float* workspace = nullptr, int64_t workspace_floats = 0,
                                     unsigned* counter = nullptr);

// ----------------------------------------------------------------- gelu.cu
// Exact erf GELU (Phi = 0.5 * erfc(-x / sqrt 2), as the CPU).
Status gelu_forward(float* out, const float* inp, int64_t n, cudaStream_t stream = 0);
Status gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n,
                     cudaStream_t stream = 0);
Status gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n,
                           cudaStream_t stream = 0);

// -------------------------------------------------------------- dropout.cu
Status dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                       uint64_t offset, cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);
Status dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                        uint64_t offset, cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);

// ------------------------------------------------------------- residual.cu
Status residual_forward(float* out, const float* a, const float* b, int64_t n,
                        cudaStream_t stream = 0);
Status residual_backward(float* da, float* db, const float* dout, int64_t n,
                         cudaStream_t stream = 0);

// --------------------------------------------------------------- losses.cu
// One block per selected row; the row is streamed three times (max/argmax,
// sum of exp, gradient) and never stored. losses/argmax/dlogits may be nullptr.
Status crossentropy_forward_backward(float* losses, int32_t* argmax, float* dlogits,
                                     const float* logits, const int32_t* rows,
                                     const int32_t* targets, int64_t R, int64_t V,
                                     float grad_scale, cudaStream_t stream = 0, const float* grad_scale_mem = nullptr);
// *loss_sum (device double) = sum_i loss_i; scratch: kReduceBlocks doubles.
// counter (device, 0 on entry and on return; one op at a time): the sum of
// the blocks' partials runs in the kernel's last block, in the same order as
// the second launch it replaces (the same bits).
Status bce_forward_backward(double* loss_sum, double* scratch, float* dlogits,
                            const float* logits, const float* labels, const float* weights,
                            int64_t N, float grad_scale, cudaStream_t stream = 0,
                            const float* grad_scale_mem = nullptr, unsigned* counter = nullptr);
// *loss_sum (device double) = sum_i (pred_i - target_i)^2; dpred as cpu::mse_forward_backward.
// One thread sums in index order (N is a regression batch), as the CPU does.
Status mse_forward_backward(double* loss_sum, float* dpred, const float* pred, const float* target,
                            int64_t N, float grad_scale, cudaStream_t stream = 0);

// Backend::step_loss (core/backend.h): one thread, the host metrics' order and arithmetic.
Status step_loss(double* s, double* loss, const float* losses, const int32_t* argmax,
                 const int32_t* targets, int64_t M, const double* disc_sum, float disc_weight,
                 int64_t real, int64_t k, bool first, cudaStream_t stream = 0,
                 const double* real_mem = nullptr);

// ---------------------------------------------------------------- adamw.cu
// hp.apply (device double, may be nullptr): no update when *apply == 0.
// The bias-correction factors are computed on the host exactly as the CPU does.
Status adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                    const AdamWHyper& hp, bool decay, cudaStream_t stream = 0);

// ----------------------------------------------------------------- clip.cu
// *norm (device double) = sqrt(sum g^2), double accumulation, deterministic.
Status global_norm(double* norm, double* scratch, const float* grads, int64_t n,
                   cudaStream_t stream = 0);
// As cpu::clip_grad_norm: *norm = the norm before clipping; when it is finite
// and > max_norm, grads *= float(max_norm / norm). The scale is read on the
// device: no host round trip.
Status clip_grad_norm(double* norm, double* scratch, float* grads, int64_t n, float max_norm,
                      cudaStream_t stream = 0);
// Backend::guard_clip_grad_norm: the norm as global_norm, *apply (device
// double) = update && *loss finite && !(skip_above > 0 && *loss > skip_above)
// && norm finite, and when *apply the clipping of clip_grad_norm.
Status guard_clip_grad_norm(double* norm, double* apply, double* scratch, float* grads, int64_t n,
                            float max_norm, const double* loss, float skip_above, bool update,
                            cudaStream_t stream = 0);


// ============================================================ appended ops
// (attention.cu, sampling.cu, linear.cu, adamw.cu's masked update)

// ------------------------------------------------------------ attention.cu
// Exactly cpu::attention_forward / attention_backward_write (core/cpu/ops.h):
// probs[B,NH,S,S] saved before dropout, masked keys get probability 0, a
// fully padded sequence gets zero probs and zero output, dropout element
// index = flat index into probs. q/k/v/dq/dk/dv have row stride ld, out/dout
// NH*hd. The backward WRITES dq/dk/dv (each head's columns; any may be
// nullptr; they must not overlap one another) without atomics: deterministic. Limits:
// S <= 512 and hd <= 128, else kInvalidArgument. Uses up to ~98 KB of dynamic
// shared memory (opted in with cudaFuncSetAttribute above 48 KB).
Status attention_forward(float* out, float* probs, const float* q, const float* k, const float* v,
                         int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                         int64_t hd, float p, uint64_t seed, uint64_t offset,
                         cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);
Status attention_backward_write(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                                const float* q, const float* k, const float* v, int64_t ld,
                                const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                                float p, uint64_t seed, uint64_t offset, cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);

// --------------------------------------------------------- attention_tc.cu
// The bf16 precision path: the same semantics (masks, dropout mask bit for
// bit, written gradients, nullptr gradients, deterministic) with q/k/v/dO/P/dS
// rounded to bf16 for tensor-core products (fp32 accumulation and softmax).
// P is not saved: the forward writes B*NH*S floats to `probs` (a log-sum-exp
// per query row; the CUDA backend's attention_saved_floats sizes the buffer
// so) and the backward recomputes P from them; it also needs the forward's
// output `out` (D_i = dout_i . out_i). When the kernels' shared memory (whole
// K and V of a head) does not fit the device's per-block opt-in limit, both
// calls run the fp32 kernels above instead (full probs [B,NH,S,S]), the same
// choice in both, as attention_tc_fits reports. Limits: S <= 512, hd <= 128 (kInvalidArgument).
Status attention_forward_bf16(float* out, float* probs, const float* q, const float* k, const float* v,
                              int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                              float p, uint64_t seed, uint64_t offset, cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);
Status attention_backward_write_bf16(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                     const float* probs, const float* q, const float* k, const float* v,
                                     int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                                     int64_t hd, float p, uint64_t seed, uint64_t offset,
                                     cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);
// The same with q, k, v stored as bf16 bits (uint16_t, round to nearest even:
// what a GEMM writes with c_bf16), half their traffic and memory, the same
// bits (the kernels round fp32 inputs to bf16 as they load them). Only the
// tensor-core kernels take them: kInvalidArgument where attention_tc_fits is
// false (the caller asks it first).
Status attention_forward_bf16(float* out, float* probs, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                              int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                              float p, uint64_t seed, uint64_t offset, cudaStream_t stream = 0,
                              const uint64_t* offset_base = nullptr);
Status attention_backward_write_bf16(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                     const float* probs, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                                     int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                                     int64_t hd, float p, uint64_t seed, uint64_t offset, cudaStream_t stream = 0,
                                     const uint64_t* offset_base = nullptr);
// *fits = the tensor-core kernels run for this shape on the current device.
Status attention_tc_fits(int64_t S, int64_t hd, bool* fits);

// ------------------------------------------------------------- sampling.cu
// As cpu::gumbel_sample: sampled[r] = argmax_v logits[r*V+v] * (1/T) -
// log(-log(u)), u = philox_uniform_open(seed, offset, r*V+v), first index on
// ties, NaN never taken, a row without any g > -inf gives 0. g may differ
// from the CPU's in its last bit (CUDA logf vs glibc logf, both <= 1 ulp), so
// only a near-exact tie between the two best candidates could differ.
Status gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T,
                     uint64_t seed, uint64_t offset, cudaStream_t stream = 0,
    const uint64_t* offset_base = nullptr);
// disc_ids[N] = ids with disc_ids[positions[r]] = sampled[r] for r < M
// (positions unique), labels[i] = disc_ids[i] != ids[i] ? 1 : 0. Outputs must
// not alias the inputs.
Status make_disc_inputs(int32_t* disc_ids, float* labels, const int32_t* ids,
                        const int32_t* positions, const int32_t* sampled, int64_t M, int64_t N,
                        cudaStream_t stream = 0);

// --------------------------------------------------------------- linear.cu
// dbias[n] += sum_m dout[m*N+n] (double accumulator, fixed order:
// deterministic), the dbias part of cpu::linear_backward.
Status bias_grad(float* dbias, const float* dout, int64_t M, int64_t N, cudaStream_t stream = 0);

// ---------------------------------------------------------------- adamw.cu
// adamw_update over a whole parameter buffer in one launch: element i is
// decayed iff decay[i] != 0 (device bytes). Bit-identical to adamw_update
// applied tensor by tensor with each tensor's flag.
Status adamw_update_masked(float* params, const float* grads, float* m, float* v,
                           const uint8_t* decay, int64_t n, const AdamWHyper& hp,
                           cudaStream_t stream = 0);

}  // namespace cuda
}  // namespace electra
