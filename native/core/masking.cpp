#include "masking.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "philox.h"

namespace electra {

int64_t reference_mask_count(int64_t real, float p, int64_t max_pred) {
  // float32 product and round-half-to-even, as tf.round(tf.cast(n, float32) * p).
  const int64_t n = static_cast<int64_t>(std::nearbyint(static_cast<float>(real) * p));
  return std::max<int64_t>(1, std::min<int64_t>(n, max_pred));
}

void dynamic_mask(MaskingMode mode, std::vector<int32_t>* positions, int32_t* gen_ids, const int32_t* ids,
                  const int32_t* attn, int64_t B, int64_t S, float p, int64_t max_pred, const SpecialIds& sp,
                  uint64_t seed, uint64_t offset) {
  positions->clear();
  std::vector<std::pair<uint32_t, int32_t>> cand;
  std::vector<int32_t> row;
  for (int64_t b = 0; b < B; ++b) {
    cand.clear();
    int64_t real = 0;
    for (int64_t s = 0; s < S; ++s) {
      const int64_t i = b * S + s;
      gen_ids[i] = ids[i];
      const int32_t id = ids[i];
      if (attn && attn[i] == 0) continue;
      ++real;
      if (!maskable_token(id, sp)) continue;
      cand.emplace_back(0u, static_cast<int32_t>(i));
    }
    if (cand.empty()) continue;
    const int64_t nc = static_cast<int64_t>(cand.size());
    row.clear();
    if (mode == MaskingMode::kReference) {
      const int64_t draws = reference_mask_count(real, p, max_pred);
      for (int64_t j = 0; j < draws; ++j) {
        const uint64_t u = philox_u32(seed, offset, static_cast<uint64_t>(b * S + j));
        row.push_back(cand[static_cast<size_t>((u * static_cast<uint64_t>(nc)) >> 32)].second);
      }
      std::sort(row.begin(), row.end());
      row.erase(std::unique(row.begin(), row.end()), row.end());
    } else {
      for (auto& c : cand) c.first = philox_u32(seed, offset, static_cast<uint64_t>(c.second));
      int64_t count = static_cast<int64_t>(std::nearbyint(static_cast<float>(nc) * p));
      count = std::max<int64_t>(1, std::min<int64_t>(count, max_pred));
      count = std::min<int64_t>(count, nc);
      std::partial_sort(cand.begin(), cand.begin() + count, cand.end());
      for (int64_t c = 0; c < count; ++c) row.push_back(cand[c].second);
      std::sort(row.begin(), row.end());
    }
    positions->insert(positions->end(), row.begin(), row.end());
  }
  for (int32_t i : *positions)
    if (philox_uniform(seed, offset + 1, static_cast<uint64_t>(i)) < 0.85f) gen_ids[i] = sp.mask;
}

}  // namespace electra
