// The fused ops that take launches out of the CUDA step, each against the
// unfused CUDA sequence it replaces, bit for bit (the same element arithmetic
// in the same order, so equality is the contract, not a tolerance):
//  - cuda::layernorm_dropout_forward = layernorm_forward, dropout_forward in place;
//  - cuda::dropout_layernorm_backward_write = dropout_forward of dout in place,
//    layernorm_backward_write;
//  - cuda::layernorm_backward_gelu_write = layernorm_backward_write, gelu_backward_write;
//  - cuda::bce_forward_backward with a counter (the partials summed by the
//    kernel's last block) = the same without one (a second launch).
// The last-block reductions (dgamma/dbeta, the BCE sum) are rerun with the
// emulator's blocks reversed and shuffled (EMU_BLOCK_ORDER): the block that
// arrives last must not change a bit. Cases cover the warp-per-row kernels
// (C <= 1024), the wide-row fallbacks (C > 1024), p = 0 and a step offset in
// device memory (offset_base). Without a GPU each test prints the SKIP line.
#if defined(ELECTRA_HAVE_CUDA)
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/ops_cuda.h"
#include "cuda_test_util.h"
#include "test_util.h"

using cudatest::check_ok;
using cudatest::DevGuarded;
using cudatest::have_gpu;
using etest::rand_vec;

namespace {

// The block orders to rerun a last-block reduction under ("gpu": a real GPU
// picks its own); the list ends with the emulator's default.
std::vector<const char*> block_orders() {
#ifdef ELECTRA_CUDA_EMULATOR
  return {"rev", "rand", "fwd"};
#else
  return {"gpu"};
#endif
}
void set_block_order(const char* order) {
#ifdef ELECTRA_CUDA_EMULATOR
  setenv("EMU_BLOCK_ORDER", order, 1);
#else
  (void)order;
#endif
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(T) * a.size()) == 0;
}

struct LnCase {
  int64_t N, C;
  float p;
};
std::string name(const LnCase& c) {
  return std::to_string(c.N) + "x" + std::to_string(c.C) + " p=" + std::to_string(c.p);
}
// Warp kernels at NV = 1, 2, 4 (the step's 128), 32; a block-per-row width; p = 0.
const std::vector<LnCase> kLnCases = {{5, 7, 0.1f}, {300, 64, 0.1f}, {257, 128, 0.5f},
                                      {33, 1000, 0.1f}, {9, 1500, 0.1f}, {64, 128, 0.0f}};

}  // namespace

TEST(cuda_fused_layernorm_dropout_forward) {
  if (!have_gpu()) return;
  const uint64_t seed = 11, off = 40;
  DevGuarded<uint64_t> base(std::vector<uint64_t>(1, 9000));  // a step's offset, read by the kernels
  for (const LnCase& c : kLnCases)
    for (bool with_base : {false, true}) {
      const std::string nm = name(c) + (with_base ? " offset_base" : "");
      const uint64_t* ob = with_base ? base.data() : nullptr;
      const int64_t n = c.N * c.C;
      const std::vector<float> x = rand_vec(n, -2, 3), g = rand_vec(c.C, 0.5, 1.5), b = rand_vec(c.C, -0.5, 0.5);
      DevGuarded<float> dx(x), dg(g), db(b);
      DevGuarded<float> o1(std::vector<float>(n, 7.f)), m1(std::vector<float>(c.N, 7.f)),
          r1(std::vector<float>(c.N, 7.f));
      DevGuarded<float> o2(std::vector<float>(n, 5.f)), m2(std::vector<float>(c.N, 5.f)),
          r2(std::vector<float>(c.N, 5.f));
      check_ok(electra::cuda::layernorm_forward(o1.data(), m1.data(), r1.data(), dx.data(), dg.data(), db.data(), c.N,
                                                c.C, 1e-12f),
               nm.c_str());
      check_ok(electra::cuda::dropout_forward(o1.data(), o1.data(), n, c.p, seed, off, 0, ob), nm.c_str());
      check_ok(electra::cuda::layernorm_dropout_forward(o2.data(), m2.data(), r2.data(), dx.data(), dg.data(),
                                                        db.data(), c.N, c.C, 1e-12f, c.p, seed, off, 0, ob),
               nm.c_str());
      const std::vector<float> out1 = o1.get("unfused out"), out2 = o2.get("fused out");
      CHECK(same_bits(out1, out2)) << nm << ": out differs from layernorm_forward + dropout_forward";
      CHECK(same_bits(m1.get("mean"), m2.get("mean"))) << nm << ": mean differs";
      CHECK(same_bits(r1.get("rstd"), r2.get("rstd"))) << nm << ": rstd differs";
      if (c.p > 0.0f) {  // the mask is not trivially all-keep
        int64_t zeros = 0;
        for (float v : out2) zeros += v == 0.0f;
        CHECK(zeros > 0 && zeros < n) << nm << ": " << zeros << " of " << n << " dropped";
      }
    }
}

