// The vector kernels of the CPU backend, one table per SIMD level
// (simd_kernels.inc compiled by simd_avx2.cpp and simd_avx512.cpp). Op files
// call simd_ops(): the table for simd_level(), or nullptr at the generic
// level, where they run their plain C++ loops (the oracle).
#pragma once
#include <cstdint>

#include "../philox.h"
#include "simd_level.h"

namespace electra {
namespace cpu {

struct SimdOps {
  const char* name;  // "avx2", "avx512"
  // out[n] = gelu(inp)   (exact-erf GELU; Phi relative error < 6e-7)
  void (*gelu_forward)(float* out, const float* inp, int64_t n);
  // dinp (+)= dout * gelu'(inp) (accumulate: +=, else = and dinp may alias dout)
  void (*gelu_backward)(float* dinp, const float* dout, const float* inp, int64_t n, bool accumulate);
  // out[k] = philox_u32(seed, offset, first + k), k < n; bit-exact
  void (*philox_fill_u32)(uint64_t seed, uint64_t offset, uint64_t first, int64_t n, uint32_t* out);
  // g[v] ~= x[v]*inv_t - log(-log(u_v)), v < V, within 5e-6 + 2^-22 |g|;
  // returns the max over the non-NaN g (sampling.cpp re-scans it exactly)
  float (*gumbel_scores)(const float* x, int64_t V, float inv_t, uint64_t seed, uint64_t offset,
                         uint64_t base, float* g);
  // e[j] = exp(x[j] - shift), j < n (e may alias x; ~2 ulp); returns their
  // sum accumulated in double. Softmax rows and the cross-entropy's pass 2.
  double (*exp_shift_sum)(float* e, const float* x, int64_t n, float shift);
  // out[j] (+)= philox_to_uniform(w[j]) >= p ? x[j] * scale : 0, j < n (out may
  // alias x); bit-identical to the scalar loop. Dropout forward and backward.
  void (*dropout_apply)(float* out, const float* x, const uint32_t* w, int64_t n, float p, float scale,
                        bool accumulate);
  // LayerNorm over one row of C, in double as layernorm.cpp (only the order
  // of the sums differs): forward writes out[C] and *mean, *rstd (either may
  // be null); backward adds the row's input gradient into d[C].
  void (*layernorm_row_forward)(float* out, float* mean, float* rstd, const float* x, const float* gamma,
                                const float* beta, int64_t C, float eps);
  void (*layernorm_row_backward)(float* d, const float* g, const float* x, const float* gamma, float mean,
                                 float rstd, int64_t C);
  // sum_j (x[j] - pivot), j < n, in double.
  double (*sum_shifted)(const float* x, int64_t n, double pivot);
  // a[j] += d[j] in double, j < w (bias-gradient column sums).
  void (*col_sum_accumulate)(double* a, const float* d, int64_t w);
  // sg[j] += g[j] * (x[j] - m) * rs and sb[j] += g[j], j < w, in double.
  void (*layernorm_cols_accumulate)(double* sg, double* sb, const float* g, const float* x, double m, double rs,
                                    int64_t w);
};

// nullptr where the build has no such kernels (ELECTRA_PORTABLE, non-x86).
const SimdOps* simd_ops_avx2();
const SimdOps* simd_ops_avx512();

// The table for simd_level(); nullptr at the generic level.
inline const SimdOps* simd_ops() {
  switch (simd_level()) {
    case SimdLevel::kAvx512: return simd_ops_avx512();
    case SimdLevel::kAvx2: return simd_ops_avx2();
    default: return nullptr;
  }
}

namespace simd {

// out[k] = philox_u32(seed, offset, first + k), k in [0, n): philox_fill_u32,
// bit for bit, through the vector kernel of the SIMD level in use.
inline void philox_fill_u32_fast(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                                 uint32_t* out) {
  if (n >= 32)
    if (const SimdOps* ops = simd_ops()) {
      ops->philox_fill_u32(seed, offset, first, n, out);
      return;
    }
  philox_fill_u32(seed, offset, first, n, out);
}

}  // namespace simd
}  // namespace cpu
}  // namespace electra
