// Global gradient norm and clipping (tf.clip_by_global_norm semantics).
// The sum of squares is taken over fixed-size chunks, in double, and the
// chunk partial sums are added in chunk order, so the norm is bit-identical
// whatever the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {

namespace {
constexpr int64_t kChunk = 1 << 14;       // elements per partial sum (fixed: determinism)
constexpr int64_t kChunksPerTask = 4;     // grain, in chunks
}  // namespace

double global_norm(const float* grads, int64_t n) {
  if (n <= 0) return 0.0;
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(nchunks), 0.0);
  parallel_for(nchunks, kChunksPerTask, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float* g = grads + c * kChunk;
      const int64_t len = std::min(kChunk, n - c * kChunk);
      // Four partial sums in a fixed pattern (float*float is exact in double).
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = 0;
      for (; i + 4 <= len; i += 4) {
        s0 += static_cast<double>(g[i]) * g[i];
        s1 += static_cast<double>(g[i + 1]) * g[i + 1];
        s2 += static_cast<double>(g[i + 2]) * g[i + 2];
        s3 += static_cast<double>(g[i + 3]) * g[i + 3];
      }
      for (; i < len; ++i) s0 += static_cast<double>(g[i]) * g[i];
      partial[c] = (s0 + s1) + (s2 + s3);
    }
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

// g *= max_norm / max(norm, max_norm): a no-op unless norm > max_norm. A
// non-finite norm leaves the gradients untouched (tf would turn them all into
// NaN); the caller sees the returned norm and skips the step.
double clip_grad_norm(float* grads, int64_t n, float max_norm) {
  const double norm = global_norm(grads, n);
  if (std::isfinite(norm) && norm > static_cast<double>(max_norm)) {
    const float s = static_cast<float>(static_cast<double>(max_norm) / norm);
    parallel_for(n, kChunk, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) grads[i] *= s;
    });
  }
  return norm;
}

}  // namespace cpu
}  // namespace electra
