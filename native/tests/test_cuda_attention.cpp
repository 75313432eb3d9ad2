// cuda::attention_forward / attention_backward_write (native/cuda/attention.cu)
// against the CPU oracle (cpu::attention_forward / attention_backward_write):
//  - shapes from 1x1 to the limits (S = 512, hd = 128), odd S and hd, the
//    ELECTRA-Small discriminator (S=128, NH=4, hd=64) and generator (NH=1)
//    heads, q/k/v as separate buffers with ld > NH*hd and as column blocks of
//    one fused [B*S, 3H] buffer;
//  - masks: none (nullptr), all real, prefixes, random holes and a fully
//    padded sequence (zero probs and output, exactly); padded keys must get
//    probability exactly 0;
//  - p = 0 and p = 0.1 (dropout masks must match the CPU's, or `out` would
//    differ by whole terms);
//  - the backward writing dq/dk/dv over non-zero garbage, every nullptr
//    combination of the gradients, columns outside the heads left
//    bit-unchanged, run-to-run bit equality.
// Tolerances (max relative error, one scale per tensor): probs 1e-5, out
// 2e-5, gradients 1e-4. Output buffers start as NaN and every device
// buffer has sentinel guards. Without a GPU each test prints the SKIP line.
// The bf16 tensor-core path (attention_tc.cu) has its own test and bounds
// below (cuda_attention_bf16).
#if defined(ELECTRA_HAVE_CUDA)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu/ops.h"
#include "cuda/ops_cuda.h"
#include "cuda_test_util.h"
#include "test_util.h"

using cudatest::check_ok;
using cudatest::bf16_rne;
using cudatest::compare;
using cudatest::DevGuarded;
using cudatest::have_gpu;

namespace {

struct AttnCase {
  int64_t B, S, NH, hd;
  int64_t ld_extra;  // extra columns per row beyond the heads
  bool fused;        // q/k/v are column blocks [0,H), [H,2H), [2H,3H) of one buffer
  float p;
  bool with_mask;    // false: mask == nullptr
};

// Host-side inputs of one case. q, k and v live in ONE buffer `x` (fused: row
// stride 3H + extra, column offsets 0, H, 2H; separate: three [B*S, ld]
// regions); the gradients use the same layout in a buffer of the same size.
struct AttnData {
  AttnCase c;
  int64_t H = 0, ld = 0, rows = 0;
  int64_t off[3] = {0, 0, 0};  // element offsets of q, k, v in x
  std::vector<float> x, dout, grad0;
  std::vector<int32_t> mask;  // [B*S]; empty when !with_mask
  std::vector<bool> fully_padded;

  explicit AttnData(const AttnCase& cs) : c(cs) {
    H = c.NH * c.hd;
    rows = c.B * c.S;
    if (c.fused) {
      ld = 3 * H + c.ld_extra;
      off[0] = 0, off[1] = H, off[2] = 2 * H;
      x = etest::rand_vec(rows * ld, -2.f, 2.f);
    } else {
      ld = H + c.ld_extra;
      off[0] = 0, off[1] = rows * ld, off[2] = 2 * rows * ld;
      x = etest::rand_vec(3 * rows * ld, -2.f, 2.f);
    }
    dout = etest::rand_vec(rows * H);
    grad0 = etest::rand_vec(int64_t(x.size()));
    fully_padded.assign(size_t(c.B), false);
    if (c.with_mask) {
      mask.assign(size_t(rows), 1);
      for (int64_t b = 0; b < c.B; ++b) {
        int32_t* m = mask.data() + b * c.S;
        switch (b % 4) {
          case 0: break;  // all real
          case 1: {       // a prefix of real tokens
            const int64_t len = etest::rand_int(1, c.S);
            for (int64_t s = len; s < c.S; ++s) m[s] = 0;
            break;
          }
          case 2:  // fully padded
            for (int64_t s = 0; s < c.S; ++s) m[s] = 0;
            fully_padded[size_t(b)] = true;
            break;
          default:  // random holes, at least one real token
            for (int64_t s = 0; s < c.S; ++s) m[s] = etest::rand_int(0, 9) < 3 ? 0 : 1;
            m[etest::rand_int(0, c.S - 1)] = 1;
        }
      }
    }
  }
  const int32_t* mask_ptr() const { return c.with_mask ? mask.data() : nullptr; }
  int64_t probs_size() const { return c.B * c.NH * c.S * c.S; }
  // Which role (0 q, 1 k, 2 v) element e of x belongs to, or -1 when it lies
  // outside every head column (must never be written).
  int role_of(int64_t e) const {
    if (c.fused) {
      const int64_t col = e % ld;
      return col < 3 * H ? int(col / H) : -1;
    }
    const int r = int(e / (rows * ld));
    return (e % ld) < H ? r : -1;
  }
  std::string name() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, "B=%lld S=%lld NH=%lld hd=%lld ld=%lld%s p=%g%s",
                  (long long)c.B, (long long)c.S, (long long)c.NH, (long long)c.hd,
                  (long long)ld, c.fused ? " fused" : "", double(c.p),
                  c.with_mask ? " masked" : "");
    return buf;
  }
};

