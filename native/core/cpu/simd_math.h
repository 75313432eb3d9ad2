// AVX-512 versions of the few transcendental functions on the step's hot
// elementwise paths (GELU's Phi and exp, the Gumbel noise's logs), for the
// CPU backend only. The library builds for baseline x86-64: these functions
// carry target attributes and callers pick them at run time with
// has_avx512(), keeping a scalar libm path otherwise.
//
// Accuracy (fp32, checked against float64 in test_gelu / test_sampling):
//   exp16      ~2 ulp on [-87, 88]; below -87 flushes through scalef to
//              denormals/0 (no NaN), above 88 saturates to +inf.
//   log16      a few ulp for normal positive inputs.
//   phi16      Phi(x) = 0.5 erfc(-x/sqrt 2) via the Numerical Recipes erfcc
//              Chebyshev fit (fractional error < 1.2e-7 everywhere) with
//              exp(-a^2) split exactly (fma residual), so the result is
//              relative-accurate to ~6e-7 in both tails.
//   philox_fill_u32_fast: bit-identical to philox_fill_u32 (philox.h's
//              convention), 16 Philox4x32 blocks per AVX-512 pass.
#pragma once
#include <cstdint>

#include "../philox.h"

#if defined(__x86_64__) || defined(_M_X64)
#define ELECTRA_SIMD_X86 1
// GCC 12 flags the _mm512_undefined_* pass-through operands inside the
// intrinsics as uninitialised once they are inlined; the state that applies is
// the one at the intrinsics' own lines, so it is set around this include.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#define ELECTRA_SIMD_X86 0
#endif

