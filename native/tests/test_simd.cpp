// The SIMD levels themselves (simd_level.h): forcing a level reaches that
// level's kernels, a level the CPU lacks is refused, and every level this
// machine runs computes the vector kernels within their documented bounds of
// the float64 / scalar references. (The rest of the suite runs at one level
// per process: `electra_tests --simd L`, once per level in .ci/run.)
#include <cmath>
#include <vector>

#include "core/cpu/ops.h"
#include "core/cpu/sampling.h"
#include "core/cpu/simd_ops.h"
#include "core/philox.h"
#include "test_util.h"

namespace {

using electra::cpu::SimdLevel;

std::vector<SimdLevel> runnable_levels() {
  std::vector<SimdLevel> out;
  for (SimdLevel l : {SimdLevel::kGeneric, SimdLevel::kAvx2, SimdLevel::kAvx512})
    if (static_cast<int>(l) <= static_cast<int>(electra::cpu::cpu_simd_level())) out.push_back(l);
  return out;
}

// Runs fn at each runnable level, then restores the level the process had.
template <class F>
void at_each_level(F fn) {
  const SimdLevel saved = electra::cpu::simd_level();
  for (SimdLevel l : runnable_levels()) {
    CHECK(electra::cpu::set_simd_level(l).ok());
    fn(l);
  }
  CHECK(electra::cpu::set_simd_level(saved).ok());
}

double gelu64(double x) { return x * 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double dgelu64(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }

}  // namespace

TEST(simd_level_forcing_and_refusal) {
  at_each_level([](SimdLevel l) {
    CHECK(electra::cpu::simd_level() == l);
    const electra::cpu::SimdOps* ops = electra::cpu::simd_ops();
    if (l == SimdLevel::kGeneric) {
      CHECK(ops == nullptr) << "generic level must run the plain C++ loops";
    } else {
      CHECK(ops != nullptr) << electra::cpu::simd_level_name(l) << " has no kernel table in this build";
      if (ops) CHECK(std::string(ops->name) == electra::cpu::simd_level_name(l)) << ops->name;
    }
  });
  // A level above the CPU's is refused and leaves the level unchanged.
  const SimdLevel before = electra::cpu::simd_level();
  if (electra::cpu::cpu_simd_level() != SimdLevel::kAvx512) {
    const electra::Status st = electra::cpu::set_simd_level(SimdLevel::kAvx512);
    CHECK(!st.ok() && st.code() == electra::StatusCode::kInvalidArgument) << st.message();
    CHECK(electra::cpu::simd_level() == before);
  }
  SimdLevel parsed;
  CHECK(electra::cpu::parse_simd_level("avx2", &parsed) && parsed == SimdLevel::kAvx2);
  CHECK(!electra::cpu::parse_simd_level("sse9", &parsed));
}

// Element-wise GELU accuracy at every level, with the bound of the maths each
// path uses (derivations in gelu.cpp and simd_kernels.inc):
//   generic  double erfc/exp, one final rounding: <= 2^-24 for Phi, so
//            x*Phi(x) within 2 * 2^-24 (1.2e-7) of the exact value; 2.5e-7 here.
//   vector   phi_v: Phi relative error < 6e-7, + the product's 2^-24: 1e-6.
// gelu'(x) = Phi + x phi(x) can cancel near x ~ -0.75, so the backward is held
// to the same bounds relative to max(|gelu'|, |Phi|, |x phi|) (the terms).
TEST(simd_gelu_elementwise_bounds_every_level) {
  auto x = etest::rand_vec(100000, -12.f, 8.f);
  for (float s : {0.0f, -0.0f, 1e-30f, -1e-30f, -20.f, 20.f, -9.5f, 88.f, -88.f}) x.push_back(s);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> fwd_ref_bits;
  at_each_level([&](SimdLevel l) {
    const double bound = l == SimdLevel::kGeneric ? 2.5e-7 : 1e-6;
    std::vector<float> out(n), g(n, 1.0f), d(n, 0.0f);
    electra::cpu::gelu_forward(out.data(), x.data(), n);
    electra::cpu::gelu_backward(d.data(), g.data(), x.data(), n);
    double worst_f = 0, worst_b = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double xi = x[i], ref = gelu64(xi);
      if (std::fabs(ref) >= 1e-30) worst_f = std::fmax(worst_f, std::fabs(out[i] - ref) / std::fabs(ref));
      const double phi = 0.5 * std::erfc(-xi / std::sqrt(2.0));
      const double term = std::fabs(xi) * std::exp(-0.5 * xi * xi) / std::sqrt(2 * M_PI);
      const double scale = std::fmax(std::fabs(dgelu64(xi)), std::fmax(phi, term));
      if (scale >= 1e-30) worst_b = std::fmax(worst_b, std::fabs(d[i] - dgelu64(xi)) / scale);
    }
    const char* name = electra::cpu::simd_level_name(l);
    CHECK_LT(worst_f, bound) << name << ": gelu forward element-wise relative error";
    CHECK_LT(worst_b, bound) << name << ": gelu backward element-wise relative error";
    // avx2 and avx512 run the same operation sequence: identical bits.
    if (l == SimdLevel::kAvx2) fwd_ref_bits = out;
    if (l == SimdLevel::kAvx512 && !fwd_ref_bits.empty())
      CHECK(etest::bit_equal(out.data(), fwd_ref_bits.data(), n)) << "avx512 gelu differs from avx2";
  });
}

