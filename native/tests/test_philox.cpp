// Philox4x32-10: known-answer vectors from Random123 (kat_vectors), and the
// properties the rest of the project relies on: purity in (seed, offset,
// index), distinct streams per offset/seed, and the ranges of the uniforms.
#include <cmath>
#include <cstdint>
#include <vector>
#include <algorithm>

#include "core/cpu/simd_ops.h"
#include "core/philox.h"
#include "core/thread_pool.h"
#include "test_util.h"

using electra::philox4x32;

namespace {
void check_kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
               uint32_t e0, uint32_t e1, uint32_t e2, uint32_t e3) {
  electra::PhiloxOut o = philox4x32(c0, c1, c2, c3, k0, k1);
  const uint32_t want[4] = {e0, e1, e2, e3};
  for (int i = 0; i < 4; ++i)
    CHECK(o.x[i] == want[i]) << "word " << i << ": got " << std::hex << o.x[i] << " want "
                             << want[i];
}
}  // namespace

TEST(philox_kat_vectors) {
  check_kat(0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u);
  check_kat(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
            0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu);
  check_kat(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
            0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u);
}

TEST(philox_counter_convention) {
  // philox_u32(seed, offset, index) is word (index % 4) of the block at counter
  // (block lo, block hi, offset lo, offset hi), block = index / 4, with key
  // (seed lo, seed hi).
  const uint64_t seed = 0x0123456789abcdefull, offset = 0xfedcba9876543210ull;
  const uint64_t block = 0x00000007deadbeefull;
  electra::PhiloxOut o = philox4x32(0xdeadbeefu, 0x7u, 0x76543210u, 0xfedcba98u, 0x89abcdefu,
                                    0x01234567u);
  for (uint64_t w = 0; w < 4; ++w)
    CHECK(electra::philox_u32(seed, offset, block * 4 + w) == o.x[w]) << "word " << w;
  electra::PhiloxOut b = electra::philox_block(seed, offset, block);
  for (int w = 0; w < 4; ++w) CHECK(b.x[w] == o.x[w]);
  CHECK(electra::philox_uniform(seed, offset, block * 4 + 2) == electra::philox_to_uniform(o.x[2]));
  CHECK(electra::philox_uniform_open(seed, offset, block * 4 + 3) ==
        electra::philox_to_uniform_open(o.x[3]));
}

TEST(philox_fill_matches_scalar) {
  // philox_fill_u32 over every start alignment and length equals philox_u32.
  const uint64_t seed = 0x5eed, offset = 9;
  std::vector<uint32_t> got(64);
  for (uint64_t first : {0ull, 1ull, 2ull, 3ull, 4ull, 5ull, 1021ull, (1ull << 32) - 2})
    for (int64_t n = 0; n <= 19; ++n) {
      std::fill(got.begin(), got.end(), 0xabababab);
      electra::philox_fill_u32(seed, offset, first, n, got.data());
      for (int64_t k = 0; k < n; ++k)
        CHECK(got[k] == electra::philox_u32(seed, offset, first + k)) << first << "+" << k;
      CHECK(got[n] == 0xabababab) << "wrote past n=" << n;
    }
}

TEST(philox_fill_fast_matches_scalar) {
  // The vectorised fill (8 / 16 blocks per pass at the avx2 / avx512 level)
  // equals philox_u32 for every start alignment, ragged lengths, and a block
  // counter that carries into its high word inside one group.
  const uint64_t seed = 0x0123456789abcdefull, offset = 0xfedcba9876543210ull;
  std::vector<uint32_t> got(400);
  const uint64_t starts[] = {0, 1, 2, 3, 5, 4096 + 3, (uint64_t(1) << 34) - 4 * 7 - 1,
                             (uint64_t(1) << 34) - 4 * 9, 0xfffffffffffffe00ull};
  for (uint64_t first : starts)
    for (int64_t n : {0, 1, 63, 64, 65, 127, 128, 200, 399}) {
      std::fill(got.begin(), got.end(), 0xabababab);
      electra::cpu::simd::philox_fill_u32_fast(seed, offset, first, n, got.data());
      bool ok = true;
      for (int64_t k = 0; k < n; ++k) ok &= got[k] == electra::philox_u32(seed, offset, first + k);
      CHECK(ok) << "first=" << first << " n=" << n;
      CHECK(got[n] == 0xabababab) << "wrote past n=" << n;
    }
}

