// Tests for sgemm (gemm.cpp) and linear_forward / linear_backward (linear.cpp).
// Every result is compared with a float64 reference; outputs live in Guarded
// buffers (NaN-filled, sentinel-fenced) so missed or out-of-bounds writes show.
#include <cmath>
#include <vector>

#include "core/cpu/ops.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace electra {
namespace cpu {
// Testing hook defined in gemm.cpp (not part of ops.h): selects the
// micro-kernel ("avx512", "avx2", "generic"; nullptr = best). Returns nullptr
// when this CPU cannot run it.
const char* sgemm_set_kernel(const char* name);
const char* sgemm_kernel_name();
}  // namespace cpu
}  // namespace electra

namespace {

using electra::cpu::sgemm;

// Every kernel this CPU can run (the portable one always can).
std::vector<const char*> kernels() {
  std::vector<const char*> ks;
  for (const char* k : {"avx512", "avx2", "generic"})
    if (electra::cpu::sgemm_set_kernel(k)) ks.push_back(k);
  electra::cpu::sgemm_set_kernel(nullptr);
  return ks;
}

// Stored shapes of A and B for op(A)[M,K], op(B)[K,N].
struct Mat {
  int64_t rows, cols, ld;
  std::vector<float> v;
  Mat(int64_t r, int64_t c, int64_t pad) : rows(r), cols(c), ld(c + pad), v(size_t(r * (c + pad))) {
    etest::fill_uniform(v.data(), int64_t(v.size()));
  }
};

// The error bound used throughout: max relative error (etest::rel_error,
// scaled by max |ref|) below 1e-5 times the cancellation factor
// max|mag| / max|ref|, where mag is the same float64 sum taken over absolute
// values (|alpha| sum |a||b| + |beta||c|). float32 rounding scales with mag,
// not with the result: a 1x1 dot product that happens to cancel to ~0 would
// otherwise fail with no bug. For the usual tensors the factor is ~1-3.
double tolerance(const std::vector<double>& ref, const std::vector<double>& mag) {
  double r = 1e-30, m = 0;
  for (double x : ref) r = std::fmax(r, std::fabs(x));
  for (double x : mag) m = std::fmax(m, std::fabs(x));
  return 1e-5 * std::fmax(1.0, m / r);
}

// C = alpha * op(A) @ op(B) + beta * C0   (beta == 0: C0 ignored), in float64;
// *mag gets the same with every term in absolute value.
std::vector<double> ref_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                             const Mat& A, const Mat& B, double beta, const float* C0,
                             int64_t ldc, std::vector<double>* mag) {
  std::vector<double> C(static_cast<size_t>(M * N), 0.0), row(static_cast<size_t>(N)),
      arow(static_cast<size_t>(N));
  mag->assign(static_cast<size_t>(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i) {
    std::fill(row.begin(), row.end(), 0.0);
    std::fill(arow.begin(), arow.end(), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      const double a = ta ? A.v[size_t(k * A.ld + i)] : A.v[size_t(i * A.ld + k)];
      for (int64_t j = 0; j < N; ++j) {
        const double b = tb ? B.v[size_t(j * B.ld + k)] : B.v[size_t(k * B.ld + j)];
        row[size_t(j)] += a * b;
        arow[size_t(j)] += std::fabs(a * b);
      }
    }
    for (int64_t j = 0; j < N; ++j) {
      const double c = beta == 0 ? 0.0 : beta * C0[i * ldc + j];
      C[size_t(i * N + j)] = alpha * row[size_t(j)] + c;
      (*mag)[size_t(i * N + j)] = std::fabs(alpha) * arow[size_t(j)] + std::fabs(c);
    }
  }
  return C;
}

// Runs one sgemm case (with the current kernel) and checks it against ref:
// result accuracy, untouched row padding of C, intact guards.
void check_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                int64_t pad, const Mat& A, const Mat& B, const std::vector<float>& C0,
                const std::vector<double>& ref, double tol, const char* kernel) {
  const int64_t ldc = N + pad;
  etest::Guarded C(M * ldc);
  for (int64_t i = 0; i < M * ldc; ++i) C[i] = C0[size_t(i)];  // padding keeps C0's values
  sgemm(ta, tb, M, N, K, alpha, A.v.data(), A.ld, B.v.data(), B.ld, beta, C.data(), ldc);
  std::vector<float> got(size_t(M * N));
  bool pad_ok = true;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) got[size_t(i * N + j)] = C[i * ldc + j];
    for (int64_t j = N; j < ldc; ++j) {
      const float a = C[i * ldc + j], b = C0[size_t(i * ldc + j)];
      if (!(a == b || (std::isnan(a) && std::isnan(b)))) pad_ok = false;
    }
  }
  const double err = etest::rel_error(got.data(), ref.data(), M * N);
  CHECK_LT(err, tol) << kernel << " ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N
                      << " K=" << K << " alpha=" << alpha << " beta=" << beta;
  CHECK(pad_ok) << "C row padding written: " << kernel << " M=" << M << " N=" << N << " K=" << K;
  CHECK(C.intact()) << "out of bounds write: " << kernel << " M=" << M << " N=" << N << " K=" << K;
}

