// cuda::bias_grad (native/cuda/linear.cu) and cuda::adamw_update_masked
// (native/cuda/adamw.cu):
//  - bias_grad against a float64 column sum (each result within 1 ulp of
//    float(dbias + sum) or 1e-10 of the largest, max relative error < 1e-6) and against the dbias
//    part of cpu::linear_backward, accumulating onto non-zero dbias, run-to-run
//    bit equality, shapes from 1x1 to 65536x9, 4096x1024 and 3x4099;
//  - adamw_update_masked bit-equal to cuda::adamw_update applied tensor by
//    tensor with each tensor's decay flag, and within a couple of ulps (or
//    1e-7 of the tensor's scale) of cpu::adamw_update.
// Device buffers have sentinel guards. Without a GPU each test prints the SKIP line.
#if defined(ELECTRA_HAVE_CUDA)
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cpu/ops.h"
#include "cuda/ops_cuda.h"
#include "cuda_test_util.h"
#include "test_util.h"

using cudatest::check_ok;
using cudatest::compare;
using cudatest::DevGuarded;
using cudatest::have_gpu;

namespace {

float ulp(float x) {
  const float a = std::fabs(x);
  return std::nextafter(a, INFINITY) - a;
}

// Elements of `gpu` that are neither within `ulps` ulps of `cpu` nor within
// `abs_frac` of the tensor's largest magnitude.
int64_t count_far(const std::vector<float>& gpu, const std::vector<float>& cpu, float ulps,
                  double abs_frac) {
  double scale = 0;
  for (float c : cpu) scale = std::fmax(scale, std::fabs(double(c)));
  int64_t far = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double d = std::fabs(double(gpu[i]) - double(cpu[i]));
    if (!(d <= double(ulps) * ulp(cpu[i]) || d <= abs_frac * scale)) ++far;
  }
  return far;
}

}  // namespace

TEST(cuda_bias_grad) {
  if (!have_gpu()) return;
  struct Shape {
    int64_t M, N;
  };
  const std::vector<Shape> shapes = {{1, 1},      {7, 1},    {129, 7},      {33, 8},
                                     {1031, 33},  {3, 4099}, {16387, 257},  {65536, 9},
                                     {4096, 1024}, {65536, 1}};
  for (const Shape& sh : shapes) {
    const int64_t M = sh.M, N = sh.N;
    const std::string nm = std::to_string(M) + "x" + std::to_string(N);
    const auto dout = etest::rand_vec(M * N);
    const auto init = etest::rand_vec(N);
    // float64 reference in row order, then the CPU op.
    std::vector<double> sum(size_t(N), 0.0);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) sum[size_t(n)] += dout[size_t(m * N + n)];
    std::vector<float> ref(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) ref[size_t(n)] = float(double(init[size_t(n)]) + sum[size_t(n)]);
    std::vector<float> cpu = init;
    electra::cpu::linear_backward(nullptr, nullptr, cpu.data(), dout.data(), nullptr, nullptr, M,
                                  0, N);

    DevGuarded<float> d_dout(dout), d_b(init), d_b2(init);
    check_ok(electra::cuda::bias_grad(d_b.data(), d_dout.data(), M, N), "bias_grad");
    check_ok(electra::cuda::bias_grad(d_b2.data(), d_dout.data(), M, N), "bias_grad (again)");
    const auto g = d_b.get("dbias"), g2 = d_b2.get("dbias 2");
    compare(g, ref, 1e-6, "bias_grad vs float64 " + nm);
    compare(g, cpu, 1e-6, "bias_grad vs cpu " + nm);
    // Both sums are float64 in different orders: the float results differ at
    // most by the final rounding (1 ulp), or negligibly for a result near 0.
    CHECK(count_far(g, ref, 1.0f, 1e-10) == 0) << "bias_grad " << nm << ": results beyond 1 ulp of float64";
    CHECK(etest::bit_equal(g.data(), g2.data(), N)) << "bias_grad " << nm << " not deterministic";
  }
  // Empty shapes are no-ops.
  check_ok(electra::cuda::bias_grad(nullptr, nullptr, 0, 5), "bias_grad M=0");
  check_ok(electra::cuda::bias_grad(nullptr, nullptr, 5, 0), "bias_grad N=0");
}