namespace electra {
namespace cpu {
namespace simd {

inline bool has_avx512() {
#if ELECTRA_SIMD_X86
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
  }();
  return ok;
#else
  return false;
#endif
}

#if ELECTRA_SIMD_X86
#define ELECTRA_SIMD512 __attribute__((target("avx512f,avx2,fma"), always_inline)) inline

// e^x: x = n ln2 + r, |r| <= ln2/2 (two-part ln2), degree-6 polynomial, 2^n by scalef.
ELECTRA_SIMD512 __m512 exp16(__m512 x) {
  x = _mm512_maskz_min_ps(0xFFFF, _mm512_maskz_max_ps(0xFFFF, x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_maskz_roundscale_ps(0xFFFF, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_scalef_ps(0xFFFF, p, n);
}

// ln x for normal x > 0: x = 2^e m, m in [sqrt(1/2), sqrt 2), Cephes logf polynomial.
ELECTRA_SIMD512 __m512 log16(__m512 x) {
  __m512 e = _mm512_maskz_getexp_ps(0xFFFF, x);                                  // floor(log2 x)
  __m512 m = _mm512_maskz_getmant_ps(0xFFFF, x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);  // [1, 2)
  const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356237f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, big, e, _mm512_set1_ps(1.0f));
  const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  const __m512 z = _mm512_mul_ps(f, f);
  __m512 y = _mm512_set1_ps(7.0376836292e-2f);
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(-1.1514610310e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(1.1676998740e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(-1.2420140846e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(1.4249322787e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(-1.6668057665e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(2.0000714765e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(-2.4999993993e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(3.3333331174e-1f));
  y = _mm512_mul_ps(_mm512_mul_ps(y, f), z);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
  y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
  const __m512 r = _mm512_add_ps(f, y);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), r);
}

// Phi(x) = 0.5 * erfc(-x / sqrt 2). With a = |x| / sqrt 2, t = 1 / (1 + a/2):
// erfc(a) = t * exp(-a^2 + P(t)) (Numerical Recipes erfcc), evaluated as
// t * exp(-hi) * exp(P(t)) * (1 - lo) where x*x/2 = hi + lo exactly, so large |x|
// loses no relative accuracy. Phi = erfc(a)/2 for x <= 0, 1 - erfc(a)/2 else.
ELECTRA_SIMD512 __m512 phi16(__m512 x) {
  const __m512 a = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(a, _mm512_set1_ps(0.5f), one));
  __m512 p = _mm512_set1_ps(0.17087277f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.82215223f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.48851587f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.13520398f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.27886807f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.18628806f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.09678418f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.37409196f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.00002368f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.26551223f));
  // a^2 = x^2 / 2 from x itself (rounding a first would cost a^2 * 2^-23 absolute).
  const __m512 xx = _mm512_mul_ps(x, x);
  const __m512 hi = _mm512_mul_ps(xx, _mm512_set1_ps(0.5f));
  const __m512 lo = _mm512_mul_ps(_mm512_fmsub_ps(x, x, xx), _mm512_set1_ps(0.5f));
  __m512 h = _mm512_mul_ps(exp16(_mm512_sub_ps(_mm512_setzero_ps(), hi)), exp16(p));
  h = _mm512_mul_ps(h, _mm512_fnmadd_ps(lo, one, one));  // * (1 - lo)
  h = _mm512_mul_ps(_mm512_mul_ps(h, t), _mm512_set1_ps(0.5f));  // erfc(a) / 2
  const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
  return _mm512_mask_sub_ps(h, pos, one, h);
}

namespace detail {
ELECTRA_SIMD512 void mulhilo16(__m512i m, __m512i c, __m512i* lo, __m512i* hi) {
  const __m512i pe = _mm512_mul_epu32(c, m);                          // even lanes' products
  const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);   // odd lanes' products
  *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}
}  // namespace detail

// 64 words (16 blocks, blk .. blk+15) into out[0..64) in element order.
// Lane j computes block blk + 4*(j%4) + j/4, so that the in-lane 4x4
// transposes at the end leave the blocks in memory order.
__attribute__((target("avx512f,avx2,fma"))) inline void philox16_blocks(uint64_t seed, uint64_t offset, uint64_t blk, uint32_t* out) {
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(blk))), idx);
  const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, idx);
  __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(blk >> 32))),
                                     carry, _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(blk >> 32))),
                                     _mm512_set1_epi32(1));
  __m512i c2 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m512i M0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i M1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int r = 0; r < 10; ++r) {
    __m512i lo0, hi0, lo1, hi1;
    detail::mulhilo16(M0, c0, &lo0, &hi0);
    detail::mulhilo16(M1, c2, &lo1, &hi1);
    c0 = _mm512_ternarylogic_epi32(hi1, c1, _mm512_set1_epi32(static_cast<int>(k0)), 0x96);
    c1 = lo1;
    c2 = _mm512_ternarylogic_epi32(hi0, c3, _mm512_set1_epi32(static_cast<int>(k1)), 0x96);
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
  const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
  _mm512_storeu_si512(out, _mm512_unpacklo_epi64(t0, t2));
  _mm512_storeu_si512(out + 16, _mm512_unpackhi_epi64(t0, t2));
  _mm512_storeu_si512(out + 32, _mm512_unpacklo_epi64(t1, t3));
  _mm512_storeu_si512(out + 48, _mm512_unpackhi_epi64(t1, t3));
}

#undef ELECTRA_SIMD512
#endif  // ELECTRA_SIMD_X86

// out[k] = philox_u32(seed, offset, first + k), k in [0, n): philox_fill_u32,
// with whole 16-block groups on AVX-512 when the CPU has it.
inline void philox_fill_u32_fast(uint64_t seed, uint64_t offset, uint64_t first, int64_t n,
                                 uint32_t* out) {
#if ELECTRA_SIMD_X86
  if (n >= 64 && has_avx512()) {
    const int64_t head = static_cast<int64_t>((4 - (first & 3)) & 3);
    philox_fill_u32(seed, offset, first, head, out);
    int64_t k = head;
    for (; k + 64 <= n; k += 64) philox16_blocks(seed, offset, (first + k) >> 2, out + k);
    philox_fill_u32(seed, offset, first + static_cast<uint64_t>(k), n - k, out + k);
    return;
  }
#endif
  philox_fill_u32(seed, offset, first, n, out);
}

}  // namespace simd
}  // namespace cpu
}  // namespace electra
