// AdamW update (see ops_cuda.h and core/cpu/adamw.cpp).
// One kernel serves both entry points: element i uses k_decay when
// decay == nullptr or decay[i] != 0, else k_nodecay, then the shared
// adamw_element (core/adamw_math.h). adamw_update passes decay = nullptr and
// its one set of constants; adamw_update_masked passes the per-element mask
// and the two sets (which differ only in wd). Same compiled arithmetic for
// every element, so the masked update is bit-identical to the per-tensor one.
#include <cmath>

#include "core/adamw_math.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g,
                             float* __restrict__ m, float* __restrict__ v,
                             const uint8_t* __restrict__ decay, int64_t n, AdamWConsts k_decay,
                             AdamWConsts k_nodecay, const double* __restrict__ apply,
                             const AdamWStep* __restrict__ step_values) {
  if (apply && *apply == 0.0) return;  // the step's guard skipped the update (AdamWHyper::apply)
  if (step_values) {  // the step's values, read at run time (a graph replays this launch)
    const AdamWStep sv = *step_values;
    k_decay.lr = k_nodecay.lr = sv.lr;
    k_decay.c1 = k_nodecay.c1 = sv.c1;
    k_decay.c2 = k_nodecay.c2 = sv.c2;
  }
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const AdamWConsts k = (decay == nullptr || decay[i] != 0) ? k_decay : k_nodecay;
    adamw_element(p + i, g[i], m + i, v + i, k);
  }
}

}  // namespace

Status adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                    const AdamWHyper& hp, bool decay, cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  const AdamWConsts k = adamw_consts(hp.beta1, hp.beta2, hp.lr, hp.eps, hp.weight_decay, decay, hp.bias_correction, hp.step);
  adamw_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(params, grads, m, v, nullptr, n, k, k, hp.apply,
                                                                hp.step_values);
  return launch_status("adamw_kernel");
}

Status adamw_update_masked(float* params, const float* grads, float* m, float* v,
                           const uint8_t* decay, int64_t n, const AdamWHyper& hp,
                           cudaStream_t stream) {
  if (n <= 0) return Status::Ok();
  const AdamWConsts kd = adamw_consts(hp.beta1, hp.beta2, hp.lr, hp.eps, hp.weight_decay, true,
                                      hp.bias_correction, hp.step);
  const AdamWConsts kn = adamw_consts(hp.beta1, hp.beta2, hp.lr, hp.eps, hp.weight_decay, false,
                                      hp.bias_correction, hp.step);
  adamw_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(params, grads, m, v, decay, n, kd,
                                                               kn, hp.apply, hp.step_values);
  CUDA_LAUNCH_CHECK("adamw_kernel(masked)");
  return Status::Ok();
}

}  // namespace cuda
}  // namespace electra
