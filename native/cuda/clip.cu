// Global gradient norm and clipping (see ops_cuda.h and core/cpu/clip.cpp).
// Deterministic: pass 1 runs a fixed grid of kReduceBlocks blocks, each
// writing one double partial; pass 2 sums the partials in one block, in a
// fixed tree order. The result depends on n only, not on the GPU.
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;  // power of two

__global__ void sumsq_kernel(double* __restrict__ partial, const float* __restrict__ g,
                             int64_t n) {
  __shared__ double sh[kThreads];
  double acc = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double x = g[i];
    acc += x * x;
  }
  const double b = block_sum(acc, sh);
  if (threadIdx.x == 0) partial[blockIdx.x] = b;
}

__global__ void norm_finish_kernel(double* norm, const double* __restrict__ partial) {
  __shared__ double sh[kReduceBlocks];
  const double s = block_sum(partial[threadIdx.x], sh);
  if (threadIdx.x == 0) *norm = sqrt(s);
}

// Reads the norm on the device; scales only when finite and > max_norm.
__global__ void clip_scale_kernel(float* __restrict__ g, int64_t n, const double* __restrict__ norm,
                                  float max_norm) {
  const double nv = *norm;
  if (!isfinite(nv) || !(nv > double(max_norm))) return;
  const float s = float(double(max_norm) / nv);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    g[i] *= s;
}

// The update guard (see guard_clip_grad_norm in ops_cuda.h): the norm, then
// the flag from the norm and the step's loss, read on the device.
__global__ void guard_finish_kernel(double* norm, double* apply, const double* __restrict__ partial,
                                    const double* __restrict__ loss, float skip_above, int update) {
  __shared__ double sh[kReduceBlocks];
  const double s = block_sum(partial[threadIdx.x], sh);
  if (threadIdx.x == 0) {
    const double nv = sqrt(s), l = *loss;
    *norm = nv;
    const bool ok = update && isfinite(l) && !(skip_above > 0.0f && l > double(skip_above));
    *apply = ok && isfinite(nv) ? 1.0 : 0.0;
  }
}

// clip_scale_kernel, also gated by the guard's flag.
__global__ void guarded_scale_kernel(float* __restrict__ g, int64_t n, const double* __restrict__ norm,
                                     const double* __restrict__ apply, float max_norm) {
  const double nv = *norm;
  if (*apply == 0.0 || !isfinite(nv) || !(nv > double(max_norm))) return;
  const float s = float(double(max_norm) / nv);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    g[i] *= s;
}

}  // namespace

Status guard_clip_grad_norm(double* norm, double* apply, double* scratch, float* grads, int64_t n,
                            float max_norm, const double* loss, float skip_above, bool update,
                            cudaStream_t stream) {
  sumsq_kernel<<<kReduceBlocks, kThreads, 0, stream>>>(scratch, grads, n < 0 ? 0 : n);
  CUDA_LAUNCH_CHECK("sumsq_kernel");
  guard_finish_kernel<<<1, kReduceBlocks, 0, stream>>>(norm, apply, scratch, loss, skip_above,
                                                        update ? 1 : 0);
  CUDA_LAUNCH_CHECK("guard_finish_kernel");
  if (n <= 0 || !(max_norm > 0.0f) || !update) return Status::Ok();
  guarded_scale_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(grads, n, norm, apply, max_norm);
  return launch_status("guarded_scale_kernel");
}

Status global_norm(double* norm, double* scratch, const float* grads, int64_t n,
                   cudaStream_t stream) {
  sumsq_kernel<<<kReduceBlocks, kThreads, 0, stream>>>(scratch, grads, n < 0 ? 0 : n);
  CUDA_LAUNCH_CHECK("sumsq_kernel");
  norm_finish_kernel<<<1, kReduceBlocks, 0, stream>>>(norm, scratch);
  return launch_status("norm_finish_kernel");
}

Status clip_grad_norm(double* norm, double* scratch, float* grads, int64_t n, float max_norm,
                      cudaStream_t stream) {
  ELECTRA_RETURN_IF_ERROR(global_norm(norm, scratch, grads, n, stream));
  if (n <= 0) return Status::Ok();
  clip_scale_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(grads, n, norm, max_norm);
  return launch_status("clip_scale_kernel");
}

}  // namespace cuda
}  // namespace electra