const std::vector<AttnCase>& cases() {
  static const std::vector<AttnCase> v = {
      {1, 1, 1, 1, 0, false, 0.0f, false},
      {2, 7, 3, 8, 0, false, 0.0f, true},
      {3, 7, 3, 8, 5, false, 0.1f, true},     // b=2 fully padded
      {4, 33, 2, 16, 3, false, 0.1f, true},   // prefix, padded, holes
      {2, 65, 1, 33, 0, false, 0.1f, false},  // odd hd > 32
      {3, 31, 2, 5, 1, true, 0.1f, true},
      {2, 128, 4, 64, 0, true, 0.1f, true},   // ELECTRA-Small discriminator
      {2, 128, 1, 64, 0, true, 0.0f, true},   // generator-like head
      {1, 129, 2, 128, 1, false, 0.1f, false},
      {1, 256, 1, 64, 0, false, 0.1f, false},  // backward TQ=32 above 48 KB
      {1, 300, 2, 100, 0, false, 0.1f, false}, // backward TQ=16
      {2, 512, 1, 128, 0, false, 0.1f, true},  // the limits
  };
  return v;
}

constexpr uint64_t kSeed = 0x5eed1234abcdull;
constexpr uint64_t kOffset = (1ull << 33) + 77;  // high bits exercised

// Max relative error of one role's gradient against the CPU's (both written
// over grad0).
double grad_err(const AttnData& d, const std::vector<float>& gpu, const std::vector<float>& cpu,
                int role) {
  double num = 0, den = 1e-30;
  for (int64_t e = 0; e < int64_t(gpu.size()); ++e) {
    if (d.role_of(e) != role) continue;
    const double g = gpu[size_t(e)];
    const double c = cpu[size_t(e)];
    num = std::fmax(num, std::fabs(g - c));
    den = std::fmax(den, std::fabs(c));
  }
  return num / den;
}

void cpu_forward(const AttnData& d, std::vector<float>* out, std::vector<float>* probs) {
  out->assign(size_t(d.rows * d.H), 0.f);
  probs->assign(size_t(d.probs_size()), 0.f);
  electra::cpu::attention_forward(out->data(), probs->data(), d.x.data() + d.off[0],
                                  d.x.data() + d.off[1], d.x.data() + d.off[2], d.ld,
                                  d.mask_ptr(), d.c.B, d.c.S, d.c.NH, d.c.hd, d.c.p, kSeed,
                                  kOffset);
}

