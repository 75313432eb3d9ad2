// The AdamW element update shared by the CPU and CUDA backends, so both apply
// exactly the same arithmetic (the ELECTRA reference's AdamWeightDecayOptimizer,
// with optional bias correction):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * (m c1 / (sqrt(v c2) + eps) + wd p)
#pragma once
#include <cmath>
#include <cstdint>

#include "philox.h"  // ELECTRA_HD

namespace electra {

struct AdamWConsts {
  float b1, b2, ob1, ob2;  // beta and 1 - beta
  float c1, c2;            // bias-correction factors 1 / (1 - beta^t), or 1
  float lr, eps, wd;       // wd == 0 when this tensor is not decayed
};

// Host-side: the constants for one update (t is the 1-based step).
inline AdamWConsts adamw_consts(float beta1, float beta2, float lr, float eps, float weight_decay, bool decay,
                                bool bias_correction, int64_t t) {
  AdamWConsts k;
  k.b1 = beta1;
  k.b2 = beta2;
  k.ob1 = 1.0f - beta1;
  k.ob2 = 1.0f - beta2;
  k.c1 = 1.0f;
  k.c2 = 1.0f;
  if (bias_correction) {
    k.c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(t))));
    k.c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(t))));
  }
  k.lr = lr;
  k.eps = eps;
  k.wd = decay ? weight_decay : 0.0f;
  return k;
}

ELECTRA_HD void adamw_element(float* p, float g, float* m, float* v, const AdamWConsts& k) {
  const float mi = k.b1 * *m + k.ob1 * g;
  const float vi = k.b2 * *v + k.ob2 * (g * g);
  *m = mi;
  *v = vi;
  const float update = (mi * k.c1) / (sqrtf(vi * k.c2) + k.eps) + k.wd * *p;
  *p -= k.lr * update;
}

}  // namespace electra