TEST(cuda_adamw_update_masked) {
  if (!have_gpu()) return;
  const std::vector<int64_t> seg = {7, 1, 33, 129, 4099, 2, 1000, 64};
  int64_t n = 0;
  for (int64_t s : seg) n += s;
  for (bool bc : {false, true})
    for (int first_flag = 0; first_flag < 2; ++first_flag) {
      electra::cpu::AdamWHyper hp;
      hp.lr = 2e-3f;
      hp.step = 7;
      hp.weight_decay = 0.01f;
      hp.bias_correction = bc;
      const auto p = etest::rand_vec(n), g = etest::rand_vec(n);
      const auto m = etest::rand_vec(n, -0.1f, 0.1f), v = etest::rand_vec(n, 0.f, 0.01f);
      std::vector<uint8_t> decay(static_cast<size_t>(n));
      std::vector<bool> seg_decay;
      {
        int64_t o = 0;
        for (size_t s = 0; s < seg.size(); ++s) {
          const bool d = ((int(s) + first_flag) % 2) == 0;
          seg_decay.push_back(d);
          // Any non-zero byte means "decay".
          for (int64_t i = 0; i < seg[s]; ++i) decay[size_t(o + i)] = d ? uint8_t(1 + (i % 200)) : 0;
          o += seg[s];
        }
      }
      // CPU, tensor by tensor.
      auto cp = p, cm = m, cv = v;
      // GPU per tensor (A) and masked (B).
      DevGuarded<float> a_p(p), a_g(g), a_m(m), a_v(v);
      DevGuarded<float> b_p(p), b_g(g), b_m(m), b_v(v);
      DevGuarded<uint8_t> d_decay(decay);
      int64_t o = 0;
      for (size_t s = 0; s < seg.size(); ++s) {
        electra::cpu::adamw_update(cp.data() + o, g.data() + o, cm.data() + o, cv.data() + o,
                                   seg[s], hp, seg_decay[s]);
        check_ok(electra::cuda::adamw_update(a_p.data() + o, a_g.data() + o, a_m.data() + o,
                                             a_v.data() + o, seg[s], hp, seg_decay[s]),
                 "adamw_update");
        o += seg[s];
      }
      check_ok(electra::cuda::adamw_update_masked(b_p.data(), b_g.data(), b_m.data(), b_v.data(),
                                                  d_decay.data(), n, hp),
               "adamw_update_masked");
      const std::string nm = std::string("adamw masked bc=") + (bc ? "1" : "0") + " first=" +
                             std::to_string(first_flag);
      const auto ap = a_p.get("a p"), am = a_m.get("a m"), av = a_v.get("a v");
      const auto bp = b_p.get("b p"), bm = b_m.get("b m"), bv = b_v.get("b v");
      a_g.get("a g");
      b_g.get("b g");
      d_decay.get("decay");
      CHECK(etest::bit_equal(ap.data(), bp.data(), n)) << nm << ": params differ from per-tensor";
      CHECK(etest::bit_equal(am.data(), bm.data(), n)) << nm << ": m differs from per-tensor";
      CHECK(etest::bit_equal(av.data(), bv.data(), n)) << nm << ": v differs from per-tensor";
      compare(bp, cp, 1e-6, nm + " params vs cpu");
      compare(bm, cm, 1e-6, nm + " m vs cpu");
      compare(bv, cv, 1e-6, nm + " v vs cpu");
      CHECK(count_far(bp, cp, 2.0f, 1e-7) == 0) << nm << ": params beyond 2 ulp of the cpu";
      CHECK(count_far(bm, cm, 2.0f, 1e-7) == 0) << nm << ": m beyond 2 ulp of the cpu";
      CHECK(count_far(bv, cv, 2.0f, 1e-7) == 0) << nm << ": v beyond 2 ulp of the cpu";
    }
  check_ok(electra::cuda::adamw_update_masked(nullptr, nullptr, nullptr, nullptr, nullptr, 0,
                                              electra::cpu::AdamWHyper()),
           "adamw_update_masked n=0");
}

#endif  // ELECTRA_HAVE_CUDA