void run_forward_case(const AttnCase& cs) {
  AttnData d(cs);
  const std::string nm = d.name();
  std::vector<float> out, probs;
  cpu_forward(d, &out, &probs);

  DevGuarded<float> d_x(d.x);
  DevGuarded<int32_t> d_mask(d.mask);
  const float nan = std::nanf("");
  DevGuarded<float> d_out(std::vector<float>(out.size(), nan));
  DevGuarded<float> d_probs(std::vector<float>(probs.size(), nan));
  const int32_t* mptr = cs.with_mask ? d_mask.data() : nullptr;
  check_ok(electra::cuda::attention_forward(d_out.data(), d_probs.data(), d_x.data() + d.off[0],
                                            d_x.data() + d.off[1], d_x.data() + d.off[2], d.ld,
                                            mptr, cs.B, cs.S, cs.NH, cs.hd, cs.p, kSeed, kOffset),
           "attention_forward");
  const std::vector<float> g_out = d_out.get("attn out"), g_probs = d_probs.get("attn probs");
  compare(g_probs, probs, 1e-5, "attention probs " + nm);
  compare(g_out, out, 2e-5, "attention out " + nm);

  // Exact zeros: padded keys, fully padded sequences (probs and output).
  if (cs.with_mask) {
    int64_t bad = 0;
    for (int64_t b = 0; b < cs.B; ++b)
      for (int64_t h = 0; h < cs.NH; ++h)
        for (int64_t i = 0; i < cs.S; ++i)
          for (int64_t j = 0; j < cs.S; ++j) {
            const bool zero = d.mask[size_t(b * cs.S + j)] == 0 || d.fully_padded[size_t(b)];
            const float pv = g_probs[size_t(((b * cs.NH + h) * cs.S + i) * cs.S + j)];
            bad += zero && pv != 0.0f;
          }
    CHECK(bad == 0) << nm << ": " << bad << " masked probabilities are not exactly 0";
    int64_t bad_out = 0;
    for (int64_t b = 0; b < cs.B; ++b)
      if (d.fully_padded[size_t(b)])
        for (int64_t e = b * cs.S * d.H; e < (b + 1) * cs.S * d.H; ++e) bad_out += g_out[size_t(e)] != 0.0f;
    CHECK(bad_out == 0) << nm << ": fully padded sequence output not exactly 0";
  }

  // Run to run: bit-identical.
  check_ok(electra::cuda::attention_forward(d_out.data(), d_probs.data(), d_x.data() + d.off[0],
                                            d_x.data() + d.off[1], d_x.data() + d.off[2], d.ld,
                                            mptr, cs.B, cs.S, cs.NH, cs.hd, cs.p, kSeed, kOffset),
           "attention_forward (again)");
  const std::vector<float> g_out2 = d_out.get("attn out 2"), g_probs2 = d_probs.get("attn probs 2");
  CHECK(etest::bit_equal(g_out.data(), g_out2.data(), int64_t(g_out.size())) &&
        etest::bit_equal(g_probs.data(), g_probs2.data(), int64_t(g_probs.size())))
      << nm << ": forward not deterministic";
}

// One GPU backward from grad0 with the selected gradients; returns the
// gradient buffer (absent gradients must stay bit-equal to grad0).
std::vector<float> gpu_backward(const AttnData& d, const std::vector<float>& probs, bool want_q,
                                bool want_k, bool want_v) {
  DevGuarded<float> d_x(d.x), d_dout(d.dout), d_probs(probs), d_g(d.grad0);
  DevGuarded<int32_t> d_mask(d.mask);
  float* g = d_g.data();
  check_ok(electra::cuda::attention_backward_write(
               want_q ? g + d.off[0] : nullptr, want_k ? g + d.off[1] : nullptr,
               want_v ? g + d.off[2] : nullptr, d_dout.data(), d_probs.data(),
               d_x.data() + d.off[0], d_x.data() + d.off[1], d_x.data() + d.off[2], d.ld,
               d.c.with_mask ? d_mask.data() : nullptr, d.c.B, d.c.S, d.c.NH, d.c.hd, d.c.p,
               kSeed, kOffset),
           "attention_backward_write");
  return d_g.get("attn grads");
}

