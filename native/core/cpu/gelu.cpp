// Exact (erf) GELU, as HF's "gelu" activation:
//   gelu(x)  = x * Phi(x),            Phi(x) = 0.5 * (1 + erf(x / sqrt 2))
//   gelu'(x) = Phi(x) + x * phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// Phi is computed as 0.5 * erfc(-x / sqrt 2): the same value, without the
// cancellation 1 + erf(x/sqrt2) suffers for negative x.
#include <cmath>

#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {

namespace {
constexpr int64_t kGrain = 1 << 13;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

inline float gelu_cdf(float x) { return 0.5f * std::erfc(-x * kInvSqrt2); }
}  // namespace

void gelu_forward(float* out, const float* inp, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float x = inp[i];
      out[i] = x * gelu_cdf(x);
    }
  });
}

void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float x = inp[i];
      const float d = gelu_cdf(x) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
      dinp[i] += dout[i] * d;
    }
  });
}

}  // namespace cpu
}  // namespace electra