// dout through the dropout, then the LayerNorm backward (dinp written,
// dgamma/dbeta accumulated): the workspace with the last-block finish (every
// block order), the workspace with the reduce launch, and no workspace.
TEST(cuda_fused_dropout_layernorm_backward) {
  if (!have_gpu()) return;
  const uint64_t seed = 3, off = 21;
  DevGuarded<uint64_t> base(std::vector<uint64_t>(1, 1 << 20));
  for (const LnCase& c : kLnCases) {
    const int64_t n = c.N * c.C;
    const std::vector<float> x = rand_vec(n, -1, 1), g = rand_vec(c.C, 0.5, 1.5), b = rand_vec(c.C, -0.5, 0.5),
                             dy = rand_vec(n, -1, 1), dg0 = rand_vec(c.C), db0 = rand_vec(c.C);
    DevGuarded<float> dx(x), dgv(g), dbv(b), dm(std::vector<float>(c.N, 0.f)), dr(std::vector<float>(c.N, 0.f)),
        dyv(std::vector<float>(n, 0.f));
    check_ok(electra::cuda::layernorm_forward(dyv.data(), dm.data(), dr.data(), dx.data(), dgv.data(), dbv.data(), c.N,
                                              c.C, 1e-12f),
             "forward");
    const int64_t ws = electra::cuda::layernorm_backward_workspace_floats(c.N, c.C);
    DevGuarded<float> work(std::vector<float>(size_t(ws > 0 ? ws : 1), 0.f));
    DevGuarded<unsigned> counter(std::vector<unsigned>(1, 0u));
    for (int mode = 0; mode < 3; ++mode) {  // 0: last block, 1: reduce launch, 2: no workspace
      const std::string nm = name(c) + (mode == 0 ? " last block" : mode == 1 ? " reduce launch" : " no workspace");
      float* wsp = mode == 2 ? nullptr : work.data();
      const int64_t wsn = mode == 2 ? 0 : ws;
      unsigned* cnt = mode == 0 ? counter.data() : nullptr;
      const uint64_t* ob = mode == 1 ? base.data() : nullptr;
      // The unfused sequence, in the emulator's default block order.
      DevGuarded<float> u_dout(dy), u_dinp(std::vector<float>(n, 7.f)), u_dg(dg0), u_db(db0);
      check_ok(electra::cuda::dropout_forward(u_dout.data(), u_dout.data(), n, c.p, seed, off, 0, ob), nm.c_str());
      check_ok(electra::cuda::layernorm_backward_write(u_dinp.data(), nullptr, u_dg.data(), u_db.data(), u_dout.data(),
                                                       dx.data(), dgv.data(), dm.data(), dr.data(), c.N, c.C, 0.0f, 0,
                                                       0, 0, wsp, wsn, cnt),
               nm.c_str());
      const std::vector<float> want_dinp = u_dinp.get("dinp"), want_dg = u_dg.get("dgamma"),
                               want_db = u_db.get("dbeta"), dropped = u_dout.get("dropped dout");
      for (const char* order : block_orders()) {
        set_block_order(order);
        const std::string on = nm + " blocks " + order;
        DevGuarded<float> f_dout(dy), f_dinp(std::vector<float>(n, 5.f)), f_dg(dg0), f_db(db0);
        check_ok(electra::cuda::dropout_layernorm_backward_write(f_dinp.data(), f_dg.data(), f_db.data(),
                                                                 f_dout.data(), dx.data(), dgv.data(), dm.data(),
                                                                 dr.data(), c.N, c.C, c.p, seed, off, 0, wsp, wsn,
                                                                 cnt, ob),
                 on.c_str());
        CHECK(same_bits(f_dinp.get("dinp"), want_dinp)) << on << ": dinp differs from the unfused sequence";
        CHECK(same_bits(f_dg.get("dgamma"), want_dg)) << on << ": dgamma differs from the unfused sequence";
        CHECK(same_bits(f_db.get("dbeta"), want_db)) << on << ": dbeta differs from the unfused sequence";
        const std::vector<float> after = f_dout.get("dout after");
        CHECK(same_bits(after, dy) || same_bits(after, dropped)) << on << ": dout neither kept nor dropped";
        if (mode != 0) break;  // only the last-block finish depends on the order
      }
      set_block_order("fwd");
      CHECK(counter.get("counter")[0] == 0u) << nm << ": the block counter was not reset";
    }
  }
}

