// AdamW with decoupled weight decay, as the ELECTRA reference optimizer
// (AdamWeightDecayOptimizer) with optional Adam bias correction:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   mh = m / (1 - b1^t), vh = v / (1 - b2^t)   (when bias_correction, else m, v)
//   p -= lr * (mh / (sqrt(vh) + eps) + (decay ? wd * p : 0))
// The element loop is branch-free and vectorisable; it is threaded over
// contiguous chunks, so results do not depend on the thread count.
#include <cmath>

#include "../adamw_math.h"
#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

void adamw_kernel(float* __restrict p, const float* __restrict g, float* __restrict m,
                  float* __restrict v, int64_t n, const AdamWConsts& k) {
  for (int64_t i = 0; i < n; ++i) adamw_element(p + i, g[i], m + i, v + i, k);
}

}  // namespace

void adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                  const AdamWHyper& hp, bool decay) {
  const AdamWConsts k = adamw_consts(hp.beta1, hp.beta2, hp.lr, hp.eps, hp.weight_decay, decay, hp.bias_correction, hp.step);
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    adamw_kernel(params + i0, grads + i0, m + i0, v + i0, i1 - i0, k);
  });
}

void adamw_update_table(const ParamTable& table, float* params, const float* grads, float* m,
                        float* v, const AdamWHyper& hp) {
  for (const TensorSpec& s : table.specs()) {
    AdamWHyper h = hp;
    h.lr = hp.lr * s.lr_scale;
    adamw_update(params + s.offset, grads + s.offset, m + s.offset, v + s.offset, s.numel, h,
                 s.decay);
  }
}

}  // namespace cpu
}  // namespace electra
