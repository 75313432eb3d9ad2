// crossentropy_forward_backward and bce_forward_backward vs float64
// references written here, and their (written) logits gradients vs central
// finite differences in float64 of the loss itself.
//
// Tolerances (relative to the largest magnitude of the reference tensor):
//   losses / loss sum vs float64:          < 1e-5
//   dlogits vs float64 analytic:           < 1e-5
//   dlogits vs float64 central FD:         < 1e-4  (h = 1e-4 on the float64
//     loss; FD truncation ~h^2, far below the tolerance)
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu/ops.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace {

using electra::cpu::bce_forward_backward;
using electra::cpu::crossentropy_forward_backward;

// ------------------------------------------------------------ cross-entropy

// Float64 loss (and optionally gradient, unscaled) of one row.
double ce_ref_row(const double* x, int64_t V, int64_t t, double* grad) {
  double mx = x[0];
  for (int64_t j = 1; j < V; ++j) mx = std::max(mx, x[j]);
  double sum = 0;
  for (int64_t j = 0; j < V; ++j) sum += std::exp(x[j] - mx);
  if (grad)
    for (int64_t j = 0; j < V; ++j) grad[j] = std::exp(x[j] - mx) / sum - (j == t ? 1.0 : 0.0);
  return mx + std::log(sum) - x[t];
}
int64_t argmax_ref(const float* x, int64_t V) {
  int64_t best = 0;
  for (int64_t j = 1; j < V; ++j)
    if (x[j] > x[best]) best = j;
  return best;
}

struct CeCase {
  int64_t N, V;
  std::vector<int32_t> rows, targets;  // R distinct rows, in shuffled order
  std::vector<float> logits;           // [N,V]; unlisted rows are NaN (must not be read)
};

CeCase make_ce_case(int64_t N, int64_t V, float lo, float hi) {
  CeCase c;
  c.N = N;
  c.V = V;
  c.logits.assign(N * V, std::nanf(""));
  std::vector<int32_t> all(N);
  for (int64_t i = 0; i < N; ++i) all[i] = int32_t(i);
  std::shuffle(all.begin(), all.end(), etest::rng());
  const int64_t R = std::max<int64_t>(1, N - 2);
  c.rows.assign(all.begin(), all.begin() + R);
  for (int64_t r = 0; r < R; ++r) {
    c.targets.push_back(int32_t(etest::rand_int(0, V - 1)));
    etest::fill_uniform(&c.logits[c.rows[r] * V], V, lo, hi);
  }
  return c;
}

// Runs the op out of place, in place and without gradient, and checks all of it.
void check_ce(const CeCase& c, float grad_scale, int64_t fd_per_row, const char* what) {
  const int64_t N = c.N, V = c.V, R = int64_t(c.rows.size());
  std::ostringstream tag;
  tag << " [" << what << " V=" << V << " R=" << R << "]";

  etest::Guarded losses(R), dlogits(N * V, 7.0f);
  std::vector<int32_t> argmax(R, -7);
  crossentropy_forward_backward(losses.data(), argmax.data(), dlogits.data(), c.logits.data(),
                                c.rows.data(), c.targets.data(), R, V, grad_scale);
  CHECK(losses.intact() && dlogits.intact()) << tag.str();
  CHECK(etest::all_finite(losses.data(), R)) << tag.str();

  std::vector<double> loss_ref(R), g_ref, g_op;
  std::vector<char> listed(N, 0);
  for (int64_t r = 0; r < R; ++r) {
    const int64_t row = c.rows[r];
    listed[row] = 1;
    std::vector<double> x(c.logits.begin() + row * V, c.logits.begin() + (row + 1) * V), g(V);
    loss_ref[r] = ce_ref_row(x.data(), V, c.targets[r], g.data());
    for (int64_t j = 0; j < V; ++j) {
      g_ref.push_back(grad_scale * g[j]);
      g_op.push_back(dlogits[row * V + j]);
    }
    CHECK(argmax[r] == argmax_ref(&c.logits[row * V], V)) << "argmax" << tag.str();
    CHECK(etest::all_finite(&dlogits[row * V], V)) << tag.str();
  }
  CHECK_LT(etest::rel_error(losses.data(), loss_ref.data(), R), 1e-5) << "loss" << tag.str();
  {
    std::vector<float> gf(g_op.begin(), g_op.end());
    CHECK_LT(etest::rel_error(gf.data(), g_ref.data(), int64_t(gf.size())), 1e-5)
        << "dlogits" << tag.str();
  }
  for (int64_t row = 0; row < N; ++row)
    if (!listed[row])
      for (int64_t j = 0; j < V; ++j)
        CHECK(dlogits[row * V + j] == 7.0f) << "unlisted row written" << tag.str();

  // Central FD of L = grad_scale * loss_r, at the target, the argmax and random entries.
  if (fd_per_row > 0) {
    const double h = 1e-4;
    double num = 0;
    for (int64_t r = 0; r < R; ++r) {
      const int64_t row = c.rows[r];
      std::vector<double> x(c.logits.begin() + row * V, c.logits.begin() + (row + 1) * V);
      std::vector<int64_t> js = {c.targets[r], argmax_ref(&c.logits[row * V], V)};
      for (int64_t n = 0; n < fd_per_row; ++n) js.push_back(etest::rand_int(0, V - 1));
      for (int64_t j : js) {
        const double x0 = x[j];
        x[j] = x0 + h;
        const double Lp = grad_scale * ce_ref_row(x.data(), V, c.targets[r], nullptr);
        x[j] = x0 - h;
        const double Lm = grad_scale * ce_ref_row(x.data(), V, c.targets[r], nullptr);
        x[j] = x0;
        num = std::fmax(num, std::fabs((Lp - Lm) / (2 * h) - dlogits[row * V + j]));
      }
    }
    double den = 1e-30;
    for (double g : g_ref) den = std::fmax(den, std::fabs(g));
    CHECK_LT(num / den, 1e-4) << "FD" << tag.str();
  }

  // In place: dlogits aliases logits; same numbers, bit for bit.
  etest::Guarded buf(N * V);
  std::copy(c.logits.begin(), c.logits.end(), buf.data());
  etest::Guarded losses2(R);
  std::vector<int32_t> argmax2(R, -7);
  crossentropy_forward_backward(losses2.data(), argmax2.data(), buf.data(), buf.data(),
                                c.rows.data(), c.targets.data(), R, V, grad_scale);
  CHECK(buf.intact() && losses2.intact()) << tag.str();
  CHECK(argmax2 == argmax) << "in-place argmax" << tag.str();
  for (int64_t r = 0; r < R; ++r) CHECK(losses2[r] == losses[r]) << "in-place loss" << tag.str();
  for (int64_t row = 0; row < N; ++row)
    for (int64_t j = 0; j < V; ++j) {
      if (listed[row])
        CHECK(buf[row * V + j] == dlogits[row * V + j]) << "in-place dlogits" << tag.str();
      else
        CHECK(std::isnan(buf[row * V + j])) << "in-place: unlisted row written" << tag.str();
    }

  // No gradient, no argmax: the losses alone.
  etest::Guarded losses3(R);
  crossentropy_forward_backward(losses3.data(), nullptr, nullptr, c.logits.data(), c.rows.data(),
                                c.targets.data(), R, V, grad_scale);
  CHECK(losses3.intact()) << tag.str();
  for (int64_t r = 0; r < R; ++r) CHECK(losses3[r] == losses[r]) << "no-grad loss" << tag.str();
}

// ----------------------------------------------------------------------- BCE

double bce_ref(double x, double y, double w, double* grad) {
  if (grad) *grad = w * (1.0 / (1.0 + std::exp(-x)) - y);
  return w * (std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x))));
}

