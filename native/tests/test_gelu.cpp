// Exact (erf) GELU: forward/backward against float64 references and central
// finite differences of L = sum(gelu64(x) * R) on a float64 forward.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu/ops.h"
#include "core/thread_pool.h"
#include "test_util.h"

using etest::Guarded;

using etest::rand_vec;
using etest::rel_err;

namespace {
double gelu64(double x) { return x * 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }
double dgelu64(double x) {
  const double pi = 3.14159265358979323846;
  return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * pi);
}

void check_gelu(const std::vector<float>& x, const char* what) {
  const int64_t n = static_cast<int64_t>(x.size());
  auto R = rand_vec(n);
  Guarded out(n);
  electra::cpu::gelu_forward(out.data(), x.data(), n);
  CHECK(out.intact()) << what;
  CHECK(etest::all_finite(out.data(), n)) << what;
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = gelu64(x[i]);
  CHECK_LT(etest::rel_error(out.data(), ref.data(), n), 1e-5) << what << " n=" << n;

  auto g0 = rand_vec(n);
  Guarded dx(n);
  std::copy(g0.begin(), g0.end(), dx.data());
  electra::cpu::gelu_backward(dx.data(), R.data(), x.data(), n);
  CHECK(dx.intact()) << what;
  CHECK(etest::all_finite(dx.data(), n)) << what;
  std::vector<double> got(n), an(n);
  for (int64_t i = 0; i < n; ++i) {
    got[i] = double(dx[i]) - g0[i];
    an[i] = double(R[i]) * dgelu64(x[i]);
  }
  // got = dx - g0 also carries the rounding of the fp32 sum g0 + grad, up to
  // 2^-24 |g0 + grad| per element. Relative to a small gradient scale (about
  // 0.01 in the negative tail, against |g0| up to 1) that rounding exceeds the
  // op's own error, so it is added to the 1e-5 bound (scaled below per check).
  double max_dx = 0, max_an = 1e-30;
  for (int64_t i = 0; i < n; ++i) {
    max_dx = std::fmax(max_dx, std::fabs(double(dx[i])));
    max_an = std::fmax(max_an, std::fabs(an[i]));
  }
  const double acc_abs = max_dx * std::ldexp(1.0, -24);
  CHECK_LT(rel_err(got, an), 1e-5 + acc_abs / max_an) << what << " n=" << n;

  // Central differences on the float64 forward, h = 1e-4: truncation error
  // h^2/6 * max|gelu'''| (< 1) ~ 2e-9 and rounding ~ 1e-16/h, far below the
  // 1e-7 the float64 analytic gradient must meet and the 1e-5 the fp32 op
  // (whose own error dominates) must meet. The loss is separable, so only the
  // perturbed element's term of L changes.
  const double h = 1e-4;
  std::vector<double> fd, op, an_sub;
  for (int64_t i = 0; i < n; i += (n > 200 ? n / 64 : 1)) {
    const double xi = x[i];
    fd.push_back((gelu64(xi + h) - gelu64(xi - h)) / (2 * h) * R[i]);
    op.push_back(got[i]);
    an_sub.push_back(an[i]);
  }
  CHECK_LT(rel_err(an_sub, fd), 1e-7) << what << " (reference vs FD)";
  double max_fd = 1e-30;
  for (double f : fd) max_fd = std::fmax(max_fd, std::fabs(f));
  CHECK_LT(rel_err(op, fd), 1e-5 + acc_abs / max_fd) << what << " (op vs FD)";
}
}  // namespace

TEST(gelu_forward_backward_shapes) {
  for (int64_t rows : etest::odd_sizes())
    for (int64_t cols : etest::odd_sizes()) check_gelu(rand_vec(rows * cols, -4.f, 4.f), "U(-4,4)");
}

TEST(gelu_tails_and_special_points) {
  std::vector<float> x = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-4f, -1e-4f, 0.5f, -0.5f, 1.0f, -1.0f,
                          3.0f, -3.0f, 5.5f, -5.5f, 8.0f, -8.0f, 10.0f, -10.0f, 20.0f, -20.0f};
  check_gelu(x, "special points");
  // Tails alone (on the tensor scale of these values, relative error 1e-5).
  check_gelu(rand_vec(1001, -12.f, -3.f), "negative tail");
  check_gelu(rand_vec(1001, 3.f, 12.f), "positive tail");
  // Large buffer, split over threads.
  check_gelu(rand_vec(200003, -6.f, 6.f), "large");
}

TEST(gelu_backward_write_and_elementwise_accuracy) {
  // gelu_backward_write == zero-filled gelu_backward, bit for bit, also in place.
  for (int64_t n : {1, 15, 16, 17, 1000, 100003}) {
    auto x = rand_vec(n, -7.f, 7.f), g = rand_vec(n);
    std::vector<float> acc(n, 0.0f);
    electra::cpu::gelu_backward(acc.data(), g.data(), x.data(), n);
    Guarded w(n);
    electra::cpu::gelu_backward_write(w.data(), g.data(), x.data(), n);
    CHECK(w.intact());
    std::vector<float> inplace(g);
    electra::cpu::gelu_backward_write(inplace.data(), inplace.data(), x.data(), n);
    bool same = true, same_ip = true;
    for (int64_t i = 0; i < n; ++i) {
      same &= w[i] == acc[i];
      same_ip &= inplace[i] == acc[i];
    }
    CHECK(same) << "n=" << n;
    CHECK(same_ip) << "in place, n=" << n;
  }
  // Element-wise relative error of the forward, tails included (where
  // x * Phi(x) is tiny but still a normal float).
  auto x = rand_vec(100000, -12.f, 8.f);
  std::vector<float> out(x.size());
  electra::cpu::gelu_forward(out.data(), x.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    // erfc form: gelu64's 1 + erf cancels in double below x ~ -8.
    const double ref = double(x[i]) * 0.5 * std::erfc(-double(x[i]) / std::sqrt(2.0));
    if (std::fabs(ref) < 1e-30) continue;
    worst = std::fmax(worst, std::fabs(out[i] - ref) / std::fabs(ref));
  }
  CHECK_LT(worst, 1e-6) << "gelu forward element-wise relative error";
}