void run_backward_case(const AttnCase& cs) {
  AttnData d(cs);
  const std::string nm = d.name();
  std::vector<float> out, probs;
  cpu_forward(d, &out, &probs);
  std::vector<float> cg = d.grad0;  // CPU: all three gradients
  electra::cpu::attention_backward_write(cg.data() + d.off[0], cg.data() + d.off[1],
                                   cg.data() + d.off[2], d.dout.data(), probs.data(),
                                   d.x.data() + d.off[0], d.x.data() + d.off[1],
                                   d.x.data() + d.off[2], d.ld, d.mask_ptr(), cs.B, cs.S, cs.NH,
                                   cs.hd, cs.p, kSeed, kOffset);

  // Every combination of present gradients (the GPU reads the CPU's probs).
  const char* role_name[3] = {"dq", "dk", "dv"};
  for (int sel = 0; sel < 8; ++sel) {
    const bool want[3] = {(sel & 1) != 0, (sel & 2) != 0, (sel & 4) != 0};
    const std::vector<float> gg = gpu_backward(d, probs, want[0], want[1], want[2]);
    const std::string tagged = nm + " grads=" + std::to_string(sel);
    CHECK(etest::all_finite(gg.data(), int64_t(gg.size()))) << tagged << ": non-finite gradient";
    int64_t changed = 0;  // absent roles and non-head columns: bit-unchanged
    for (int64_t e = 0; e < int64_t(gg.size()); ++e) {
      const int r = d.role_of(e);
      if (r < 0 || !want[r])
        changed += std::memcmp(&gg[size_t(e)], &d.grad0[size_t(e)], sizeof(float)) != 0;
    }
    CHECK(changed == 0) << tagged << ": " << changed << " elements outside the requested gradients changed";
    for (int r = 0; r < 3; ++r)
      if (want[r])
        CHECK_LT(grad_err(d, gg, cg, r), 1e-4) << tagged << " " << role_name[r];
    if (sel == 7) {
      compare(gg, cg, 1e-5, "attention grads (written) " + nm);
      const std::vector<float> again = gpu_backward(d, probs, true, true, true);
      CHECK(etest::bit_equal(gg.data(), again.data(), int64_t(gg.size())))
          << nm << ": backward not deterministic";
    }
  }
}

}  // namespace

TEST(cuda_attention_forward) {
  // Shape limits are checked before any device work (no GPU needed).
  electra::Status st = electra::cuda::attention_forward(nullptr, nullptr, nullptr, nullptr, nullptr,
                                                        64, nullptr, 1, 513, 1, 64, 0.f, 0, 0);
  CHECK(st.code() == electra::StatusCode::kInvalidArgument) << "S=513 accepted";
  st = electra::cuda::attention_backward_write(nullptr, nullptr, reinterpret_cast<float*>(16), nullptr,
                                         nullptr, nullptr, nullptr, nullptr, 129, nullptr, 1, 8, 1,
                                         129, 0.f, 0, 0);
  CHECK(st.code() == electra::StatusCode::kInvalidArgument) << "hd=129 accepted";
  if (!have_gpu()) return;
  for (const AttnCase& c : cases()) run_forward_case(c);
}

TEST(cuda_attention_backward) {
  if (!have_gpu()) return;
  for (const AttnCase& c : cases()) run_backward_case(c);
}

