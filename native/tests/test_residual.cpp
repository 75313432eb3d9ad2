// residual_forward / residual_backward against float64 references and central
// finite differences of L = sum(out * R) (computed on a float64 forward).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu/ops.h"
#include "test_util.h"

using etest::Guarded;

using etest::rand_vec;
using etest::rel_err;
using etest::delta;

namespace {
// Gradient delta (after - before) of an accumulating op, in double.
}  // namespace

TEST(residual_forward_backward) {
  for (int64_t rows : etest::odd_sizes())
    for (int64_t cols : etest::odd_sizes()) {
      const int64_t n = rows * cols;
      auto a = rand_vec(n), b = rand_vec(n), R = rand_vec(n);
      Guarded out(n);
      electra::cpu::residual_forward(out.data(), a.data(), b.data(), n);
      CHECK(out.intact());
      CHECK(etest::all_finite(out.data(), n));
      std::vector<double> ref(n);
      for (int64_t i = 0; i < n; ++i) ref[i] = double(a[i]) + double(b[i]);
      CHECK_LT(etest::rel_error(out.data(), ref.data(), n), 1e-5) << "n=" << n;

      // Backward: dout = R; grads start random (accumulation).
      Guarded da(n), db(n);
      auto da0 = rand_vec(n), db0 = rand_vec(n);
      std::copy(da0.begin(), da0.end(), da.data());
      std::copy(db0.begin(), db0.end(), db.data());
      electra::cpu::residual_backward(da.data(), db.data(), R.data(), n);
      CHECK(da.intact() && db.intact());
      CHECK(etest::all_finite(da.data(), n) && etest::all_finite(db.data(), n));
      std::vector<double> ref_d(R.begin(), R.end());  // analytic: dL/da = dL/db = R
      CHECK_LT(rel_err(delta(da, da0), ref_d), 1e-5);
      CHECK_LT(rel_err(delta(db, db0), ref_d), 1e-5);

      // Central differences on the float64 forward. L is linear, so the FD
      // is exact up to double rounding: tolerance 1e-5 covers the fp32
      // accumulation into the random starting gradient.
      auto loss = [&](const std::vector<double>& A, const std::vector<double>& Bv) {
        double L = 0;
        for (int64_t i = 0; i < n; ++i) L += (A[i] + Bv[i]) * R[i];
        return L;
      };
      std::vector<double> A(a.begin(), a.end()), Bd(b.begin(), b.end());
      std::vector<double> fd_a, fd_b, op_a, op_b;
      auto dA = delta(da, da0), dB = delta(db, db0);
      const double h = 1e-3;
      for (int64_t i = 0; i < n; i += (n > 200 ? n / 50 : 1)) {
        double s = A[i];
        A[i] = s + h; double lp = loss(A, Bd);
        A[i] = s - h; double lm = loss(A, Bd);
        A[i] = s;
        fd_a.push_back((lp - lm) / (2 * h));
        op_a.push_back(dA[i]);
        s = Bd[i];
        Bd[i] = s + h; lp = loss(A, Bd);
        Bd[i] = s - h; lm = loss(A, Bd);
        Bd[i] = s;
        fd_b.push_back((lp - lm) / (2 * h));
        op_b.push_back(dB[i]);
      }
      CHECK_LT(rel_err(op_a, fd_a), 1e-5);
      CHECK_LT(rel_err(op_b, fd_b), 1e-5);
    }
}

TEST(residual_aliasing_and_null_grads) {
  const int64_t n = 129 * 33;
  auto a = rand_vec(n), b = rand_vec(n);
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = double(a[i]) + double(b[i]);
  Guarded x(n), y(n);
  std::copy(a.begin(), a.end(), x.data());
  std::copy(b.begin(), b.end(), y.data());
  electra::cpu::residual_forward(x.data(), x.data(), b.data(), n);  // out aliases a
  CHECK(x.intact());
  CHECK_LT(etest::rel_error(x.data(), ref.data(), n), 1e-5);
  electra::cpu::residual_forward(y.data(), a.data(), y.data(), n);  // out aliases b
  CHECK(y.intact());
  CHECK_LT(etest::rel_error(y.data(), ref.data(), n), 1e-5);

  Guarded da(n, 1.0f);
  electra::cpu::residual_backward(da.data(), nullptr, b.data(), n);
  CHECK(da.intact());
  for (int64_t i = 0; i < n; ++i) ref[i] = 1.0 + double(b[i]);
  CHECK_LT(etest::rel_error(da.data(), ref.data(), n), 1e-6);
  Guarded db(n, 2.0f);
  electra::cpu::residual_backward(nullptr, db.data(), b.data(), n);
  CHECK(db.intact());
  for (int64_t i = 0; i < n; ++i) ref[i] = 2.0 + double(b[i]);
  CHECK_LT(etest::rel_error(db.data(), ref.data(), n), 1e-6);
}
