// Fused losses: softmax cross-entropy at selected rows (the generator's MLM
// head, the fine-tuning classifiers), sigmoid binary cross-entropy (the
// discriminator's replaced-token head) and squared error (regression heads),
// each computing its loss and WRITING its logits gradient in one pass over the
// data. All may run in place (dlogits == logits): every element is read before
// the same element is written.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../thread_pool.h"
#include "ops.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {

void crossentropy_forward_backward(float* losses, int32_t* argmax, float* dlogits,
                                   const float* logits, const int32_t* rows,
                                   const int32_t* targets, int64_t R, int64_t V,
                                   float grad_scale) {
  // Rows are independent; a task takes a few rows when V is small.
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(V, 1));
  const SimdOps* ops = simd_ops();
  parallel_for(R, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> e(static_cast<size_t>(V));  // exp(x - max): the one live row
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t row = rows[r];
      const float* x = logits + row * V;
      const int32_t t = targets[r];

      // Pass 1: max (first index on ties).
      int64_t best = 0;
      float mx = x[0];
      for (int64_t j = 1; j < V; ++j)
        if (x[j] > mx) {
          mx = x[j];
          best = j;
        }
      if (t < 0) {  // a padding row: no loss, no gradient
        if (losses) losses[r] = 0.0f;
        if (argmax) argmax[r] = static_cast<int32_t>(best);
        if (dlogits) std::fill(dlogits + row * V, dlogits + row * V + V, 0.0f);
        continue;
      }

      // Pass 2: shifted exponentials, their sum in double.
      double sum = 0.0;
      if (ops) {
        sum = ops->exp_shift_sum(e.data(), x, V, mx);
      } else {
        for (int64_t j = 0; j < V; ++j) {
          e[j] = std::exp(x[j] - mx);
          sum += e[j];
        }
      }
      // loss = logsumexp(x) - x[t] = log(sum) - (x[t] - max); read x[t] before
      // pass 3 may overwrite it.
      const double loss = std::log(sum) - (static_cast<double>(x[t]) - mx);
      if (losses) losses[r] = static_cast<float>(loss);
      if (argmax) argmax[r] = static_cast<int32_t>(best);

      // Pass 3: dlogits = grad_scale * (softmax - onehot(t)).
      if (dlogits) {
        float* d = dlogits + row * V;
        const float s = static_cast<float>(grad_scale / sum);
        for (int64_t j = 0; j < V; ++j) d[j] = e[j] * s;
        d[t] = e[t] * s - grad_scale;
      }
    }
  });
}

double bce_forward_backward(float* dlogits, const float* logits, const float* labels,
                            const float* weights, int64_t N, float grad_scale) {
  // Fixed-size chunks with their partial sums added in chunk order: the
  // returned sum does not depend on the thread count.
  constexpr int64_t kChunk = 4096;
  const int64_t nchunks = (N + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(nchunks), 0.0);

  parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kChunk, i1 = std::min(N, i0 + kChunk);
      double acc = 0.0;
      for (int64_t i = i0; i < i1; ++i) {
        const float x = logits[i], y = labels[i];
        const float w = weights ? weights[i] : 1.0f;
        const float en = std::exp(-std::fabs(x));  // in (0, 1]: never overflows
        // loss in double: max(x,0) - x*y + log1p(exp(-|x|))
        const double xd = x;
        acc += static_cast<double>(w) *
               (std::max(xd, 0.0) - xd * y + std::log1p(static_cast<double>(en)));
        if (dlogits) {
          const float sig = x >= 0.f ? 1.0f / (1.0f + en) : en / (1.0f + en);
          dlogits[i] = grad_scale * w * (sig - y);
        }
      }
      partial[c] = acc;
    }
  });

  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

double mse_forward_backward(float* dpred, const float* pred, const float* target, int64_t N,
                            float grad_scale) {
  // N is a batch of regression outputs (tens of values): one thread, in order.
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const double diff = static_cast<double>(pred[i]) - static_cast<double>(target[i]);
    total += diff * diff;
    if (dpred) dpred[i] = static_cast<float>(2.0 * static_cast<double>(grad_scale) * diff);
  }
  return total;
}

}  // namespace cpu
}  // namespace electra