// The forward output fed through the GPU's own probs (the chain a training
// step runs): backward from the GPU forward's probs stays close to the CPU.
TEST(cuda_attention_chain) {
  if (!have_gpu()) return;
  const AttnCase cs = {3, 128, 4, 64, 0, true, 0.1f, true};
  AttnData d(cs);
  std::vector<float> out, probs;
  cpu_forward(d, &out, &probs);
  DevGuarded<float> d_x(d.x), d_dout(d.dout), d_g(d.grad0);
  DevGuarded<int32_t> d_mask(d.mask);
  DevGuarded<float> d_out(std::vector<float>(out.size(), 0.f)), d_probs(std::vector<float>(probs.size(), 0.f));
  float* g = d_g.data();
  check_ok(electra::cuda::attention_forward(d_out.data(), d_probs.data(), d_x.data() + d.off[0],
                                            d_x.data() + d.off[1], d_x.data() + d.off[2], d.ld,
                                            d_mask.data(), cs.B, cs.S, cs.NH, cs.hd, cs.p, kSeed,
                                            kOffset),
           "attention_forward");
  check_ok(electra::cuda::attention_backward_write(g + d.off[0], g + d.off[1], g + d.off[2],
                                             d_dout.data(), d_probs.data(), d_x.data() + d.off[0],
                                             d_x.data() + d.off[1], d_x.data() + d.off[2], d.ld,
                                             d_mask.data(), cs.B, cs.S, cs.NH, cs.hd, cs.p, kSeed,
                                             kOffset),
           "attention_backward_write");
  std::vector<float> cg = d.grad0;
  electra::cpu::attention_backward_write(cg.data() + d.off[0], cg.data() + d.off[1],
                                   cg.data() + d.off[2], d.dout.data(), probs.data(),
                                   d.x.data() + d.off[0], d.x.data() + d.off[1],
                                   d.x.data() + d.off[2], d.ld, d.mask.data(), cs.B, cs.S, cs.NH,
                                   cs.hd, cs.p, kSeed, kOffset);
  compare(d_out.get("chain out"), out, 2e-5, "attention chain out " + d.name());
  const std::vector<float> gg = d_g.get("chain grads");
  for (int r = 0; r < 3; ++r) CHECK_LT(grad_err(d, gg, cg, r), 1e-4) << "chain role " << r;
}

// ------------------------------------------------ the bf16 tensor-core path
// cuda::attention_forward_bf16 / attention_backward_write_bf16 (attention_tc.cu)
// against the same CPU oracle: the GPU forward's own saved state (one
// log-sum-exp per row, not probs) and output feed the GPU backward, as in a
// training step. Shapes: S = 1, 7, 16, 33, 128 and 512; hd = 8, 16, 33, 64
// (ELECTRA-Small's discriminator and generator heads) and 128; masks and
// dropout on and off; all three gradients and some nullptr combinations;
// run-to-run bit equality; and q, k, v stored as bf16 (the RNE of the fp32
// inputs) give the tensor-core kernels' bits exactly, where the fp32 fallback
// refuses them. A shape whose kernels do not fit the device's
// shared memory takes the fp32 fallback (which must pass the same bounds);
// under the emulator (99 KB by default) such shapes (S = 512, hd = 128) run
// again with its opt-in limit raised to an H100's 227 KB (EMU_SMEM_OPTIN), so
// both the fallback and the tensor-core kernels are exercised.
//
// Tolerances (max |gpu - cpu| / max |cpu| per tensor). bf16 keeps 8
// significant bits: rounding q, k, v, dO, P or dS costs a relative error of
// at most u = 2^-9 ~ 1.95e-3 per factor, so each product term errs by <= 2u.
// The sums mix signs, so max |cpu| is smaller than the sum of |terms| the
// error scales with; a factor of ~4 for that cancellation gives 8u:
//   out = Pd V, dv = Pd^T dO     (two rounded factors)        bound 1.5e-2
// dq, dk = scale dS K, dS^T Q with dS = P (dP f - D), dP = dO V^T: dO and V
// are rounded in dP, then dS and K/Q again, and dS is a difference of nearly
// equal terms, so one more rounding step's worth:             bound 2.5e-2
// Measured on these cases (emulator, k-order fp32 accumulation): out <= 6e-3,
// dv <= 5.5e-3, dq and dk <= 7.2e-3. The fp32 fallback (hd = 128 here) is
// ~1e-7. A training step in bf16 (test_cuda_step.cpp) adds its own 2% bound.
constexpr double kBf16OutTol = 1.5e-2, kBf16DvTol = 1.5e-2, kBf16DqkTol = 2.5e-2;