void check_bce(const std::vector<float>& x, const std::vector<float>& y,
               const std::vector<float>* w, float grad_scale, bool fd, const char* what) {
  const int64_t N = int64_t(x.size());
  std::ostringstream tag;
  tag << " [" << what << " N=" << N << (w ? " weighted" : "") << "]";
  etest::Guarded d(N);
  const double sum = bce_forward_backward(d.data(), x.data(), y.data(), w ? w->data() : nullptr, N,
                                          grad_scale);
  CHECK(d.intact()) << tag.str();
  CHECK(etest::all_finite(d.data(), N)) << tag.str();
  CHECK(std::isfinite(sum)) << tag.str();

  double sum_ref = 0;
  std::vector<double> g_ref(N);
  for (int64_t i = 0; i < N; ++i) {
    const double wi = w ? (*w)[i] : 1.0;
    sum_ref += bce_ref(x[i], y[i], wi, &g_ref[i]);
    g_ref[i] *= grad_scale;
    if (wi == 0.0) CHECK(d[i] == 0.0f) << "weight 0 must give zero grad" << tag.str();
  }
  CHECK_LT(std::fabs(sum - sum_ref) / std::fmax(std::fabs(sum_ref), 1e-30), 1e-5)
      << "sum" << tag.str();
  CHECK_LT(etest::rel_error(d.data(), g_ref.data(), N), 1e-5) << "dlogits" << tag.str();

  if (fd) {
    const double h = 1e-4;
    double num = 0, den = 1e-30;
    for (int64_t i = 0; i < N; ++i) {
      const double wi = w ? (*w)[i] : 1.0;
      const double Lp = grad_scale * bce_ref(double(x[i]) + h, y[i], wi, nullptr);
      const double Lm = grad_scale * bce_ref(double(x[i]) - h, y[i], wi, nullptr);
      num = std::fmax(num, std::fabs((Lp - Lm) / (2 * h) - d[i]));
      den = std::fmax(den, std::fabs(g_ref[i]));
    }
    CHECK_LT(num / den, 1e-4) << "FD" << tag.str();
  }

  // In place: same numbers, bit for bit.
  etest::Guarded buf(N);
  std::copy(x.begin(), x.end(), buf.data());
  const double sum2 = bce_forward_backward(buf.data(), buf.data(), y.data(),
                                           w ? w->data() : nullptr, N, grad_scale);
  CHECK(buf.intact()) << tag.str();
  CHECK(sum2 == sum) << "in-place sum" << tag.str();
  for (int64_t i = 0; i < N; ++i) CHECK(buf[i] == d[i]) << "in-place dlogits" << tag.str();
}

}  // namespace

