// attention_forward / attention_backward_write vs a float64 reference written here,
// and the backward vs central finite differences (float64) of
// L = sum(out ⊙ R). Odd shapes, padded sequences (mask zeros at the end), a
// row stride ld > NH*hd, attention dropout p = 0 and p > 0 (the FD runs the
// reference forward with the same seed/offset, so the mask is constant).
//
// Tolerances (relative to the largest magnitude of the reference tensor):
//   forward out and probs vs float64:             < 1e-5
//   backward dq/dk/dv vs float64 analytic:        < 1e-5
//   backward dq/dk/dv vs float64 central FD:      < 1e-4  (h = 1e-4; FD
//     truncation ~h^2 and the op's fp32 rounding are both far below that)
#include <cmath>
#include <vector>

#include "core/cpu/ops.h"
#include "core/philox.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace {

using electra::cpu::attention_backward_write;
using electra::cpu::attention_forward;

struct Cfg {
  int64_t B, S, NH, hd, ld;
  float p;
  uint64_t seed, offset;
  std::vector<int32_t> mask;  // [B,S]
};

// Dropout factor for flat probs index idx: 0 or 1/(1-p) (1 when p == 0).
double drop_factor(const Cfg& c, uint64_t idx) {
  if (c.p == 0.f) return 1.0;
  return electra::philox_uniform(c.seed, c.offset, idx) >= c.p ? 1.0 / (1.0 - double(c.p)) : 0.0;
}

// Float64 forward: out [B,S,NH*hd], probs [B,NH,S,S] (pre-dropout softmax).
void ref_forward(const Cfg& c, const std::vector<double>& q, const std::vector<double>& k,
                 const std::vector<double>& v, std::vector<double>& out,
                 std::vector<double>& probs) {
  const int64_t B = c.B, S = c.S, NH = c.NH, hd = c.hd, ld = c.ld, ldo = NH * hd;
  out.assign(B * S * ldo, 0.0);
  probs.assign(B * NH * S * S, 0.0);
  const double scale = 1.0 / std::sqrt(double(hd));
  std::vector<double> s(S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < S; ++i) {
        double mx = -1e300;
        bool any = false;
        for (int64_t j = 0; j < S; ++j) {
          if (!c.mask[b * S + j]) continue;
          double d = 0;
          for (int64_t e = 0; e < hd; ++e)
            d += q[(b * S + i) * ld + h * hd + e] * k[(b * S + j) * ld + h * hd + e];
          s[j] = d * scale;
          mx = std::max(mx, s[j]);
          any = true;
        }
        if (!any) continue;  // fully padded sequence: zero probs, zero output
        double sum = 0;
        for (int64_t j = 0; j < S; ++j)
          if (c.mask[b * S + j]) sum += std::exp(s[j] - mx);
        const int64_t prow = ((b * NH + h) * S + i) * S;
        for (int64_t j = 0; j < S; ++j) {
          if (!c.mask[b * S + j]) continue;
          const double P = std::exp(s[j] - mx) / sum;
          probs[prow + j] = P;
          const double w = P * drop_factor(c, prow + j);
          for (int64_t e = 0; e < hd; ++e)
            out[(b * S + i) * ldo + h * hd + e] += w * v[(b * S + j) * ld + h * hd + e];
        }
      }
}