// The LayerNorm backward through a GELU in front of it: dpre = gelu'(pre) *
// dinp, with dinp stored or not, every block order for the last-block finish.
TEST(cuda_fused_layernorm_backward_gelu) {
  if (!have_gpu()) return;
  for (const LnCase& c : kLnCases) {
    const int64_t n = c.N * c.C;
    const std::vector<float> x = rand_vec(n, -1, 1), g = rand_vec(c.C, 0.5, 1.5), b = rand_vec(c.C, -0.5, 0.5),
                             dy = rand_vec(n, -1, 1), pre = rand_vec(n, -4, 4), dg0 = rand_vec(c.C),
                             db0 = rand_vec(c.C);
    DevGuarded<float> dx(x), dgv(g), dbv(b), dpre_in(pre), ddy(dy), dm(std::vector<float>(c.N, 0.f)),
        dr(std::vector<float>(c.N, 0.f)), dyv(std::vector<float>(n, 0.f));
    check_ok(electra::cuda::layernorm_forward(dyv.data(), dm.data(), dr.data(), dx.data(), dgv.data(), dbv.data(), c.N,
                                              c.C, 1e-12f),
             "forward");
    const int64_t ws = electra::cuda::layernorm_backward_workspace_floats(c.N, c.C);
    DevGuarded<float> work(std::vector<float>(size_t(ws > 0 ? ws : 1), 0.f));
    DevGuarded<unsigned> counter(std::vector<unsigned>(1, 0u));
    DevGuarded<float> u_dinp(std::vector<float>(n, 7.f)), u_dpre(std::vector<float>(n, 7.f)), u_dg(dg0), u_db(db0);
    check_ok(electra::cuda::layernorm_backward_write(u_dinp.data(), nullptr, u_dg.data(), u_db.data(), ddy.data(),
                                                     dx.data(), dgv.data(), dm.data(), dr.data(), c.N, c.C, 0.0f, 0, 0,
                                                     0, work.data(), ws, counter.data()),
             "unfused");
    check_ok(electra::cuda::gelu_backward_write(u_dpre.data(), u_dinp.data(), dpre_in.data(), n), "unfused gelu");
    const std::vector<float> want_dinp = u_dinp.get("dinp"), want_dpre = u_dpre.get("dpre"),
                             want_dg = u_dg.get("dgamma"), want_db = u_db.get("dbeta");
    for (bool store_dinp : {true, false})
      for (const char* order : block_orders()) {
        set_block_order(order);
        const std::string nm = name(c) + (store_dinp ? " dinp stored" : " dinp not stored") + " blocks " + order;
        DevGuarded<float> f_dinp(std::vector<float>(n, 5.f)), f_dpre(std::vector<float>(n, 5.f)), f_dg(dg0),
            f_db(db0);
        check_ok(electra::cuda::layernorm_backward_gelu_write(store_dinp ? f_dinp.data() : nullptr, f_dpre.data(),
                                                              f_dg.data(), f_db.data(), ddy.data(), dx.data(),
                                                              dgv.data(), dm.data(), dr.data(), dpre_in.data(), c.N,
                                                              c.C, 0, work.data(), ws, counter.data()),
                 nm.c_str());
        CHECK(same_bits(f_dpre.get("dpre"), want_dpre)) << nm << ": dpre differs from the unfused sequence";
        CHECK(same_bits(f_dg.get("dgamma"), want_dg)) << nm << ": dgamma differs from the unfused sequence";
        CHECK(same_bits(f_db.get("dbeta"), want_db)) << nm << ": dbeta differs from the unfused sequence";
        const std::vector<float> got_dinp = f_dinp.get("dinp");
        if (store_dinp) CHECK(same_bits(got_dinp, want_dinp)) << nm << ": dinp differs from the unfused sequence";
        else CHECK(same_bits(got_dinp, std::vector<float>(n, 5.f))) << nm << ": dinp written though not asked for";
      }
    set_block_order("fwd");
    CHECK(counter.get("counter")[0] == 0u) << name(c) << ": the block counter was not reset";
  }
}

