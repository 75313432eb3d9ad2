// LayerNorm forward and backward (see ops_cuda.h and core/cpu/layernorm.cpp).
// Numerics follow the CPU: per-row two-pass mean/variance in double, the
// output centred against the double mean; the backward re-centres each row
// against the saved fp32 mean with a double correction term.
#include <algorithm>
#include <string>

#include "core/philox.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kRowThreads = 256;  // power of two (block_sum)

// Mean of row x against a pivot: pivot + mean(x - pivot), in double.
__device__ __forceinline__ double row_mean(const float* x, int64_t C, double pivot, double* sh) {
  double s = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += double(x[c]) - pivot;
  return pivot + block_sum(s, sh) / double(C);
}

// LayerNorm of row x into o; every thread of the block takes part.
__device__ __forceinline__ void layernorm_row(float* o, float* mean, float* rstd, const float* x,
                                              const float* gamma, const float* beta, int64_t C,
                                              float eps, double* sh) {
  const double m = row_mean(x, C, 0.0, sh);
  double v = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const double d = double(x[c]) - m;
    v += d * d;
  }
  v = block_sum(v, sh) / double(C);
  const double rs = 1.0 / sqrt(v + double(eps));
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const double xhat = (double(x[c]) - m) * rs;
    o[c] = float(xhat * gamma[c] + beta[c]);
  }
  if (threadIdx.x == 0) {
    if (mean) *mean = float(m);
    if (rstd) *rstd = float(rs);
  }
}

__global__ void layernorm_fwd_kernel(float* __restrict__ out, float* __restrict__ mean,
                                     float* __restrict__ rstd, const float* __restrict__ inp,
                                     const float* __restrict__ gamma,
                                     const float* __restrict__ beta, int64_t C, float eps) {
  __shared__ double sh[kRowThreads];
  const int64_t r = blockIdx.x;
  layernorm_row(out + r * C, mean ? mean + r : nullptr, rstd ? rstd + r : nullptr, inp + r * C, gamma,
                beta, C, eps, sh);
}

// res = dropout(a) + x for one row (dropout.cu's and residual.cu's element
// arithmetic), then layernorm_row over res: the three ops in one pass. res
// may alias a (each element is read, then written, by one thread); the
// barrier makes the row's res visible to the whole block before the LayerNorm.
__global__ void dropout_residual_layernorm_fwd_kernel(float* res, float* __restrict__ out,
                                                      float* __restrict__ mean,
                                                      float* __restrict__ rstd, const float* a,
                                                      const float* __restrict__ x,
                                                      const float* __restrict__ gamma,
                                                      const float* __restrict__ beta, int64_t C,
                                                      float eps, float p, float scale,
                                                      uint64_t seed, uint64_t offset) {
  __shared__ double sh[kRowThreads];
  const int64_t r = blockIdx.x;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const int64_t i = r * C + c;
    float v = a[i];
    if (p > 0.0f) v = philox_to_uniform(philox_u32(seed, offset, uint64_t(i))) >= p ? __fmul_rn(v, scale) : 0.0f;
    res[i] = v + x[i];
  }
  __syncthreads();
  layernorm_row(out + r * C, mean + r, rstd + r, res + r * C, gamma, beta, C, eps, sh);
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