// Float64 analytic backward (fresh gradients, not accumulated).
void ref_backward(const Cfg& c, const std::vector<double>& q, const std::vector<double>& k,
                  const std::vector<double>& v, const std::vector<double>& dout,
                  std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv) {
  const int64_t B = c.B, S = c.S, NH = c.NH, hd = c.hd, ld = c.ld, ldo = NH * hd;
  std::vector<double> out, probs;
  ref_forward(c, q, k, v, out, probs);
  dq.assign(B * S * ld, 0.0);
  dk.assign(B * S * ld, 0.0);
  dv.assign(B * S * ld, 0.0);
  const double scale = 1.0 / std::sqrt(double(hd));
  std::vector<double> dP(S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < S; ++i) {
        const int64_t prow = ((b * NH + h) * S + i) * S;
        const double* go = &dout[(b * S + i) * ldo + h * hd];
        double rs = 0;
        for (int64_t j = 0; j < S; ++j) {
          const double f = drop_factor(c, prow + j), P = probs[prow + j];
          double d = 0;
          for (int64_t e = 0; e < hd; ++e) {
            d += go[e] * v[(b * S + j) * ld + h * hd + e];
            dv[(b * S + j) * ld + h * hd + e] += P * f * go[e];
          }
          dP[j] = d * f;
          rs += dP[j] * P;
        }
        for (int64_t j = 0; j < S; ++j) {
          const double dS = probs[prow + j] * (dP[j] - rs) * scale;
          for (int64_t e = 0; e < hd; ++e) {
            dq[(b * S + i) * ld + h * hd + e] += dS * k[(b * S + j) * ld + h * hd + e];
            dk[(b * S + j) * ld + h * hd + e] += dS * q[(b * S + i) * ld + h * hd + e];
          }
        }
      }
}

double max_rel(const std::vector<double>& a, const std::vector<double>& b,
               const std::vector<int64_t>& idx) {
  double num = 0, den = 1e-30;
  for (int64_t i : idx) {
    num = std::fmax(num, std::fabs(a[i] - b[i]));
    den = std::fmax(den, std::fabs(b[i]));
  }
  return num / den;
}

// Padding: sequence 0 full, the others a random length in [1, S-1] (when S > 1).
std::vector<int32_t> make_mask(int64_t B, int64_t S) {
  std::vector<int32_t> m(B * S, 1);
  for (int64_t b = 1; b < B && S > 1; ++b) {
    const int64_t len = etest::rand_int(1, S - 1);
    for (int64_t j = len; j < S; ++j) m[b * S + j] = 0;
  }
  return m;
}

