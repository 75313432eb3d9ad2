// LayerNorm forward and backward (see ops_cuda.h and core/cpu/layernorm.cpp).
//
// C <= 1024 (every preset): a warp per row, the row in registers (NV values
// per lane), fp32 throughout -- no fp64 in the hot path (1/64 rate on
// sm_86/89). The CPU oracle uses double; fp32 stays within the tests' 1e-5
// (normwise) because every sum here is over the row's own values after a
// shift that keeps them O(std):
//  - forward: the pivot x0 = the row's first value; s = sum (x - x0) is a
//    per-lane run of NV <= 32 terms, then a 5-level shuffle tree, so its
//    error is <= (NV + 5) u sum|x - x0| (u = 2^-24), i.e. <= 37 u mean|x - x0|
//    ~ 2.2e-6 std for the mean in the worst case (errors all aligned; the
//    random-walk size is ~sqrt(37) u ~ 4e-7); the centred second pass then
//    gives the variance to the same relative order, so xhat, and the output,
//    are off by a few 1e-7 typically, and by < 1e-5 of max|out| at worst.
//    Offsetting the row first keeps that true for rows with |mean| >> std (a
//    plain fp32 sum would lose log2(|mean|/std) bits there).
//  - backward: x - mean_saved (fp32) and its mean (the CPU's correction term,
//    in fp32), then sum g and sum g xhat with the same bound relative to
//    sum |g|, which bounds dinp's error by ~1e-6 of rstd max|g|.
// dgamma/dbeta: each block sums its rows' dout*xhat, dout per column (in
// registers, then its 8 warps in fixed order), writes one partial per block
// (about two waves of blocks), and a second kernel adds the partials in a
// fixed order: deterministic, the same bits on every run.
// Wider rows (C > 1024) keep the block-per-row kernels below, in double.
// The warp kernels also take in an op next to the LayerNorm, one launch
// fewer with the bits of the two: the dropout after the embeddings'
// LayerNorm (forward: on out; backward: on dout, before anything reads it)
// and a GELU in front of one (backward: dinp * gelu'(pre)). Wider rows run
// the two ops.
#include <algorithm>
#include <string>

