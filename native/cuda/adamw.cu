// AdamW update (see ops_cuda.h and core/cpu/adamw.cpp).
#include <cmath>

#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

struct AdamWConsts {
  float b1, b2, ob1, ob2;  // beta and 1 - beta
  float c1, c2;            // bias-correction factors 1 / (1 - beta^t), or 1
  float lr, eps, wd;       // wd == 0 when this tensor is not decayed
};

__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g,
                             float* __restrict__ m, float* __restrict__ v, int64_t n,
                             AdamWConsts k) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float mi = k.b1 * m[i] + k.ob1 * gi;
    const float vi = k.b2 * v[i] + k.ob2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const float update = (mi * k.c1) / (sqrtf(vi * k.c2) + k.eps) + k.wd * p[i];
    p[i] -= k.lr * update;
  }
}

}  // namespace

Status adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                    const AdamWHyper& hp, bool decay, cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  AdamWConsts k;
  k.b1 = hp.beta1;
  k.b2 = hp.beta2;
  k.ob1 = 1.0f - hp.beta1;
  k.ob2 = 1.0f - hp.beta2;
  k.c1 = 1.0f;
  k.c2 = 1.0f;
  if (hp.bias_correction) {
    const double t = static_cast<double>(hp.step);
    k.c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(hp.beta1), t)));
    k.c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(hp.beta2), t)));
  }
  k.lr = hp.lr;
  k.eps = hp.eps;
  k.wd = decay ? hp.weight_decay : 0.0f;
  adamw_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(params, grads, m, v, n, k);
  return launch_status("adamw_kernel");
}

}  // namespace cuda
}  // namespace electra
