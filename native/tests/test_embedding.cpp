// Embedding sum (word + position + type) and gather_rows: forwards and the
// scatter-add backwards against float64 references, central finite
// differences of L = sum(out * R) on a float64 forward, repeated ids, null
// gradients and bit-exact thread-count independence of the scatter-adds.
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
using etest::bit_equal;
using etest::delta;

namespace {
std::vector<int32_t> rand_ids(int64_t n, int64_t hi) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<int32_t>(etest::rand_int(0, hi - 1));
  return v;
}
Guarded guarded_copy(const std::vector<float>& v) {
  Guarded g(static_cast<int64_t>(v.size()));
  std::copy(v.begin(), v.end(), g.data());
  return g;
}

// FD tolerance for both ops: L = sum(out * R) is linear in every weight, so
// the float64 central difference (h = 1e-3) equals the gradient up to double
// rounding (~1e-12 relative); the 1e-5 bound is the fp32 op's own rounding
// (sums of up to B*S terms, added into a random starting gradient).
constexpr double kTol = 1e-5;

void check_embedding(int64_t B, int64_t S, int64_t E, int64_t V, int64_t T) {
  const int64_t N = B * S, P = S + 3;  // wpe has more rows than S: extra rows untouched
  auto ids = rand_ids(N, V), types = rand_ids(N, T);
  auto wte = rand_vec(V * E), wpe = rand_vec(P * E), wtt = rand_vec(T * E), R = rand_vec(N * E);
  Guarded out(N * E);
  electra::cpu::embedding_forward(out.data(), ids.data(), types.data(), wte.data(), wpe.data(),
                                  wtt.data(), B, S, E);
  CHECK(out.intact());
  CHECK(etest::all_finite(out.data(), N * E));
  std::vector<double> ref(N * E);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t e = 0; e < E; ++e)
      ref[r * E + e] = double(wte[ids[r] * E + e]) + double(wpe[(r % S) * E + e]) +
                       double(wtt[types[r] * E + e]);
  CHECK_LT(etest::rel_error(out.data(), ref.data(), N * E), 1e-5)
      << "B=" << B << " S=" << S << " E=" << E;

  auto g_te0 = rand_vec(V * E), g_pe0 = rand_vec(P * E), g_tt0 = rand_vec(T * E);
  Guarded g_te = guarded_copy(g_te0), g_pe = guarded_copy(g_pe0), g_tt = guarded_copy(g_tt0);
  electra::cpu::embedding_backward(g_te.data(), g_pe.data(), g_tt.data(), R.data(), ids.data(),
                                   types.data(), B, S, E);
  CHECK(g_te.intact() && g_pe.intact() && g_tt.intact());
  CHECK(etest::all_finite(g_te.data(), V * E) && etest::all_finite(g_pe.data(), P * E) &&
        etest::all_finite(g_tt.data(), T * E));
  auto got_te = delta(g_te, g_te0), got_pe = delta(g_pe, g_pe0), got_tt = delta(g_tt, g_tt0);
  std::vector<double> an_te(V * E, 0.0), an_pe(P * E, 0.0), an_tt(T * E, 0.0);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t e = 0; e < E; ++e) {
      an_te[ids[r] * E + e] += R[r * E + e];
      an_pe[(r % S) * E + e] += R[r * E + e];
      an_tt[types[r] * E + e] += R[r * E + e];
    }
  CHECK_LT(rel_err(got_te, an_te), kTol) << "dwte B=" << B << " S=" << S << " E=" << E;
  CHECK_LT(rel_err(got_pe, an_pe), kTol) << "dwpe B=" << B << " S=" << S << " E=" << E;
  CHECK_LT(rel_err(got_tt, an_tt), kTol) << "dwtt B=" << B << " S=" << S << " E=" << E;
  bool tail_untouched = true;
  for (int64_t i = S * E; i < P * E; ++i) tail_untouched &= g_pe[i] == g_pe0[i];
  CHECK(tail_untouched) << "wpe rows >= S must not change";

  // Central differences on a float64 forward.
  std::vector<double> TE(wte.begin(), wte.end()), PE(wpe.begin(), wpe.end()),
      TT(wtt.begin(), wtt.end());
  auto loss = [&]() {
    double L = 0;
    for (int64_t r = 0; r < N; ++r)
      for (int64_t e = 0; e < E; ++e)
        L += (TE[ids[r] * E + e] + PE[(r % S) * E + e] + TT[types[r] * E + e]) * R[r * E + e];
    return L;
  };
  const double h = 1e-3;
  auto fd_check = [&](std::vector<double>& W, const std::vector<double>& got, const char* what) {
    std::vector<double> fd, op;
    for (int64_t i : fd_indices(static_cast<int64_t>(W.size()))) {
      const double s = W[i];
      W[i] = s + h;
      const double lp = loss();
      W[i] = s - h;
      const double lm = loss();
      W[i] = s;
      fd.push_back((lp - lm) / (2 * h));
      op.push_back(got[i]);
    }
    CHECK_LT(rel_err(op, fd), kTol) << what << " vs FD B=" << B << " S=" << S << " E=" << E;
  };
  if (N * E <= 20000) {  // FD costs a full forward per evaluation
    fd_check(TE, got_te, "dwte");
    fd_check(PE, got_pe, "dwpe");
    fd_check(TT, got_tt, "dwtt");
  }
}