#include "core/philox.h"
#include "cuda/cuda_util.h"
#include "cuda/gelu_math.h"
#include "cuda/layernorm_row.h"
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
                                                      uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base) {
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
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

// ------------------------------------------------ warp per row (C <= 1024)
constexpr int kWarpRows = 8;       // rows (warps) per 256-thread block
constexpr int kMaxWarpC = 1024;    // 32 lanes x NV = 32 values
// Blocks of the backward: one row per warp up to one full wave of a 132-SM
// GPU (blocks per SM from the instantiation's registers, plain / kFused, as
// ptxas gives them for sm_90 with CUDA 13, held by its __launch_bounds__:
// 40/40 at NV = 1, 46/50 at 2, 55/53 at 4, 64/64 at 8, 125/109 at 16,
// 212/183 at 32), each warp then looping over rows (grid-stride), so the
// partials the second pass adds stay few (4 KB per block at C = 256). At
// NV = 2 (C of 33..64) only 5 / 4 blocks fit an SM, so the 6 there are a
// little over one wave.
// A function of (N, C) only: the partials' sum order is too.
int64_t bwd_blocks(int64_t N, int64_t C) {
  const int64_t per_sm = C <= 64 ? 6 : C <= 256 ? 4 : C <= 512 ? 2 : 1;
  return std::max<int64_t>(1, std::min((N + kWarpRows - 1) / kWarpRows, 132 * per_sm));
}

__device__ __forceinline__ float warp_sum(float v) {
  // xor butterfly: every lane adds the same two values (commutatively) at
  // each level, so all lanes hold the same bits.
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// out = layernorm(in) per row (layernorm_row.h's layernorm_fwd_warp_row);
// kDropOut: then dropout on out (its own instantiations, so the plain ones
// keep their registers).
template <int NV, bool kDropOut>
__global__ void __launch_bounds__(256)
    layernorm_fwd_warp_kernel(float* __restrict__ out, float* __restrict__ mean, float* __restrict__ rstd,
                              float* res, const float* a, const float* __restrict__ x,
                              const float* __restrict__ gamma, const float* __restrict__ beta, int64_t N,
                              int64_t C, float eps, float p, float scale, uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base) {
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  const int64_t r = int64_t(blockIdx.x) * kWarpRows + (threadIdx.x >> 5);
  if (r >= N) return;  // whole warps only
  layernorm_fwd_warp_row<NV>(out, mean, rstd, res, a, x, gamma, beta, r, C, eps, p, scale, seed, offset,
                             threadIdx.x & 31, kDropOut);
}

// dinp (+= or =) rstd * (g - mean(g) - xhat * mean(g xhat)), g = dout * gamma;
// ddrop (when set) = dropout(dinp as written; p) -- the dropout backward of
// the branch feeding a post-LayerNorm residual, written -- or, with pre set,
// ddrop = dinp * gelu'(pre) (gelu.cu's gelu_backward_write of dinp: a GELU
// in front of the LayerNorm); partial (when set): this block's column sums
// of dout * xhat and dout, [gridDim.x][2][C]. drop_in (ddrop null): dout is
// read through the dropout (p, seed, offset) -- dropout_forward of dout,
// then all of the above -- for a LayerNorm whose output fed a dropout.
// drop_in and pre are read by the kFused instantiations only, so the plain
// ones keep their registers.
template <int NV, bool kFused>
__global__ void __launch_bounds__(256, NV >= 32 ? 1 : NV >= 16 ? 2 : 4)
    layernorm_bwd_warp_kernel(float* dinp, float* __restrict__ ddrop, float* __restrict__ partial,
                              const float* __restrict__ dout, const float* __restrict__ inp,
                              const float* __restrict__ gamma, const float* __restrict__ mean,
                              const float* __restrict__ rstd, int64_t N, int64_t C, int accumulate, float p,
                              float scale, uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base, float* __restrict__ dgamma,
                              float* __restrict__ dbeta, unsigned* __restrict__ counter, int drop_in,
                              const float* __restrict__ pre) {
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  __shared__ float sh[kWarpRows][32 * NV];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  float pg[NV], pb[NV];
#pragma unroll
  for (int j = 0; j < NV; ++j) pg[j] = pb[j] = 0.0f;
  for (int64_t r0 = int64_t(blockIdx.x) * kWarpRows; r0 < N; r0 += int64_t(gridDim.x) * kWarpRows) {
    const int64_t r = r0 + w;
    if (r >= N) continue;  // warp-uniform
    const int64_t base = r * C;
    const float m = mean[r], rs = rstd[r];
    // Only xhat stays in registers (with the column sums pg/pb); dout is
    // read again for dinp (an L1 hit: the warp's own row), which keeps the
    // wide rows (NV = 16, 32) within fewer registers.
    float d[NV];
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int64_t c = lane + 32 * j;
      d[j] = 0.0f;
      if (c < C) {
        d[j] = inp[base + c] - m;
        s += d[j];
      }
    }
    // The saved mean's rounding, taken out as the CPU's correction term does.
    const float corr = warp_sum(s) / float(C);
    // drop_in: bit j says this lane's element j is kept (NV <= 32), so the
    // second read of dout below needs no second Philox draw.
    unsigned keep = ~0u;
    if (kFused && drop_in && p > 0.0f) {
#pragma unroll
      for (int j = 0; j < NV; ++j) {
        const int64_t c = lane + 32 * j;
        if (c < C && !(philox_to_uniform(philox_u32(seed, offset, uint64_t(base + c))) >= p)) keep &= ~(1u << j);
      }
    }
    const float in_scale = drop_in ? scale : 1.0f;
    // dropout_kernel's element arithmetic; __fmul_rn(x, 1) is x.
#define LN_DOUT(j, c) \
  (!kFused ? dout[base + (c)] : ((keep >> (j)) & 1u) ? __fmul_rn(dout[base + (c)], in_scale) : 0.0f)
    float sg = 0.0f, sgx = 0.0f;
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int64_t c = lane + 32 * j;
      if (c < C) {
        d[j] = (d[j] - corr) * rs;  // xhat
        const float go = LN_DOUT(j, c);
        pg[j] = fmaf(go, d[j], pg[j]);
        pb[j] += go;
        const float g = go * gamma[c];
        sg += g;
        sgx = fmaf(g, d[j], sgx);
      }
    }
    const float mg = warp_sum(sg) / float(C), mgx = warp_sum(sgx) / float(C);
    if (dinp || (kFused && ddrop)) {
#pragma unroll
      for (int j = 0; j < NV; ++j) {
        const int64_t c = lane + 32 * j;
        if (c < C) {
          const float g = LN_DOUT(j, c) * gamma[c];
          float v = rs * (g - mg - d[j] * mgx);
          if (accumulate) v += dinp[base + c];
          if (!kFused || dinp) dinp[base + c] = v;
          if (kFused && ddrop && pre) {
            ddrop[base + c] = v * gelu_grad_of(pre[base + c]);
          } else if (ddrop) {
            const bool keep = p <= 0.0f || philox_to_uniform(philox_u32(seed, offset, uint64_t(base + c))) >= p;
            ddrop[base + c] = keep ? __fmul_rn(v, scale) : 0.0f;
          }
        }
      }
    }
  }
#undef LN_DOUT
  if (!partial) return;  // block-uniform
  // The block's 8 warps, in warp order, per column.
  float* out = partial + int64_t(blockIdx.x) * 2 * C;
  for (int pass = 0; pass < 2; ++pass) {
#pragma unroll
    for (int j = 0; j < NV; ++j) sh[w][lane + 32 * j] = pass == 0 ? pg[j] : pb[j];
    __syncthreads();
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      float t = sh[0][c];
      for (int k = 1; k < kWarpRows; ++k) t += sh[k][c];
      out[pass * C + c] = t;
    }
    __syncthreads();
  }
  if (!counter) return;  // layernorm_params_reduce_kernel adds the partials
  // The last block to finish adds every block's partials, in block order
  // (the order does not depend on which block is last): the second pass
  // without a second launch.
  if (!last_block_to_arrive(counter, gridDim.x)) return;
  for (int64_t q = threadIdx.x; q < 2 * C; q += blockDim.x) {
    float t = 0.0f;
    for (int64_t b = 0; b < gridDim.x; ++b) t += __ldcg(partial + b * 2 * C + q);
    if (q < C) {
      if (dgamma) dgamma[q] += t;
    } else if (dbeta) {
      dbeta[q - C] += t;
    }
  }
}

