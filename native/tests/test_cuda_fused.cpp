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
#endif  // ELECTRA_HAVE_CUDA