const std::vector<AttnCase>& bf16_cases() {
  static const std::vector<AttnCase> v = {
      {1, 1, 1, 16, 0, false, 0.0f, false},
      {2, 7, 3, 8, 0, false, 0.0f, true},
      {3, 7, 3, 8, 5, false, 0.1f, true},     // b=2 fully padded
      {2, 16, 2, 16, 0, true, 0.1f, true},
      {4, 33, 2, 33, 3, false, 0.1f, true},   // odd S and hd (hd padded to 64)
      {2, 128, 4, 64, 0, true, 0.1f, true},   // ELECTRA-Small discriminator
      {2, 128, 1, 64, 0, true, 0.1f, true},   // ELECTRA-Small generator (1 head)
      {2, 128, 1, 64, 0, true, 0.0f, false},
      {1, 100, 1, 128, 0, false, 0.1f, true}, // hd = 128: fp32 fallback under the emulator's 99 KB
      {1, 512, 1, 64, 0, false, 0.1f, true},  // the whole of K and V of S = 512 in shared memory
  };
  return v;
}

// Sets the emulator's opt-in shared-memory limit for one scope (a no-op on a GPU).
struct EmuSmemOptin {
  explicit EmuSmemOptin(const char* bytes) { setenv("EMU_SMEM_OPTIN", bytes, 1); }
  ~EmuSmemOptin() { unsetenv("EMU_SMEM_OPTIN"); }
};

// grad_err, but an exactly zero CPU gradient (S = 1: dq = dk = 0, as the
// one probability is constant) is measured in absolute terms: the inputs are
// O(1), so 1e-3 stands for their scale.
double role_err(const AttnData& d, const std::vector<float>& gpu, const std::vector<float>& cpu, int role) {
  double num = 0, den = 1e-3;
  for (int64_t e = 0; e < int64_t(gpu.size()); ++e) {
    if (d.role_of(e) != role) continue;
    const double g = gpu[size_t(e)];
    const double c = cpu[size_t(e)];
    num = std::fmax(num, std::fabs(g - c));
    den = std::fmax(den, std::fabs(c));
  }
  return num / den;
}

// q, k, v stored as bf16 bits (the overloads taking uint16_t): the RNE of
// d.x, which the kernels make of fp32 inputs as they load them, so forward
// and backward give exactly the fp32-input calls' bits (out, state; the three
// gradients). Where the tensor-core kernels do not fit: kInvalidArgument.
void check_bf16_inputs(const AttnData& d, const AttnCase& cs, bool tc, const int32_t* mptr, const float* d_dout,
                       const std::vector<float>& out32, const std::vector<float>& state32, int64_t state_n,
                       const std::vector<float>& grads32) {
  const std::string nm = d.name() + " bf16 q, k, v";
  std::vector<uint16_t> x16(d.x.size());
  for (size_t i = 0; i < x16.size(); ++i) x16[i] = bf16_rne(d.x[i]);
  DevGuarded<uint16_t> d_x16(x16);
  const uint16_t* q = d_x16.data() + d.off[0];
  const uint16_t* k = d_x16.data() + d.off[1];
  const uint16_t* v = d_x16.data() + d.off[2];
  const float nan = std::nanf("");
  DevGuarded<float> d_out(std::vector<float>(out32.size(), nan)), d_state(std::vector<float>(state32.size(), nan));
  const electra::Status st = electra::cuda::attention_forward_bf16(d_out.data(), d_state.data(), q, k, v, d.ld, mptr,
                                                                   cs.B, cs.S, cs.NH, cs.hd, cs.p, kSeed, kOffset);
  DevGuarded<float> d_g(d.grad0);
  float* g = d_g.data();
  const electra::Status bst = electra::cuda::attention_backward_write_bf16(
      g + d.off[0], g + d.off[1], g + d.off[2], d_dout, d_out.data(), d_state.data(), q, k, v, d.ld, mptr, cs.B, cs.S,
      cs.NH, cs.hd, cs.p, kSeed, kOffset);
  if (!tc) {
    CHECK(st.code() == electra::StatusCode::kInvalidArgument) << nm << ": accepted by the fp32 fallback";
    CHECK(bst.code() == electra::StatusCode::kInvalidArgument) << nm << ": accepted by the fp32 fallback";
    return;
  }
  check_ok(st, "attention_forward_bf16 (bf16 q, k, v)");
  check_ok(bst, "attention_backward_write_bf16 (bf16 q, k, v)");
  const std::vector<float> out = d_out.get("bf16-input out"), state = d_state.get("bf16-input state");
  const std::vector<float> grads = d_g.get("bf16-input grads");
  CHECK(etest::bit_equal(out.data(), out32.data(), int64_t(out.size()))) << nm << ": out differs from fp32 inputs";
  CHECK(etest::bit_equal(state.data(), state32.data(), state_n)) << nm << ": saved state differs";
  CHECK(etest::bit_equal(grads.data(), grads32.data(), int64_t(grads.size()))) << nm << ": gradients differ";
}

