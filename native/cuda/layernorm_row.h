// The warp-per-row LayerNorm forward (C <= 32 * NV), with the optional
// dropout + residual in front: one source for layernorm.cu's warp kernel and
// the GEMM's fused row finish (gemm.cu), so both give the same bits.
// fp32 throughout; the error analysis is layernorm.cu's.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/philox.h"

namespace electra {
namespace cuda {

__device__ __forceinline__ float ln_warp_sum(float v) {
  // xor butterfly: every lane adds the same two values (commutatively) at
  // each level, so all lanes hold the same bits.
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Row r of out = layernorm(in), in = a, or (res != nullptr) in = res =
// dropout(a; p) + x written to res (res may alias a: each element is read,
// then written, by one lane); mean[r], rstd[r] saved when set. drop_out (res
// null): the dropout (p, seed, offset) applies to out instead, element
// (r, c) as dropout_forward's element r * C + c, so out is the bits of
// layernorm_forward then dropout_forward. Called by a
// whole warp; lane = its lane. `a` is read through L2 (__ldcg): in the GEMM's
// finish it was written by other blocks of the same launch.
template <int NV>
__device__ __forceinline__ void layernorm_fwd_warp_row(float* out, float* mean, float* rstd, float* res,
                                                       const float* a, const float* x, const float* gamma,
                                                       const float* beta, int64_t r, int64_t C, float eps, float p,
                                                       float scale, uint64_t seed, uint64_t offset, int lane,
                                                       bool drop_out = false) {
  const int64_t base = r * C;
  float v[NV];
#pragma unroll
  for (int j = 0; j < NV; ++j) {
    const int64_t c = lane + 32 * j;
    float t = 0.0f;
    if (c < C) {
      t = __ldcg(a + base + c);
      if (res) {
        if (p > 0.0f)
          t = philox_to_uniform(philox_u32(seed, offset, uint64_t(base + c))) >= p ? __fmul_rn(t, scale) : 0.0f;
        t = t + x[base + c];
        res[base + c] = t;
      }
    }
    v[j] = t;
  }
  const float x0 = __shfl_sync(0xffffffffu, v[0], 0);  // the pivot: the row's first value
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < NV; ++j)
    if (lane + 32 * j < C) {
      v[j] -= x0;
      s += v[j];
    }
  const float ms = ln_warp_sum(s) / float(C);
  float q = 0.0f;
#pragma unroll
  for (int j = 0; j < NV; ++j)
    if (lane + 32 * j < C) {
      v[j] -= ms;
      q = fmaf(v[j], v[j], q);
    }
  const float rs = 1.0f / sqrtf(ln_warp_sum(q) / float(C) + eps);
#pragma unroll
  for (int j = 0; j < NV; ++j) {
    const int64_t c = lane + 32 * j;
    if (c < C) {
      float o = fmaf(v[j] * rs, gamma[c], beta[c]);
      if (drop_out && p > 0.0f)
        o = philox_to_uniform(philox_u32(seed, offset, uint64_t(base + c))) >= p ? __fmul_rn(o, scale) : 0.0f;
      out[base + c] = o;
    }
  }
  if (lane == 0) {
    if (mean) mean[r] = x0 + ms;
    if (rstd) rstd[r] = rs;
  }
}

}  // namespace cuda
}  // namespace electra