// dgamma[c] += sum over blocks of partial[b][0][c], dbeta likewise with [1]:
// column q of the 2C, lane ty sums blocks ty, ty + 32, ... in order, then a
// fixed tree over the 32 lanes.
__global__ void layernorm_params_reduce_kernel(float* __restrict__ dgamma, float* __restrict__ dbeta,
                                               const float* __restrict__ partial, int64_t blocks, int64_t C) {
  __shared__ float sh[kRowLanes][kColTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t q = int64_t(blockIdx.x) * kColTile + tx;
  float t = 0.0f;
  if (q < 2 * C)
    for (int64_t b = ty; b < blocks; b += kRowLanes) t += partial[b * 2 * C + q];
  sh[ty][tx] = t;
  __syncthreads();
  for (int s = kRowLanes / 2; s > 0; s >>= 1) {
    if (ty < s) sh[ty][tx] += sh[ty + s][tx];
    __syncthreads();
  }
  if (ty == 0 && q < 2 * C) {
    if (q < C) {
      if (dgamma) dgamma[q] += sh[0][tx];
    } else if (dbeta) {
      dbeta[q - C] += sh[0][tx];
    }
  }
}

// The launches name each instantiation (the emulator's launch log carries the
// template arguments' values), so scripts/cuda-static-report sees which one ran.
template <bool kDropOut>
Status launch_fwd(float* out, float* mean, float* rstd, float* res, const float* a, const float* x,
                  const float* gamma, const float* beta, int64_t N, int64_t C, float eps, float p, float scale,
                  uint64_t seed, uint64_t offset, const uint64_t* offset_base, cudaStream_t stream) {
  const unsigned blocks = unsigned((N + kWarpRows - 1) / kWarpRows);
  const int t = 32 * kWarpRows;
  if (C <= 32)
    layernorm_fwd_warp_kernel<1, kDropOut><<<blocks, t, 0, stream>>>(out, mean, rstd, res, a, x, gamma, beta, N, C,
                                                                 eps, p, scale, seed, offset, offset_base);
  else if (C <= 64)
    layernorm_fwd_warp_kernel<2, kDropOut><<<blocks, t, 0, stream>>>(out, mean, rstd, res, a, x, gamma, beta, N, C,
                                                                 eps, p, scale, seed, offset, offset_base);
  else if (C <= 128)
    layernorm_fwd_warp_kernel<4, kDropOut><<<blocks, t, 0, stream>>>(out, mean, rstd, res, a, x, gamma, beta, N, C,
                                                                 eps, p, scale, seed, offset, offset_base);
  else if (C <= 256)
    layernorm_fwd_warp_kernel<8, kDropOut><<<blocks, t, 0, stream>>>(out, mean, rstd, res, a, x, gamma, beta, N, C,
                                                                 eps, p, scale, seed, offset, offset_base);
  else if (C <= 512)
    layernorm_fwd_warp_kernel<16, kDropOut><<<blocks, t, 0, stream>>>(out, mean, rstd, res, a, x, gamma, beta, N, C,
                                                                 eps, p, scale, seed, offset, offset_base);
  else
    layernorm_fwd_warp_kernel<32, kDropOut><<<blocks, t, 0, stream>>>(out, mean, rstd, res, a, x, gamma, beta, N, C,
                                                                 eps, p, scale, seed, offset, offset_base);
  return launch_status("layernorm_fwd_warp_kernel");
}

template <bool kFused>
Status launch_bwd(unsigned blocks, float* dinp, float* ddrop, float* partial, const float* dout, const float* inp,
                  const float* gamma, const float* mean, const float* rstd, int64_t N, int64_t C, bool accumulate,
                  float p, float scale, uint64_t seed, uint64_t offset, const uint64_t* offset_base, float* dgamma, float* dbeta,
                  unsigned* counter, cudaStream_t stream, bool drop_in, const float* pre) {
  const int t = 32 * kWarpRows, acc = accumulate ? 1 : 0, dri = drop_in ? 1 : 0;
  if (C <= 32)
    layernorm_bwd_warp_kernel<1, kFused><<<blocks, t, 0, stream>>>(
        dinp, ddrop, partial, dout, inp, gamma, mean, rstd, N, C, acc, p, scale, seed, offset, offset_base, dgamma,
        dbeta, counter, dri, pre);
  else if (C <= 64)
    layernorm_bwd_warp_kernel<2, kFused><<<blocks, t, 0, stream>>>(
        dinp, ddrop, partial, dout, inp, gamma, mean, rstd, N, C, acc, p, scale, seed, offset, offset_base, dgamma,
        dbeta, counter, dri, pre);
  else if (C <= 128)
    layernorm_bwd_warp_kernel<4, kFused><<<blocks, t, 0, stream>>>(
        dinp, ddrop, partial, dout, inp, gamma, mean, rstd, N, C, acc, p, scale, seed, offset, offset_base, dgamma,
        dbeta, counter, dri, pre);
  else if (C <= 256)
    layernorm_bwd_warp_kernel<8, kFused><<<blocks, t, 0, stream>>>(
        dinp, ddrop, partial, dout, inp, gamma, mean, rstd, N, C, acc, p, scale, seed, offset, offset_base, dgamma,
        dbeta, counter, dri, pre);
  else if (C <= 512)
    layernorm_bwd_warp_kernel<16, kFused><<<blocks, t, 0, stream>>>(
        dinp, ddrop, partial, dout, inp, gamma, mean, rstd, N, C, acc, p, scale, seed, offset, offset_base, dgamma,
        dbeta, counter, dri, pre);
  else
    layernorm_bwd_warp_kernel<32, kFused><<<blocks, t, 0, stream>>>(
        dinp, ddrop, partial, dout, inp, gamma, mean, rstd, N, C, acc, p, scale, seed, offset, offset_base, dgamma,
        dbeta, counter, dri, pre);
  return launch_status("layernorm_bwd_warp_kernel");
}

}  // namespace