// One launch (the last block sums the partials) against two, every block
// order: the loss sum's double bits, dlogits, the counter back at 0.
TEST(cuda_fused_bce_last_block_sum) {
  if (!have_gpu()) return;
  std::vector<int64_t> sizes = etest::odd_sizes();
  sizes.push_back(100003);
  DevGuarded<unsigned> counter(std::vector<unsigned>(1, 0u));
  for (int64_t n : sizes)
    for (bool weighted : {false, true}) {
      const std::string nm = "n=" + std::to_string(n) + (weighted ? " weighted" : "");
      std::vector<float> x = rand_vec(n, -8.f, 8.f), y = rand_vec(n, 0.f, 1.f), w = rand_vec(n, 0.f, 1.f);
      for (auto& v : y) v = v < 0.5f ? 0.f : 1.f;
      DevGuarded<float> dx(x), dy(y), dw(w), u_dl(std::vector<float>(n, 0.f));
      DevGuarded<double> u_sum(std::vector<double>(1, 0.0)), scratch(std::vector<double>(electra::cuda::kReduceBlocks, 0.0));
      check_ok(electra::cuda::bce_forward_backward(u_sum.data(), scratch.data(), u_dl.data(), dx.data(), dy.data(),
                                                   weighted ? dw.data() : nullptr, n, 0.5f),
               nm.c_str());
      const std::vector<double> want = u_sum.get("two-launch sum");
      const std::vector<float> want_dl = u_dl.get("two-launch dlogits");
      for (const char* order : block_orders()) {
        set_block_order(order);
        const std::string on = nm + " blocks " + order;
        DevGuarded<float> f_dl(std::vector<float>(n, 0.f));
        // Fresh NaN partials: a block that read them before every block wrote
        // its own would not find the two launches' values left there.
        DevGuarded<double> f_sum(std::vector<double>(1, -1.0)),
            f_scratch(std::vector<double>(electra::cuda::kReduceBlocks, std::nan("")));
        check_ok(electra::cuda::bce_forward_backward(f_sum.data(), f_scratch.data(), f_dl.data(), dx.data(), dy.data(),
                                                     weighted ? dw.data() : nullptr, n, 0.5f, 0, nullptr,
                                                     counter.data()),
                 on.c_str());
        const std::vector<double> got = f_sum.get("one-launch sum");
        CHECK(same_bits(got, want)) << on << ": loss sum " << got[0] << " vs the two launches' " << want[0];
        CHECK(same_bits(f_dl.get("one-launch dlogits"), want_dl)) << on << ": dlogits differ";
        CHECK(counter.get("counter")[0] == 0u) << on << ": the block counter was not reset";
      }
      set_block_order("fwd");
    }
}
#endif  // ELECTRA_HAVE_CUDA
