// CUDA op kernels (native/cuda/ops_cuda.h) against the CPU oracle
// (core/cpu/ops.h): random inputs at odd sizes, max-relative error against
// the CPU result (fp32: 1e-5 forward, 1e-4 for atomically/long accumulated
// backward), finiteness, sentinel guard zones around every device buffer, and
// dropout outputs (hence masks) bit-equal to the CPU's.
// Compiled only when the build has CUDA (ELECTRA_HAVE_CUDA); without a GPU
// each test prints "SKIP: no CUDA device (<reason>)" once and passes.
// have_gpu, DevGuarded, check_ok and compare live in cuda_test_util.h.
#if defined(ELECTRA_HAVE_CUDA)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/cpu/ops.h"
#include "core/device.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"
#include "cuda_test_util.h"
#include "test_util.h"

using cudatest::check_ok;
using cudatest::compare;
using cudatest::DevGuarded;
using cudatest::have_gpu;
using electra::Status;
using electra::cuda::DeviceBuffer;
using etest::rand_vec;

namespace {

std::vector<int32_t> rand_ids(int64_t n, int64_t hi) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = int32_t(etest::rand_int(0, hi - 1));
  return v;
}

std::string tag(const char* op, int64_t a, int64_t b) {
  return std::string(op) + " " + std::to_string(a) + "x" + std::to_string(b);
}

}  // namespace

TEST(cuda_embedding_gather) {
  if (!have_gpu()) return;
  for (int64_t E : etest::odd_sizes())
    for (int64_t S : {int64_t(1), int64_t(7), int64_t(33)}) {
      const int64_t B = 3, N = B * S, V = 7, T = 2;
      auto ids = rand_ids(N, V), types = rand_ids(N, T);
      auto wte = rand_vec(V * E), wpe = rand_vec(S * E), wtt = rand_vec(T * E);
      auto dout = rand_vec(N * E);
      auto dwte = rand_vec(V * E), dwpe = rand_vec(S * E), dwtt = rand_vec(T * E);
      std::vector<float> out(static_cast<size_t>(N * E));
      electra::cpu::embedding_forward(out.data(), ids.data(), types.data(), wte.data(), wpe.data(),
                                      wtt.data(), B, S, E);
      DevGuarded<int32_t> d_ids(ids), d_types(types);
      DevGuarded<float> d_wte(wte), d_wpe(wpe), d_wtt(wtt), d_dout(dout);
      DevGuarded<float> d_out(std::vector<float>(static_cast<size_t>(N * E), 0.f));
      DevGuarded<float> d_dwte(dwte), d_dwpe(dwpe), d_dwtt(dwtt);
      check_ok(electra::cuda::embedding_forward(d_out.data(), d_ids.data(), d_types.data(),
                                                d_wte.data(), d_wpe.data(), d_wtt.data(), B, S, E),
               "embedding_forward");
      compare(d_out.get("emb out"), out, 1e-5, tag("embedding_forward", S, E));
      electra::cpu::embedding_backward(dwte.data(), dwpe.data(), dwtt.data(), dout.data(),
                                       ids.data(), types.data(), B, S, E);
      check_ok(electra::cuda::embedding_backward(d_dwte.data(), d_dwpe.data(), d_dwtt.data(),
                                                 d_dout.data(), d_ids.data(), d_types.data(), B, S,
                                                 E),
               "embedding_backward");
      compare(d_dwte.get("dwte"), dwte, 1e-4, tag("embedding dwte", S, E));
      compare(d_dwpe.get("dwpe"), dwpe, 1e-5, tag("embedding dwpe", S, E));
      compare(d_dwtt.get("dwtt"), dwtt, 1e-4, tag("embedding dwtt", S, E));

      // gather_rows: R rows of the [N, E] output, with repeats.
      const int64_t R = std::max<int64_t>(1, N / 2);
      auto rows = rand_ids(R, N);
      std::vector<float> g(static_cast<size_t>(R * E));
      electra::cpu::gather_rows(g.data(), out.data(), rows.data(), R, E);
      DevGuarded<int32_t> d_rows(rows);
      DevGuarded<float> d_g(std::vector<float>(static_cast<size_t>(R * E), 0.f));
      check_ok(electra::cuda::gather_rows(d_g.data(), d_out.data(), d_rows.data(), R, E),
               "gather_rows");
      compare(d_g.get("gather out"), g, 1e-5, tag("gather_rows", R, E));
      auto gd = rand_vec(R * E), dinp = rand_vec(N * E);
      DevGuarded<float> d_gd(gd), d_dinp(dinp);
      electra::cpu::gather_rows_backward(dinp.data(), gd.data(), rows.data(), R, E);
      check_ok(electra::cuda::gather_rows_backward(d_dinp.data(), d_gd.data(), d_rows.data(), R, E),
               "gather_rows_backward");
      compare(d_dinp.get("gather dinp"), dinp, 1e-4, tag("gather_rows_backward", R, E));
    }
}

