// cuda::dropout_residual_layernorm_forward (native/cuda/layernorm.cu) against
// the CPU sequence it fuses (cpu::dropout_forward, residual_forward,
// layernorm_forward): res bit-equal to the CPU (same Philox mask, same
// element arithmetic), out/mean/rstd within the LayerNorm tolerance, in place
// (res aliasing a) and not, p = 0 and p = 0.1, guard zones intact.
// Without a GPU each test prints the SKIP line.
#if defined(ELECTRA_HAVE_CUDA)
#include <cstring>
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
using etest::rand_vec;

TEST(cuda_dropout_residual_layernorm) {
  if (!have_gpu()) return;
  struct Case {
    int64_t N, C;
    float p;
    bool in_place;
  };
  const std::vector<Case> cases = {{1, 1, 0.0f, false}, {7, 33, 0.1f, true}, {130, 256, 0.1f, true},
                                   {64, 1000, 0.0f, true}, {33, 64, 0.5f, false}};
  for (const Case& c : cases) {
    const std::string nm = std::to_string(c.N) + "x" + std::to_string(c.C) + " p=" + std::to_string(c.p) +
                           (c.in_place ? " in place" : "");
    const int64_t n = c.N * c.C;
    const uint64_t seed = 5, off = 77;
    const std::vector<float> a = rand_vec(n, -2, 2), x = rand_vec(n, -1, 3);
    const std::vector<float> g = rand_vec(c.C, 0.5, 1.5), b = rand_vec(c.C, -0.5, 0.5);
    // CPU: the three ops in sequence.
    std::vector<float> res(n), out(n), mean(c.N), rstd(c.N);
    electra::cpu::dropout_forward(res.data(), a.data(), n, c.p, seed, off);
    electra::cpu::residual_forward(res.data(), res.data(), x.data(), n);
    electra::cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), res.data(), g.data(), b.data(), c.N, c.C,
                                    1e-12f);
    DevGuarded<float> da(a), dx(x), dg(g), db(b), dres(std::vector<float>(n, 0.f)),
        dout(std::vector<float>(n, 0.f)), dmean(std::vector<float>(c.N, 0.f)), drstd(std::vector<float>(c.N, 0.f));
    float* res_ptr = c.in_place ? da.data() : dres.data();
    check_ok(electra::cuda::dropout_residual_layernorm_forward(res_ptr, dout.data(), dmean.data(), drstd.data(),
                                                               da.data(), dx.data(), dg.data(), db.data(), c.N, c.C,
                                                               1e-12f, c.p, seed, off),
             nm.c_str());
    const std::vector<float> got_res = c.in_place ? da.get("res (in a)") : dres.get("res");
    CHECK(std::memcmp(got_res.data(), res.data(), sizeof(float) * size_t(n)) == 0)
        << nm << ": res differs from dropout + residual on the CPU";
    compare(dout.get("out"), out, 1e-5, nm + " out");
    compare(dmean.get("mean"), mean, 1e-5, nm + " mean");
    compare(drstd.get("rstd"), rstd, 1e-5, nm + " rstd");
  }
}

