#include "gemm_timing.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "ops.h"

namespace electra {
namespace cpu {

double SgemmTiming::gflops() const { return 2.0 * double(M) * double(N) * double(K) / median_s * 1e-9; }

SgemmTiming time_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double min_seconds) {
  using Clock = std::chrono::steady_clock;
  // Stored shapes: A is [M,K] or [K,M]; B is [K,N] or [N,K].
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  std::vector<float> A(size_t(M * K)), B(size_t(K * N)), C(size_t(M * N));
  uint32_t x = 12345;
  auto rnd = [&] {
    x = x * 1664525u + 1013904223u;
    return float(x >> 8) / float(1 << 24) - 0.5f;
  };
  for (auto& v : A) v = rnd();
  for (auto& v : B) v = rnd();
  auto call = [&] { sgemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N); };
  call();
  call();
  std::vector<double> ts;
  double total = 0;
  while (total < min_seconds || ts.size() < 5) {
    const auto t0 = Clock::now();
    call();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    ts.push_back(s);
    total += s;
  }
  std::sort(ts.begin(), ts.end());
  SgemmTiming t;
  t.median_s = ts[ts.size() / 2];
  t.min_s = ts.front();
  t.runs = static_cast<int>(ts.size());
  t.M = M; t.N = N; t.K = K;
  return t;
}

}  // namespace cpu
}  // namespace electra
