#include "sampling.h"

#include <algorithm>
#include <cmath>

#include "../philox.h"
#include "../thread_pool.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {

namespace {

// The reference: sampled = argmax_v x[v]/T - log(-log(u_v)), first index on ties.
int32_t gumbel_row_scalar(const float* x, int64_t V, float inv_t, uint64_t seed, uint64_t offset,
                          uint64_t base) {
  float best = -INFINITY;
  int32_t arg = 0;
  constexpr int64_t kChunk = 1024;
  uint32_t u[kChunk];
  for (int64_t v0 = 0; v0 < V; v0 += kChunk) {
    const int64_t n = std::min(kChunk, V - v0);
    simd::philox_fill_u32_fast(seed, offset, base + static_cast<uint64_t>(v0), n, u);
    for (int64_t j = 0; j < n; ++j) {
      const float g = x[v0 + j] * inv_t - std::log(-std::log(philox_to_uniform_open(u[j])));
      if (g > best) {
        best = g;
        arg = static_cast<int32_t>(v0 + j);
      }
    }
  }
  return arg;
}

// The reference rule over the candidates g[v] >= thr only. Compiled for the
// baseline target (no FMA contraction), as gumbel_row_scalar, so each exact g
// is bit-identical to the scalar reference's.
__attribute__((noinline)) int32_t gumbel_rescan(const float* x, int64_t V, float inv_t, uint64_t seed,
                                                uint64_t offset, uint64_t base, const float* g, float thr) {
  float best = -INFINITY;
  int32_t arg = 0;
  for (int64_t v = 0; v < V; ++v) {
    if (!(g[v] >= thr)) continue;
    const float u = philox_uniform_open(seed, offset, base + static_cast<uint64_t>(v));
    const float ge = x[v] * inv_t - std::log(-std::log(u));
    if (ge > best) {
      best = ge;
      arg = static_cast<int32_t>(v);
    }
  }
  return arg;
}

// Fast path: g~[v] from the SIMD level's gumbel_scores (vector logs, a few
// ulp), then the exact reference formula re-run only on the candidates
// g~[v] >= max g~ - margin. The error of g~ is below 5e-6 + 2^-22 |g| (two
// logs of normal arguments plus the final rounding), and margin = 1e-3 +
// 1e-5 |max| exceeds twice that, so every index whose exact g attains the
// exact maximum is a candidate, and scanning the candidates in index order
// with the reference rule returns exactly the reference's answer (ties, NaN
// and inf logits included).
int32_t gumbel_row_fast(const SimdOps& ops, const float* x, int64_t V, float inv_t, uint64_t seed,
                        uint64_t offset, uint64_t base, float* g) {
  const float mx = ops.gumbel_scores(x, V, inv_t, seed, offset, base, g);
  const float thr = std::isfinite(mx) ? mx - (1e-3f + 1e-5f * std::fabs(mx)) : mx;
  return gumbel_rescan(x, V, inv_t, seed, offset, base, g, thr);
}

}  // namespace

void gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T, uint64_t seed,
                   uint64_t offset) {
  const float inv_t = 1.0f / T;
  const SimdOps* ops = simd_ops();
  parallel_for(R, 1, [&](int64_t r0, int64_t r1) {
    if (ops) {
      thread_local std::vector<float> gbuf;
      if (static_cast<int64_t>(gbuf.size()) < V) gbuf.resize(static_cast<size_t>(V));
      for (int64_t r = r0; r < r1; ++r)
        sampled[r] = gumbel_row_fast(*ops, logits + r * V, V, inv_t, seed, offset,
                                     static_cast<uint64_t>(r * V), gbuf.data());
      return;
    }
    for (int64_t r = r0; r < r1; ++r)
      sampled[r] = gumbel_row_scalar(logits + r * V, V, inv_t, seed, offset, static_cast<uint64_t>(r * V));
  });
}

}  // namespace cpu
}  // namespace electra
