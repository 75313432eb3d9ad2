// One sgemm shape timed the way every GEMM benchmark of the project times it
// (electra_bench gemm, and the addon's bench.sgemm when electra_bench is not
// built), so their numbers are comparable: pseudo-random operands with tight
// strides, C = op(A) op(B) with alpha 1 and beta 0, two untimed calls, then
// repeats until at least min_seconds and 5 runs.
#pragma once
#include <cstdint>

namespace electra {
namespace cpu {

struct SgemmTiming {
  double median_s = 0, min_s = 0;
  int runs = 0;
  double gflops() const;  // from the median
  int64_t M = 0, N = 0, K = 0;
};

SgemmTiming time_sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double min_seconds = 0.5);

}  // namespace cpu
}  // namespace electra