int64_t layernorm_backward_workspace_floats(int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return 0;
  if (C <= kMaxWarpC) return bwd_blocks(N, C) * 2 * C;
  const int64_t chunks = params_chunks(N, C);
  return chunks > 1 ? 2 * chunks * C : 0;
}

Status layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                         const float* gamma, const float* beta, int64_t N, int64_t C, float eps,
                         cudaStream_t stream) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::layernorm_forward: N exceeds the grid");
  if (C <= kMaxWarpC)
    return launch_fwd<false>(out, mean, rstd, nullptr, inp, nullptr, gamma, beta, N, C, eps, 0.0f, 1.0f, 0, 0, nullptr,
                             stream);
  layernorm_fwd_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(out, mean, rstd, inp, gamma, beta,
                                                               C, eps);
  return launch_status("layernorm_fwd_kernel");
}

Status dropout_residual_layernorm_forward(float* res, float* out, float* mean, float* rstd,
                                          const float* a, const float* x, const float* gamma,
                                          const float* beta, int64_t N, int64_t C, float eps,
                                          float p, uint64_t seed, uint64_t offset,
                                          cudaStream_t stream, const uint64_t* offset_base) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::dropout_residual_layernorm_forward: N exceeds the grid");
  const float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;  // host IEEE division, as the CPU
  if (C <= kMaxWarpC)
    return launch_fwd<false>(out, mean, rstd, res, a, x, gamma, beta, N, C, eps, p, scale, seed, offset, offset_base,
                             stream);
  dropout_residual_layernorm_fwd_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(
      res, out, mean, rstd, a, x, gamma, beta, C, eps, p, scale, seed, offset, offset_base);
  return launch_status("dropout_residual_layernorm_fwd_kernel");
}

