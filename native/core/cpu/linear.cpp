// Linear layer (PyTorch layout: weight[N,K]) on top of sgemm.
//   forward : out[M,N]  = inp[M,K] @ weight^T + bias
//   backward: dinp     += dout @ weight           (NN gemm, beta = 1)
//             dweight  += dout^T @ inp            (TN gemm, beta = 1)
//             dbias    += column sums of dout     (float64 partial sums)
// linear_backward_write: the same with dinp written (NN gemm, beta = 0).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../thread_pool.h"
#include "ops.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {

void linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int64_t M, int64_t K, int64_t N) {
  sgemm(false, true, M, N, K, 1.f, inp, K, weight, K, 0.f, out, N);
  if (!bias) return;
  // Row-parallel broadcast add; the inner loop is a plain vectorisable axpy.
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(N, 1));
  parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* __restrict o = out + r * N;
      const float* __restrict b = bias;
      for (int64_t j = 0; j < N; ++j) o[j] += b[j];
    }
  });
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int64_t M, int64_t K, int64_t N) {
  if (dinp) sgemm(false, false, M, K, N, 1.f, dout, N, weight, K, 1.f, dinp, K);
  if (dweight) sgemm(true, false, N, K, M, 1.f, dout, N, inp, K, 1.f, dweight, K);
  if (dbias && M > 0) {
    // Column sums: each thread owns a range of columns and streams all rows
    // through a float64 accumulator of that width (O(row) scratch).
    const int64_t grain = std::max<int64_t>(64, (1 << 16) / std::max<int64_t>(M, 1));
    const SimdOps* ops = simd_ops();
    parallel_for(N, grain, [&](int64_t c0, int64_t c1) {
      const int64_t w = c1 - c0;
      std::vector<double> acc(static_cast<size_t>(w), 0.0);
      double* __restrict a = acc.data();
      for (int64_t r = 0; r < M; ++r) {
        const float* __restrict d = dout + r * N + c0;
        if (ops) {
          ops->col_sum_accumulate(a, d, w);
          continue;
        }
        for (int64_t j = 0; j < w; ++j) a[j] += d[j];
      }
      for (int64_t j = 0; j < w; ++j) dbias[c0 + j] = static_cast<float>(dbias[c0 + j] + a[j]);
    });
  }
}

void linear_backward_write(float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int64_t M, int64_t K, int64_t N) {
  if (dinp) sgemm(false, false, M, K, N, 1.f, dout, N, weight, K, 0.f, dinp, K);
  linear_backward(nullptr, dweight, dbias, dout, inp, weight, M, K, N);
}

}  // namespace cpu
}  // namespace electra