// One shape, all kernels: builds A, B (with row padding), C0 and the
// reference once, then checks every kernel.
void run_shape(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
               int64_t pad, const std::vector<const char*>& ks) {
  Mat A = ta ? Mat(K, M, pad) : Mat(M, K, pad);
  Mat B = tb ? Mat(N, K, pad) : Mat(K, N, pad);
  const int64_t ldc = N + pad;
  std::vector<float> C0(size_t(M * ldc));
  if (beta == 0.f) {
    for (auto& x : C0) x = std::nanf("");  // beta == 0 must ignore C, NaNs included
  } else {
    etest::fill_uniform(C0.data(), int64_t(C0.size()));
  }
  std::vector<double> mag;
  auto ref = ref_gemm(ta, tb, M, N, K, alpha, A, B, beta, C0.data(), ldc, &mag);
  const double tol = tolerance(ref, mag);
  for (const char* k : ks) {
    electra::cpu::sgemm_set_kernel(k);
    check_case(ta, tb, M, N, K, alpha, beta, pad, A, B, C0, ref, tol, k);
  }
  electra::cpu::sgemm_set_kernel(nullptr);
}

}  // namespace

// All four transpose combinations over the odd sizes, every kernel, beta = 0
// into a NaN-filled C, tight strides.
TEST(gemm_transposes_odd_sizes) {
  const auto ks = kernels();
  for (int t = 0; t < 4; ++t)
    for (int64_t M : etest::odd_sizes())
      for (int64_t N : etest::odd_sizes())
        for (int64_t K : etest::odd_sizes()) run_shape(t & 1, t & 2, M, N, K, 1.f, 0.f, 0, ks);
}

// alpha/beta, row strides larger than the widths (padding must stay intact).
TEST(gemm_alpha_beta_strides) {
  const auto ks = kernels();
  const int64_t sz[][3] = {{7, 33, 129}, {33, 7, 1}, {129, 129, 33}, {1, 129, 7}, {40, 70, 300}};
  for (int t = 0; t < 4; ++t)
    for (auto& s : sz) {
      run_shape(t & 1, t & 2, s[0], s[1], s[2], 0.75f, -1.25f, 5, ks);
      run_shape(t & 1, t & 2, s[0], s[1], s[2], -2.f, 1.f, 3, ks);
      run_shape(t & 1, t & 2, s[0], s[1], s[2], 1.5f, 0.f, 11, ks);
    }
}

// Shapes crossing the cache blocks (MC 96..144, KC 256..512, NR up to 32) and
// the thread split, all transposes; plus two wider than NC (2048..4096) and
// one big enough (>= 5e8 flop) to be cut into 2 tasks per thread.
TEST(gemm_block_crossing) {
  const auto ks = kernels();
  for (int t = 0; t < 4; ++t) run_shape(t & 1, t & 2, 257, 300, 515, 1.f, 0.5f, 2, ks);
  run_shape(false, true, 9, 4200, 20, 1.f, 0.f, 0, ks);
  run_shape(true, false, 20, 4133, 9, 1.f, 1.f, 1, ks);
  run_shape(false, true, 515, 500, 1000, 1.f, 0.f, 0, {ks[0]});
}

// Small C with a long K is split along K across threads (partial sums added
// at the end): all transposes, with alpha/beta and NaN-filled C for beta = 0.
TEST(gemm_k_split) {
  const auto ks = kernels();
  for (int t = 0; t < 4; ++t) {
    run_shape(t & 1, t & 2, 37, 20, 3001, 0.5f, 0.f, 1, ks);
    run_shape(t & 1, t & 2, 33, 41, 2050, 1.f, -0.5f, 0, ks);
  }
}

