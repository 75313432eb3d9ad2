// LayerNorm forward and backward (see ops_cuda.h and core/cpu/layernorm.cpp).
// Numerics follow the CPU: per-row two-pass mean/variance in double, the
// output centred against the double mean; the backward re-centres each row
// against the saved fp32 mean with a double correction term.
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kRowThreads = 256;  // power of two (block_sum)
constexpr int kColThreads = 128;

// Mean of row x against a pivot: pivot + mean(x - pivot), in double.
__device__ __forceinline__ double row_mean(const float* x, int64_t C, double pivot, double* sh) {
  double s = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += double(x[c]) - pivot;
  return pivot + block_sum(s, sh) / double(C);
}

__global__ void layernorm_fwd_kernel(float* __restrict__ out, float* __restrict__ mean,
                                     float* __restrict__ rstd, const float* __restrict__ inp,
                                     const float* __restrict__ gamma,
                                     const float* __restrict__ beta, int64_t C, float eps) {
  __shared__ double sh[kRowThreads];
  const int64_t r = blockIdx.x;
  const float* x = inp + r * C;
  const double m = row_mean(x, C, 0.0, sh);
  double v = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const double d = double(x[c]) - m;
    v += d * d;
  }
  v = block_sum(v, sh) / double(C);
  const double rs = 1.0 / sqrt(v + double(eps));
  float* o = out + r * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const double xhat = (double(x[c]) - m) * rs;
    o[c] = float(xhat * gamma[c] + beta[c]);
  }
  if (threadIdx.x == 0) {
    if (mean) mean[r] = float(m);
    if (rstd) rstd[r] = float(rs);
  }
}

__global__ void layernorm_bwd_dinp_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                          const float* __restrict__ inp,
                                          const float* __restrict__ gamma,
                                          const float* __restrict__ mean,
                                          const float* __restrict__ rstd, int64_t C) {
  __shared__ double sh[kRowThreads];
  const int64_t r = blockIdx.x;
  const float* x = inp + r * C;
  const float* g = dout + r * C;
  const double m = row_mean(x, C, double(mean[r]), sh);
  const double rs = rstd[r];
  double sum_g = 0, sum_gx = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const double xhat = (double(x[c]) - m) * rs;
    const double gc = double(g[c]) * gamma[c];
    sum_g += gc;
    sum_gx += gc * xhat;
  }
  const double mean_g = block_sum(sum_g, sh) / double(C);
  const double mean_gx = block_sum(sum_gx, sh) / double(C);
  float* d = dinp + r * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const double xhat = (double(x[c]) - m) * rs;
    const double gc = double(g[c]) * gamma[c];
    d[c] = float(d[c] + rs * (gc - mean_g - xhat * mean_gx));
  }
}

// One thread per column, rows in order: deterministic. xhat uses the saved
// fp32 mean (no per-row correction; see ops_cuda.h).
__global__ void layernorm_bwd_params_kernel(float* __restrict__ dgamma, float* __restrict__ dbeta,
                                            const float* __restrict__ dout,
                                            const float* __restrict__ inp,
                                            const float* __restrict__ mean,
                                            const float* __restrict__ rstd, int64_t N, int64_t C) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double sg = 0, sb = 0;
  for (int64_t r = 0; r < N; ++r) {
    const double g = dout[r * C + c];
    sg += g * ((double(inp[r * C + c]) - double(mean[r])) * double(rstd[r]));
    sb += g;
  }
  if (dgamma) dgamma[c] = float(dgamma[c] + sg);
  if (dbeta) dbeta[c] = float(dbeta[c] + sb);
}

}  // namespace

Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                         const float* gamma, const float* beta, int64_t N, int64_t C, float eps,
                         cudaStream_t stream) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::layernorm_forward: N exceeds the grid");
  layernorm_fwd_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(out, mean, rstd, inp, gamma, beta,
                                                               C, eps);
  return launch_status("layernorm_fwd_kernel");
}

Status layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout,
                          const float* inp, const float* gamma, const float* mean,
                          const float* rstd, int64_t N, int64_t C, cudaStream_t stream) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::layernorm_backward: N exceeds the grid");
  if (dinp) {
    layernorm_bwd_dinp_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(dinp, dout, inp, gamma,
                                                                      mean, rstd, C);
    CUDA_LAUNCH_CHECK("layernorm_bwd_dinp_kernel");
  }
  if (dgamma || dbeta) {
    const unsigned blocks = unsigned((C + kColThreads - 1) / kColThreads);
    layernorm_bwd_params_kernel<<<blocks, kColThreads, 0, stream>>>(dgamma, dbeta, dout, inp,
                                                                    mean, rstd, N, C);
    CUDA_LAUNCH_CHECK("layernorm_bwd_params_kernel");
  }
  return Status::Ok();
}

}  // namespace cuda
}  // namespace electra