void run_case(Cfg c, int64_t fd_per_tensor) {
  const int64_t B = c.B, S = c.S, NH = c.NH, hd = c.hd, ld = c.ld, ldo = NH * hd;
  const int64_t nin = B * S * ld, nout = B * S * ldo, np = B * NH * S * S;
  std::vector<float> q(nin), k(nin), v(nin), R(nout);
  etest::fill_uniform(q.data(), nin, -2.f, 2.f);
  etest::fill_uniform(k.data(), nin, -2.f, 2.f);
  etest::fill_uniform(v.data(), nin);
  etest::fill_uniform(R.data(), nout);
  std::vector<double> qd(q.begin(), q.end()), kd(k.begin(), k.end()), vd(v.begin(), v.end()),
      Rd(R.begin(), R.end());
  std::ostringstream tag;
  tag << " [B=" << B << " S=" << S << " NH=" << NH << " hd=" << hd << " ld=" << ld
      << " p=" << c.p << "]";

  // ---- forward
  etest::Guarded out(nout), probs(np);
  attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), ld, c.mask.data(), B,
                    S, NH, hd, c.p, c.seed, c.offset);
  CHECK(out.intact()) << tag.str();
  CHECK(probs.intact()) << tag.str();
  CHECK(etest::all_finite(out.data(), nout)) << tag.str();
  CHECK(etest::all_finite(probs.data(), np)) << tag.str();
  std::vector<double> out_ref, probs_ref;
  ref_forward(c, qd, kd, vd, out_ref, probs_ref);
  CHECK_LT(etest::rel_error(out.data(), out_ref.data(), nout), 1e-5) << "out" << tag.str();
  CHECK_LT(etest::rel_error(probs.data(), probs_ref.data(), np), 1e-5) << "probs" << tag.str();
  // Padded keys get probability exactly 0.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < S; ++j)
      if (!c.mask[b * S + j])
        for (int64_t h = 0; h < NH; ++h)
          for (int64_t i = 0; i < S; ++i)
            CHECK(probs[((b * NH + h) * S + i) * S + j] == 0.0f) << tag.str();

  // ---- backward: gradients start non-zero to check that they are written
  etest::Guarded dq(nin), dk(nin), dv(nin);
  etest::fill_uniform(dq.data(), nin, -0.5f, 0.5f);
  etest::fill_uniform(dk.data(), nin, -0.5f, 0.5f);
  etest::fill_uniform(dv.data(), nin, -0.5f, 0.5f);
  const std::vector<double> dq0 = dq.as_double(), dk0 = dk.as_double(), dv0 = dv.as_double();
  attention_backward_write(dq.data(), dk.data(), dv.data(), R.data(), probs.data(), q.data(), k.data(),
                     v.data(), ld, c.mask.data(), B, S, NH, hd, c.p, c.seed, c.offset);
  CHECK(dq.intact() && dk.intact() && dv.intact()) << tag.str();
  CHECK(etest::all_finite(dq.data(), nin) && etest::all_finite(dk.data(), nin) &&
        etest::all_finite(dv.data(), nin))
      << tag.str();

  std::vector<double> gq(nin), gk(nin), gv(nin);  // what the op wrote
  for (int64_t i = 0; i < nin; ++i) {
    gq[i] = double(dq[i]);
    gk[i] = double(dk[i]);
    gv[i] = double(dv[i]);
  }
  std::vector<int64_t> used, unused;  // columns < NH*hd are used; the rest is row padding
  for (int64_t r = 0; r < B * S; ++r)
    for (int64_t col = 0; col < ld; ++col) (col < ldo ? used : unused).push_back(r * ld + col);
  for (int64_t i : unused)
    CHECK(dq[i] == float(dq0[i]) && dk[i] == float(dk0[i]) && dv[i] == float(dv0[i]))
        << "row padding column written" << tag.str();

  std::vector<double> rq, rk, rv;
  ref_backward(c, qd, kd, vd, Rd, rq, rk, rv);
  CHECK_LT(max_rel(gq, rq, used), 1e-5) << "dq" << tag.str();
  CHECK_LT(max_rel(gk, rk, used), 1e-5) << "dk" << tag.str();
  CHECK_LT(max_rel(gv, rv, used), 1e-5) << "dv" << tag.str();

  // ---- central finite differences of L = sum(out ⊙ R), float64
  auto loss = [&](const std::vector<double>& a, const std::vector<double>& b2,
                  const std::vector<double>& c2) {
    std::vector<double> o, pr;
    ref_forward(c, a, b2, c2, o, pr);
    double L = 0;
    for (int64_t i = 0; i < nout; ++i) L += o[i] * Rd[i];
    return L;
  };
  std::vector<int64_t> pick = used;
  if (int64_t(pick.size()) > fd_per_tensor) {
    std::vector<int64_t> sub;
    for (int64_t n = 0; n < fd_per_tensor; ++n)
      sub.push_back(pick[etest::rand_int(0, int64_t(pick.size()) - 1)]);
    pick = sub;
  }
  const double h = 1e-4;
  for (int which = 0; which < 3; ++which) {
    std::vector<double> fd(nin, 0.0);
    std::vector<double>& x = which == 0 ? qd : which == 1 ? kd : vd;
    for (int64_t i : pick) {
      const double x0 = x[i];
      x[i] = x0 + h;
      const double Lp = loss(qd, kd, vd);
      x[i] = x0 - h;
      const double Lm = loss(qd, kd, vd);
      x[i] = x0;
      fd[i] = (Lp - Lm) / (2 * h);
    }
    const std::vector<double>& g = which == 0 ? gq : which == 1 ? gk : gv;
    // Scale by the whole analytic gradient so a pick of near-zero entries is fair.
    const std::vector<double>& ref = which == 0 ? rq : which == 1 ? rk : rv;
    double num = 0, den = 1e-30;
    for (int64_t i : pick) num = std::fmax(num, std::fabs(g[i] - fd[i]));
    for (int64_t i : used) den = std::fmax(den, std::fabs(ref[i]));
    CHECK_LT(num / den, 1e-4) << "FD d" << "qkv"[which] << tag.str();
  }
}

}  // namespace

