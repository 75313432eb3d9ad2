// AdamW update (see ops_cuda.h and core/cpu/adamw.cpp).
#include <cmath>

#include "core/adamw_math.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g,
                             float* __restrict__ m, float* __restrict__ v, int64_t n,
                             AdamWConsts k) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    adamw_element(p + i, g[i], m + i, v + i, k);
  }
}

}  // namespace

Status adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                    const AdamWHyper& hp, bool decay, cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  const AdamWConsts k = adamw_consts(hp.beta1, hp.beta2, hp.lr, hp.eps, hp.weight_decay, decay, hp.bias_correction, hp.step);
  adamw_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(params, grads, m, v, n, k);
  return launch_status("adamw_kernel");
}

}  // namespace cuda
}  // namespace electra