Status layernorm_dropout_forward(float* out, float* mean, float* rstd, const float* inp, const float* gamma,
                                 const float* beta, int64_t N, int64_t C, float eps, float p, uint64_t seed,
                                 uint64_t offset, cudaStream_t stream, const uint64_t* offset_base) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::layernorm_dropout_forward: N exceeds the grid");
  if (C > kMaxWarpC || p <= 0.0f) {  // the two ops (p = 0: dropout_forward in place launches nothing)
    ELECTRA_RETURN_IF_ERROR(layernorm_forward(out, mean, rstd, inp, gamma, beta, N, C, eps, stream));
    return dropout_forward(out, out, N * C, p, seed, offset, stream, offset_base);
  }
  const float scale = 1.0f / (1.0f - p);  // host IEEE division, as dropout_forward
  return launch_fwd<true>(out, mean, rstd, nullptr, inp, nullptr, gamma, beta, N, C, eps, p, scale, seed, offset,
                          offset_base, stream);
}

namespace {
// The backward of every entry point: dinp accumulated (accumulate) or written,
// then ddrop = dropout(dinp), or dinp * gelu'(pre) with pre set, when ddrop is
// set (write mode only); drop_in: dout read through the dropout instead.
Status backward(float* dinp, float* ddrop, float* dgamma, float* dbeta, const float* dout, const float* inp,
                const float* gamma, const float* mean, const float* rstd, int64_t N, int64_t C, bool accumulate,
                float p, uint64_t seed, uint64_t offset, const uint64_t* offset_base, cudaStream_t stream, float* workspace,
                int64_t workspace_floats, unsigned* counter, bool drop_in = false, const float* pre = nullptr) {
  if (N <= 0 || C <= 0) return Status::Ok();
  if (N > 0x7fffffff) return InvalidArgument("cuda::layernorm_backward: N exceeds the grid");
  const bool no_ws_params = (dgamma || dbeta) && workspace == nullptr;
  if (drop_in && (C > kMaxWarpC || no_ws_params)) {
    // The block-per-row kernels have no fused dropout, and the workspace-less
    // dgamma/dbeta kernel reads dout itself: the two ops. dout is then
    // rewritten in place, which dropout_layernorm_backward_write allows.
    ELECTRA_RETURN_IF_ERROR(
        dropout_forward(const_cast<float*>(dout), dout, N * C, p, seed, offset, stream, offset_base));
    return backward(dinp, nullptr, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, accumulate, 0.0f, 0, 0, nullptr,
                    stream, workspace, workspace_floats, counter);
  }
  const float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;  // host IEEE division, as the CPU
  const bool params = dgamma || dbeta;
  const int64_t need = layernorm_backward_workspace_floats(N, C);
  if (params && workspace != nullptr && workspace_floats < need)
    return InvalidArgument("cuda::layernorm_backward: workspace of " + std::to_string(workspace_floats) +
                           " floats, needs " + std::to_string(need));
  if (C <= kMaxWarpC) {
    const bool split = params && workspace != nullptr;
    const unsigned blocks = unsigned(bwd_blocks(N, C));
    unsigned* last = split ? counter : nullptr;
    if (dinp || ddrop || split)
      ELECTRA_RETURN_IF_ERROR(
          (drop_in || pre ? launch_bwd<true> : launch_bwd<false>)(
              blocks, dinp, ddrop, split ? workspace : nullptr, dout, inp, gamma, mean, rstd, N, C, accumulate, p, scale,
              seed, offset, offset_base, dgamma, dbeta, last, stream, drop_in, pre));
    if (split && !last) {
      layernorm_params_reduce_kernel<<<unsigned((2 * C + kColTile - 1) / kColTile), dim3(kColTile, kRowLanes), 0,
                                       stream>>>(dgamma, dbeta, workspace, int64_t(blocks), C);
      return launch_status("layernorm_params_reduce_kernel");
    }
    if (split) return Status::Ok();  // the backward kernel's last block added the partials
  } else if (dinp) {  // (no drop_in or pre here: handled above)
    if (!accumulate) CUDA_TRY(cudaMemsetAsync(dinp, 0, sizeof(float) * size_t(N * C), stream));
    layernorm_bwd_dinp_kernel<<<unsigned(N), kRowThreads, 0, stream>>>(dinp, dout, inp, gamma,
                                                                      mean, rstd, C);
    CUDA_LAUNCH_CHECK("layernorm_bwd_dinp_kernel");
    if (ddrop) ELECTRA_RETURN_IF_ERROR(dropout_forward(ddrop, dinp, N * C, p, seed, offset, stream, offset_base));
  }
  if (!params) return Status::Ok();
  if (C > kMaxWarpC && workspace != nullptr && need > 0) {
    const int64_t chunks = params_chunks(N, C);
    const int64_t rows = (N + chunks - 1) / chunks;
    const dim3 grid(unsigned((C + kColTile - 1) / kColTile), unsigned(chunks));
    layernorm_bwd_params_partial_kernel<<<grid, dim3(kColTile, kRowLanes), 0, stream>>>(
        workspace, dout, inp, mean, rstd, N, C, rows);
    CUDA_LAUNCH_CHECK("layernorm_bwd_params_partial_kernel");
    layernorm_params_finish_kernel<<<unsigned((C + 255) / 256), 256, 0, stream>>>(dgamma, dbeta, workspace,
                                                                                   chunks, C);
    CUDA_LAUNCH_CHECK("layernorm_params_finish_kernel");
  } else {
    // No workspace (direct callers): one block per 32 columns.
    const unsigned blocks = unsigned((C + kColTile - 1) / kColTile);
    layernorm_bwd_params_kernel<<<blocks, dim3(kColTile, kRowLanes), 0, stream>>>(
        dgamma, dbeta, dout, inp, mean, rstd, N, C);
    CUDA_LAUNCH_CHECK("layernorm_bwd_params_kernel");
  }
  return Status::Ok();
}
}  // namespace

