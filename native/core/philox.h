// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
// Counter-based: the value at (seed, offset, index) is a pure function, so the
// CPU and CUDA backends draw identical dropout masks, masking decisions and
// Gumbel noise without sharing any state. Header-only and usable from .cu files.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define ELECTRA_HD __host__ __device__ __forceinline__
#else
#define ELECTRA_HD inline
#endif

namespace electra {

struct PhiloxOut { uint32_t x[4]; };

ELECTRA_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// One Philox4x32 block: 10 rounds over a 128-bit counter with a 64-bit key.
ELECTRA_HD PhiloxOut philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = philox_mulhilo(M0, c0, &hi0);
    uint32_t lo1 = philox_mulhilo(M1, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += W0; k1 += W1;
  }
  PhiloxOut o;
  o.x[0] = c0; o.x[1] = c1; o.x[2] = c2; o.x[3] = c3;
  return o;
}

// The project-wide convention: element `index` of stream `offset` under `seed`
// is word (index % 4) of block (index / 4), where block b is philox4x32 with
// counter (b lo, b hi, offset lo, offset hi) and key (seed lo, seed hi). So one
// Philox4x32 block serves 4 consecutive elements: hot loops compute one block
// per 4 elements (philox_fill_u32), and scalar code calling philox_u32 /
// philox_uniform(seed, offset, i) remains the reference. Every backend (a CUDA
// one included) must use this same mapping. Every op that needs randomness
// picks a distinct `offset` (e.g. step * 1024 + op slot) and uses the
// element's flat index.
ELECTRA_HD PhiloxOut philox_block(uint64_t seed, uint64_t offset, uint64_t block) {
  return philox4x32(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                    static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32),
                    static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

ELECTRA_HD uint32_t philox_u32(uint64_t seed, uint64_t offset, uint64_t index) {
  return philox_block(seed, offset, index >> 2).x[index & 3];
}

// out[k] = philox_u32(seed, offset, first + k) for k in [0, n), computing each
// block once (an unaligned first or last block is computed whole and used in part).
ELECTRA_HD void philox_fill_u32(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                                uint32_t* out) {
  int64_t k = 0;
  uint64_t blk = first >> 2;
  unsigned w = static_cast<unsigned>(first & 3);
  if (w != 0 && n > 0) {
    const PhiloxOut o = philox_block(seed, offset, blk++);
    for (; w < 4 && k < n; ++w) out[k++] = o.x[w];
  }
  for (; k + 4 <= n; k += 4) {
    const PhiloxOut o = philox_block(seed, offset, blk++);
    out[k] = o.x[0]; out[k + 1] = o.x[1]; out[k + 2] = o.x[2]; out[k + 3] = o.x[3];
  }
  if (k < n) {
    const PhiloxOut o = philox_block(seed, offset, blk);
    for (w = 0; k < n; ++w) out[k++] = o.x[w];
  }
}

// Uniform in [0, 1) with 24 random bits (exactly representable in fp32).
// Extremes: 0 and 1 - 2^-24.
ELECTRA_HD float philox_to_uniform(uint32_t u) {
  return static_cast<float>(u >> 8) * (1.0f / 16777216.0f);
}

// Uniform in the open interval (0, 1) with 23 random bits: (k + 0.5) / 2^23.
// Every value is exact in fp32 and the extremes are 2^-24 and 1 - 2^-24, so
// log(u) and log(-log(u)) are always finite. (24 bits cannot work: k + 0.5 is
// not representable for k >= 2^23, and (2^24 - 1) + 0.5 rounds to 2^24, i.e.
// u == 1.0 exactly.)
ELECTRA_HD float philox_to_uniform_open(uint32_t u) {
  return (static_cast<float>(u >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

ELECTRA_HD float philox_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  return philox_to_uniform(philox_u32(seed, offset, index));
}

ELECTRA_HD float philox_uniform_open(uint64_t seed, uint64_t offset, uint64_t index) {
  return philox_to_uniform_open(philox_u32(seed, offset, index));
}

}  // namespace electra
