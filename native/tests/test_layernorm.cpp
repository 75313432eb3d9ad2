// LayerNorm (biased variance, as torch.nn.LayerNorm): forward and backward
// against float64 references, central finite differences of
// L = sum(layernorm64(x) * R) on a float64 forward, eps = 1e-12 (HF ELECTRA),
// large-mean inputs, null gradients and thread-count independence.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cpu/ops.h"
#include "core/thread_pool.h"
#include "test_util.h"

using etest::Guarded;

using etest::fd_indices;
using etest::rand_vec;
using etest::rel_err;
using etest::delta;

namespace {

// Float64 forward of one row: out[c] = (x - mean) * rstd * gamma + beta.
void ln_row64(double* out, const double* x, const double* gamma, const double* beta, int64_t C,
              double eps, double* mean_out = nullptr, double* rstd_out = nullptr) {
  double m = 0;
  for (int64_t c = 0; c < C; ++c) m += x[c];
  m /= C;
  double v = 0;
  for (int64_t c = 0; c < C; ++c) v += (x[c] - m) * (x[c] - m);
  v /= C;
  const double rs = 1.0 / std::sqrt(v + eps);
  for (int64_t c = 0; c < C; ++c) out[c] = (x[c] - m) * rs * gamma[c] + beta[c];
  if (mean_out) *mean_out = m;
  if (rstd_out) *rstd_out = rs;
}

struct Case {
  int64_t N, C;
  float eps;
  float center, spread;  // inputs ~ center + U(-spread, spread)
};

void check_layernorm(const Case& k) {
  const int64_t N = k.N, C = k.C, n = N * C;
  auto x = rand_vec(n, k.center - k.spread, k.center + k.spread);
  auto gamma = rand_vec(C, 0.5f, 1.5f), beta = rand_vec(C, -0.5f, 0.5f), R = rand_vec(n);
  Guarded out(n), mean(N), rstd(N);
  electra::cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(),
                                  beta.data(), N, C, k.eps);
  CHECK(out.intact() && mean.intact() && rstd.intact());
  CHECK(etest::all_finite(out.data(), n) && etest::all_finite(mean.data(), N) &&
        etest::all_finite(rstd.data(), N));

  std::vector<double> X(x.begin(), x.end()), G(gamma.begin(), gamma.end()),
      Bt(beta.begin(), beta.end());
  std::vector<double> ref(n), ref_m(N), ref_rs(N);
  for (int64_t r = 0; r < N; ++r)
    ln_row64(&ref[r * C], &X[r * C], G.data(), Bt.data(), C, k.eps, &ref_m[r], &ref_rs[r]);
  CHECK_LT(etest::rel_error(out.data(), ref.data(), n), 1e-5) << "N=" << N << " C=" << C;
  CHECK_LT(etest::rel_error(mean.data(), ref_m.data(), N), 1e-6);
  CHECK_LT(etest::rel_error(rstd.data(), ref_rs.data(), N), 1e-6);

  // Backward into random (non-zero) starting gradients.
  auto dx0 = rand_vec(n), dg0 = rand_vec(C), db0 = rand_vec(C);
  Guarded dx(n), dg(C), db(C);
  std::copy(dx0.begin(), dx0.end(), dx.data());
  std::copy(dg0.begin(), dg0.end(), dg.data());
  std::copy(db0.begin(), db0.end(), db.data());
  electra::cpu::layernorm_backward(dx.data(), dg.data(), db.data(), R.data(), x.data(),
                                   gamma.data(), mean.data(), rstd.data(), N, C);
  CHECK(dx.intact() && dg.intact() && db.intact());
  CHECK(etest::all_finite(dx.data(), n) && etest::all_finite(dg.data(), C) &&
        etest::all_finite(db.data(), C));
  auto got_x = delta(dx, dx0), got_g = delta(dg, dg0), got_b = delta(db, db0);