TEST(cuda_layernorm) {
  if (!have_gpu()) return;
  for (int64_t N : etest::odd_sizes())
    for (int64_t C : etest::odd_sizes()) {
      auto x = rand_vec(N * C, -2.f, 3.f), gamma = rand_vec(C, 0.5f, 1.5f), beta = rand_vec(C);
      std::vector<float> out(static_cast<size_t>(N * C)), mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N));
      electra::cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(),
                                      beta.data(), N, C, 1e-12f);
      DevGuarded<float> d_x(x), d_gamma(gamma), d_beta(beta);
      DevGuarded<float> d_out(std::vector<float>(static_cast<size_t>(N * C), 0.f));
      DevGuarded<float> d_mean(std::vector<float>(static_cast<size_t>(N), 0.f)), d_rstd(std::vector<float>(static_cast<size_t>(N), 0.f));
      check_ok(electra::cuda::layernorm_forward(d_out.data(), d_mean.data(), d_rstd.data(), d_x.data(),
                                                d_gamma.data(), d_beta.data(), N, C, 1e-12f),
               "layernorm_forward");
      compare(d_out.get("ln out"), out, 1e-5, tag("layernorm_forward", N, C));
      {
        // The mean is measured against the rows' mean |x|, not against
        // itself: a mean near 0 is ill-conditioned, so its relative error
        // depends on the draw, not on the kernel. The kernel's fp32 sum (a
        // lane sums C/32 elements in order, then a 5-level shuffle tree) errs
        // by at most ~(C/32 + 5) u mean|x|, 2.2e-6 of mean |x| at C = 1024.
        const std::vector<float> g = d_mean.get("ln mean");
        double err = 0, scale = 1e-30;
        for (int64_t r = 0; r < N; ++r) {
          double a = 0;
          for (int64_t c = 0; c < C; ++c) a += std::fabs(double(x[size_t(r * C + c)]));
          scale = std::fmax(scale, a / double(C));
          err = std::fmax(err, std::fabs(double(g[size_t(r)]) - double(mean[size_t(r)])));
        }
        CHECK(etest::all_finite(g.data(), N)) << tag("layernorm mean", N, C);
        CHECK_LT(err / scale, 1e-5) << tag("layernorm mean", N, C);
      }
      compare(d_rstd.get("ln rstd"), rstd, 1e-5, tag("layernorm rstd", N, C));

      auto dout = rand_vec(N * C), dinp = rand_vec(N * C), dg = rand_vec(C), db = rand_vec(C);
      DevGuarded<float> d_dout(dout), d_dinp(dinp), d_dg(dg), d_db(db);
      // The CUDA backward reads the CPU's saved statistics (same inputs).
      DevGuarded<float> c_mean(mean), c_rstd(rstd);
      electra::cpu::layernorm_backward(dinp.data(), dg.data(), db.data(), dout.data(), x.data(),
                                       gamma.data(), mean.data(), rstd.data(), N, C);
      check_ok(electra::cuda::layernorm_backward(d_dinp.data(), d_dg.data(), d_db.data(),
                                                 d_dout.data(), d_x.data(), d_gamma.data(),
                                                 c_mean.data(), c_rstd.data(), N, C),
               "layernorm_backward");
      compare(d_dinp.get("ln dinp"), dinp, 1e-5, tag("layernorm dinp", N, C));
      compare(d_dg.get("ln dgamma"), dg, 1e-4, tag("layernorm dgamma", N, C));
      compare(d_db.get("ln dbeta"), db, 1e-4, tag("layernorm dbeta", N, C));
    }
}

