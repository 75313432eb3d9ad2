// Exact (erf) GELU, as HF's "gelu" activation:
//   gelu(x)  = x * Phi(x),            Phi(x) = 0.5 * (1 + erf(x / sqrt 2))
//   gelu'(x) = Phi(x) + x * phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// Phi is computed as 0.5 * erfc(-x / sqrt 2): the same value, without the
// cancellation 1 + erf(x/sqrt2) suffers for negative x.
//
// On AVX-512 CPUs the loops run 16 lanes at a time with simd_math.h's phi16
// and exp16 (Phi relative error < 6e-7, absolute < 2.5e-7; exp ~1e-7); the
// ragged end goes through a padded 16-lane buffer. Elsewhere: libm erfcf/expf.
#include <algorithm>
#include <cmath>

#include "../thread_pool.h"
#include "ops.h"
#include "simd_math.h"

namespace electra {
namespace cpu {

namespace {
constexpr int64_t kGrain = 1 << 13;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

inline float gelu_cdf(float x) { return 0.5f * std::erfc(-x * kInvSqrt2); }

#if ELECTRA_SIMD_X86
#define GELU_AVX512 __attribute__((target("avx512f,avx2,fma")))

GELU_AVX512 inline __m512 dgelu16(__m512 x) {
  const __m512 pdf = simd::exp16(_mm512_mul_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(-0.5f)));
  return _mm512_fmadd_ps(_mm512_mul_ps(x, _mm512_set1_ps(kInvSqrt2Pi)), pdf, simd::phi16(x));
}

GELU_AVX512 void gelu_forward_avx512(float* out, const float* inp, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(inp + i);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(x, simd::phi16(x)));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, inp + i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(x, simd::phi16(x)));
  }
}

// dinp (+)= dout * gelu'(inp); accumulate selects += (else =, may alias dout).
GELU_AVX512 void gelu_backward_avx512(float* dinp, const float* dout, const float* inp, int64_t n,
                                      bool accumulate) {
  int64_t i = 0;
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF)
                                    : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, inp + i);
    const __m512 g = _mm512_maskz_loadu_ps(m, dout + i);
    __m512 r = _mm512_mul_ps(g, dgelu16(x));
    if (accumulate) r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dinp + i), r);
    _mm512_mask_storeu_ps(dinp + i, m, r);
  }
}
#undef GELU_AVX512
#endif

void gelu_backward_impl(float* dinp, const float* dout, const float* inp, int64_t n,
                        bool accumulate) {
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
#if ELECTRA_SIMD_X86
    if (simd::has_avx512()) {
      gelu_backward_avx512(dinp + i0, dout + i0, inp + i0, i1 - i0, accumulate);
      return;
    }
#endif
    for (int64_t i = i0; i < i1; ++i) {
      const float x = inp[i];
      const float d = gelu_cdf(x) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
      dinp[i] = accumulate ? dinp[i] + dout[i] * d : dout[i] * d;
    }
  });
}
}  // namespace

void gelu_forward(float* out, const float* inp, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
#if ELECTRA_SIMD_X86
    if (simd::has_avx512()) {
      gelu_forward_avx512(out + i0, inp + i0, i1 - i0);
      return;
    }
#endif
    for (int64_t i = i0; i < i1; ++i) {
      const float x = inp[i];
      out[i] = x * gelu_cdf(x);
    }
  });
}

void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  gelu_backward_impl(dinp, dout, inp, n, true);
}

void gelu_backward_write(float* dinp, const float* dout, const float* inp, int64_t n) {
  gelu_backward_impl(dinp, dout, inp, n, false);
}

}  // namespace cpu
}  // namespace electra
