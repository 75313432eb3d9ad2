// Gumbel-max sampling, the random part of an ELECTRA step that is not a layer
// (dynamic masking, which runs on the host for every backend, is core/masking.h).
// It draws from Philox by (seed, offset, index), so the GPU reproduces it exactly.
#pragma once
#include <cstdint>

namespace electra {
namespace cpu {

// Gumbel-max sampling at temperature T from logits[R,V]:
//   sampled[r] = argmax_v logits[r,v] / T - log(-log(u)),  u = philox_uniform_open(seed, offset, r*V + v)
// (ties: lowest index). No gradient flows through this.
void gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T, uint64_t seed,
                   uint64_t offset);

}  // namespace cpu
}  // namespace electra