void check_gather(int64_t R, int64_t C, int64_t Nin) {
  auto inp = rand_vec(Nin * C), Rw = rand_vec(R * C);
  auto rows = rand_ids(R, Nin);  // repeats allowed: the backward sums them
  Guarded out(R * C);
  electra::cpu::gather_rows(out.data(), inp.data(), rows.data(), R, C);
  CHECK(out.intact());
  CHECK(etest::all_finite(out.data(), R * C));
  std::vector<double> ref(R * C);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) ref[r * C + c] = inp[rows[r] * C + c];
  CHECK_LT(etest::rel_error(out.data(), ref.data(), R * C), 1e-5);

  auto g0 = rand_vec(Nin * C);
  Guarded g = guarded_copy(g0);
  electra::cpu::gather_rows_backward(g.data(), Rw.data(), rows.data(), R, C);
  CHECK(g.intact());
  CHECK(etest::all_finite(g.data(), Nin * C));
  auto got = delta(g, g0);
  std::vector<double> an(Nin * C, 0.0);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) an[rows[r] * C + c] += Rw[r * C + c];
  CHECK_LT(rel_err(got, an), kTol) << "R=" << R << " C=" << C;

  std::vector<double> X(inp.begin(), inp.end()), fd, op;
  auto loss = [&]() {
    double L = 0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) L += X[rows[r] * C + c] * Rw[r * C + c];
    return L;
  };
  const double h = 1e-3;
  for (int64_t i : fd_indices(Nin * C)) {
    const double s = X[i];
    X[i] = s + h;
    const double lp = loss();
    X[i] = s - h;
    const double lm = loss();
    X[i] = s;
    fd.push_back((lp - lm) / (2 * h));
    op.push_back(got[i]);
  }
  CHECK_LT(rel_err(op, fd), kTol) << "gather vs FD R=" << R << " C=" << C;
}
}  // namespace

TEST(embedding_shapes) {
  for (int64_t B : {1, 7})
    for (int64_t S : etest::odd_sizes())
      for (int64_t E : etest::odd_sizes()) {
        check_embedding(B, S, E, 5, 2);    // few ids: heavy repetition
        check_embedding(B, S, E, 301, 1);  // many ids, one type
      }
  check_embedding(3, 129, 257, 11, 3);  // big enough to be threaded
}

