// Exact (erf) GELU, forward and backward (see ops_cuda.h and core/cpu/gelu.cpp),
// with gelu_math.h's formulas.
#include "cuda/cuda_util.h"
#include "cuda/gelu_math.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ void gelu_fwd_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = gelu_of(inp[i]);
  }
}

template <bool kAccumulate>
__global__ void gelu_bwd_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float d = dout[i] * gelu_grad_of(inp[i]);
    if (kAccumulate)
      dinp[i] += d;
    else
      dinp[i] = d;  // may alias dout
  }
}

}  // namespace

Status gelu_forward(float* out, const float* inp, int64_t n, cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  gelu_fwd_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(out, inp, n);
  return launch_status("gelu_fwd_kernel");
}

Status gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n,
                     cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  gelu_bwd_kernel<true><<<grid_for(n, kThreads), kThreads, 0, stream>>>(dinp, dout, inp, n);
  return launch_status("gelu_bwd_kernel");
}

Status gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n,
                           cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  gelu_bwd_kernel<false><<<grid_for(n, kThreads), kThreads, 0, stream>>>(dinp, dout, inp, n);
  return launch_status("gelu_bwd_kernel(write)");
}

}  // namespace cuda
}  // namespace electra