TEST(attention_forward_backward_vs_float64_and_fd) {
  struct Shape {
    int64_t B, S, NH, hd, ldpad;
    float p;
  };
  const Shape shapes[] = {
      {1, 1, 1, 1, 0, 0.f},    {2, 7, 2, 7, 3, 0.f},   {2, 7, 3, 1, 5, 0.1f},
      {1, 7, 1, 33, 2, 0.25f}, {3, 33, 2, 7, 1, 0.f},  {2, 33, 2, 33, 4, 0.1f},
      {2, 1, 2, 7, 1, 0.5f},   {2, 7, 2, 129, 1, 0.f}, {1, 129, 1, 7, 0, 0.1f},
  };
  uint64_t seed = 77;
  for (const Shape& s : shapes) {
    Cfg c{s.B, s.S, s.NH, s.hd, s.NH * s.hd + s.ldpad, s.p, seed++, 3 * seed + 5,
          make_mask(s.B, s.S)};
    run_case(c, 40);
  }
}

TEST(attention_fully_padded_sequence) {
  // Sequence 1 has no real token: its rows get zero probs and zero output,
  // and contribute nothing to any gradient.
  Cfg c{2, 7, 2, 7, 2 * 7 + 1, 0.1f, 5, 9, make_mask(2, 7)};
  for (int64_t j = 0; j < 7; ++j) c.mask[7 + j] = 0;
  run_case(c, 1000);
  const int64_t n = 2 * 7 * 15;
  std::vector<float> q(n), k(n), v(n);
  etest::fill_uniform(q.data(), n);
  etest::fill_uniform(k.data(), n);
  etest::fill_uniform(v.data(), n);
  etest::Guarded out(2 * 7 * 14), probs(2 * 2 * 7 * 7);
  attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), 15, c.mask.data(), 2,
                    7, 2, 7, c.p, c.seed, c.offset);
  for (int64_t i = 7 * 14; i < 2 * 7 * 14; ++i) CHECK(out[i] == 0.0f);
  for (int64_t i = 2 * 7 * 7; i < 2 * 2 * 7 * 7; ++i) CHECK(probs[i] == 0.0f);
}

TEST(attention_dropout_uses_seed_offset_and_is_thread_independent) {
  const int64_t B = 2, S = 33, NH = 3, hd = 7, ld = NH * hd + 2;
  const int64_t nin = B * S * ld, nout = B * S * NH * hd, np = B * NH * S * S;
  std::vector<float> q(nin), k(nin), v(nin);
  etest::fill_uniform(q.data(), nin);
  etest::fill_uniform(k.data(), nin);
  etest::fill_uniform(v.data(), nin);
  const std::vector<int32_t> mask = make_mask(B, S);
  const int saved = electra::num_threads();
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2}) {
    electra::set_num_threads(threads);
    etest::Guarded out(nout), probs(np), dq(nin, 0.25f);
    attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), ld, mask.data(), B,
                      S, NH, hd, 0.2f, 11, 12);
    attention_backward_write(dq.data(), nullptr, nullptr, out.data(), probs.data(), q.data(), k.data(),
                       v.data(), ld, mask.data(), B, S, NH, hd, 0.2f, 11, 12);
    CHECK(out.intact() && probs.intact() && dq.intact());
    outs.emplace_back(out.data(), out.data() + nout);
    outs.emplace_back(dq.data(), dq.data() + nin);
  }
  electra::set_num_threads(saved);
  CHECK(outs[0] == outs[2]) << "forward differs between 1 and 2 threads";
  CHECK(outs[1] == outs[3]) << "backward differs between 1 and 2 threads";
  // Another offset draws another mask.
  etest::Guarded out2(nout), probs2(np);
  attention_forward(out2.data(), probs2.data(), q.data(), k.data(), v.data(), ld, mask.data(), B,
                    S, NH, hd, 0.2f, 11, 13);
  CHECK(std::vector<float>(out2.data(), out2.data() + nout) != outs[0]);
}
