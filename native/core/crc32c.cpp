#include "crc32c.h"

#include <cstring>

#if (defined(__x86_64__) || defined(_M_X64)) && !defined(ELECTRA_PORTABLE) && (defined(__GNUC__) || defined(__clang__))
#define ELECTRA_CRC32C_SSE42 1
#include <nmmintrin.h>
#endif

namespace electra {
namespace {

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};

const Tables& tables() {
  static const Tables tab;
  return tab;
}

// Slicing-by-8: the portable path (and the reference the SSE4.2 path is tested against).
uint32_t crc32c_table(uint32_t c, const unsigned char* p, size_t n) {
  const uint32_t(&t)[8][256] = tables().t;
  while (n >= 8) {
    // Little-endian word order, byte by byte so the result does not depend on the host's endianness.
    const uint32_t lo = c ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
    const uint32_t hi = uint32_t(p[4]) | uint32_t(p[5]) << 8 | uint32_t(p[6]) << 16 | uint32_t(p[7]) << 24;
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^
        t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return c;
}

#ifdef ELECTRA_CRC32C_SSE42
// Three independent crc32 streams over adjacent blocks hide the instruction's
// 3-cycle latency; the streams are joined by "append this many zero bytes"
// operators (GF(2) matrices, applied through byte tables). After Mark Adler's
// public-domain crc32c.c.
constexpr size_t kLong = 8192, kShort = 256;

uint32_t gf2_times(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  for (; vec; vec >>= 1, ++mat)
    if (vec & 1) sum ^= *mat;
  return sum;
}

void gf2_square(uint32_t* square, const uint32_t* mat) {
  for (int n = 0; n < 32; ++n) square[n] = gf2_times(mat, mat[n]);
}

// The operator that appends `len` (a power of two) zero bytes to a CRC.
void zeros_op(uint32_t* even, size_t len) {
  uint32_t odd[32];
  odd[0] = 0x82F63B78u;  // one zero bit
  for (int n = 1; n < 32; ++n) odd[n] = 1u << (n - 1);
  gf2_square(even, odd);  // two zero bits
  gf2_square(odd, even);  // four zero bits
  do {
    gf2_square(even, odd);  // 8, 32, ... zero bits
    len >>= 1;
    if (len == 0) return;
    gf2_square(odd, even);
    len >>= 1;
  } while (len);
  for (int n = 0; n < 32; ++n) even[n] = odd[n];
}

struct ZeroTables {
  uint32_t t[4][256];
  explicit ZeroTables(size_t len) {
    uint32_t op[32];
    zeros_op(op, len);
    for (uint32_t n = 0; n < 256; ++n)
      for (int b = 0; b < 4; ++b) t[b][n] = gf2_times(op, n << (8 * b));
  }
  uint32_t shift(uint32_t crc) const {
    return t[0][crc & 0xFF] ^ t[1][(crc >> 8) & 0xFF] ^ t[2][(crc >> 16) & 0xFF] ^ t[3][crc >> 24];
  }
};

__attribute__((target("sse4.2"))) uint64_t load64(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// `blk`-byte blocks three at a time.
__attribute__((target("sse4.2"))) uint64_t three_way(uint64_t c0, const unsigned char*& p, size_t& n, size_t blk,
                                                     const ZeroTables& z) {
  while (n >= 3 * blk) {
    uint64_t c1 = 0, c2 = 0;
    for (const unsigned char* end = p + blk; p < end; p += 8) {
      c0 = _mm_crc32_u64(c0, load64(p));
      c1 = _mm_crc32_u64(c1, load64(p + blk));
      c2 = _mm_crc32_u64(c2, load64(p + 2 * blk));
    }
    c0 = z.shift(static_cast<uint32_t>(c0)) ^ c1;
    c0 = z.shift(static_cast<uint32_t>(c0)) ^ c2;
    p += 2 * blk;
    n -= 3 * blk;
  }
  return c0;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t c, const unsigned char* p, size_t n) {
  static const ZeroTables zl(kLong), zs(kShort);
  uint64_t c0 = c;
  c0 = three_way(c0, p, n, kLong, zl);
  c0 = three_way(c0, p, n, kShort, zs);
  for (; n >= 8; p += 8, n -= 8) c0 = _mm_crc32_u64(c0, load64(p));
  uint32_t c32 = static_cast<uint32_t>(c0);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool have_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
#ifdef ELECTRA_CRC32C_SSE42
  if (have_sse42()) return ~crc32c_sse42(~crc, p, n);
#endif
  return ~crc32c_table(~crc, p, n);
}

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n) {
  return ~crc32c_table(~crc, static_cast<const unsigned char*>(data), n);
}

}  // namespace electra
