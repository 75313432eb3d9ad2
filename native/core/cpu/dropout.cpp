// Philox dropout. The mask is a pure function of (seed, offset, element
// index) — keep(i) = philox_uniform(seed, offset, i) >= p — so the backward
// recomputes it instead of storing it, every backend draws the same mask, and
// the result does not depend on how the work is split across threads.
// Kept elements are scaled by 1/(1-p) (computed once, then multiplied, as
// torch does; within an ulp of the division written in ops.h).
// Each Philox block serves 4 consecutive elements (philox.h's convention), so
// the loops draw the words of a chunk with philox_fill_u32 first and then
// apply the mask in a plain vectorisable loop.
#include <algorithm>

#include "../philox.h"
#include "../thread_pool.h"
#include "ops.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {

namespace {
constexpr int64_t kGrain = 1 << 12;
constexpr int64_t kChunk = 1024;  // words drawn at a time (stack buffer)

// keep(i) = philox_to_uniform(u) >= p, i.e. float(u >> 8) * 2^-24 >= p, exactly
// as philox_uniform computes it.
inline bool keep_word(uint32_t u, float p) { return philox_to_uniform(u) >= p; }
}  // namespace

void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                     uint64_t offset) {
  if (p == 0.0f) {
    if (out != inp)
      parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) { std::copy(inp + i0, inp + i1, out + i0); });
    return;
  }
  const float scale = 1.0f / (1.0f - p);
  const SimdOps* ops = simd_ops();
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    uint32_t u[kChunk];
    for (int64_t c0 = i0; c0 < i1; c0 += kChunk) {
      const int64_t n_c = std::min(kChunk, i1 - c0);
      simd::philox_fill_u32_fast(seed, offset, static_cast<uint64_t>(c0), n_c, u);
      const float* __restrict x = inp + c0;
      float* o = out + c0;  // may alias inp
      if (ops) {
        ops->dropout_apply(o, x, u, n_c, p, scale, false);
        continue;
      }
      for (int64_t j = 0; j < n_c; ++j) o[j] = keep_word(u[j], p) ? x[j] * scale : 0.0f;
    }
  });
}

void dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                      uint64_t offset) {
  if (p == 0.0f) {
    parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) dinp[i] += dout[i];
    });
    return;
  }
  const float scale = 1.0f / (1.0f - p);
  const SimdOps* ops = simd_ops();
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    uint32_t u[kChunk];
    for (int64_t c0 = i0; c0 < i1; c0 += kChunk) {
      const int64_t n_c = std::min(kChunk, i1 - c0);
      simd::philox_fill_u32_fast(seed, offset, static_cast<uint64_t>(c0), n_c, u);
      const float* __restrict g = dout + c0;
      float* __restrict d = dinp + c0;
      if (ops) {
        ops->dropout_apply(d, g, u, n_c, p, scale, true);
        continue;
      }
      for (int64_t j = 0; j < n_c; ++j) d[j] += keep_word(u[j], p) ? g[j] * scale : 0.0f;
    }
  });
}

}  // namespace cpu
}  // namespace electra