// cuda::layernorm_backward_write: dinp written (the CPU's backward into a
// zeroed buffer), ddrop = the CPU's dropout of the CPU dinp (the mask bit for
// bit: an element is 0 exactly where the CPU's is), dgamma/dbeta accumulated,
// both second passes (a reduce launch; the last block, with a counter that is
// back at 0 afterwards), the same bits on a second run; and a row offset far
// above its spread (|mean| = 1e4 std), which the fp32 kernel's pivot handles.
TEST(cuda_layernorm_backward_write_dropout) {
  if (!have_gpu()) return;
  struct Case {
    int64_t N, C;
    float p, offset;
  };
  const std::vector<Case> cases = {{5, 7, 0.1f, 0.0f}, {300, 64, 0.1f, 0.0f}, {257, 256, 0.5f, 0.0f},
                                   {40, 1024, 0.1f, 0.0f}, {9, 1500, 0.1f, 0.0f}, {64, 128, 0.0f, 1e4f}};
  for (const Case& c : cases) {
    const std::string nm = std::to_string(c.N) + "x" + std::to_string(c.C) + " p=" + std::to_string(c.p) +
                           " offset=" + std::to_string(c.offset);
    const int64_t n = c.N * c.C;
    const uint64_t seed = 3, off = 21;
    std::vector<float> x = rand_vec(n, -1, 1);
    for (float& v : x) v += c.offset;
    const std::vector<float> g = rand_vec(c.C, 0.5, 1.5), b = rand_vec(c.C, -0.5, 0.5), dy = rand_vec(n, -1, 1);
    std::vector<float> y(n), mean(c.N), rstd(c.N);
    electra::cpu::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), c.N, c.C,
                                    1e-12f);
    // The forward on the device too: its saved statistics against the CPU's, then the CPU's feed both backwards.
    {
      DevGuarded<float> dx(x), dg(g), db(b), dyv(std::vector<float>(n, 0.f)), dm(std::vector<float>(c.N, 0.f)),
          dr(std::vector<float>(c.N, 0.f));
      check_ok(electra::cuda::layernorm_forward(dyv.data(), dm.data(), dr.data(), dx.data(), dg.data(), db.data(),
                                                c.N, c.C, 1e-12f),
               nm.c_str());
      compare(dyv.get("y"), y, 1e-5, nm + " forward out");
      compare(dr.get("rstd"), rstd, 1e-5, nm + " forward rstd");
    }
    std::vector<float> dinp(n, 0.f), ddrop(n), dgam = rand_vec(c.C), dbet = rand_vec(c.C);
    const std::vector<float> dgam0 = dgam, dbet0 = dbet;
    electra::cpu::layernorm_backward(dinp.data(), dgam.data(), dbet.data(), dy.data(), x.data(), g.data(),
                                     mean.data(), rstd.data(), c.N, c.C);
    electra::cpu::dropout_forward(ddrop.data(), dinp.data(), n, c.p, seed, off);
    const int64_t ws = electra::cuda::layernorm_backward_workspace_floats(c.N, c.C);
    DevGuarded<float> dx(x), dgv(g), ddy(dy), dm(mean), dr(rstd);
    DevGuarded<float> dws(std::vector<float>(size_t(ws), 0.f));
    DevGuarded<unsigned> counter(std::vector<unsigned>(1, 0u));
    std::vector<float> first;
    for (int run = 0; run < 3; ++run) {
      DevGuarded<float> d_dinp(std::vector<float>(n, 7.f)), d_ddrop(std::vector<float>(n, 7.f)), d_dg(dgam0),
          d_db(dbet0);
      check_ok(electra::cuda::layernorm_backward_write(d_dinp.data(), d_ddrop.data(), d_dg.data(), d_db.data(),
                                                       ddy.data(), dx.data(), dgv.data(), dm.data(), dr.data(), c.N,
                                                       c.C, c.p, seed, off, 0, dws.data(), ws,
                                                       run == 0 ? nullptr : counter.data()),
               nm.c_str());
      const std::vector<float> got = d_dinp.get("dinp"), got_drop = d_ddrop.get("ddrop");
      compare(got, dinp, 1e-5, nm + " dinp");
      compare(d_dg.get("dgamma"), dgam, 1e-4, nm + " dgamma");
      compare(d_db.get("dbeta"), dbet, 1e-4, nm + " dbeta");
      bool mask_ok = true;
      for (int64_t i = 0; i < n; ++i) mask_ok = mask_ok && ((got_drop[size_t(i)] == 0.f) == (ddrop[size_t(i)] == 0.f || dinp[size_t(i)] == 0.f));
      CHECK(mask_ok) << nm << ": the dropout mask differs from the CPU's";
      compare(got_drop, ddrop, 1e-5, nm + " ddrop");
      if (run == 0) first = got;
      else CHECK(std::memcmp(first.data(), got.data(), sizeof(float) * size_t(n)) == 0) << nm << ": dinp not deterministic";
    }
    CHECK(counter.get("counter")[0] == 0u) << nm << ": the block counter was not reset";
  }
}
#endif  // ELECTRA_HAVE_CUDA