TEST(crossentropy_vs_float64_and_fd) {
  for (int64_t V : {int64_t(1), int64_t(7), int64_t(33), int64_t(129), int64_t(30522)}) {
    const int64_t N = V == 30522 ? 6 : 11;
    CeCase c = make_ce_case(N, V, -4.f, 4.f);
    if (V >= 3) {  // a tie at the max in the first listed row: lowest index wins
      float* x = &c.logits[c.rows[0] * V];
      x[V - 1] = x[1] = 10.f;
    }
    check_ce(c, 1.0f / float(c.rows.size()), 10, "uniform");
  }
}

TEST(crossentropy_extreme_logits_stay_finite) {
  for (int64_t V : {int64_t(7), int64_t(129), int64_t(30522)}) {
    CeCase c = make_ce_case(5, V, -1.f, 1.f);
    for (size_t r = 0; r < c.rows.size(); ++r) {
      float* x = &c.logits[c.rows[r] * V];
      for (int64_t j = 0; j < V; ++j) x[j] = x[j] >= 0 ? 1e4f : -1e4f;
      if (r == 0) x[c.targets[r]] = -1e4f;  // the target far below the max: loss ~2e4
    }
    // All equal: loss log(V), gradient uniform.
    std::fill(&c.logits[c.rows.back() * V], &c.logits[c.rows.back() * V] + V, 1e4f);
    check_ce(c, 0.5f, 0, "extreme");
  }
}