// The result must not depend on the thread count: serial vs the pool's
// default (2-way split on 2 cores). Only counts that do not resize the pool
// are used here: resizing a pool that already ran tasks is unsafe in
// thread_pool.cpp as of this writing (a new worker starts with seen = 0 and
// may run a stale/null task).
TEST(gemm_thread_counts) {
  const int saved = electra::num_threads();
  const auto ks = kernels();
  for (int th : {1, saved}) {
    electra::set_num_threads(th);
    run_shape(false, true, 200, 190, 70, 1.f, 0.f, 0, ks);
    run_shape(true, false, 35, 600, 64, 1.f, 1.f, 0, ks);
    run_shape(false, false, 300, 40, 64, 1.f, 0.f, 0, ks);
  }
  electra::set_num_threads(saved);
}

// K == 0 and alpha == 0: C = beta * C and A/B are not read (BLAS semantics);
// beta == 0 then writes zeros even over NaNs.
TEST(gemm_degenerate) {
  std::vector<float> A(64, std::nanf("")), B(64, std::nanf(""));
  for (float beta : {0.f, 0.5f}) {
    for (int64_t K : {0, 4}) {
      etest::Guarded C(12, beta == 0.f ? std::nanf("") : 2.f);
      sgemm(false, false, 3, 4, K, K == 0 ? 1.f : 0.f, A.data(), 4, B.data(), 4, beta, C.data(), 4);
      bool ok = true;
      for (int i = 0; i < 12; ++i) ok &= C[i] == (beta == 0.f ? 0.f : 1.f);
      CHECK(ok) << "beta=" << beta << " K=" << K;
      CHECK(C.intact());
    }
  }
}

// ------------------------------------------------------------------ linear

namespace {

// out[M,N] = inp @ W^T + b in float64 (*mag: the same over absolute values)
std::vector<double> ref_linear(const std::vector<double>& inp, const std::vector<double>& w,
                               const std::vector<double>* b, int64_t M, int64_t K, int64_t N,
                               std::vector<double>* mag = nullptr) {
  std::vector<double> out(size_t(M * N));
  if (mag) mag->assign(size_t(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = b ? (*b)[size_t(j)] : 0.0, sa = std::fabs(s);
      for (int64_t k = 0; k < K; ++k) {
        const double t = inp[size_t(i * K + k)] * w[size_t(j * K + k)];
        s += t;
        sa += std::fabs(t);
      }
      out[size_t(i * N + j)] = s;
      if (mag) (*mag)[size_t(i * N + j)] = sa;
    }
  return out;
}

std::vector<float> randv(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  etest::fill_uniform(v.data(), n);
  return v;
}
std::vector<double> dbl(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

}  // namespace

TEST(linear_forward_vs_float64) {
  for (int64_t M : etest::odd_sizes())
    for (int64_t K : etest::odd_sizes())
      for (int64_t N : etest::odd_sizes())
        for (bool with_bias : {true, false}) {
          auto inp = randv(M * K), w = randv(N * K), b = randv(N);
          etest::Guarded out(M * N);  // NaN-filled: the forward must overwrite
          electra::cpu::linear_forward(out.data(), inp.data(), w.data(), with_bias ? b.data() : nullptr,
                                       M, K, N);
          auto bd = dbl(b);
          std::vector<double> mag;
          auto ref = ref_linear(dbl(inp), dbl(w), with_bias ? &bd : nullptr, M, K, N, &mag);
          CHECK_LT(etest::rel_error(out.data(), ref.data(), M * N), tolerance(ref, mag))
              << "M=" << M << " K=" << K << " N=" << N << " bias=" << with_bias;
          CHECK(out.intact());
        }
}

// Backward vs the float64 analytic gradients; gradient buffers start with
// random values to check that the op accumulates (+=); null pointers skip.
TEST(linear_backward_vs_float64) {
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 33, 129}, {129, 7, 33}, {33, 129, 7}, {300, 70, 200}};
  for (auto& s : shapes) {
    const int64_t M = s[0], K = s[1], N = s[2];
    auto inp = randv(M * K), w = randv(N * K), dout = randv(M * N);
    auto g_inp0 = randv(M * K), g_w0 = randv(N * K), g_b0 = randv(N);
    // float64 expectations
    std::vector<double> e_inp(dbl(g_inp0)), e_w(dbl(g_w0)), e_b(dbl(g_b0));
    std::vector<double> m_inp(e_inp), m_w(e_w), m_b(e_b);  // magnitudes (see tolerance())
    for (auto* v : {&m_inp, &m_w, &m_b})
      for (auto& x : *v) x = std::fabs(x);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const double d = dout[size_t(i * N + j)];
        e_b[size_t(j)] += d;
        m_b[size_t(j)] += std::fabs(d);
        for (int64_t k = 0; k < K; ++k) {
          e_inp[size_t(i * K + k)] += d * w[size_t(j * K + k)];
          e_w[size_t(j * K + k)] += d * inp[size_t(i * K + k)];
          m_inp[size_t(i * K + k)] += std::fabs(d * w[size_t(j * K + k)]);
          m_w[size_t(j * K + k)] += std::fabs(d * inp[size_t(i * K + k)]);
        }
      }
    for (int mask = 1; mask < 8; ++mask) {  // which gradients are requested
      etest::Guarded gi(M * K), gw(N * K), gb(N);
      for (int64_t i = 0; i < M * K; ++i) gi[i] = g_inp0[size_t(i)];
      for (int64_t i = 0; i < N * K; ++i) gw[i] = g_w0[size_t(i)];
      for (int64_t i = 0; i < N; ++i) gb[i] = g_b0[size_t(i)];
      electra::cpu::linear_backward((mask & 1) ? gi.data() : nullptr, (mask & 2) ? gw.data() : nullptr,
                                    (mask & 4) ? gb.data() : nullptr, dout.data(), inp.data(), w.data(),
                                    M, K, N);
      // Requested: matches the expectation; not requested: untouched.
      CHECK_LT(etest::rel_error(gi.data(), (mask & 1) ? e_inp.data() : dbl(g_inp0).data(), M * K), tolerance(e_inp, m_inp))
          << "dinp M=" << M << " K=" << K << " N=" << N << " mask=" << mask;
      CHECK_LT(etest::rel_error(gw.data(), (mask & 2) ? e_w.data() : dbl(g_w0).data(), N * K), tolerance(e_w, m_w))
          << "dweight M=" << M << " K=" << K << " N=" << N << " mask=" << mask;
      CHECK_LT(etest::rel_error(gb.data(), (mask & 4) ? e_b.data() : dbl(g_b0).data(), N), tolerance(e_b, m_b))
          << "dbias M=" << M << " K=" << K << " N=" << N << " mask=" << mask;
      CHECK(gi.intact() && gw.intact() && gb.intact());
    }
  }
}

