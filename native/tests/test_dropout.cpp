// Philox dropout: forward/backward against float64 references built from the
// contract in ops.h (keep(i) = philox_uniform(seed, offset, i) >= p), central
// finite differences, keep-fraction, determinism and thread independence.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cpu/ops.h"
#include "core/philox.h"
#include "core/thread_pool.h"
#include "test_util.h"

using etest::Guarded;

using etest::rand_vec;
using etest::rel_err;
using etest::bit_equal;

namespace {
bool keep_ref(float p, uint64_t seed, uint64_t offset, int64_t i) {
  return electra::philox_uniform(seed, offset, static_cast<uint64_t>(i)) >= p;
}
}  // namespace

TEST(dropout_forward_backward) {
  const uint64_t seed = 0x5eedull, offset = 17;
  for (float p : {0.0f, 0.1f, 0.5f, 0.9f})
    for (int64_t rows : etest::odd_sizes())
      for (int64_t cols : etest::odd_sizes()) {
        const int64_t n = rows * cols;
        auto x = rand_vec(n), R = rand_vec(n);
        Guarded out(n);
        electra::cpu::dropout_forward(out.data(), x.data(), n, p, seed, offset);
        CHECK(out.intact());
        CHECK(etest::all_finite(out.data(), n));
        std::vector<double> ref(n);
        for (int64_t i = 0; i < n; ++i)
          ref[i] = keep_ref(p, seed, offset, i) ? double(x[i]) / (1.0 - double(p)) : 0.0;
        CHECK_LT(etest::rel_error(out.data(), ref.data(), n), 1e-5) << "p=" << p << " n=" << n;
        bool zeros_exact = true;
        for (int64_t i = 0; i < n; ++i) zeros_exact &= (ref[i] != 0.0) || out[i] == 0.0f;
        CHECK(zeros_exact) << "dropped elements must be exactly 0";
        if (p == 0.0f) CHECK(bit_equal(out.data(), x.data(), n)) << "p == 0 must copy";

        // Backward with dout = R into a random starting gradient.
        auto g0 = rand_vec(n);
        Guarded dx(n);
        std::copy(g0.begin(), g0.end(), dx.data());
        electra::cpu::dropout_backward(dx.data(), R.data(), n, p, seed, offset);
        CHECK(dx.intact());
        CHECK(etest::all_finite(dx.data(), n));
        std::vector<double> got(n), an(n);
        for (int64_t i = 0; i < n; ++i) {
          got[i] = double(dx[i]) - g0[i];
          an[i] = keep_ref(p, seed, offset, i) ? double(R[i]) / (1.0 - double(p)) : 0.0;
        }
        CHECK_LT(rel_err(got, an), 1e-5) << "p=" << p << " n=" << n;

        // Central differences of L = sum(dropout64(x) * R) on a float64
        // forward with the same mask. L is linear in x, so the FD equals the
        // gradient up to double rounding; 1e-5 covers the fp32 accumulation.
        std::vector<double> xd(x.begin(), x.end()), fd, op;
        auto loss = [&](int64_t i) {  // only element i changes: its term suffices
          return (keep_ref(p, seed, offset, i) ? xd[i] / (1.0 - double(p)) : 0.0) * R[i];
        };
        const double h = 1e-3;
        for (int64_t i = 0; i < n; i += (n > 200 ? n / 50 : 1)) {
          const double s = xd[i];
          xd[i] = s + h; const double lp = loss(i);
          xd[i] = s - h; const double lm = loss(i);
          xd[i] = s;
          fd.push_back((lp - lm) / (2 * h));
          op.push_back(got[i]);
        }
        CHECK_LT(rel_err(op, fd), 1e-5) << "p=" << p << " n=" << n;
      }
}

TEST(dropout_keep_fraction_and_determinism) {
  const int64_t n = 1000000;
  std::vector<float> x(n, 1.0f);
  Guarded a(n), b(n), c(n);
  for (float p : {0.1f, 0.5f, 0.9f}) {
    electra::cpu::dropout_forward(a.data(), x.data(), n, p, 99, 5);
    electra::cpu::dropout_forward(b.data(), x.data(), n, p, 99, 5);
    electra::cpu::dropout_forward(c.data(), x.data(), n, p, 99, 6);
    CHECK(a.intact() && b.intact() && c.intact());
    CHECK(bit_equal(a.data(), b.data(), n)) << "same (seed, offset) must give the same mask";
    int64_t kept = 0, differ = 0;
    for (int64_t i = 0; i < n; ++i) {
      kept += a[i] != 0.0f;
      differ += (a[i] != 0.0f) != (c[i] != 0.0f);
    }
    const double frac = double(kept) / n;
    // Binomial sd = sqrt(p(1-p)/n) <= 5e-4; allow ~6 sd.
    CHECK(std::fabs(frac - (1.0 - p)) < 3e-3) << "p=" << p << " keep fraction " << frac;
    // Independent masks disagree on a fraction 2p(1-p) of elements.
    const double dfrac = double(differ) / n;
    CHECK(std::fabs(dfrac - 2.0 * p * (1.0 - p)) < 5e-3) << "offset 5 vs 6 differ " << dfrac;
  }
}

TEST(dropout_thread_count_independent) {
  const int saved = electra::num_threads();
  const int64_t n = 300007;  // odd, and large enough to be split across threads
  auto x = rand_vec(n), g = rand_vec(n), g0 = rand_vec(n);
  std::vector<float> ref_out, ref_dx;
  for (int t : {1, 2}) {
    electra::set_num_threads(t);
    Guarded out(n), dx(n);
    std::copy(g0.begin(), g0.end(), dx.data());
    electra::cpu::dropout_forward(out.data(), x.data(), n, 0.3f, 1234, 77);
    electra::cpu::dropout_backward(dx.data(), g.data(), n, 0.3f, 1234, 77);
    CHECK(out.intact() && dx.intact());
    if (t == 1) {
      ref_out.assign(out.data(), out.data() + n);
      ref_dx.assign(dx.data(), dx.data() + n);
    } else {
      CHECK(bit_equal(out.data(), ref_out.data(), n)) << "forward differs at " << t << " threads";
      CHECK(bit_equal(dx.data(), ref_dx.data(), n)) << "backward differs at " << t << " threads";
    }
  }
  electra::set_num_threads(saved);
}