// Philox and Gumbel sampling are exact at every level (bit-identical words,
// the scalar reference's argmax); test_philox / test_sampling cover the edge
// cases at the process's level, this sweeps the levels on one case each.
TEST(simd_philox_and_gumbel_exact_every_level) {
  const int64_t R = 5, V = 30522;
  auto logits = etest::rand_vec(R * V, -8.f, 8.f);
  std::vector<int32_t> first;
  at_each_level([&](SimdLevel l) {
    std::vector<uint32_t> w(1003);
    electra::cpu::simd::philox_fill_u32_fast(7, 9, 4097, 1003, w.data());
    bool ok = true;
    for (int64_t k = 0; k < 1003; ++k) ok &= w[k] == electra::philox_u32(7, 9, 4097 + k);
    CHECK(ok) << electra::cpu::simd_level_name(l) << ": philox words";
    std::vector<int32_t> s(R, -1);
    electra::cpu::gumbel_sample(s.data(), logits.data(), R, V, 1.0f, 3, 4);
    if (first.empty()) first = s;
    CHECK(s == first) << electra::cpu::simd_level_name(l) << ": Gumbel samples differ from the generic path";
  });
}

// exp_shift_sum (softmax rows, cross-entropy pass 2) at the vector levels:
// exp_v's ~2 ulp (3e-7 relative here) where the result is a normal float,
// subnormal results within half a subnormal step (they round once) plus that
// relative error, the double
// sum within 1e-6 relative of the float64 sum, and a NaN input poisons its
// element and the sum as libm's exp would.
TEST(simd_exp_shift_sum_every_level) {
  auto x = etest::rand_vec(1003, -100.f, 12.f);
  const float shift = 2.5f;
  at_each_level([&](SimdLevel l) {
    const electra::cpu::SimdOps* ops = electra::cpu::simd_ops();
    if (!ops) return;  // generic: the op files' own std::exp loops
    std::vector<float> e(x.size());
    const double sum = ops->exp_shift_sum(e.data(), x.data(), static_cast<int64_t>(x.size()), shift);
    double ref_sum = 0, worst = 0, worst_sub = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = std::exp(double(x[i] - shift));  // the float subtraction, as the op
      ref_sum += ref;
      if (ref >= 1.1754944e-38)
        worst = std::fmax(worst, std::fabs(e[i] - ref) / ref);
      else  // in units of the bound: half a subnormal step + exp_v's relative error
        worst_sub = std::fmax(worst_sub, std::fabs(e[i] - ref) / (0.5 * 1.4012985e-45 + 3e-7 * ref));
    }
    const char* name = electra::cpu::simd_level_name(l);
    CHECK_LT(worst, 3e-7) << name << ": exp relative error (normal results)";
    CHECK_LT(worst_sub, 1.0) << name << ": exp error (subnormal results), in units of its bound";
    CHECK_LT(std::fabs(sum - ref_sum) / ref_sum, 1e-6) << name << ": sum";
    std::vector<float> xn(x.begin(), x.begin() + 37);
    xn[20] = std::nanf("");
    std::vector<float> en(xn.size());
    const double sn = ops->exp_shift_sum(en.data(), xn.data(), 37, 0.0f);
    CHECK(std::isnan(en[20]) && std::isnan(sn)) << name << ": NaN must propagate";
    CHECK(std::isfinite(en[19]) && std::isfinite(en[21])) << name;
  });
}

// Dropout forward and backward give the same bits at every level: the mask
// is a pure function of the Philox words and the vector compare is exact.
TEST(simd_dropout_bit_identical_every_level) {
  const int64_t n = 3 * 1024 + 77;  // several chunks and a ragged end
  const auto x = etest::rand_vec(n), g = etest::rand_vec(n), d0 = etest::rand_vec(n);
  std::vector<float> fwd0, bwd0;
  at_each_level([&](SimdLevel l) {
    std::vector<float> f(n), d(d0);
    electra::cpu::dropout_forward(f.data(), x.data(), n, 0.1f, 5, 6);
    electra::cpu::dropout_backward(d.data(), g.data(), n, 0.1f, 5, 6);
    if (l == SimdLevel::kGeneric) {
      fwd0 = f;
      bwd0 = d;
      return;
    }
    CHECK(etest::bit_equal(f.data(), fwd0.data(), n)) << electra::cpu::simd_level_name(l) << ": dropout forward";
    CHECK(etest::bit_equal(d.data(), bwd0.data(), n)) << electra::cpu::simd_level_name(l) << ": dropout backward";
  });
}
