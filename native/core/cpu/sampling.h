// The random parts of an ELECTRA step that are not layers: dynamic masking
// and Gumbel-max sampling. Both draw from Philox by (seed, offset, index), so a
// GPU implementation reproduces them exactly.
#pragma once
#include <cstdint>
#include <vector>

namespace electra {
namespace cpu {

struct SpecialIds {
  int32_t pad, cls, sep, mask;
};

// Dynamic masking of one micro-batch, as the ELECTRA reference:
//  candidates: non-padding tokens that are not [CLS], [SEP], [MASK] or [PAD];
//  count = clip(round(candidates * p), 1, max_pred) (and <= candidates);
//  the chosen positions are the `count` candidates with the smallest
//  philox_u32(seed, offset, flat) keys (uniform, without replacement);
//  85% of them become [MASK] in gen_ids (philox_uniform(seed, offset+1, flat) < 0.85), 15% stay.
// ids, attn: [B,S]; gen_ids [B*S] is written; positions gets the sorted flat indices.
void dynamic_mask(std::vector<int32_t>* positions, int32_t* gen_ids, const int32_t* ids, const int32_t* attn,
                  int64_t B, int64_t S, float p, int64_t max_pred, const SpecialIds& sp, uint64_t seed,
                  uint64_t offset);

// Gumbel-max sampling at temperature T from logits[R,V]:
//   sampled[r] = argmax_v logits[r,v] / T - log(-log(u)),  u = philox_uniform_open(seed, offset, r*V + v)
// (ties: lowest index). No gradient flows through this.
void gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T, uint64_t seed,
                   uint64_t offset);

}  // namespace cpu
}  // namespace electra
