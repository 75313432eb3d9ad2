// LayerNorm over the last dimension, as torch.nn.LayerNorm (biased variance).
//
// Numerics: each row's mean and variance are computed two-pass with double
// accumulators, and the centring (x - mean) uses the double mean, so rows
// with a large common offset (|mean| >> std) or eps as small as 1e-12 (HF
// ELECTRA) keep their precision. Only mean and rstd are rounded to fp32 for
// saving. The backward re-centres each row against the saved fp32 mean with a
// double correction term, d = mean_j(x_j - mean_saved), so an fp32 rounding of
// a large mean does not leak into xhat.
//
// Backward, per row with xhat = (x - mean) * rstd and g = dout * gamma:
//   dinp   += rstd * (g - mean(g) - xhat * mean(g * xhat))
//   dgamma += sum over rows of dout * xhat
//   dbeta  += sum over rows of dout
// dinp is threaded over rows; dgamma/dbeta over disjoint column ranges (each
// thread walks every row for its columns), so no thread shares an output and
// the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../thread_pool.h"
#include "ops.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {

namespace {
int64_t row_grain(int64_t C) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(1, C)); }

// Exact-as-possible mean of row x against a pivot: pivot + mean(x - pivot)
// (the sum through the SIMD level's kernel when there is one).
inline double row_mean(const float* x, int64_t C, double pivot, const SimdOps* ops) {
  double s = 0;
  if (ops) {
    s = ops->sum_shifted(x, C, pivot);
  } else {
    for (int64_t c = 0; c < C; ++c) s += static_cast<double>(x[c]) - pivot;
  }
  return pivot + s / static_cast<double>(C);
}
}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                       const float* gamma, const float* beta, int64_t N, int64_t C, float eps) {
  const SimdOps* ops = simd_ops();
  parallel_for(N, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = inp + r * C;
      if (ops) {
        ops->layernorm_row_forward(out + r * C, mean ? mean + r : nullptr, rstd ? rstd + r : nullptr, x, gamma,
                                   beta, C, eps);
        continue;
      }
      const double m = row_mean(x, C, 0.0, nullptr);
      double v = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double d = static_cast<double>(x[c]) - m;
        v += d * d;
      }
      v /= static_cast<double>(C);
      const double rs = 1.0 / std::sqrt(v + static_cast<double>(eps));
      float* o = out + r * C;
      for (int64_t c = 0; c < C; ++c) {
        const double xhat = (static_cast<double>(x[c]) - m) * rs;
        o[c] = static_cast<float>(xhat * gamma[c] + beta[c]);
      }
      if (mean) mean[r] = static_cast<float>(m);
      if (rstd) rstd[r] = static_cast<float>(rs);
    }
  });
}

void layernorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout,
                        const float* inp, const float* gamma, const float* mean,
                        const float* rstd, int64_t N, int64_t C) {
  if (dinp) {
    const SimdOps* ops = simd_ops();
    parallel_for(N, row_grain(C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* x = inp + r * C;
        const float* g = dout + r * C;
        if (ops) {
          ops->layernorm_row_backward(dinp + r * C, g, x, gamma, mean[r], rstd[r], C);
          continue;
        }
        const double m = row_mean(x, C, static_cast<double>(mean[r]), nullptr);
        const double rs = rstd[r];
        double sum_g = 0, sum_gx = 0;
        for (int64_t c = 0; c < C; ++c) {
          const double xhat = (static_cast<double>(x[c]) - m) * rs;
          const double gc = static_cast<double>(g[c]) * gamma[c];
          sum_g += gc;
          sum_gx += gc * xhat;
        }
        const double mean_g = sum_g / static_cast<double>(C);
        const double mean_gx = sum_gx / static_cast<double>(C);
        float* d = dinp + r * C;
        for (int64_t c = 0; c < C; ++c) {
          const double xhat = (static_cast<double>(x[c]) - m) * rs;
          const double gc = static_cast<double>(g[c]) * gamma[c];
          d[c] = static_cast<float>(d[c] + rs * (gc - mean_g - xhat * mean_gx));
        }
      }
    });
  }
  if (!dgamma && !dbeta) return;
  const int64_t cgrain = (N * C < 32768) ? C : std::max<int64_t>(16, C / std::max(1, num_threads()));
  const SimdOps* ops = simd_ops();
  parallel_for(C, cgrain, [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> sg(static_cast<size_t>(w), 0.0), sb(static_cast<size_t>(w), 0.0);
    for (int64_t r = 0; r < N; ++r) {
      const float* x = inp + r * C;
      const float* g = dout + r * C;
      // The corrected mean needs the whole row: recomputed per column chunk
      // (one extra contiguous read of the row per chunk) rather than kept in
      // O(N) scratch.
      const double m = row_mean(x, C, static_cast<double>(mean[r]), ops), rs = rstd[r];
      if (ops) {
        ops->layernorm_cols_accumulate(sg.data(), sb.data(), g + c0, x + c0, m, rs, w);
        continue;
      }
      for (int64_t c = c0; c < c1; ++c) {
        sg[c - c0] += static_cast<double>(g[c]) * ((static_cast<double>(x[c]) - m) * rs);
        sb[c - c0] += g[c];
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (dgamma) dgamma[c] = static_cast<float>(dgamma[c] + sg[c - c0]);
      if (dbeta) dbeta[c] = static_cast<float>(dbeta[c] + sb[c - c0]);
    }
  });
}

}  // namespace cpu
}  // namespace electra
