// Exact (erf) GELU, as HF's "gelu" activation:
//   gelu(x)  = x * Phi(x),            Phi(x) = 0.5 * (1 + erf(x / sqrt 2))
//   gelu'(x) = Phi(x) + x * phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// Phi is computed as 0.5 * erfc(-x / sqrt 2): the same value, without the
// cancellation 1 + erf(x/sqrt2) suffers for negative x.
//
// At the avx2 / avx512 SIMD levels the loops run 8 / 16 lanes at a time with
// simd_kernels.inc's phi_v and exp_v (Phi relative error < 6e-7, absolute
// < 2.5e-7; exp ~1e-7). The generic path (the oracle) evaluates in double with
// libm's erfc/exp and rounds once at the end: relative error <= 2^-24 for
// x * Phi(x) (the product rounding included), in both tails. A float erfcf
// would not do: rounding -x/sqrt 2 to float alone costs a relative error of
// about 2 a^2 2^-24 in erfc(a), 1e-5 at x = -12.
#include <algorithm>
#include <cmath>

#include "../thread_pool.h"
#include "ops.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {

namespace {
constexpr int64_t kGrain = 1 << 13;
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

inline double gelu_cdf(double x) { return 0.5 * std::erfc(-x * kInvSqrt2); }

void gelu_backward_impl(float* dinp, const float* dout, const float* inp, int64_t n,
                        bool accumulate) {
  const SimdOps* ops = simd_ops();
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    if (ops) {
      ops->gelu_backward(dinp + i0, dout + i0, inp + i0, i1 - i0, accumulate);
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      const double x = inp[i];
      const float d = static_cast<float>(gelu_cdf(x) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x));
      dinp[i] = accumulate ? dinp[i] + dout[i] * d : dout[i] * d;
    }
  });
}
}  // namespace

void gelu_forward(float* out, const float* inp, int64_t n) {
  const SimdOps* ops = simd_ops();
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    if (ops) {
      ops->gelu_forward(out + i0, inp + i0, i1 - i0);
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      const double x = inp[i];
      out[i] = static_cast<float>(x * gelu_cdf(x));
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