  // Float64 analytic reference.
  std::vector<double> an_x(n), an_g(C, 0.0), an_b(C, 0.0);
  for (int64_t r = 0; r < N; ++r) {
    const double m = ref_m[r], rs = ref_rs[r];
    double mg = 0, mgx = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double xh = (X[r * C + c] - m) * rs, g = R[r * C + c] * G[c];
      mg += g;
      mgx += g * xh;
      an_g[c] += R[r * C + c] * xh;
      an_b[c] += R[r * C + c];
    }
    mg /= C;
    mgx /= C;
    for (int64_t c = 0; c < C; ++c) {
      const double xh = (X[r * C + c] - m) * rs;
      an_x[r * C + c] = rs * (R[r * C + c] * G[c] - mg - xh * mgx);
    }
  }
  CHECK_LT(rel_err(got_x, an_x), 1e-5) << "dinp N=" << N << " C=" << C << " eps=" << k.eps;
  CHECK_LT(rel_err(got_g, an_g), 1e-5) << "dgamma N=" << N << " C=" << C;
  CHECK_LT(rel_err(got_b, an_b), 1e-5) << "dbeta N=" << N << " C=" << C;

  // Central differences on the float64 forward, step h = 1e-4 * spread
  // (relative to the row's scale). Truncation error ~ h^2 * rstd^3 and
  // rounding ~ 1e-16 * |L_row| / h both stay below 1e-8 of the gradient's
  // scale, so the float64 analytic gradient must match to 1e-6 and the fp32 op
  // to 1e-5 (the fp32 op's own rounding dominates). Perturbing x[r, c] only
  // changes row r, so only that row's part of L is evaluated; gamma/beta
  // perturbations change every row.
  const double h = 1e-4 * k.spread;
  std::vector<double> row(C);
  auto row_loss = [&](int64_t r) {
    ln_row64(row.data(), &X[r * C], G.data(), Bt.data(), C, k.eps);
    double L = 0;
    for (int64_t c = 0; c < C; ++c) L += row[c] * R[r * C + c];
    return L;
  };
  auto full_loss = [&]() {
    double L = 0;
    for (int64_t r = 0; r < N; ++r) L += row_loss(r);
    return L;
  };
  auto fd_check = [&](std::vector<double>& P, const std::vector<double>& got,
                      const std::vector<double>& an, bool per_row, const char* what) {
    std::vector<double> fd, op, ref_sub;
    for (int64_t i : fd_indices(static_cast<int64_t>(P.size()))) {
      const double s = P[i];
      P[i] = s + h;
      const double lp = per_row ? row_loss(i / C) : full_loss();
      P[i] = s - h;
      const double lm = per_row ? row_loss(i / C) : full_loss();
      P[i] = s;
      fd.push_back((lp - lm) / (2 * h));
      op.push_back(got[i]);
      ref_sub.push_back(an[i]);
    }
    CHECK_LT(rel_err(ref_sub, fd), 1e-6) << what << " reference vs FD N=" << N << " C=" << C;
    CHECK_LT(rel_err(op, fd), 1e-5) << what << " op vs FD N=" << N << " C=" << C;
  };
  fd_check(X, got_x, an_x, true, "dinp");
  fd_check(G, got_g, an_g, false, "dgamma");
  fd_check(Bt, got_b, an_b, false, "dbeta");
}
}  // namespace

TEST(layernorm_shapes) {
  for (int64_t N : etest::odd_sizes())
    for (int64_t C : etest::odd_sizes()) check_layernorm({N, C, 1e-5f, 0.0f, 1.0f});
}

TEST(layernorm_eps_1e12) {
  for (int64_t N : {1, 7, 33})
    for (int64_t C : etest::odd_sizes()) check_layernorm({N, C, 1e-12f, 0.3f, 2.0f});
}

TEST(layernorm_large_mean) {
  // Values around 1000 with unit spread: a one-pass float variance would lose
  // every digit here, and an fp32-rounded mean would cost ~1e-4 in xhat.
  for (int64_t N : {1, 7, 33})
    for (int64_t C : {7, 33, 129}) {
      check_layernorm({N, C, 1e-12f, 1000.0f, 1.0f});
      check_layernorm({N, C, 1e-5f, -3000.0f, 0.5f});
    }
}

TEST(layernorm_null_grads_and_threads) {
  const int64_t N = 257, C = 129, n = N * C;
  auto x = rand_vec(n, -2.f, 2.f), gamma = rand_vec(C), beta = rand_vec(C), R = rand_vec(n);
  const int saved = electra::num_threads();
  std::vector<float> ref_out, ref_dx, ref_dg, ref_db;
  for (int t : {1, 2}) {
    electra::set_num_threads(t);
    Guarded out(n), mean(N), rstd(N), dx(n, 0.25f), dg(C, 0.5f), db(C, -0.5f);
    electra::cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(),
                                    beta.data(), N, C, 1e-12f);
    electra::cpu::layernorm_backward(dx.data(), dg.data(), db.data(), R.data(), x.data(),
                                     gamma.data(), mean.data(), rstd.data(), N, C);
    CHECK(out.intact() && dx.intact() && dg.intact() && db.intact());
    if (t == 1) {
      ref_out.assign(out.data(), out.data() + n);
      ref_dx.assign(dx.data(), dx.data() + n);
      ref_dg.assign(dg.data(), dg.data() + C);
      ref_db.assign(db.data(), db.data() + C);
    } else {
      CHECK(std::memcmp(out.data(), ref_out.data(), n * 4) == 0) << t << " threads";
      CHECK(std::memcmp(dx.data(), ref_dx.data(), n * 4) == 0) << t << " threads";
      CHECK(std::memcmp(dg.data(), ref_dg.data(), C * 4) == 0) << t << " threads";
      CHECK(std::memcmp(db.data(), ref_db.data(), C * 4) == 0) << t << " threads";
    }
    // Null gradients: each requested one matches the full call.
    Guarded dx2(n, 0.25f), dg2(C, 0.5f), db2(C, -0.5f);
    electra::cpu::layernorm_backward(dx2.data(), nullptr, nullptr, R.data(), x.data(),
                                     gamma.data(), mean.data(), rstd.data(), N, C);
    electra::cpu::layernorm_backward(nullptr, dg2.data(), nullptr, R.data(), x.data(),
                                     gamma.data(), mean.data(), rstd.data(), N, C);
    electra::cpu::layernorm_backward(nullptr, nullptr, db2.data(), R.data(), x.data(),
                                     gamma.data(), mean.data(), rstd.data(), N, C);
    CHECK(dx2.intact() && dg2.intact() && db2.intact());
    CHECK(std::memcmp(dx2.data(), dx.data(), n * 4) == 0);
    CHECK(std::memcmp(dg2.data(), dg.data(), C * 4) == 0);
    CHECK(std::memcmp(db2.data(), db.data(), C * 4) == 0);
  }
  electra::set_num_threads(saved);
}