TEST(embedding_null_grads_and_threads) {
  const int64_t B = 4, S = 129, E = 129, V = 7, T = 2, N = B * S;
  auto ids = rand_ids(N, V), types = rand_ids(N, T);
  auto R = rand_vec(N * E), wte = rand_vec(V * E), wpe = rand_vec(S * E), wtt = rand_vec(T * E);
  const int saved = electra::num_threads();
  std::vector<float> ref_te, ref_pe, ref_tt, ref_out;
  for (int t : {1, 2}) {
    electra::set_num_threads(t);
    Guarded out(N * E), te(V * E, 0.5f), pe(S * E, 0.5f), tt(T * E, 0.5f);
    electra::cpu::embedding_forward(out.data(), ids.data(), types.data(), wte.data(), wpe.data(),
                                    wtt.data(), B, S, E);
    electra::cpu::embedding_backward(te.data(), pe.data(), tt.data(), R.data(), ids.data(),
                                     types.data(), B, S, E);
    CHECK(out.intact() && te.intact() && pe.intact() && tt.intact());
    if (t == 1) {
      ref_out.assign(out.data(), out.data() + N * E);
      ref_te.assign(te.data(), te.data() + V * E);
      ref_pe.assign(pe.data(), pe.data() + S * E);
      ref_tt.assign(tt.data(), tt.data() + T * E);
    } else {
      CHECK(bit_equal(out.data(), ref_out.data(), N * E)) << t << " threads";
      CHECK(bit_equal(te.data(), ref_te.data(), V * E)) << t << " threads";
      CHECK(bit_equal(pe.data(), ref_pe.data(), S * E)) << t << " threads";
      CHECK(bit_equal(tt.data(), ref_tt.data(), T * E)) << t << " threads";
    }
    // Each gradient alone (the others nullptr) matches the full call.
    Guarded te2(V * E, 0.5f), pe2(S * E, 0.5f), tt2(T * E, 0.5f);
    electra::cpu::embedding_backward(te2.data(), nullptr, nullptr, R.data(), ids.data(),
                                     types.data(), B, S, E);
    electra::cpu::embedding_backward(nullptr, pe2.data(), nullptr, R.data(), ids.data(),
                                     types.data(), B, S, E);
    electra::cpu::embedding_backward(nullptr, nullptr, tt2.data(), R.data(), ids.data(),
                                     types.data(), B, S, E);
    CHECK(te2.intact() && pe2.intact() && tt2.intact());
    CHECK(bit_equal(te2.data(), te.data(), V * E));
    CHECK(bit_equal(pe2.data(), pe.data(), S * E));
    CHECK(bit_equal(tt2.data(), tt.data(), T * E));
  }
  electra::set_num_threads(saved);
}

TEST(gather_rows_shapes) {
  for (int64_t R : etest::odd_sizes())
    for (int64_t C : etest::odd_sizes()) {
      check_gather(R, C, R + 5);      // some repeats
      check_gather(R, C, 2);          // heavy repeats
    }
  check_gather(1000, 257, 600);  // big enough to be threaded
}

TEST(gather_rows_threads) {
  const int64_t R = 2048, C = 129, Nin = 300;
  auto inp = rand_vec(Nin * C), dout = rand_vec(R * C);
  auto rows = rand_ids(R, Nin);
  const int saved = electra::num_threads();
  std::vector<float> ref_out, ref_g;
  for (int t : {1, 2}) {
    electra::set_num_threads(t);
    Guarded out(R * C), g(Nin * C, 0.5f);
    electra::cpu::gather_rows(out.data(), inp.data(), rows.data(), R, C);
    electra::cpu::gather_rows_backward(g.data(), dout.data(), rows.data(), R, C);
    CHECK(out.intact() && g.intact());
    if (t == 1) {
      ref_out.assign(out.data(), out.data() + R * C);
      ref_g.assign(g.data(), g.data() + Nin * C);
    } else {
      CHECK(bit_equal(out.data(), ref_out.data(), R * C)) << t << " threads";
      CHECK(bit_equal(g.data(), ref_g.data(), Nin * C)) << t << " threads";
    }
  }
  electra::set_num_threads(saved);
}