TEST(bce_vs_float64_and_fd) {
  std::vector<int64_t> sizes = etest::odd_sizes();
  sizes.push_back(10007);  // several chunks: threaded partial sums
  for (int64_t N : sizes) {
    std::vector<float> x(N), y(N), w(N);
    etest::fill_uniform(x.data(), N, -8.f, 8.f);
    etest::fill_uniform(w.data(), N, 0.f, 1.f);
    for (int64_t i = 0; i < N; ++i) {
      const int64_t kind = etest::rand_int(0, 3);
      y[i] = kind == 0 ? float(etest::rand_int(0, 1000)) / 1000.f : float(kind & 1);  // soft or 0/1
      if (etest::rand_int(0, 3) == 0) w[i] = 0.f;  // padding
    }
    check_bce(x, y, &w, 1.0f / float(N), true, "uniform");
    check_bce(x, y, nullptr, 0.5f, true, "uniform");
  }
}

TEST(bce_extreme_logits_and_thread_independence) {
  const float vals[] = {1e4f, -1e4f, 100.f, -100.f, 88.7f, -88.7f, 30.f, -30.f, 0.f, 1e-8f};
  std::vector<float> x, y, w;
  for (float v : vals)
    for (float lab : {0.f, 1.f, 0.3f})
      for (float wt : {0.f, 1.f, 0.25f}) {
        x.push_back(v);
        y.push_back(lab);
        w.push_back(wt);
      }
  check_bce(x, y, &w, 1.0f, false, "extreme");
  check_bce(x, y, nullptr, 1.0f, false, "extreme");

  const int64_t N = 3 * 4096 + 5;
  std::vector<float> a(N), b(N), d(N);
  etest::fill_uniform(a.data(), N, -5.f, 5.f);
  etest::fill_uniform(b.data(), N, 0.f, 1.f);
  const int saved = electra::num_threads();
  electra::set_num_threads(1);
  const double s1 = bce_forward_backward(d.data(), a.data(), b.data(), nullptr, N, 1.f);
  electra::set_num_threads(2);
  const double s2 = bce_forward_backward(d.data(), a.data(), b.data(), nullptr, N, 1.f);
  electra::set_num_threads(saved);
  CHECK(s1 == s2) << "bce sum depends on the thread count";
}

// Squared error (regression heads): sum vs float64, the written gradient vs
// the float64 analytic one and central differences of the float64 loss, and
// in place bit for bit.
TEST(mse_vs_float64_and_fd) {
  using electra::cpu::mse_forward_backward;
  for (int64_t N : {int64_t(1), int64_t(7), int64_t(32), int64_t(1000)}) {
    const std::vector<float> x = etest::rand_vec(N, -3.f, 3.f), y = etest::rand_vec(N, 0.f, 5.f);
    const float scale = 1.0f / float(N);
    etest::Guarded d(N);
    const double sum = mse_forward_backward(d.data(), x.data(), y.data(), N, scale);
    CHECK(d.intact());
    double sum_ref = 0, num = 0, den = 1e-30, fd_num = 0;
    const double h = 1e-4;
    for (int64_t i = 0; i < N; ++i) {
      const double diff = double(x[i]) - double(y[i]);
      sum_ref += diff * diff;
      const double g = 2.0 * scale * diff;
      num = std::fmax(num, std::fabs(g - d[i]));
      den = std::fmax(den, std::fabs(g));
      const double lp = scale * (diff + h) * (diff + h), lm = scale * (diff - h) * (diff - h);
      fd_num = std::fmax(fd_num, std::fabs((lp - lm) / (2 * h) - d[i]));
    }
    CHECK_LT(std::fabs(sum - sum_ref) / std::fmax(sum_ref, 1e-30), 1e-12) << "mse sum N=" << N;
    CHECK_LT(num / den, 1e-6) << "mse dpred N=" << N;
    CHECK_LT(fd_num / den, 1e-4) << "mse FD N=" << N;
    etest::Guarded buf(N);
    std::copy(x.begin(), x.end(), buf.data());
    const double sum2 = mse_forward_backward(buf.data(), buf.data(), y.data(), N, scale);
    CHECK(buf.intact());
    CHECK(sum2 == sum) << "in-place mse sum";
    for (int64_t i = 0; i < N; ++i) CHECK(buf[i] == d[i]) << "in-place mse dpred";
  }
}