void run_bf16_case(const AttnCase& cs) {
  AttnData d(cs);
  const std::string nm = d.name() + " bf16";
  std::vector<float> out, probs;
  cpu_forward(d, &out, &probs);
  std::vector<float> cg = d.grad0;
  electra::cpu::attention_backward_write(cg.data() + d.off[0], cg.data() + d.off[1], cg.data() + d.off[2],
                                   d.dout.data(), probs.data(), d.x.data() + d.off[0], d.x.data() + d.off[1],
                                   d.x.data() + d.off[2], d.ld, d.mask_ptr(), cs.B, cs.S, cs.NH, cs.hd, cs.p,
                                   kSeed, kOffset);
  bool tc = false;
  check_ok(electra::cuda::attention_tc_fits(cs.S, cs.hd, &tc), "attention_tc_fits");

  DevGuarded<float> d_x(d.x), d_dout(d.dout);
  DevGuarded<int32_t> d_mask(d.mask);
  const float nan = std::nanf("");
  DevGuarded<float> d_out(std::vector<float>(out.size(), nan));
  DevGuarded<float> d_state(std::vector<float>(probs.size(), nan));
  const int32_t* mptr = cs.with_mask ? d_mask.data() : nullptr;
  auto forward = [&]() {
    check_ok(electra::cuda::attention_forward_bf16(d_out.data(), d_state.data(), d_x.data() + d.off[0],
                                                   d_x.data() + d.off[1], d_x.data() + d.off[2], d.ld, mptr, cs.B,
                                                   cs.S, cs.NH, cs.hd, cs.p, kSeed, kOffset),
             "attention_forward_bf16");
  };
  forward();
  const std::vector<float> g_out = d_out.get("bf16 out"), g_state = d_state.get("bf16 state");
  compare(g_out, out, kBf16OutTol, "attention bf16 out " + nm);
  const double out_err = etest::rel_error(g_out.data(), out.data(), int64_t(out.size()));
  if (cs.with_mask) {
    int64_t bad_out = 0;
    for (int64_t b = 0; b < cs.B; ++b)
      if (d.fully_padded[size_t(b)])
        for (int64_t e = b * cs.S * d.H; e < (b + 1) * cs.S * d.H; ++e) bad_out += g_out[size_t(e)] != 0.0f;
    CHECK(bad_out == 0) << nm << ": fully padded sequence output not exactly 0";
  }
  // The saved state: B*NH*S row statistics (tensor cores) or the probs (fallback).
  const int64_t state_n = tc ? cs.B * cs.NH * cs.S : int64_t(probs.size());
  CHECK(etest::all_finite(g_state.data(), state_n)) << nm << ": non-finite saved state";
  forward();
  const std::vector<float> g_out2 = d_out.get("bf16 out 2"), g_state2 = d_state.get("bf16 state 2");
  CHECK(etest::bit_equal(g_out.data(), g_out2.data(), int64_t(g_out.size())) &&
        etest::bit_equal(g_state.data(), g_state2.data(), state_n))
      << nm << ": bf16 forward not deterministic";

  const char* role_name[3] = {"dq", "dk", "dv"};
  const double tol[3] = {kBf16DqkTol, kBf16DqkTol, kBf16DvTol};
  double worst[3] = {0, 0, 0};
  for (int sel : {7, 1, 2, 4, 6}) {
    const bool want[3] = {(sel & 1) != 0, (sel & 2) != 0, (sel & 4) != 0};
    auto backward = [&]() {
      DevGuarded<float> d_g(d.grad0);
      float* g = d_g.data();
      check_ok(electra::cuda::attention_backward_write_bf16(
                   want[0] ? g + d.off[0] : nullptr, want[1] ? g + d.off[1] : nullptr,
                   want[2] ? g + d.off[2] : nullptr, d_dout.data(), d_out.data(), d_state.data(),
                   d_x.data() + d.off[0], d_x.data() + d.off[1], d_x.data() + d.off[2], d.ld, mptr, cs.B, cs.S,
                   cs.NH, cs.hd, cs.p, kSeed, kOffset),
               "attention_backward_write_bf16");
      return d_g.get("bf16 grads");
    };
    const std::vector<float> gg = backward();
    const std::string tagged = nm + " grads=" + std::to_string(sel);
    CHECK(etest::all_finite(gg.data(), int64_t(gg.size()))) << tagged << ": non-finite gradient";
    int64_t changed = 0;
    for (int64_t e = 0; e < int64_t(gg.size()); ++e) {
      const int r = d.role_of(e);
      if (r < 0 || !want[r]) changed += std::memcmp(&gg[size_t(e)], &d.grad0[size_t(e)], sizeof(float)) != 0;
    }
    CHECK(changed == 0) << tagged << ": " << changed << " elements outside the requested gradients changed";
    for (int r = 0; r < 3; ++r)
      if (want[r]) {
        const double err = role_err(d, gg, cg, r);
        worst[r] = std::fmax(worst[r], err);
        CHECK_LT(err, tol[r]) << tagged << " " << role_name[r];
      }
    if (sel == 7) {
      const std::vector<float> again = backward();
      CHECK(etest::bit_equal(gg.data(), again.data(), int64_t(gg.size()))) << nm << ": bf16 backward not deterministic";
      check_bf16_inputs(d, cs, tc, mptr, d_dout.data(), g_out, g_state, state_n, gg);
    }
  }
  if (std::getenv("ATTN_TEST_VERBOSE"))
    std::printf("  %s: %s out %.2e dq %.2e dk %.2e dv %.2e\n", nm.c_str(), tc ? "tensor cores" : "fp32 fallback",
                out_err, worst[0], worst[1], worst[2]);
}

TEST(cuda_attention_bf16) {
  const float* none = nullptr;
  electra::Status st = electra::cuda::attention_forward_bf16(nullptr, nullptr, none, none, none, 64,
                                                             nullptr, 1, 513, 1, 64, 0.f, 0, 0);
  CHECK(st.code() == electra::StatusCode::kInvalidArgument) << "bf16 S=513 accepted";
  if (!have_gpu()) return;
  for (const AttnCase& c : bf16_cases()) {
    run_bf16_case(c);  // tensor cores, or the fp32 fallback where they do not fit
    bool tc = false;
    check_ok(electra::cuda::attention_tc_fits(c.S, c.hd, &tc), "attention_tc_fits");
    if (!tc) {  // the emulator's 99 KB: run the tensor-core kernels with an H100's limit too
      EmuSmemOptin optin("232448");
      check_ok(electra::cuda::attention_tc_fits(c.S, c.hd, &tc), "attention_tc_fits (227 KB)");
      if (tc) run_bf16_case(c);
    }
  }
}

#endif  // ELECTRA_HAVE_CUDA
