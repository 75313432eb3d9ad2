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
//  - Floating-point: fp32 data, double accumulators where the CPU uses them.
//    Scatter-adds (embedding word/type rows, gather_rows_backward) use
//    atomicAdd, so their summation order (and last bits) vary run to run.
//  - Randomness: philox.h with the project convention (element i = word i%4
//    of block i/4); dropout masks equal the CPU's bit for bit.
//  - No argument checking (as on the CPU: ops_check.h lives at the boundary).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/cpu/ops.h"  // AdamWHyper
#include "core/status.h"

namespace electra {
namespace cuda {

using cpu::AdamWHyper;

// Partial sums per reduction; `scratch` arguments hold this many doubles.
constexpr int kReduceBlocks = 256;

// ------------------------------------------------------------ embedding.cu
Status embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                         const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E,
                         cudaStream_t stream = 0);
// dwpe is a deterministic per-position sum over the batch; dwte and dwtt
// scatter-add with atomicAdd.
Status embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                          const int32_t* ids, const int32_t* types, int64_t B, int64_t S,
                          int64_t E, cudaStream_t stream = 0);
Status gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C,
                   cudaStream_t stream = 0);
// atomicAdd: rows may repeat.
Status gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R,
                            int64_t C, cudaStream_t stream = 0);

// ------------------------------------------------------------ layernorm.cu
// One block per row, double accumulators (two-pass mean/variance).
Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                         const float* gamma, const float* beta, int64_t N, int64_t C, float eps,
                         cudaStream_t stream = 0);
// dinp: one block per row, re-centred against the saved mean with the CPU's
// double correction term. dgamma/dbeta: a block per 32 columns whose 32 row
// lanes sum in a fixed order (deterministic); xhat there uses the saved fp32
// mean without the correction (differs from the CPU only for rows with
// |mean| >> std).
Status layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout,
                          const float* inp, const float* gamma, const float* mean,
                          const float* rstd, int64_t N, int64_t C, cudaStream_t stream = 0);

// ----------------------------------------------------------------- gelu.cu
// Exact erf GELU (Phi = 0.5 * erfc(-x / sqrt 2), as the CPU).
Status gelu_forward(float* out, const float* inp, int64_t n, cudaStream_t stream = 0);
Status gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n,
                     cudaStream_t stream = 0);
Status gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n,
                           cudaStream_t stream = 0);

// -------------------------------------------------------------- dropout.cu
Status dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                       uint64_t offset, cudaStream_t stream = 0);
Status dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                        uint64_t offset, cudaStream_t stream = 0);

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
                                     float grad_scale, cudaStream_t stream = 0);
// *loss_sum (device double) = sum_i loss_i; scratch: kReduceBlocks doubles.
Status bce_forward_backward(double* loss_sum, double* scratch, float* dlogits,
                            const float* logits, const float* labels, const float* weights,
                            int64_t N, float grad_scale, cudaStream_t stream = 0);

// ---------------------------------------------------------------- adamw.cu
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

}  // namespace cuda
}  // namespace electra
