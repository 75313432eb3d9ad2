// global_norm / clip_grad_norm vs float64, clipping only above max_norm, and
// a result independent of the thread count.
//
// Tolerances: norm vs float64 sum < 1e-10 relative (the op accumulates in
// double too; only summation order differs); clipped gradients vs float64
// g * max/norm < 1e-6 relative.
#include <cmath>
#include <vector>

#include "core/cpu/ops.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace {
double ref_norm(const float* g, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(g[i]) * g[i];
  return std::sqrt(s);
}
}  // namespace

TEST(clip_global_norm_vs_float64) {
  std::vector<int64_t> sizes = etest::odd_sizes();
  sizes.push_back((1 << 20) + 3);  // many chunks
  for (int64_t n : sizes) {
    etest::Guarded g(n);
    etest::fill_uniform(g.data(), n);
    const double ref = ref_norm(g.data(), n);
    const double norm = electra::cpu::global_norm(g.data(), n);
    CHECK(g.intact());
    CHECK_LT(std::fabs(norm - ref) / ref, 1e-10) << "n=" << n;

    // max_norm above the norm: untouched, bit for bit.
    const std::vector<float> g0(g.data(), g.data() + n);
    const double r1 = electra::cpu::clip_grad_norm(g.data(), n, float(ref * 1.5));
    CHECK(r1 == norm);
    CHECK(std::vector<float>(g.data(), g.data() + n) == g0) << "clipped below max_norm, n=" << n;

    // max_norm below the norm: scaled by max/norm.
    const float max_norm = float(ref * 0.25);
    const double r2 = electra::cpu::clip_grad_norm(g.data(), n, max_norm);
    CHECK(g.intact());
    CHECK(etest::all_finite(g.data(), n));
    CHECK(r2 == norm) << "returns the norm before clipping";
    std::vector<double> expect(n);
    for (int64_t i = 0; i < n; ++i) expect[i] = double(g0[i]) * double(max_norm) / ref;
    CHECK_LT(etest::rel_error(g.data(), expect.data(), n), 1e-6) << "n=" << n;
    CHECK_LT(std::fabs(ref_norm(g.data(), n) - max_norm) / max_norm, 1e-6) << "n=" << n;
  }
  // Just above max_norm (norm = 1.33 max_norm) it clips too, to exactly max_norm.
  // Mutation caught: a threshold looser than max_norm (e.g. clipping only
  // above 2 x max_norm), which the 4x case above cannot see.
  {
    const int64_t n = 1001;
    std::vector<float> g = etest::rand_vec(n);
    const double ref = ref_norm(g.data(), n);
    const float max_norm = float(ref * 0.75);
    CHECK_LT(std::fabs(electra::cpu::clip_grad_norm(g.data(), n, max_norm) - ref) / ref, 1e-10);
    CHECK_LT(std::fabs(ref_norm(g.data(), n) - max_norm) / max_norm, 1e-6) << "norm 1.33 x max_norm not clipped";
  }
  float zero = 0.f;
  CHECK(electra::cpu::clip_grad_norm(&zero, 1, 1.0f) == 0.0 && zero == 0.f);
}

TEST(clip_same_result_for_1_and_2_threads) {
  const int64_t n = 3 * (1 << 16) + 17;
  std::vector<float> g(n);
  etest::fill_uniform(g.data(), n, -3.f, 3.f);
  const int saved = electra::num_threads();
  std::vector<double> norms;
  std::vector<std::vector<float>> clipped;
  for (int threads : {1, 2}) {
    electra::set_num_threads(threads);
    norms.push_back(electra::cpu::global_norm(g.data(), n));
    etest::Guarded c(n);
    std::copy(g.begin(), g.end(), c.data());
    electra::cpu::clip_grad_norm(c.data(), n, 1.0f);
    CHECK(c.intact());
    clipped.emplace_back(c.data(), c.data() + n);
  }
  electra::set_num_threads(saved);
  CHECK(norms[0] == norms[1]) << norms[0] << " vs " << norms[1];
  CHECK(clipped[0] == clipped[1]);
}