// dgamma/dbeta: a block per tile of kColTile columns; its kRowLanes lanes
// of threads stride over the rows (lane y takes rows y, y + kRowLanes, ...),
// then the lanes' partial sums are combined in a fixed tree order, so the
// result is deterministic. (A single thread per column summing all N rows
// left all but C/128 SMs idle.) xhat uses the saved fp32 mean (no per-row
// correction; see ops_cuda.h).
constexpr int kColTile = 32, kRowLanes = 32;
__global__ void layernorm_bwd_params_kernel(float* __restrict__ dgamma, float* __restrict__ dbeta,
                                            const float* __restrict__ dout,
                                            const float* __restrict__ inp,
                                            const float* __restrict__ mean,
                                            const float* __restrict__ rstd, int64_t N, int64_t C) {
  __shared__ double sg_sh[kRowLanes][kColTile + 1], sb_sh[kRowLanes][kColTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = int64_t(blockIdx.x) * kColTile + tx;
  double sg = 0, sb = 0;
  if (c < C) {
    for (int64_t r = ty; r < N; r += kRowLanes) {
      const double g = dout[r * C + c];
      sg += g * ((double(inp[r * C + c]) - double(mean[r])) * double(rstd[r]));
      sb += g;
    }
  }
  sg_sh[ty][tx] = sg;
  sb_sh[ty][tx] = sb;
  __syncthreads();
  for (int s = kRowLanes / 2; s > 0; s >>= 1) {
    if (ty < s) {
      sg_sh[ty][tx] += sg_sh[ty + s][tx];
      sb_sh[ty][tx] += sb_sh[ty + s][tx];
    }
    __syncthreads();
  }
  if (ty == 0 && c < C) {
    if (dgamma) dgamma[c] = float(dgamma[c] + sg_sh[0][tx]);
    if (dbeta) dbeta[c] = float(dbeta[c] + sb_sh[0][tx]);
  }
}

// The same sums with the rows split into gridDim.y chunks, for the >= 2 waves
// a full GPU needs (a 256-column LayerNorm gives only 8 column tiles). fp32
// throughout (no fp64 in the per-element loop: 1/64 rate on sm_86/89): each
// block writes its chunk's partial sums, fixed tree order, to
// partial[(0|1) * gridDim.y * C + chunk * C + c]; layernorm_params_finish adds
// the chunks in chunk order, so the result is deterministic.
__global__ void layernorm_bwd_params_partial_kernel(float* __restrict__ partial,
                                                    const float* __restrict__ dout,
                                                    const float* __restrict__ inp,
                                                    const float* __restrict__ mean,
                                                    const float* __restrict__ rstd, int64_t N,
                                                    int64_t C, int64_t rows_per_chunk) {
  __shared__ float sg_sh[kRowLanes][kColTile + 1], sb_sh[kRowLanes][kColTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = int64_t(blockIdx.x) * kColTile + tx;
  const int64_t r0 = int64_t(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = min(N, r0 + rows_per_chunk);
  float sg = 0.f, sb = 0.f;
  if (c < C) {
    for (int64_t r = r0 + ty; r < r1; r += kRowLanes) {
      const float g = dout[r * C + c];
      sg = fmaf(g, (inp[r * C + c] - mean[r]) * rstd[r], sg);
      sb += g;
    }
  }
  sg_sh[ty][tx] = sg;
  sb_sh[ty][tx] = sb;
  __syncthreads();
  for (int s = kRowLanes / 2; s > 0; s >>= 1) {
    if (ty < s) {
      sg_sh[ty][tx] += sg_sh[ty + s][tx];
      sb_sh[ty][tx] += sb_sh[ty + s][tx];
    }
    __syncthreads();
  }
  if (ty == 0 && c < C) {
    const int64_t chunks = gridDim.y;
    partial[int64_t(blockIdx.y) * C + c] = sg_sh[0][tx];
    partial[(chunks + blockIdx.y) * C + c] = sb_sh[0][tx];
  }
}

// dgamma[c] = float(dgamma[c] + sum of the chunks' partials), chunk order.
__global__ void layernorm_params_finish_kernel(float* __restrict__ dgamma, float* __restrict__ dbeta,
                                               const float* __restrict__ partial, int64_t chunks,
                                               int64_t C) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double sg = 0, sb = 0;  // a few dozen terms per column: not the hot loop
  for (int64_t y = 0; y < chunks; ++y) {
    sg += partial[y * C + c];
    sb += partial[(chunks + y) * C + c];
  }
  if (dgamma) dgamma[c] = float(dgamma[c] + sg);
  if (dbeta) dbeta[c] = float(dbeta[c] + sb);
}

// Row chunks for the partial-sum path: enough blocks for two waves of a
// 132-SM GPU at 2 blocks/SM (1,024 threads each), at least 64 rows per chunk.
constexpr int64_t kParamsTargetBlocks = 2 * 132 * 2, kMinChunkRows = 64;
int64_t params_chunks(int64_t N, int64_t C) {
  const int64_t tiles = (C + kColTile - 1) / kColTile;
  const int64_t want = (kParamsTargetBlocks + tiles - 1) / tiles;
  const int64_t by_rows = (N + kMinChunkRows - 1) / kMinChunkRows;
  return std::max<int64_t>(1, std::min(want, by_rows));
}

}  // namespace

int64_t layernorm_backward_workspace_floats(int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return 0;
  const int64_t chunks = params_chunks(N, C);
  return chunks > 1 ? 2 * chunks * C : 0;
}

Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                         const float* gamma, const float* beta, int64_t N, int64_t C, float eps,
                         cudaStream_t stream) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::layernorm_forward: N exceeds the grid");
  layernorm_fwd_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(out, mean, rstd, inp, gamma, beta,
                                                               C, eps);
  return launch_status("layernorm_fwd_kernel");
}

