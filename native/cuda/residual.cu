// Residual add, forward and backward (see ops_cuda.h).
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// out may alias a or b: each element is read before it is written, by one thread.
__global__ void residual_fwd_kernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i];
}

__global__ void residual_bwd_kernel(float* __restrict__ da, float* __restrict__ db,
                                    const float* __restrict__ dout, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = dout[i];
    if (da) da[i] += g;
    if (db) db[i] += g;
  }
}

}  // namespace

Status residual_forward(float* out, const float* a, const float* b, int64_t n,
                        cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  residual_fwd_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(out, a, b, n);
  return launch_status("residual_fwd_kernel");
}

Status residual_backward(float* da, float* db, const float* dout, int64_t n,
                         cudaStream_t stream) {
  if (n <= 0 || (!da && !db)) return Status::Ok();
  residual_bwd_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(da, db, dout, n);
  return launch_status("residual_bwd_kernel");
}

}  // namespace cuda
}  // namespace electra