// linear_backward_write: dinp written (equal, bit for bit, to linear_backward
// into a zeroed buffer, and NaN-filled old content is ignored); dweight/dbias
// accumulate exactly as linear_backward's.
TEST(linear_backward_write_overwrites_dinp) {
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 33, 129}, {129, 7, 33}, {300, 70, 200}};
  for (auto& s : shapes) {
    const int64_t M = s[0], K = s[1], N = s[2];
    auto inp = randv(M * K), w = randv(N * K), dout = randv(M * N);
    auto g_w0 = randv(N * K), g_b0 = randv(N);
    std::vector<float> ri(size_t(M * K), 0.0f), rw(g_w0), rb(g_b0);
    electra::cpu::linear_backward(ri.data(), rw.data(), rb.data(), dout.data(), inp.data(), w.data(), M, K, N);
    etest::Guarded gi(M * K), gw(N * K), gb(N);  // gi starts NaN
    for (int64_t i = 0; i < N * K; ++i) gw[i] = g_w0[size_t(i)];
    for (int64_t i = 0; i < N; ++i) gb[i] = g_b0[size_t(i)];
    electra::cpu::linear_backward_write(gi.data(), gw.data(), gb.data(), dout.data(), inp.data(), w.data(), M, K, N);
    CHECK(gi.intact() && gw.intact() && gb.intact());
    bool si = true, sw = true, sb = true;
    for (int64_t i = 0; i < M * K; ++i) si &= gi[i] == ri[size_t(i)];
    for (int64_t i = 0; i < N * K; ++i) sw &= gw[i] == rw[size_t(i)];
    for (int64_t i = 0; i < N; ++i) sb &= gb[i] == rb[size_t(i)];
    CHECK(si && sw && sb) << "M=" << M << " K=" << K << " N=" << N << " dinp " << si << " dweight " << sw
                          << " dbias " << sb;
    // nullptr dinp: only the parameter gradients.
    etest::Guarded gw2(N * K);
    for (int64_t i = 0; i < N * K; ++i) gw2[i] = g_w0[size_t(i)];
    electra::cpu::linear_backward_write(nullptr, gw2.data(), nullptr, dout.data(), inp.data(), w.data(), M, K, N);
    bool s2 = true;
    for (int64_t i = 0; i < N * K; ++i) s2 &= gw2[i] == rw[size_t(i)];
    CHECK(s2 && gw2.intact());
  }
}