// dgamma/dbeta with the rows split into chunks (the backend's path, with a
// workspace): against the CPU, and the same bits on a second run.
TEST(cuda_layernorm_params_split_rows) {
  if (!have_gpu()) return;
  for (int64_t N : {int64_t(200), int64_t(3001)})
    for (int64_t C : {int64_t(7), int64_t(64), int64_t(257)}) {
      const int64_t ws_floats = electra::cuda::layernorm_backward_workspace_floats(N, C);
      CHECK(ws_floats > 0) << tag("rows not split", N, C);
      auto x = rand_vec(N * C, -2.f, 3.f), gamma = rand_vec(C, 0.5f, 1.5f), beta = rand_vec(C);
      std::vector<float> out(static_cast<size_t>(N * C)), mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N));
      electra::cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(),
                                      beta.data(), N, C, 1e-12f);
      auto dout = rand_vec(N * C), dg = rand_vec(C), db = rand_vec(C);
      const auto dg0 = dg, db0 = db;
      electra::cpu::layernorm_backward(nullptr, dg.data(), db.data(), dout.data(), x.data(), gamma.data(),
                                       mean.data(), rstd.data(), N, C);
      DevGuarded<float> d_x(x), d_gamma(gamma), d_dout(dout), d_mean(mean), d_rstd(rstd);
      DevGuarded<float> d_ws(std::vector<float>(static_cast<size_t>(ws_floats), 0.f));
      std::vector<float> first_g;
      for (int run = 0; run < 2; ++run) {
        DevGuarded<float> d_dg(dg0), d_db(db0);
        check_ok(electra::cuda::layernorm_backward(nullptr, d_dg.data(), d_db.data(), d_dout.data(), d_x.data(),
                                                   d_gamma.data(), d_mean.data(), d_rstd.data(), N, C, 0,
                                                   d_ws.data(), ws_floats),
                 "layernorm_backward (split rows)");
        const auto got_g = d_dg.get("ln dgamma split"), got_b = d_db.get("ln dbeta split");
        compare(got_g, dg, 1e-4, tag("layernorm dgamma split rows", N, C));
        compare(got_b, db, 1e-4, tag("layernorm dbeta split rows", N, C));
        if (run == 0) first_g = got_g;
        else CHECK(etest::bit_equal(first_g.data(), got_g.data(), C)) << tag("dgamma not deterministic", N, C);
      }
      // Too small a workspace is refused.
      CHECK(electra::cuda::layernorm_backward(nullptr, d_dout.data(), nullptr, d_dout.data(), d_x.data(),
                                              d_gamma.data(), d_mean.data(), d_rstd.data(), N, C, 0, d_ws.data(),
                                              ws_floats - 1)
                .code() == electra::StatusCode::kInvalidArgument);
    }
}

// The token-type gradient with the tokens split into chunks (the backend's
// path, with a workspace): against the CPU, and the same bits twice.
TEST(cuda_embedding_types_split_rows) {
  if (!have_gpu()) return;
  for (int64_t T : {int64_t(2), int64_t(8)}) {
    const int64_t B = 24, S = 100, E = 130, N = B * S;
    const int64_t ws_floats = electra::cuda::embedding_backward_workspace_floats(B, S, E);
    CHECK(ws_floats > 0) << "tokens not split";
    auto types = rand_ids(N, T), ids = rand_ids(N, 50);
    auto dout = rand_vec(N * E), dwtt = rand_vec(T * E);
    auto cpu = dwtt;
    electra::cpu::embedding_backward(nullptr, nullptr, cpu.data(), dout.data(), ids.data(), types.data(), B, S, E);
    DevGuarded<int32_t> d_types(types), d_ids(ids);
    DevGuarded<float> d_dout(dout), d_ws(std::vector<float>(static_cast<size_t>(ws_floats), 0.f));
    std::vector<float> first;
    for (int run = 0; run < 2; ++run) {
      DevGuarded<float> d_dwtt(dwtt);
      check_ok(electra::cuda::embedding_backward(nullptr, nullptr, d_dwtt.data(), d_dout.data(), d_ids.data(),
                                                 d_types.data(), B, S, E, 0, d_ws.data(), ws_floats),
               "embedding_backward (types, split rows)");
      const auto got = d_dwtt.get("dwtt split");
      compare(got, cpu, 1e-5, tag("embedding dwtt split rows", T, E));
      if (run == 0) first = got;
      else CHECK(etest::bit_equal(first.data(), got.data(), T * E)) << "dwtt not deterministic";
    }
  }
}