Status layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout,
                          const float* inp, const float* gamma, const float* mean,
                          const float* rstd, int64_t N, int64_t C, cudaStream_t stream,
                          float* workspace, int64_t workspace_floats, unsigned* counter) {
  return backward(dinp, nullptr, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, true, 0.0f, 0, 0, nullptr, stream,
                  workspace, workspace_floats, counter);
}

Status layernorm_backward_write(float* dinp, float* ddrop, float* dgamma, float* dbeta, const float* dout,
                                const float* inp, const float* gamma, const float* mean, const float* rstd,
                                int64_t N, int64_t C, float p, uint64_t seed, uint64_t offset,
                                cudaStream_t stream, float* workspace, int64_t workspace_floats,
                                unsigned* counter, const uint64_t* offset_base) {
  if (!dinp && ddrop) return InvalidArgument("cuda::layernorm_backward_write: ddrop needs dinp");
  return backward(dinp, ddrop, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, false, p, seed, offset, offset_base, stream,
                  workspace, workspace_floats, counter);
}

Status dropout_layernorm_backward_write(float* dinp, float* dgamma, float* dbeta, float* dout, const float* inp,
                                       const float* gamma, const float* mean, const float* rstd, int64_t N, int64_t C,
                                       float p, uint64_t seed, uint64_t offset, cudaStream_t stream, float* workspace,
                                       int64_t workspace_floats, unsigned* counter, const uint64_t* offset_base) {
  if (p <= 0.0f)  // dropout_forward in place at p = 0 is no op
    return backward(dinp, nullptr, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, false, 0.0f, 0, 0, nullptr, stream,
                    workspace, workspace_floats, counter);
  return backward(dinp, nullptr, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, false, p, seed, offset, offset_base,
                  stream, workspace, workspace_floats, counter, true);
}

Status layernorm_backward_gelu_write(float* dinp, float* dpre, float* dgamma, float* dbeta, const float* dout,
                                     const float* inp, const float* gamma, const float* mean, const float* rstd,
                                     const float* pre, int64_t N, int64_t C, cudaStream_t stream, float* workspace,
                                     int64_t workspace_floats, unsigned* counter) {
  if (!dpre || !pre) return InvalidArgument("cuda::layernorm_backward_gelu_write: needs dpre and pre");
  if (C > kMaxWarpC) {
    // No fused GELU in the block-per-row kernels: the two ops, dinp (or dpre)
    // holding the LayerNorm's gradient in between.
    float* d = dinp ? dinp : dpre;
    ELECTRA_RETURN_IF_ERROR(backward(d, nullptr, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, false, 0.0f, 0, 0,
                                     nullptr, stream, workspace, workspace_floats, counter));
    return gelu_backward_write(dpre, d, pre, N * C, stream);
  }
  return backward(dinp, dpre, dgamma, dbeta, dout, inp, gamma, mean, rstd, N, C, false, 0.0f, 0, 0, nullptr, stream,
                  workspace, workspace_floats, counter, false, pre);
}

}  // namespace cuda
}  // namespace electra