// Backward vs central finite differences of L = sum(out * R), the loss
// evaluated in float64 from the (float) inputs, so dL/dout = R. L is linear
// in each single parameter, so the central difference is exact up to float64
// rounding (~1e-16 * |L| / h); what remains is the float32 GEMM error of the
// op's gradients, ~1e-6 relative. Tolerance: |g - fd| <= 1e-4 * max(1, |fd|).
TEST(linear_backward_finite_differences) {
  const int64_t M = 13, K = 37, N = 19;
  auto inp = randv(M * K), w = randv(N * K), b = randv(N), R = randv(M * N);
  auto loss = [&](const std::vector<double>& x, const std::vector<double>& ww, const std::vector<double>& bb) {
    auto out = ref_linear(x, ww, &bb, M, K, N);
    double L = 0;
    for (int64_t i = 0; i < M * N; ++i) L += out[size_t(i)] * R[size_t(i)];
    return L;
  };
  // Gradients from the op (starting at zero here; accumulation is tested above).
  std::vector<float> gi(size_t(M * K), 0.f), gw(size_t(N * K), 0.f), gb(size_t(N), 0.f);
  electra::cpu::linear_backward(gi.data(), gw.data(), gb.data(), R.data(), inp.data(), w.data(), M, K, N);
  const double h = 1e-3;
  std::vector<double> x = dbl(inp), ww = dbl(w), bb = dbl(b);
  auto fd = [&](std::vector<double>& p, int64_t idx) {
    const double keep = p[size_t(idx)];
    p[size_t(idx)] = keep + h;
    const double lp = loss(x, ww, bb);
    p[size_t(idx)] = keep - h;
    const double lm = loss(x, ww, bb);
    p[size_t(idx)] = keep;
    return (lp - lm) / (2 * h);
  };
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t ii = etest::rand_int(0, M * K - 1), iw = etest::rand_int(0, N * K - 1),
                  ib = etest::rand_int(0, N - 1);
    const double fi = fd(x, ii), fw = fd(ww, iw), fb = fd(bb, ib);
    CHECK(std::fabs(gi[size_t(ii)] - fi) <= 1e-4 * std::fmax(1.0, std::fabs(fi)))
        << "dinp[" << ii << "] " << gi[size_t(ii)] << " vs fd " << fi;
    CHECK(std::fabs(gw[size_t(iw)] - fw) <= 1e-4 * std::fmax(1.0, std::fabs(fw)))
        << "dweight[" << iw << "] " << gw[size_t(iw)] << " vs fd " << fw;
    CHECK(std::fabs(gb[size_t(ib)] - fb) <= 1e-4 * std::fmax(1.0, std::fabs(fb)))
        << "dbias[" << ib << "] " << gb[size_t(ib)] << " vs fd " << fb;
  }
  // The op's own forward agrees too: FD of sum(linear_forward(...) * R) with a
  // large step (exact for a linear function; float32 forward error ~1e-6 * |L|
  // over 2h = 0.5 leaves well under the 1e-3 * max(1,|fd|) tolerance used here).
  auto loss32 = [&](const std::vector<float>& xi, const std::vector<float>& wi, const std::vector<float>& bi) {
    std::vector<float> out(size_t(M * N));
    electra::cpu::linear_forward(out.data(), xi.data(), wi.data(), bi.data(), M, K, N);
    double L = 0;
    for (int64_t i = 0; i < M * N; ++i) L += double(out[size_t(i)]) * R[size_t(i)];
    return L;
  };
  const float H = 0.25f;
  for (int trial = 0; trial < 3; ++trial) {
    const int64_t iw = etest::rand_int(0, N * K - 1);
    auto wp = w, wm = w;
    wp[size_t(iw)] += H;
    wm[size_t(iw)] -= H;
    const double f = (loss32(inp, wp, b) - loss32(inp, wm, b)) / (double(wp[size_t(iw)]) - wm[size_t(iw)]);
    CHECK(std::fabs(gw[size_t(iw)] - f) <= 1e-3 * std::fmax(1.0, std::fabs(f)))
        << "float forward fd dweight[" << iw << "] " << gw[size_t(iw)] << " vs " << f;
  }
}