TEST(cuda_gelu_residual) {
  if (!have_gpu()) return;
  for (int64_t a : etest::odd_sizes())
    for (int64_t b : etest::odd_sizes()) {
      const int64_t n = a * b;
      auto x = rand_vec(n, -5.f, 5.f), y = rand_vec(n), dout = rand_vec(n), dinp = rand_vec(n);
      std::vector<float> out(static_cast<size_t>(n)), dw(static_cast<size_t>(n));
      DevGuarded<float> d_x(x), d_y(y), d_dout(dout), d_dinp(dinp);
      DevGuarded<float> d_out(std::vector<float>(static_cast<size_t>(n), 0.f)), d_dw(std::vector<float>(static_cast<size_t>(n), 0.f));

      electra::cpu::gelu_forward(out.data(), x.data(), n);
      check_ok(electra::cuda::gelu_forward(d_out.data(), d_x.data(), n), "gelu_forward");
      compare(d_out.get("gelu out"), out, 1e-5, tag("gelu_forward", a, b));
      electra::cpu::gelu_backward(dinp.data(), dout.data(), x.data(), n);
      check_ok(electra::cuda::gelu_backward(d_dinp.data(), d_dout.data(), d_x.data(), n), "gelu_backward");
      compare(d_dinp.get("gelu dinp"), dinp, 1e-5, tag("gelu_backward", a, b));
      electra::cpu::gelu_backward_write(dw.data(), dout.data(), x.data(), n);
      check_ok(electra::cuda::gelu_backward_write(d_dw.data(), d_dout.data(), d_x.data(), n),
               "gelu_backward_write");
      compare(d_dw.get("gelu dw"), dw, 1e-5, tag("gelu_backward_write", a, b));

      electra::cpu::residual_forward(out.data(), x.data(), y.data(), n);
      check_ok(electra::cuda::residual_forward(d_out.data(), d_x.data(), d_y.data(), n), "residual_forward");
      compare(d_out.get("res out"), out, 1e-6, tag("residual_forward", a, b));
      auto da = x, db = y;
      electra::cpu::residual_backward(da.data(), db.data(), dout.data(), n);
      check_ok(electra::cuda::residual_backward(d_x.data(), d_y.data(), d_dout.data(), n),
               "residual_backward");
      compare(d_x.get("res da"), da, 1e-6, tag("residual da", a, b));
      compare(d_y.get("res db"), db, 1e-6, tag("residual db", a, b));
    }
}

TEST(cuda_dropout_masks_bit_equal) {
  if (!have_gpu()) return;
  const uint64_t seed = 0x5eedull, offset = 17;
  std::vector<int64_t> sizes = etest::odd_sizes();
  sizes.push_back(4099);
  for (float p : {0.0f, 0.1f, 0.5f, 0.9f})
    for (int64_t n : sizes) {
      auto x = rand_vec(n), dout = rand_vec(n), dinp = rand_vec(n);
      std::vector<float> out(static_cast<size_t>(n));
      electra::cpu::dropout_forward(out.data(), x.data(), n, p, seed, offset);
      DevGuarded<float> d_x(x), d_dout(dout), d_dinp(dinp);
      DevGuarded<float> d_out(std::vector<float>(static_cast<size_t>(n), 0.f));
      check_ok(electra::cuda::dropout_forward(d_out.data(), d_x.data(), n, p, seed, offset),
               "dropout_forward");
      auto g = d_out.get("dropout out");
      CHECK(etest::bit_equal(g.data(), out.data(), n)) << "dropout forward not bit-equal, p=" << p
                                                       << " n=" << n;
      electra::cpu::dropout_backward(dinp.data(), dout.data(), n, p, seed, offset);
      check_ok(electra::cuda::dropout_backward(d_dinp.data(), d_dout.data(), n, p, seed, offset),
               "dropout_backward");
      auto gd = d_dinp.get("dropout dinp");
      compare(gd, dinp, 1e-6, "dropout_backward p=" + std::to_string(p) + " n=" + std::to_string(n));
    }
}