TEST(philox_determinism_and_streams) {
  const uint64_t seed = 42;
  int same_offset = 0, same_seed = 0, same_hi = 0;
  for (uint64_t i = 0; i < 4096; ++i) {
    const uint32_t a = electra::philox_u32(seed, 3, i);
    CHECK(a == electra::philox_u32(seed, 3, i)) << "not a pure function at " << i;
    CHECK(electra::philox_uniform(seed, 3, i) == electra::philox_uniform(seed, 3, i));
    same_offset += a == electra::philox_u32(seed, 4, i);
    same_seed += a == electra::philox_u32(seed + 1, 3, i);
    same_hi += a == electra::philox_u32(seed, 3, i + (uint64_t(1) << 32));
  }
  // Independent 32-bit words collide with probability 2^-32 each.
  CHECK(same_offset == 0) << same_offset;
  CHECK(same_seed == 0) << same_seed;
  CHECK(same_hi == 0) << "index high word ignored? " << same_hi;
  // High words of offset and seed matter too.
  CHECK(electra::philox_u32(seed, 3, 0) != electra::philox_u32(seed, 3 + (uint64_t(1) << 32), 0));
  CHECK(electra::philox_u32(seed, 3, 0) != electra::philox_u32(seed + (uint64_t(1) << 32), 3, 0));
}

TEST(philox_uniform_ranges_and_moments) {
  const int64_t n = 1000000;
  double sum = 0, sum_open = 0, sum_sq = 0;
  float lo = 1, hi = 0, lo_open = 1, hi_open = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float u = electra::philox_uniform(7, 11, static_cast<uint64_t>(i));
    const float v = electra::philox_uniform_open(7, 11, static_cast<uint64_t>(i));
    lo = std::fmin(lo, u);
    hi = std::fmax(hi, u);
    lo_open = std::fmin(lo_open, v);
    hi_open = std::fmax(hi_open, v);
    sum += u;
    sum_sq += double(u) * u;
    sum_open += v;
  }
  CHECK(lo >= 0.0f && hi < 1.0f) << lo << " " << hi;
  CHECK(lo_open > 0.0f && hi_open < 1.0f) << lo_open << " " << hi_open;
  // Mean of U(0,1) over 1e6 draws: sd = sqrt(1/12)/1000 ~ 2.9e-4; allow ~7 sd.
  CHECK(std::fabs(sum / n - 0.5) < 2e-3) << sum / n;
  CHECK(std::fabs(sum_open / n - 0.5) < 2e-3) << sum_open / n;
  CHECK(std::fabs(sum_sq / n - 1.0 / 3.0) < 2e-3) << sum_sq / n;
  // The extremes of the mappings, exactly (not reachable by sampling).
  CHECK(electra::philox_to_uniform(0u) == 0.0f);
  CHECK(electra::philox_to_uniform(0xffffffffu) == 1.0f - 0x1p-24f);
  CHECK(electra::philox_to_uniform_open(0u) == 0x1p-24f);
  CHECK(electra::philox_to_uniform_open(0xffffffffu) == 1.0f - 0x1p-24f)
      << "uniform_open reaches " << electra::philox_to_uniform_open(0xffffffffu);
  CHECK(std::isfinite(std::log(-std::log(electra::philox_to_uniform_open(0xffffffffu)))));
  CHECK(std::isfinite(std::log(-std::log(electra::philox_to_uniform_open(0u)))));
  // Every open value is exact: k + 0.5 at the top of the 23-bit range.
  CHECK(electra::philox_to_uniform_open(0xfffffc00u) == (8388606.5f / 8388608.0f));
}

// Changing the thread count after the pool has run must not replay an old task.
TEST(thread_pool_resize_after_use) {
  const int before = electra::num_threads();
  for (int n : {2, 3, 1, 4, 2}) {
    electra::set_num_threads(n);
    std::vector<int> hit(1000, 0);
    electra::parallel_for(1000, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hit[i]++;
    });
    for (int x : hit) CHECK(x == 1) << "threads " << n;
  }
  electra::set_num_threads(before);
}