Status dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd,
                                          const float* a, const float* x, const float* gamma,
                                          const float* beta, int64_t N, int64_t C, float eps,
                                          float p, uint64_t seed, uint64_t offset,
                                          cudaStream_t stream) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::dropout_residual_layernorm_forward: N exceeds the grid");
  const float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;  // host IEEE division, as the CPU
  dropout_residual_layernorm_fwd_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(
      res, out, mean, rstd, a, x, gamma, beta, C, eps, p, scale, seed, offset);
  return launch_status("dropout_residual_layernorm_fwd_kernel");
}

Status layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout,
                          const float* inp, const float* gamma, const float* mean,
                          const float* rstd, int64_t N, int64_t C, cudaStream_t stream,
                          float* workspace, int64_t workspace_floats) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::layernorm_backward: N exceeds the grid");
  if (dinp) {
    layernorm_bwd_dinp_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(dinp, dout, inp, gamma,
                                                                      mean, rstd, C);
    CUDA_LAUNCH_CHECK("layernorm_bwd_dinp_kernel");
  }
  const int64_t need = layernorm_backward_workspace_floats(N, C);
  if ((dgamma || dbeta) && workspace != nullptr && need > 0) {
    if (workspace_floats < need)
      return InvalidArgument("cuda::layernorm_backward: workspace of " + std::to_string(workspace_floats) +
                             " floats, needs " + std::to_string(need));
    const int64_t chunks = params_chunks(N, C);
    const int64_t rows = (N + chunks - 1) / chunks;
    const dim3 grid(unsigned((C + kColTile - 1) / kColTile), unsigned(chunks));
    layernorm_bwd_params_partial_kernel<<<grid, dim3(kColTile, kRowLanes), 0, stream>>>(
        workspace, dout, inp, mean, rstd, N, C, rows);
    CUDA_LAUNCH_CHECK("layernorm_bwd_params_partial_kernel");
    layernorm_params_finish_kernel<<<unsigned((C + 255) / 256), 256, 0, stream>>>(dgamma, dbeta, workspace,
                                                                                   chunks, C);
    CUDA_LAUNCH_CHECK("layernorm_params_finish_kernel");
  } else if (dgamma || dbeta) {
    const unsigned blocks = unsigned((C + kColTile - 1) / kColTile);
    layernorm_bwd_params_kernel<<<blocks, dim3(kColTile, kRowLanes), 0, stream>>>(
        dgamma, dbeta, dout, inp, mean, rstd, N, C);
    CUDA_LAUNCH_CHECK("layernorm_bwd_params_kernel");
  }
  return Status::Ok();
}

}  // namespace cuda
}  // namespace electra