TEST(cuda_crossentropy) {
  if (!have_gpu()) return;
  for (int64_t N : {int64_t(1), int64_t(7), int64_t(33)})
    for (int64_t V : {int64_t(1), int64_t(7), int64_t(33), int64_t(129), int64_t(1031)}) {
      // R distinct rows of N (CPU and CUDA both require distinct rows for dlogits).
      std::vector<int32_t> perm(static_cast<size_t>(N));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), etest::rng());
      const int64_t R = std::max<int64_t>(1, (N * 2) / 3);
      std::vector<int32_t> rows(perm.begin(), perm.begin() + R);
      auto targets = rand_ids(R, V);
      auto logits = rand_vec(N * V, -4.f, 4.f);
      const float scale = 0.37f;
      std::vector<float> losses(static_cast<size_t>(R)), dl(static_cast<size_t>(N * V), 7.f);
      std::vector<int32_t> am(static_cast<size_t>(R));
      electra::cpu::crossentropy_forward_backward(losses.data(), am.data(), dl.data(),
                                                  logits.data(), rows.data(), targets.data(), R, V,
                                                  scale);
      DevGuarded<float> d_logits(logits), d_losses(std::vector<float>(static_cast<size_t>(R), 0.f));
      DevGuarded<float> d_dl(std::vector<float>(static_cast<size_t>(N * V), 7.f));
      DevGuarded<int32_t> d_rows(rows), d_t(targets), d_am(std::vector<int32_t>(static_cast<size_t>(R), -1));
      check_ok(electra::cuda::crossentropy_forward_backward(d_losses.data(), d_am.data(), d_dl.data(),
                                                            d_logits.data(), d_rows.data(), d_t.data(),
                                                            R, V, scale),
               "crossentropy_forward_backward");
      compare(d_losses.get("ce losses"), losses, 1e-5, tag("crossentropy losses", N, V));
      CHECK(d_am.get("ce argmax") == am) << tag("crossentropy argmax", N, V);
      compare(d_dl.get("ce dlogits"), dl, 1e-5, tag("crossentropy dlogits", N, V));  // untouched rows stay 7
      // In place: dlogits aliases logits.
      check_ok(electra::cuda::crossentropy_forward_backward(nullptr, nullptr, d_logits.data(),
                                                            d_logits.data(), d_rows.data(), d_t.data(),
                                                            R, V, scale),
               "crossentropy in place");
      auto inplace = logits;
      for (int64_t r = 0; r < R; ++r)
        std::copy(dl.begin() + rows[size_t(r)] * V, dl.begin() + (rows[size_t(r)] + 1) * V,
                  inplace.begin() + rows[size_t(r)] * V);
      compare(d_logits.get("ce in place"), inplace, 1e-5, tag("crossentropy in place", N, V));
    }
}

TEST(cuda_bce) {
  if (!have_gpu()) return;
  std::vector<int64_t> sizes = etest::odd_sizes();
  sizes.push_back(100003);
  for (int64_t n : sizes)
    for (bool weighted : {false, true}) {
      auto x = rand_vec(n, -8.f, 8.f), y = rand_vec(n, 0.f, 1.f), w = rand_vec(n, 0.f, 1.f);
      for (auto& v : y) v = v < 0.5f ? 0.f : 1.f;
      std::vector<float> dl(static_cast<size_t>(n));
      const double sum = electra::cpu::bce_forward_backward(dl.data(), x.data(), y.data(),
                                                            weighted ? w.data() : nullptr, n, 0.5f);
      DevGuarded<float> d_x(x), d_y(y), d_w(w), d_dl(std::vector<float>(static_cast<size_t>(n), 0.f));
      DeviceBuffer<double> d_sum, scratch;
      check_ok(d_sum.alloc(1), "alloc");
      check_ok(scratch.alloc(electra::cuda::kReduceBlocks), "alloc");
      check_ok(electra::cuda::bce_forward_backward(d_sum.data(), scratch.data(), d_dl.data(),
                                                   d_x.data(), d_y.data(),
                                                   weighted ? d_w.data() : nullptr, n, 0.5f),
               "bce_forward_backward");
      compare(d_dl.get("bce dlogits"), dl, 1e-5, tag("bce dlogits", n, weighted));
      double g = 0;
      check_ok(electra::cuda::copy_to_host(&g, d_sum.data(), 1), "copy sum");
      CHECK(std::fabs(g - sum) <= 1e-6 * std::fabs(sum) + 1e-9) << "bce sum " << g << " vs " << sum;
    }
}

