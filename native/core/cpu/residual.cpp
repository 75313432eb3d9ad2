// Residual add: out = a + b, and its backward (the gradient flows to both).
#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {

namespace {
constexpr int64_t kGrain = 1 << 15;  // elements per chunk: below this, threads don't pay
}

void residual_forward(float* out, const float* a, const float* b, int64_t n) {
  // Elementwise, so out may alias a or b.
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = a[i] + b[i];
  });
}

void residual_backward(float* da, float* db, const float* dout, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    if (da)
      for (int64_t i = i0; i < i1; ++i) da[i] += dout[i];
    if (db)
      for (int64_t i = i0; i < i1; ++i) db[i] += dout[i];
  });
}

}  // namespace cpu
}  // namespace electra
