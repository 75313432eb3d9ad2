// Helpers the op files share on top of simd_ops.h.
#pragma once
#include <cstdint>

#include "../philox.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {
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
