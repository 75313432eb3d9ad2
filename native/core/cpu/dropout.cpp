// Philox dropout. The mask is a pure function of (seed, offset, element
// index) — keep(i) = philox_uniform(seed, offset, i) >= p — so the backward
// recomputes it instead of storing it, every backend draws the same mask, and
// the result does not depend on how the work is split across threads.
// Kept elements are scaled by 1/(1-p) (computed once, then multiplied, as
// torch does; within an ulp of the division written in ops.h).
#include <algorithm>

#include "../philox.h"
#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {

namespace {
constexpr int64_t kGrain = 1 << 12;
}

void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                     uint64_t offset) {
  if (p == 0.0f) {
    if (out != inp)
      parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) { std::copy(inp + i0, inp + i1, out + i0); });
    return;
  }
  const float scale = 1.0f / (1.0f - p);
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const bool keep = philox_uniform(seed, offset, static_cast<uint64_t>(i)) >= p;
      out[i] = keep ? inp[i] * scale : 0.0f;
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
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      if (philox_uniform(seed, offset, static_cast<uint64_t>(i)) >= p) dinp[i] += dout[i] * scale;
  });
}

}  // namespace cpu
}  // namespace electra
