// AdamW with decoupled weight decay, as the ELECTRA reference optimizer
// (AdamWeightDecayOptimizer) with optional Adam bias correction:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   mh = m / (1 - b1^t), vh = v / (1 - b2^t)   (when bias_correction, else m, v)
//   p -= lr * (mh / (sqrt(vh) + eps) + (decay ? wd * p : 0))
// The element loop is branch-free and vectorisable; it is threaded over
// contiguous chunks, so results do not depend on the thread count.
#include <cmath>

#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

struct AdamWConsts {
  float b1, b2, ob1, ob2;  // beta and 1 - beta
  float c1, c2;            // bias-correction factors 1 / (1 - beta^t), or 1
  float lr, eps, wd;       // wd == 0 when this tensor is not decayed
};

void adamw_kernel(float* __restrict p, const float* __restrict g, float* __restrict m,
                  float* __restrict v, int64_t n, const AdamWConsts& k) {
  const float b1 = k.b1, b2 = k.b2, ob1 = k.ob1, ob2 = k.ob2;
  const float c1 = k.c1, c2 = k.c2, lr = k.lr, eps = k.eps, wd = k.wd;
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = b1 * m[i] + ob1 * gi;
    const float vi = b2 * v[i] + ob2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const float update = (mi * c1) / (std::sqrt(vi * c2) + eps) + wd * p[i];
    p[i] -= lr * update;
  }
}

}  // namespace

void adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                  const AdamWHyper& hp, bool decay) {
  AdamWConsts k;
  k.b1 = hp.beta1;
  k.b2 = hp.beta2;
  k.ob1 = 1.0f - hp.beta1;
  k.ob2 = 1.0f - hp.beta2;
  k.c1 = 1.0f;
  k.c2 = 1.0f;
  if (hp.bias_correction) {
    const double t = static_cast<double>(hp.step);
    k.c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(hp.beta1), t)));
    k.c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(hp.beta2), t)));
  }
  k.lr = hp.lr;
  k.eps = hp.eps;
  k.wd = decay ? hp.weight_decay : 0.0f;
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    adamw_kernel(params + i0, grads + i0, m + i0, v + i0, i1 - i0, k);
  });
}

void adamw_update_table(const ParamTable& table, float* params, const float* grads, float* m,
                        float* v, const AdamWHyper& hp) {
  for (const TensorSpec& s : table.specs())
    adamw_update(params + s.offset, grads + s.offset, m + s.offset, v + s.offset, s.numel, hp,
                 s.decay);
}

}  // namespace cpu
}  // namespace electra
