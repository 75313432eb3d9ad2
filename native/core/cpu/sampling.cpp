#include "sampling.h"

#include <algorithm>
#include <cmath>

#include "../philox.h"
#include "../thread_pool.h"

namespace electra {
namespace cpu {

void dynamic_mask(std::vector<int32_t>* positions, int32_t* gen_ids, const int32_t* ids, const int32_t* attn,
                  int64_t B, int64_t S, float p, int64_t max_pred, const SpecialIds& sp, uint64_t seed,
                  uint64_t offset) {
  positions->clear();
  std::vector<std::pair<uint32_t, int32_t>> cand;
  for (int64_t b = 0; b < B; ++b) {
    cand.clear();
    for (int64_t s = 0; s < S; ++s) {
      const int64_t i = b * S + s;
      gen_ids[i] = ids[i];
      const int32_t id = ids[i];
      const bool real = attn ? attn[i] != 0 : true;
      if (!real || id == sp.pad || id == sp.cls || id == sp.sep || id == sp.mask) continue;
      cand.emplace_back(philox_u32(seed, offset, static_cast<uint64_t>(i)), static_cast<int32_t>(i));
    }
    if (cand.empty()) continue;
    int64_t count = static_cast<int64_t>(std::nearbyint(static_cast<float>(cand.size()) * p));
    count = std::max<int64_t>(1, std::min<int64_t>(count, max_pred));
    count = std::min<int64_t>(count, static_cast<int64_t>(cand.size()));
    std::partial_sort(cand.begin(), cand.begin() + count, cand.end());
    const size_t first = positions->size();
    for (int64_t c = 0; c < count; ++c) positions->push_back(cand[c].second);
    std::sort(positions->begin() + first, positions->end());
  }
  for (int32_t i : *positions)
    if (philox_uniform(seed, offset + 1, static_cast<uint64_t>(i)) < 0.85f) gen_ids[i] = sp.mask;
}

void gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T, uint64_t seed,
                   uint64_t offset) {
  const float inv_t = 1.0f / T;
  parallel_for(R, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = logits + r * V;
      float best = -INFINITY;
      int32_t arg = 0;
      for (int64_t v = 0; v < V; ++v) {
        const float u = philox_uniform_open(seed, offset, static_cast<uint64_t>(r * V + v));
        const float g = x[v] * inv_t - std::log(-std::log(u));
        if (g > best) {
          best = g;
          arg = static_cast<int32_t>(v);
        }
      }
      sampled[r] = arg;
    }
  });
}

}  // namespace cpu
}  // namespace electra