TEST(cuda_mse) {
  if (!have_gpu()) return;
  for (int64_t n : etest::odd_sizes()) {
    auto x = rand_vec(n, -3.f, 3.f), y = rand_vec(n, 0.f, 5.f);
    std::vector<float> dl(static_cast<size_t>(n));
    const double sum = electra::cpu::mse_forward_backward(dl.data(), x.data(), y.data(), n, 0.25f);
    DevGuarded<float> d_x(x), d_y(y), d_dl(std::vector<float>(static_cast<size_t>(n), 0.f));
    DeviceBuffer<double> d_sum;
    check_ok(d_sum.alloc(1), "alloc");
    check_ok(electra::cuda::mse_forward_backward(d_sum.data(), d_dl.data(), d_x.data(), d_y.data(), n, 0.25f),
             "mse_forward_backward");
    compare(d_dl.get("mse dpred"), dl, 1e-6, tag("mse dpred", n, false));
    double g = 0;
    check_ok(electra::cuda::copy_to_host(&g, d_sum.data(), 1), "copy sum");
    CHECK(std::fabs(g - sum) <= 1e-12 * std::fabs(sum) + 1e-15) << "mse sum " << g << " vs " << sum;
  }
}

TEST(cuda_adamw) {
  if (!have_gpu()) return;
  for (int64_t a : etest::odd_sizes())
    for (int64_t b : {int64_t(1), int64_t(33)})
      for (bool decay : {false, true})
        for (bool bc : {false, true}) {
          const int64_t n = a * b;
          auto p = rand_vec(n), g = rand_vec(n), m = rand_vec(n, -0.1f, 0.1f), v = rand_vec(n, 0.f, 0.01f);
          electra::cpu::AdamWHyper hp;
          hp.lr = 2e-3f;
          hp.step = 7;
          hp.bias_correction = bc;
          DevGuarded<float> d_p(p), d_g(g), d_m(m), d_v(v);
          electra::cpu::adamw_update(p.data(), g.data(), m.data(), v.data(), n, hp, decay);
          check_ok(electra::cuda::adamw_update(d_p.data(), d_g.data(), d_m.data(), d_v.data(), n, hp, decay),
                   "adamw_update");
          compare(d_p.get("adamw p"), p, 1e-5, tag("adamw params", n, decay));
          compare(d_m.get("adamw m"), m, 1e-5, tag("adamw m", n, decay));
          compare(d_v.get("adamw v"), v, 1e-5, tag("adamw v", n, decay));
        }
}

TEST(cuda_global_norm_clip) {
  if (!have_gpu()) return;
  std::vector<int64_t> sizes = etest::odd_sizes();
  sizes.push_back(1000003);
  for (int64_t n : sizes) {
    auto g = rand_vec(n);
    const double norm = electra::cpu::global_norm(g.data(), n);
    DevGuarded<float> d_g(g);
    DeviceBuffer<double> d_norm, scratch;
    check_ok(d_norm.alloc(1), "alloc");
    check_ok(scratch.alloc(electra::cuda::kReduceBlocks), "alloc");
    double n1 = -1, n2 = -2;
    check_ok(electra::cuda::global_norm(d_norm.data(), scratch.data(), d_g.data(), n), "global_norm");
    check_ok(electra::cuda::copy_to_host(&n1, d_norm.data(), 1), "copy");
    check_ok(electra::cuda::global_norm(d_norm.data(), scratch.data(), d_g.data(), n), "global_norm");
    check_ok(electra::cuda::copy_to_host(&n2, d_norm.data(), 1), "copy");
    CHECK(std::memcmp(&n1, &n2, sizeof n1) == 0) << "global_norm not deterministic";
    CHECK(std::fabs(n1 - norm) <= 1e-12 * norm + 1e-30) << "norm " << n1 << " vs " << norm;
    // Clip at half the norm (scales) and at twice it (no-op).
    for (float mx : {float(norm / 2), float(norm * 2)}) {
      auto c = g;
      const double cn = electra::cpu::clip_grad_norm(c.data(), n, mx);
      DevGuarded<float> d_c(g);
      check_ok(electra::cuda::clip_grad_norm(d_norm.data(), scratch.data(), d_c.data(), n, mx),
               "clip_grad_norm");
      compare(d_c.get("clip grads"), c, 1e-6, tag("clip", n, mx > norm));
      double gn = 0;
      check_ok(electra::cuda::copy_to_host(&gn, d_norm.data(), 1), "copy");
      CHECK(std::fabs(gn - cn) <= 1e-12 * cn + 1e-30) << "clip norm " << gn << " vs " << cn;
    }
  }
}

#endif  // ELECTRA_HAVE_CUDA
