// gumbel_sample against the scalar reference written from sampling.h's
// contract (argmax_v logits/T - log(-log(philox_uniform_open(seed, offset, r*V+v))),
// first index on ties): identical indices for random logits, engineered
// near-ties (every g within a few ulp of the others), +-inf and NaN logits,
// odd V, several temperatures, and 1 vs 2 threads.
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu/sampling.h"
#include "core/philox.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace {

std::vector<int32_t> reference(const std::vector<float>& logits, int64_t R, int64_t V, float T,
                               uint64_t seed, uint64_t offset) {
  std::vector<int32_t> out(R);
  const float inv_t = 1.0f / T;
  for (int64_t r = 0; r < R; ++r) {
    float best = -INFINITY;
    int32_t arg = 0;
    for (int64_t v = 0; v < V; ++v) {
      const float u = electra::philox_uniform_open(seed, offset, static_cast<uint64_t>(r * V + v));
      const float g = logits[r * V + v] * inv_t - std::log(-std::log(u));
      if (g > best) {
        best = g;
        arg = static_cast<int32_t>(v);
      }
    }
    out[r] = arg;
  }
  return out;
}

void check_same(const std::vector<float>& logits, int64_t R, int64_t V, float T, uint64_t seed,
                uint64_t offset, const char* what) {
  const std::vector<int32_t> want = reference(logits, R, V, T, seed, offset);
  std::vector<int32_t> got(R, -1);
  electra::cpu::gumbel_sample(got.data(), logits.data(), R, V, T, seed, offset);
  int64_t bad = 0;
  for (int64_t r = 0; r < R; ++r) bad += got[r] != want[r];
  CHECK(bad == 0) << what << ": " << bad << " of " << R << " rows differ (V=" << V << " T=" << T << ")";
}

}  // namespace

TEST(gumbel_sample_matches_scalar_reference) {
  const int saved = electra::num_threads();
  for (int threads : {1, 2}) {
    electra::set_num_threads(threads);
    for (int64_t V : {1, 3, 16, 17, 1023, 30522}) {
      const int64_t R = V > 1000 ? 9 : 37;
      for (float T : {1.0f, 0.7f, 3.0f}) {
        std::vector<float> logits(R * V);
        etest::fill_uniform(logits.data(), R * V, -8.f, 8.f);
        check_same(logits, R, V, T, 11 + V, 2 + threads, "random logits");

        // Near-ties: logits = T * log(-log(u)) (float64) + c, so every g is c up to
        // float rounding and the argmax is decided by the last bits.
        std::vector<float> tie(R * V);
        const uint64_t seed = 5, offset = 9;
        for (int64_t r = 0; r < R; ++r)
          for (int64_t v = 0; v < V; ++v) {
            const double u = electra::philox_uniform_open(seed, offset, static_cast<uint64_t>(r * V + v));
            tie[r * V + v] = static_cast<float>(double(T) * std::log(-std::log(u)) + 3.0 * (r % 3 - 1));
          }
        check_same(tie, R, V, T, seed, offset, "near-ties");
      }
    }
    // Non-finite logits.
    const int64_t V = 100, R = 6;
    std::vector<float> lg(R * V);
    etest::fill_uniform(lg.data(), R * V, -1.f, 1.f);
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    lg[0 * V + 40] = inf; lg[0 * V + 70] = inf;        // two +inf: the first wins
    for (int64_t v = 0; v < V; ++v) lg[1 * V + v] = -inf;  // all -inf: index 0
    lg[2 * V + 3] = nan; lg[2 * V + 50] = nan;          // NaNs are never picked
    for (int64_t v = 0; v < V; ++v) lg[3 * V + v] = nan;   // all NaN: index 0
    lg[4 * V + 99] = 1e30f; lg[4 * V + 98] = 1e30f;     // huge equal logits: first one
    lg[5 * V + 10] = -1e30f;
    check_same(lg, R, V, 1.0f, 77, 3, "non-finite logits");
  }
  electra::set_num_threads(saved);
}
