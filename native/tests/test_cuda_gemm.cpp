// cuda::gemm (native/cuda/gemm_cuda.h) against a float64 reference and
// cpu::sgemm: all four transpose combinations, odd sizes (1, 7, 33, 129 and
// 257x300x515), alpha/beta (beta == 0 over NaN C), padded strides, the fused
// bias + GELU epilogue, and sentinel guard zones around (and between the
// rows of) C in device memory.
//   fp32 path: max relative error < 1e-5 vs float64 (and vs cpu::sgemm).
//   bf16 path: NMSE = sum (c - ref)^2 / sum ref^2 < 1e-4 vs the fp32-input
//              float64 reference; max relative error < 1e-4 vs a float64
//              reference computed from bf16-rounded inputs (checks the kernel's
//              indexing exactly, independent of the bf16 rounding error).
// Every GPU test prints a SKIP line and passes when there is no GPU (or the
// build has no CUDA). ELECTRA_CUDA_BENCH=1 adds TFLOP/s for ELECTRA-Small
// shapes (cuda_gemm_bench).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/cpu/ops.h"
#include "core/device.h"
#include "test_util.h"

#ifdef ELECTRA_HAVE_CUDA
#include <cuda_runtime.h>

#include "cuda/gemm_cuda.h"
#include "cuda/ops_cuda.h"
#endif

using namespace electra;

#ifndef ELECTRA_HAVE_CUDA

TEST(cuda_gemm) { etest::skip("built without CUDA (ELECTRA_HAVE_CUDA unset)"); }

#else

namespace {

using cuda::GemmOptions;
using cuda::GemmPrecision;

// True when a GPU is present; otherwise prints the SKIP line (fails under --backend cuda).
bool have_gpu(const char* what) {
  if (etest::gpu_or_skip()) return true;
  std::printf("    (skipped: %s)\n", what);
  return false;
}

// A device float buffer, freed on every exit path.
struct DevBuf {
  float* p = nullptr;
  explicit DevBuf(size_t n) {
    cudaError_t e = cudaMalloc(&p, n * sizeof(float) + 4);
    CHECK(e == cudaSuccess) << "cudaMalloc: " << cudaGetErrorString(e);
    if (e != cudaSuccess) p = nullptr;
  }
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  void upload(const std::vector<float>& h) {
    if (p) CHECK(cudaMemcpy(p, h.data(), h.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);
  }
  void download(std::vector<float>* h) {
    if (p) CHECK(cudaMemcpy(h->data(), p, h->size() * 4, cudaMemcpyDeviceToHost) == cudaSuccess);
  }
};

// Split-K tile counters as the backend keeps them: zeroed once at
// allocation; every GEMM must leave them all 0 again (all_zero).
struct DevCounters {
  unsigned* p = nullptr;
  size_t n = 0;
  DevCounters() {
    n = size_t(std::max(cuda::gemm_tile_counters(GemmPrecision::kFp32), cuda::gemm_tile_counters(GemmPrecision::kBf16)));
    CHECK(n > 0);
    cudaError_t e = cudaMalloc(&p, n * sizeof(unsigned));
    CHECK(e == cudaSuccess) << "cudaMalloc: " << cudaGetErrorString(e);
    if (e != cudaSuccess) p = nullptr;
    if (p) CHECK(cudaMemset(p, 0, n * sizeof(unsigned)) == cudaSuccess);
  }
  ~DevCounters() {
    if (p) cudaFree(p);
  }
  DevCounters(const DevCounters&) = delete;
  DevCounters& operator=(const DevCounters&) = delete;
  bool all_zero() const {
    std::vector<unsigned> h(n, 1u);
    if (p) CHECK(cudaMemcpy(h.data(), p, n * sizeof(unsigned), cudaMemcpyDeviceToHost) == cudaSuccess);
    for (unsigned v : h)
      if (v != 0) return false;
    return true;
  }
};

// The emulator runs a launch's blocks one after another, in grid order by
// default; EMU_BLOCK_ORDER (read at each launch) reverses or shuffles them,
// so which split-K block of a tile arrives last changes. Returns the orders
// a determinism check should rerun under ("gpu": a real GPU picks its own).
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

float bf16_round(float x) {  // round-to-nearest-even, as __float2bfloat16_rn (finite x)
  uint32_t b;
  std::memcpy(&b, &x, 4);
  b = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &b, 4);
  return x;
}
double gelu64(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

constexpr int64_t kGuard = 64;
constexpr uint32_t kSentinelBits = 0x7fc0beefu;
float sentinel() {
  float s;
  std::memcpy(&s, &kSentinelBits, 4);
  return s;
}
bool is_sentinel(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b == kSentinelBits;
}

struct Case {
  bool tA, tB;
  int64_t M, N, K;
  float alpha, beta;
  int64_t pad;      // extra columns in lda, ldb, ldc (0 = packed)
  bool bias, gelu;
  bool nan_ab;      // fill A and B with NaN (valid only when alpha == 0 or K == 0)
  bool split = false;    // give gemm a split-K workspace (gemm_workspace_floats)
  bool row_sum = false;  // ask for the fused a_row_sum (transA, alpha == 1)
  // bf16 copy width: align4 rounds lda and ldb up to multiples of 4 (what the
  // 16-byte cp.async copies need); a_off shifts A by that many floats from its
  // 256-byte aligned allocation (1: 4-byte copies, 2: 8-byte at most).
  bool align4 = false;
  int64_t a_off = 0;
};

int64_t round4(int64_t x) { return (x + 3) / 4 * 4; }

// Runs one case on the GPU in `prec`, checks guards, and returns the errors.
void run_case(GemmPrecision prec, const Case& c) {
  const int64_t M = c.M, N = c.N, K = c.K;
  const int64_t a_rows = c.tA ? K : M, a_cols = c.tA ? M : K;
  const int64_t b_rows = c.tB ? N : K, b_cols = c.tB ? K : N;
  const int64_t lda = c.align4 ? round4(a_cols + c.pad) : a_cols + c.pad;
  const int64_t ldb = c.align4 ? round4(b_cols + c.pad) : b_cols + c.pad;
  const int64_t ldc = N + c.pad;
  std::vector<float> A = etest::rand_vec(std::max<int64_t>(a_rows * lda, 1) + c.a_off);
  std::vector<float> B = etest::rand_vec(std::max<int64_t>(b_rows * ldb, 1));
  if (c.nan_ab) {
    for (auto& x : A) x = std::nanf("");
    for (auto& x : B) x = std::nanf("");
  }
  std::vector<float> bias = etest::rand_vec(N);
  // C image: guard | M rows of ldc (N values + pad sentinels) | guard.
  const int64_t csize = M * ldc + 2 * kGuard;
  std::vector<float> Cimg(csize, sentinel());
  std::vector<float> C0(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      // beta == 0 must ignore C: start it as NaN then.
      float v = c.beta == 0.f ? std::nanf("") : float(etest::rand_int(-1000, 1000)) / 500.f;
      C0[m * N + n] = v;
      Cimg[kGuard + m * ldc + n] = v;
    }

  // float64 references: exact inputs, and bf16-rounded inputs.
  auto opA = [&](const std::vector<float>& a, int64_t m, int64_t k) {
    return c.tA ? a[c.a_off + k * lda + m] : a[c.a_off + m * lda + k];
  };
  auto opB = [&](const std::vector<float>& b, int64_t k, int64_t n) {
    return c.tB ? b[n * ldb + k] : b[k * ldb + n];
  };
  std::vector<float> Ar = A, Br = B;
  for (auto& x : Ar) x = bf16_round(x);
  for (auto& x : Br) x = bf16_round(x);
  const bool reads_ab = K > 0 && c.alpha != 0.f;
  std::vector<double> ref(M * N), refr(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, sr = 0;
      if (reads_ab)
        for (int64_t k = 0; k < K; ++k) {
          s += double(opA(A, m, k)) * opB(B, k, n);
          sr += double(opA(Ar, m, k)) * opB(Br, k, n);
        }
      double tail = (c.beta != 0.f ? double(c.beta) * C0[m * N + n] : 0.0) +
                    (c.bias ? double(bias[n]) : 0.0);
      double v = c.alpha * s + tail, vr = c.alpha * sr + tail;
      ref[m * N + n] = c.gelu ? gelu64(v) : v;
      refr[m * N + n] = c.gelu ? gelu64(vr) : vr;
    }

  DevBuf dA(A.size()), dB(B.size()), dC(Cimg.size()), dbias(bias.size());
  if (!dA.p || !dB.p || !dC.p || !dbias.p) return;
  dA.upload(A);
  dB.upload(B);
  dC.upload(Cimg);
  dbias.upload(bias);
  GemmOptions opt;
  opt.precision = prec;
  opt.bias = c.bias ? dbias.p : nullptr;
  opt.gelu = c.gelu;
  // Split-K: the fused row sums start from random values (they accumulate).
  const std::vector<float> rs0 = etest::rand_vec(M);
  DevBuf drs(static_cast<size_t>(M));
  if (c.row_sum) {
    drs.upload(rs0);
    opt.a_row_sum = drs.p;
  }
  const int64_t ws_floats = c.split ? cuda::gemm_workspace_floats(c.tA, c.tB, M, N, K, opt) : 0;
  DevBuf dws(size_t(std::max<int64_t>(ws_floats, 1)));
  DevCounters counters;
  if (c.split) {
    opt.workspace = dws.p;
    opt.workspace_floats = ws_floats;
    opt.tile_counters = counters.p;
  }
  const float* a_dev = dA.p + c.a_off;
  Status st = cuda::gemm(c.tA, c.tB, M, N, K, c.alpha, a_dev, lda, dB.p, ldb, c.beta,
                         dC.p + kGuard, ldc, opt);
  CHECK(st.ok()) << st.code_name() << ": " << st.message();
  cudaError_t e = cudaDeviceSynchronize();
  CHECK(e == cudaSuccess) << "kernel: " << cudaGetErrorString(e);
  if (!st.ok() || e != cudaSuccess) return;
  std::vector<float> out(Cimg.size());
  dC.download(&out);
  if (c.split) {
    // Deterministic: more runs with the same workspace and counters (so the
    // counters were reset) refilled with NaN, and under the emulator with the
    // blocks in other orders (so another block of each tile is the last to
    // arrive), give the same bits (the chunks are added in a fixed order), and so do the row sums.
    std::vector<float> rs1(static_cast<size_t>(M));
    if (c.row_sum) drs.download(&rs1);
    CHECK(counters.all_zero()) << "split-K left a tile counter set";
    for (const char* order : block_orders()) {
      if (c.row_sum) drs.upload(rs0);
      dC.upload(Cimg);
      // NaN partials: a block that sums a partial before it is written shows.
      CHECK(cudaMemset(dws.p, 0xff, size_t(ws_floats) * sizeof(float)) == cudaSuccess);
      set_block_order(order);
      CHECK(cuda::gemm(c.tA, c.tB, M, N, K, c.alpha, a_dev, lda, dB.p, ldb, c.beta, dC.p + kGuard, ldc, opt).ok());
      set_block_order("fwd");
      CHECK(cudaDeviceSynchronize() == cudaSuccess);
      std::vector<float> again(Cimg.size()), rs2(static_cast<size_t>(M));
      dC.download(&again);
      CHECK(etest::bit_equal(out.data(), again.data(), int64_t(out.size())))
          << "split-K GEMM not deterministic (block order " << order << ")";
      CHECK(counters.all_zero()) << "split-K left a tile counter set (block order " << order << ")";
      if (!c.row_sum) continue;
      drs.download(&rs2);
      CHECK(etest::bit_equal(rs1.data(), rs2.data(), M)) << "split-K row sums not deterministic (block order " << order << ")";
    }
    if (c.row_sum) {
      // Row sums of op(A) from the fp32 inputs (not bf16-rounded), in both precisions.
      std::vector<double> rref(static_cast<size_t>(M));
      for (int64_t m = 0; m < M; ++m) {
        double t = rs0[size_t(m)];
        for (int64_t k = 0; k < K; ++k) t += opA(A, m, k);
        rref[size_t(m)] = t;
      }
      CHECK_LT(etest::rel_error(rs1.data(), rref.data(), M), 1e-6) << "fused row sums (bias gradient)";
    }
  }

  // Guards: before, after, and the pad columns between rows are untouched.
  bool guards = true;
  for (int64_t i = 0; i < kGuard; ++i)
    guards &= is_sentinel(out[i]) && is_sentinel(out[csize - 1 - i]);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = N; n < ldc; ++n) guards &= is_sentinel(out[kGuard + m * ldc + n]);
  std::vector<float> got(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) got[m * N + n] = out[kGuard + m * ldc + n];

  char tag[200];
  const int width = cuda::gemm_bf16_copy_floats(a_dev, lda, dB.p, ldb);
  std::snprintf(tag, sizeof tag, " [%s%s %c%c M=%lld N=%lld K=%lld a=%g b=%g lda=%lld ldb=%lld ldc=%lld bias=%d gelu=%d split=%d]",
                cuda::gemm_precision_name(prec),
                prec == GemmPrecision::kBf16 ? (width == 4 ? " copy16" : width == 2 ? " copy8" : " copy4") : "",
                c.tA ? 'T' : 'N', c.tB ? 'T' : 'N', (long long)M, (long long)N, (long long)K, c.alpha,
                c.beta, (long long)lda, (long long)ldb, (long long)ldc, int(c.bias), int(c.gelu), int(c.split));
  if (prec == GemmPrecision::kBf16 && c.align4 && c.a_off == 0) CHECK(width == 4) << "copy width" << tag;
  CHECK(guards) << "wrote outside C" << tag;
  CHECK(etest::all_finite(got.data(), M * N)) << "non-finite output" << tag;
  if (prec == GemmPrecision::kFp32) {
    CHECK_LT(etest::rel_error(got.data(), ref.data(), M * N), 1e-5) << tag;
    // Parity with the CPU backend (plain GEMM only: cpu::sgemm has no epilogue).
    if (!c.bias && !c.gelu && !c.nan_ab) {
      std::vector<float> Ccpu(M * N);
      for (int64_t i = 0; i < M * N; ++i) Ccpu[i] = C0[i];
      cpu::sgemm(c.tA, c.tB, M, N, K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, Ccpu.data(),
                 N);
      CHECK_LT(etest::rel_error(got.data(), Ccpu.data(), M * N), 1e-5) << " vs cpu::sgemm" << tag;
    }
  } else {
    // NMSE against the exact-input reference, up to 1e-4 or (where the terms
    // of a few outputs cancel, as they may at M = N = K = 1) up to twice the
    // RMS error that rounding the inputs to bf16 gives by itself.
    double num = 0, den = 1e-30, rounding = 0;
    for (int64_t i = 0; i < M * N; ++i) {
      num += (got[i] - ref[i]) * (got[i] - ref[i]);
      den += ref[i] * ref[i];
      rounding += (refr[i] - ref[i]) * (refr[i] - ref[i]);
    }
    CHECK_LT(num / den, std::max(1e-4, 4 * rounding / den)) << " NMSE (bf16 inputs alone: " << rounding / den << ")" << tag;
    CHECK_LT(etest::rel_error(got.data(), refr.data(), M * N), 1e-4) << " vs bf16-input ref" << tag;
  }
}

std::vector<Case> sweep() {
  struct Shape {
    int64_t M, N, K;
  };
  const Shape shapes[] = {{1, 1, 1},     {7, 33, 129},  {33, 7, 1},   {129, 129, 33},
                          {1, 257, 7},   {33, 129, 7},  {129, 1, 33}, {257, 300, 515}};
  std::vector<Case> cases;
  int i = 0;
  for (const Shape& s : shapes)
    for (int t = 0; t < 4; ++t, ++i) {
      Case c{};
      c.tA = t & 1;
      c.tB = (t >> 1) & 1;
      c.M = s.M, c.N = s.N, c.K = s.K;
      // Alternate plain (alpha 1, beta 0 over NaN C, packed) and general
      // (alpha, beta, padded strides) so every shape and layout sees both.
      if (i % 2 == 0) {
        c.alpha = 1.f, c.beta = 0.f, c.pad = 0;
      } else {
        c.alpha = 0.75f, c.beta = -1.25f, c.pad = 3 + i % 5;
      }
      cases.push_back(c);
    }
  // K == 0 and alpha == 0: C = beta*C, A and B (NaN here) never read.
  cases.push_back(Case{false, true, 33, 65, 0, 1.f, 0.5f, 2, false, false, false});
  cases.push_back(Case{true, false, 65, 33, 17, 0.f, -2.f, 0, false, false, true});
  cases.push_back(Case{false, false, 7, 9, 11, 0.f, 0.f, 1, false, false, true});
  return cases;
}

}  // namespace

TEST(cuda_gemm_args) {
  // Argument checks run on the host: no GPU needed.
  float* fake = reinterpret_cast<float*>(uintptr_t(256));
  auto code = [&](int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc,
                  bool tA, bool tB) {
    return cuda::gemm(tA, tB, M, N, K, 1.f, fake, lda, fake, ldb, 0.f, fake, ldc).code();
  };
  CHECK(code(-1, 4, 4, 4, 4, 4, false, false) == StatusCode::kInvalidArgument);
  CHECK(code(4, 4, -1, 4, 4, 4, false, false) == StatusCode::kInvalidArgument);
  CHECK(code(4, 5, 6, 5, 5, 5, false, false) == StatusCode::kInvalidArgument);  // lda < K
  CHECK(code(4, 5, 6, 6, 4, 5, false, false) == StatusCode::kInvalidArgument);  // ldb < N
  CHECK(code(4, 5, 6, 6, 5, 4, false, false) == StatusCode::kInvalidArgument);  // ldc < N
  CHECK(code(4, 5, 6, 3, 5, 5, true, false) == StatusCode::kInvalidArgument);   // lda < M
  CHECK(code(4, 5, 6, 6, 5, 5, false, true) == StatusCode::kInvalidArgument);   // ldb < K
  CHECK(code(0, 5, 6, 6, 5, 5, false, false) == StatusCode::kOk);               // empty: no launch
  CHECK(code(4, 0, 6, 6, 5, 5, false, false) == StatusCode::kOk);
  CHECK(cuda::gemm(false, false, 2, 2, 2, 1.f, nullptr, 2, fake, 2, 0.f, fake, 2).code() ==
        StatusCode::kInvalidArgument);
  CHECK(cuda::gemm(false, false, 2, 2, 2, 1.f, fake, 2, fake, 2, 0.f, nullptr, 2).code() ==
        StatusCode::kInvalidArgument);
  CHECK(cuda::gemm(false, false, 2, 2, 2, std::nanf(""), fake, 2, fake, 2, 0.f, fake, 2).code() ==
        StatusCode::kInvalidArgument);
  GemmOptions bad;
  bad.precision = static_cast<GemmPrecision>(7);
  CHECK(cuda::gemm(false, false, 2, 2, 2, 1.f, fake, 2, fake, 2, 0.f, fake, 2, bad).code() ==
        StatusCode::kInvalidArgument);
  CHECK(std::strcmp(cuda::gemm_precision_name(GemmPrecision::kBf16), "bf16") == 0);

  // Without a GPU a valid call reaches the launch, which must fail cleanly
  // with kNoDevice (never with fake pointers on a real GPU: they would fault).
  DeviceInfo info;
  if (cuda_device_count(&info).ok() && info.count == 0) {
    for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
      GemmOptions o;
      o.precision = p;
      Status st = cuda::gemm(false, true, 4, 5, 6, 1.f, fake, 6, fake, 6, 0.f, fake, 5, o);
      CHECK(st.code() == StatusCode::kNoDevice) << st.code_name() << ": " << st.message();
    }
  }
}

TEST(cuda_gemm_fp32_vs_cpu) {
  if (!have_gpu("cuda_gemm_fp32_vs_cpu")) return;
  for (const Case& c : sweep()) run_case(GemmPrecision::kFp32, c);
}

TEST(cuda_gemm_bf16_tensor_cores) {
  if (!have_gpu("cuda_gemm_bf16_tensor_cores")) return;
  for (const Case& c : sweep()) run_case(GemmPrecision::kBf16, c);
}

TEST(cuda_gemm_bias_gelu_epilogue) {
  if (!have_gpu("cuda_gemm_bias_gelu_epilogue")) return;
  // linear_forward + gelu (A[M,K] @ W[N,K]^T + bias), edges and a beta term.
  const Case cases[] = {
      {false, true, 129, 257, 65, 1.f, 0.f, 0, true, true, false},
      {false, true, 7, 33, 300, 1.f, 0.f, 5, true, false, false},
      {true, false, 33, 130, 129, 0.5f, 1.f, 2, true, true, false},
      {false, false, 1, 1, 1, 2.f, 0.f, 0, false, true, false},
      {true, true, 200, 140, 40, 1.f, -0.5f, 1, true, true, false},
  };
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16})
    for (const Case& c : cases) run_case(p, c);
}

// The GELU's input as a second output (gelu_pre): the FFN's first dense,
// f = x @ Wi^T + b and g = gelu(f), in one pass. Bit for bit what gemm()
// with the bias into f, then gelu_forward (gelu.cu) of f into g give (the
// two-launch path it replaces), in both precisions, in one pass and after
// the split-K reduce, with padded strides (pad columns left as they were);
// the values within the plain GEMM's bound of a float64 reference. gelu_pre
// without gelu, or equal to C, is an argument error.
void run_gelu_pre_case(GemmPrecision prec, int64_t M, int64_t N, int64_t K, int64_t pad, bool split) {
  const int64_t ldc = N + pad;
  std::vector<float> A = etest::rand_vec(M * K, -2.f, 2.f), W = etest::rand_vec(N * K), bs = etest::rand_vec(N);
  if (prec == GemmPrecision::kBf16) {
    for (auto& x : A) x = bf16_round(x);
    for (auto& x : W) x = bf16_round(x);
  }
  const std::vector<float> init(M * ldc, sentinel());
  DevBuf a(A.size()), w(W.size()), b(bs.size()), f1(init.size()), g1(init.size()), f2(init.size()), g2(init.size());
  if (!a.p || !w.p || !b.p || !f1.p || !g1.p || !f2.p || !g2.p) return;
  a.upload(A), w.upload(W), b.upload(bs);
  for (DevBuf* d : {&f1, &g1, &f2, &g2}) d->upload(init);
  GemmOptions o;
  o.precision = prec;
  o.bias = b.p;
  const int64_t ws_floats = split ? cuda::gemm_workspace_floats(false, true, M, N, K, o) : 0;
  DevBuf ws(size_t(std::max<int64_t>(ws_floats, 1)));
  DevCounters counters;
  if (split) o.workspace = ws.p, o.workspace_floats = ws_floats, o.tile_counters = counters.p;
  char tag[120];
  std::snprintf(tag, sizeof tag, " [gelu_pre %s M=%lld N=%lld K=%lld pad=%lld ws=%lld]",
                cuda::gemm_precision_name(prec), (long long)M, (long long)N, (long long)K, (long long)pad,
                (long long)ws_floats);
  // Two launches: f2 = x W^T + b, g2 = gelu(f2).
  Status st = cuda::gemm(false, true, M, N, K, 1.f, a.p, K, w.p, K, 0.f, f2.p, ldc, o);
  CHECK(st.ok()) << st.message() << tag;
  CHECK(cuda::gelu_forward(g2.p, f2.p, M * ldc).ok()) << tag;
  // One: both outputs from the epilogue.
  GemmOptions o1 = o;
  o1.gelu = true;
  o1.gelu_pre = f1.p;
  st = cuda::gemm(false, true, M, N, K, 1.f, a.p, K, w.p, K, 0.f, g1.p, ldc, o1);
  CHECK(st.ok()) << st.message() << tag;
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<float> hf1(init.size()), hg1(init.size()), hf2(init.size()), hg2(init.size());
  f1.download(&hf1), g1.download(&hg1), f2.download(&hf2), g2.download(&hg2);
  int64_t differ = 0, pad_written = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < ldc; ++n) {
      const int64_t i = m * ldc + n;
      if (n < N)
        differ += std::memcmp(&hf1[i], &hf2[i], 4) != 0 || std::memcmp(&hg1[i], &hg2[i], 4) != 0;
      else
        pad_written += !is_sentinel(hf1[i]) || !is_sentinel(hg1[i]);
    }
  CHECK(differ == 0) << differ << " elements differ from the two-launch path" << tag;
  CHECK(pad_written == 0) << pad_written << " pad elements written" << tag;
  std::vector<double> rf(M * ldc), rg(M * ldc);
  std::vector<float> gf(M * ldc), gg(M * ldc);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < ldc; ++n) {
      const int64_t i = m * ldc + n;
      double t = 0;
      if (n < N) {
        t = bs[n];
        for (int64_t k = 0; k < K; ++k) t += double(A[m * K + k]) * double(W[n * K + k]);
      }
      rf[i] = t, rg[i] = gelu64(t);
      gf[i] = n < N ? hf1[i] : 0.f, gg[i] = n < N ? hg1[i] : 0.f;
    }
  const double bound = prec == GemmPrecision::kFp32 ? 1e-5 : 1e-4;
  CHECK_LT(etest::rel_error(gf.data(), rf.data(), M * ldc), bound) << " f" << tag;
  CHECK_LT(etest::rel_error(gg.data(), rg.data(), M * ldc), bound) << " g" << tag;
}

TEST(cuda_gemm_gelu_pre_epilogue) {
  if (!have_gpu("cuda_gemm_gelu_pre_epilogue")) return;
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    run_gelu_pre_case(p, 130, 96, 64, 0, false);   // the FFN's first dense, scaled down
    run_gelu_pre_case(p, 33, 70, 40, 3, true);     // padded ldc; workspace given, one pass
    run_gelu_pre_case(p, 40, 33, 2500, 1, true);   // split-K: both outputs after the reduce
  }
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  CHECK(cuda::gemm_workspace_floats(false, true, 40, 33, 2500, o) > 0);  // the last case splits
  DevBuf a(64), c(64), f(64);
  o.gelu_pre = f.p;  // without gelu
  CHECK(cuda::gemm(false, true, 4, 4, 4, 1.f, a.p, 4, a.p, 4, 0.f, c.p, 4, o).code() == StatusCode::kInvalidArgument);
  o.gelu = true;
  o.gelu_pre = c.p;  // = C
  CHECK(cuda::gemm(false, true, 4, 4, 4, 1.f, a.p, 4, a.p, 4, 0.f, c.p, 4, o).code() == StatusCode::kInvalidArgument);
}

// Split-K (the weight-gradient and LM-head dX shapes, scaled down: a tile grid
// far below two waves, K deep): the same results as one pass, the same bits on
// a second run, and the fused bias gradient (row sums of op(A)) within 1e-6.
TEST(cuda_gemm_split_k) {
  if (!have_gpu("cuda_gemm_split_k")) return;
  std::vector<Case> cases = {
      // dW = dout^T @ inp (+= into dW) with the bias gradient fused: K = tokens.
      {true, false, 65, 33, 3001, 1.f, 1.f, 0, false, false, false, true, true},
      {true, false, 130, 129, 1100, 1.f, 1.f, 3, false, false, false, true, true},
      // dX = dlogits @ W (the LM head, K = vocabulary), beta 0 and 1.
      {false, false, 40, 33, 2500, 1.f, 0.f, 0, false, false, false, true, false},
      {false, false, 40, 33, 2500, 1.f, 1.f, 1, false, false, false, true, false},
      // The epilogue after the reduce: alpha, bias, GELU; NT and TT layouts.
      {false, true, 17, 70, 1500, 0.5f, 0.f, 0, true, true, false, true, false},
      {true, true, 33, 20, 900, 1.f, -0.5f, 2, true, false, false, true, false},
      // Even leading dimensions (8-byte copies) with the row sums.
      {true, false, 66, 34, 2000, 1.f, 1.f, 0, false, false, false, true, true},
      // Row sums alone (one split: K too shallow to split) still go through the reduce.
      {true, false, 65, 33, 100, 1.f, 1.f, 0, false, false, false, true, true},
  };
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16})
    for (const Case& c : cases) run_case(p, c);
  // The same with 16-byte copies (leading dimensions rounded up to multiples
  // of 4; most cases above have odd ones, so 4-byte copies).
  for (Case c : cases) {
    c.align4 = true;
    run_case(GemmPrecision::kBf16, c);
  }
  // Too small a workspace is an argument error, and so are a split without
  // tile counters and a_row_sum without transA.
  DevBuf a(4096), b(4096), cbuf(4096), ws(16);
  DevCounters counters;
  GemmOptions o;
  o.workspace = ws.p;
  o.workspace_floats = 16;
  o.tile_counters = counters.p;
  CHECK(cuda::gemm(false, false, 8, 8, 2048, 1.f, a.p, 2048, b.p, 8, 0.f, cbuf.p, 8, o).code() ==
        StatusCode::kInvalidArgument);
  {
    GemmOptions n;
    n.workspace_floats = cuda::gemm_workspace_floats(false, false, 8, 8, 2048, n);
    CHECK(n.workspace_floats > 0) << "the case should split K";
    DevBuf big(size_t(std::max<int64_t>(n.workspace_floats, 1)));
    n.workspace = big.p;
    CHECK(cuda::gemm(false, false, 8, 8, 2048, 1.f, a.p, 2048, b.p, 8, 0.f, cbuf.p, 8, n).code() ==
          StatusCode::kInvalidArgument);
    n.tile_counters = counters.p;
    CHECK(cuda::gemm(false, false, 8, 8, 2048, 1.f, a.p, 2048, b.p, 8, 0.f, cbuf.p, 8, n).ok());
  }
  o.a_row_sum = cbuf.p;
  o.workspace_floats = 0;
  CHECK(cuda::gemm(false, false, 8, 8, 8, 1.f, a.p, 8, b.p, 8, 0.f, cbuf.p, 8, o).code() ==
        StatusCode::kInvalidArgument);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
}

// The GELU backward fused into the epilogue (gelu_grad_input): the dX GEMM
// of the FFN output dense, dff = (dr2 @ Wo) * gelu'(f), vs cpu::sgemm then
// cpu::gelu_backward_write (the CPU backend's two calls), with a padded
// stride for f and C, one pass and split-K (the multiply after the reduce;
// deterministic). fp32: max relative error < 1e-5 as the plain GEMM (the
// factor gelu'(x) is evaluated in fp32 to ~1e-7). bf16: vs the same CPU
// calls on bf16-rounded A and B, < 1e-4 as the plain bf16 GEMM.
void run_gelu_grad_case(GemmPrecision prec, bool tA, bool tB, int64_t M, int64_t N, int64_t K,
                        int64_t pad, bool split) {
  const int64_t lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
  std::vector<float> A = etest::rand_vec((tA ? K : M) * lda), B = etest::rand_vec((tB ? N : K) * ldb);
  std::vector<float> X = etest::rand_vec(M * ldc, -4.f, 4.f);  // the GELU input, tails included
  if (prec == GemmPrecision::kBf16) {
    for (auto& x : A) x = bf16_round(x);  // exact in bf16: the reference sees the kernel's products
    for (auto& x : B) x = bf16_round(x);
  }
  std::vector<float> ref(M * N), Xp(M * N);
  cpu::sgemm(tA, tB, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, ref.data(), N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) Xp[m * N + n] = X[m * ldc + n];
  cpu::gelu_backward_write(ref.data(), ref.data(), Xp.data(), M * N);

  DevBuf dA(A.size()), dB(B.size()), dX(X.size()), dC(M * ldc);
  if (!dA.p || !dB.p || !dX.p || !dC.p) return;
  dA.upload(A);
  dB.upload(B);
  dX.upload(X);
  dC.upload(std::vector<float>(M * ldc, std::nanf("")));  // beta 0: C is never read
  GemmOptions opt;
  opt.precision = prec;
  opt.gelu_grad_input = dX.p;
  opt.ld_gelu_grad = ldc;
  const int64_t ws_floats = split ? cuda::gemm_workspace_floats(tA, tB, M, N, K, opt) : 0;
  if (split) CHECK(ws_floats > 0) << "the case should split K";
  DevBuf dws(size_t(std::max<int64_t>(ws_floats, 1)));
  DevCounters counters;
  if (split) {
    opt.workspace = dws.p;
    opt.workspace_floats = ws_floats;
    opt.tile_counters = counters.p;
  }
  std::vector<float> out(M * ldc), again(M * ldc), got(M * N);
  for (std::vector<float>* o : {&out, &again}) {
    set_block_order(o == &out ? "fwd" : "rev");
    const Status st = cuda::gemm(tA, tB, M, N, K, 1.f, dA.p, lda, dB.p, ldb, 0.f, dC.p, ldc, opt);
    set_block_order("fwd");
    CHECK(st.ok()) << st.code_name() << ": " << st.message();
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    dC.download(o);
  }
  CHECK(counters.all_zero()) << "split-K left a tile counter set";
  CHECK(etest::bit_equal(out.data(), again.data(), M * ldc)) << "gelu-grad GEMM not deterministic";
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) got[m * N + n] = out[m * ldc + n];
  char tag[160];
  std::snprintf(tag, sizeof tag, " [%s %c%c M=%lld N=%lld K=%lld pad=%lld split=%d]", cuda::gemm_precision_name(prec),
                tA ? 'T' : 'N', tB ? 'T' : 'N', (long long)M, (long long)N, (long long)K, (long long)pad, int(split));
  CHECK(etest::all_finite(got.data(), M * N)) << "non-finite output" << tag;
  CHECK_LT(etest::rel_error(got.data(), ref.data(), M * N), prec == GemmPrecision::kFp32 ? 1e-5 : 1e-4)
      << " vs cpu::sgemm + cpu::gelu_backward_write" << tag;
}

TEST(cuda_gemm_gelu_grad_epilogue) {
  if (!have_gpu("cuda_gemm_gelu_grad_epilogue")) return;
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    run_gelu_grad_case(p, false, false, 129, 257, 65, 0, false);  // dX = dout @ W, edge tiles
    run_gelu_grad_case(p, false, false, 70, 130, 33, 3, false);   // padded f and C
    run_gelu_grad_case(p, false, false, 40, 33, 2500, 1, true);   // split-K: applied after the reduce
    run_gelu_grad_case(p, false, true, 17, 70, 1500, 0, true);
  }
  // With gelu (forward) too, or ld_gelu_grad < N: argument errors.
  DevBuf a(64), b(64), c(64);
  GemmOptions o;
  o.gelu_grad_input = a.p;
  o.ld_gelu_grad = 4;
  o.gelu = true;
  CHECK(cuda::gemm(false, false, 4, 4, 4, 1.f, a.p, 4, b.p, 4, 0.f, c.p, 4, o).code() == StatusCode::kInvalidArgument);
  o.gelu = false;
  o.ld_gelu_grad = 3;
  CHECK(cuda::gemm(false, false, 4, 4, 4, 1.f, a.p, 4, b.p, 4, 0.f, c.p, 4, o).code() == StatusCode::kInvalidArgument);
}

// Grouped GEMM (cuda::gemm_grouped): G (3 or 4) GEMMs of one shape with
// their own A, B, C, bias and row sums, vs G separate gemm() calls and
// cpu::sgemm: the Q/K/V forward (NT, bias, one pass, with and without a
// split-K workspace), the dW shape (TN, beta 1, split-K, row sums into random
// starts) and an odd shape with 4-byte copies. Every group's C and row sums
// are bit for bit those of gemm() on the group alone (the shapes are chosen
// so that both plan the same split: by K's depth, or none), which catches a
// group computed from another group's operands; the results match each
// group computed alone within the plain GEMM's bounds (fp32 1e-5, bf16 1e-4
// vs the bf16-input CPU GEMM), the row sums within 1e-6 of float64, and a
// second run (another block order) gives the same bits.
void run_grouped_case(int G, GemmPrecision prec, bool tA, bool tB, int64_t M, int64_t N, int64_t K, float beta,
                      bool bias, bool row_sums, bool split, int64_t pad) {
  constexpr int kG = 4;
  CHECK(G >= 1 && G <= kG);
  const int64_t lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
  std::vector<float> A[kG], B[kG], C0[kG], bs[kG], rs0[kG];
  for (int g = 0; g < G; ++g) {
    A[g] = etest::rand_vec((tA ? K : M) * lda);
    B[g] = etest::rand_vec((tB ? N : K) * ldb);
    if (prec == GemmPrecision::kBf16) {
      for (auto& x : A[g]) x = bf16_round(x);
      for (auto& x : B[g]) x = bf16_round(x);
    }
    C0[g] = etest::rand_vec(M * ldc);
    bs[g] = etest::rand_vec(N);
    rs0[g] = etest::rand_vec(M);
  }
  struct Dev {
    DevBuf a, b, c, bias, rs;
    Dev(size_t na, size_t nb, size_t nc, size_t nbias, size_t nrs) : a(na), b(nb), c(nc), bias(nbias), rs(nrs) {}
  };
  std::vector<std::unique_ptr<Dev>> d;
  cuda::GemmGroup grp[kG];
  GemmOptions opt;
  opt.precision = prec;
  for (int g = 0; g < G; ++g) {
    d.emplace_back(new Dev(A[g].size(), B[g].size(), C0[g].size(), size_t(N), size_t(M)));
    if (!d[g]->a.p || !d[g]->b.p || !d[g]->c.p || !d[g]->bias.p || !d[g]->rs.p) return;
    d[g]->a.upload(A[g]);
    d[g]->b.upload(B[g]);
    d[g]->bias.upload(bs[g]);
    grp[g] = {d[g]->a.p, d[g]->b.p, d[g]->c.p, bias ? d[g]->bias.p : nullptr, row_sums ? d[g]->rs.p : nullptr};
  }
  const int64_t ws_floats = split ? cuda::gemm_grouped_workspace_floats(tA, tB, M, N, K, G, row_sums, opt) : 0;
  DevBuf ws(size_t(std::max<int64_t>(ws_floats, 1)));
  DevCounters counters;
  if (split) opt.workspace = ws.p, opt.workspace_floats = ws_floats, opt.tile_counters = counters.p;
  std::vector<float> got[kG], rs_got[kG];
  for (int run = 0; run < 2; ++run)
    for (int g = 0; g < G; ++g) {
      if (g == 0) {
        for (int h = 0; h < G; ++h) d[h]->c.upload(C0[h]), d[h]->rs.upload(rs0[h]);
        set_block_order(run == 0 ? "fwd" : "rand");
        const Status st = cuda::gemm_grouped(tA, tB, M, N, K, 1.f, G, grp, lda, ldb, beta, ldc, opt);
        set_block_order("fwd");
        CHECK(st.ok()) << st.code_name() << ": " << st.message();
        CHECK(cudaDeviceSynchronize() == cudaSuccess);
        CHECK(counters.all_zero()) << "grouped split-K left a tile counter set";
      }
      std::vector<float> c(M * ldc), r(M);
      d[g]->c.download(&c);
      d[g]->rs.download(&r);
      if (run == 0) {
        got[g] = c, rs_got[g] = r;
      } else {
        CHECK(etest::bit_equal(c.data(), got[g].data(), M * ldc)) << "grouped GEMM not deterministic, group " << g;
        CHECK(etest::bit_equal(r.data(), rs_got[g].data(), M)) << "grouped row sums not deterministic";
      }
    }
  char tag[160];
  std::snprintf(tag, sizeof tag, " [grouped %s %c%c M=%lld N=%lld K=%lld beta=%g bias=%d rows=%d split=%d pad=%lld]",
                cuda::gemm_precision_name(prec), tA ? 'T' : 'N', tB ? 'T' : 'N', (long long)M, (long long)N,
                (long long)K, beta, int(bias), int(row_sums), int(split), (long long)pad);
  // Each group alone through gemm() (its own workspace and counters).
  for (int g = 0; g < G; ++g) {
    GemmOptions o1;
    o1.precision = prec;
    o1.bias = bias ? d[g]->bias.p : nullptr;
    o1.a_row_sum = row_sums ? d[g]->rs.p : nullptr;
    const int64_t ws1 = split ? cuda::gemm_workspace_floats(tA, tB, M, N, K, o1) : 0;
    DevBuf w1(size_t(std::max<int64_t>(ws1, 1)));
    if (split) o1.workspace = w1.p, o1.workspace_floats = ws1, o1.tile_counters = counters.p;
    d[g]->c.upload(C0[g]), d[g]->rs.upload(rs0[g]);
    const Status st = cuda::gemm(tA, tB, M, N, K, 1.f, d[g]->a.p, lda, d[g]->b.p, ldb, beta, d[g]->c.p, ldc, o1);
    CHECK(st.ok()) << st.code_name() << ": " << st.message();
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<float> c(M * ldc), r(M);
    d[g]->c.download(&c);
    d[g]->rs.download(&r);
    CHECK(etest::bit_equal(c.data(), got[g].data(), M * ldc)) << " grouped GEMM != gemm() alone, group " << g;
    CHECK(etest::bit_equal(r.data(), rs_got[g].data(), M)) << " grouped row sums != gemm() alone, group " << g;
  }
  for (int g = 0; g < G; ++g) {
    // CPU: the group alone (cpu::sgemm, then bias; the pad columns keep C0).
    std::vector<float> ref = C0[g];
    cpu::sgemm(tA, tB, M, N, K, 1.f, A[g].data(), lda, B[g].data(), ldb, beta, ref.data(), ldc);
    if (bias)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) ref[m * ldc + n] += bs[g][n];
    CHECK_LT(etest::rel_error(got[g].data(), ref.data(), M * ldc), prec == GemmPrecision::kFp32 ? 1e-5 : 1e-4)
        << " group " << g << tag;
    if (row_sums) {
      std::vector<double> rref(M);
      for (int64_t m = 0; m < M; ++m) {
        double t = rs0[g][m];
        for (int64_t k = 0; k < K; ++k) t += tA ? A[g][k * lda + m] : A[g][m * lda + k];
        rref[m] = t;
      }
      CHECK_LT(etest::rel_error(rs_got[g].data(), rref.data(), M), 1e-6) << " row sums, group " << g << tag;
    }
  }
}

TEST(cuda_gemm_grouped) {
  if (!have_gpu("cuda_gemm_grouped")) return;
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    run_grouped_case(3, p, false, true, 200, 64, 64, 0.f, true, false, false, 0);    // Q/K/V forward
    run_grouped_case(3, p, false, true, 129, 70, 48, 0.f, true, false, true, 0);     // workspace given, no split
    run_grouped_case(4, p, true, false, 64, 64, 1500, 1.f, false, true, true, 0);    // dW + db, split-K
    run_grouped_case(4, p, true, false, 64, 40, 300, 1.f, false, true, true, 0);     // dW + db, one split
    run_grouped_case(4, p, true, false, 33, 20, 300, 1.f, false, true, true, 1);     // odd: 4-byte copies, one split
    run_grouped_case(4, p, false, false, 40, 33, 900, 0.5f, true, false, true, 2);   // NN, beta, split-K epilogue
    run_grouped_case(4, p, false, true, 96, 64, 64, 0.f, true, false, false, 0);     // four, no workspace
  }
  // Argument errors: no groups, too many, options.bias (per group here).
  cuda::GemmGroup g[5];
  CHECK(cuda::gemm_grouped(false, false, 4, 4, 4, 1.f, 0, g, 4, 4, 0.f, 4).code() == StatusCode::kInvalidArgument);
  CHECK(cuda::gemm_grouped(false, false, 4, 4, 4, 1.f, 5, g, 4, 4, 0.f, 4).code() == StatusCode::kInvalidArgument);
  GemmOptions o;
  o.bias = reinterpret_cast<const float*>(g);
  CHECK(cuda::gemm_grouped(false, false, 4, 4, 4, 1.f, 1, g, 4, 4, 0.f, 4, o).code() == StatusCode::kInvalidArgument);
}

// Swapped pair (cuda::gemm_grouped_swapped): the FFN's two weight gradients,
// C0 [M,N] += A0^T B0 and C1 [N,M] += A1^T B1 (TN, tight strides, beta 1),
// with or without row sums, split-K or not. Each group's C and row sums are
// bit for bit gemm() on the group alone (shapes whose split plans agree: by
// K's depth, or none), which catches a group computed with the other's
// shape, strides or tile; within 1e-4 (bf16 inputs) / 1e-5 (fp32) of float64,
// the row sums within 1e-6; tile counters back at 0; a reversed block order
// gives the same bits.
void run_swapped_case(GemmPrecision prec, int64_t M, int64_t N, int64_t K, bool row_sums, bool split) {
  const int64_t Mg[2] = {M, N}, Ng[2] = {N, M};
  std::vector<float> A[2], B[2], C0[2], rs0[2];
  std::unique_ptr<DevBuf> da[2], db[2], dc[2], drs[2];
  cuda::GemmGroup grp[2];
  for (int g = 0; g < 2; ++g) {
    A[g] = etest::rand_vec(K * Mg[g]);
    B[g] = etest::rand_vec(K * Ng[g]);
    if (prec == GemmPrecision::kBf16) {
      for (auto& x : A[g]) x = bf16_round(x);
      for (auto& x : B[g]) x = bf16_round(x);
    }
    C0[g] = etest::rand_vec(Mg[g] * Ng[g]);
    rs0[g] = etest::rand_vec(Mg[g]);
    da[g].reset(new DevBuf(A[g].size()));
    db[g].reset(new DevBuf(B[g].size()));
    dc[g].reset(new DevBuf(C0[g].size()));
    drs[g].reset(new DevBuf(rs0[g].size()));
    if (!da[g]->p || !db[g]->p || !dc[g]->p || !drs[g]->p) return;
    da[g]->upload(A[g]);
    db[g]->upload(B[g]);
    grp[g] = {da[g]->p, db[g]->p, dc[g]->p, nullptr, row_sums ? drs[g]->p : nullptr};
  }
  GemmOptions opt;
  opt.precision = prec;
  const int64_t ws_floats = split ? cuda::gemm_grouped_swapped_workspace_floats(M, N, K, row_sums, opt) : 0;
  DevBuf ws(size_t(std::max<int64_t>(ws_floats, 1)));
  DevCounters counters;
  if (split) opt.workspace = ws.p, opt.workspace_floats = ws_floats, opt.tile_counters = counters.p;
  char tag[120];
  std::snprintf(tag, sizeof tag, " [swapped %s M=%lld N=%lld K=%lld rows=%d split=%d]", cuda::gemm_precision_name(prec),
                (long long)M, (long long)N, (long long)K, int(row_sums), int(split));
  std::vector<float> got[2], rs_got[2];
  for (const char* order : {"fwd", "rev"}) {
    for (int g = 0; g < 2; ++g) dc[g]->upload(C0[g]), drs[g]->upload(rs0[g]);
    set_block_order(order);
    const Status st = cuda::gemm_grouped_swapped(M, N, K, grp, 1.f, opt);
    set_block_order("fwd");
    CHECK(st.ok()) << st.code_name() << ": " << st.message() << tag;
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    CHECK(counters.all_zero()) << "swapped pair left a tile counter set" << tag;
    for (int g = 0; g < 2; ++g) {
      std::vector<float> c(C0[g].size()), r(rs0[g].size());
      dc[g]->download(&c);
      drs[g]->download(&r);
      if (got[g].empty()) {
        got[g] = c, rs_got[g] = r;
      } else {
        CHECK(etest::bit_equal(c.data(), got[g].data(), int64_t(c.size()))) << " block order changed group " << g << tag;
        CHECK(etest::bit_equal(r.data(), rs_got[g].data(), int64_t(r.size()))) << " block order changed rows " << g << tag;
      }
    }
  }
  for (int g = 0; g < 2; ++g) {
    const int64_t m = Mg[g], n = Ng[g];
    GemmOptions o1;
    o1.precision = prec;
    o1.a_row_sum = row_sums ? drs[g]->p : nullptr;
    const int64_t ws1 = split ? cuda::gemm_workspace_floats(true, false, m, n, K, o1) : 0;
    DevBuf w1(size_t(std::max<int64_t>(ws1, 1)));
    if (split) o1.workspace = w1.p, o1.workspace_floats = ws1, o1.tile_counters = counters.p;
    dc[g]->upload(C0[g]), drs[g]->upload(rs0[g]);
    const Status st = cuda::gemm(true, false, m, n, K, 1.f, da[g]->p, m, db[g]->p, n, 1.f, dc[g]->p, n, o1);
    CHECK(st.ok()) << st.code_name() << ": " << st.message();
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<float> c(C0[g].size()), r(rs0[g].size());
    dc[g]->download(&c);
    drs[g]->download(&r);
    CHECK(etest::bit_equal(c.data(), got[g].data(), m * n)) << " swapped pair != gemm() alone, group " << g << tag;
    CHECK(etest::bit_equal(r.data(), rs_got[g].data(), m)) << " swapped row sums != gemm() alone, group " << g << tag;
    std::vector<double> ref(m * n), rref(m);
    for (int64_t i = 0; i < m; ++i) {
      double t = rs0[g][i];
      for (int64_t k = 0; k < K; ++k) t += A[g][k * m + i];
      rref[i] = t;
      for (int64_t j = 0; j < n; ++j) {
        double v = C0[g][i * n + j];
        for (int64_t k = 0; k < K; ++k) v += double(A[g][k * m + i]) * double(B[g][k * n + j]);
        ref[i * n + j] = v;
      }
    }
    CHECK_LT(etest::rel_error(got[g].data(), ref.data(), m * n), prec == GemmPrecision::kFp32 ? 1e-5 : 1e-4)
        << " group " << g << tag;
    if (row_sums) CHECK_LT(etest::rel_error(rs_got[g].data(), rref.data(), m), 1e-6) << " row sums, group " << g << tag;
  }
}

TEST(cuda_gemm_grouped_swapped) {
  if (!have_gpu("cuda_gemm_grouped_swapped")) return;
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    run_swapped_case(p, 64, 200, 1500, true, true);   // the FFN's dW + db (H < F), split-K
    run_swapped_case(p, 200, 64, 1500, true, true);   // the larger group first
    run_swapped_case(p, 64, 200, 300, true, true);    // one split: row sums through the workspace
    run_swapped_case(p, 33, 150, 1500, true, true);   // odd: 4-byte copies, ragged tiles
    run_swapped_case(p, 40, 136, 300, false, false);  // no row sums, no workspace
  }
  cuda::GemmGroup g[2];
  GemmOptions o;
  o.gelu = true;
  CHECK(cuda::gemm_grouped_swapped(4, 4, 4, g, 1.f, o).code() == StatusCode::kInvalidArgument);
}

// Segmented GEMM (cuda::gemm_segmented): C = beta*C + bias + sum_s op(A_s) @
// op(B_s), the Q/K/V input gradient dq @ Wq + dk @ Wk + dv @ Wv in one GEMM.
// Against a float64 reference of the same sum (on bf16-rounded A and B for
// kBf16, so only the kernel's indexing and its fp32 accumulation are
// measured) and against one gemm() per segment (beta then 1): max relative
// error < 1e-5 (fp32) / 1e-4 (bf16), as the plain GEMM; a second run gives
// the same bits. Cases: the encoder's layout (NN, beta 1) at both widths,
// every other layout, bias with beta, two segments, 4-byte copies (odd
// strides), split-K with splits that start inside and cross segments, and a
// depth that is not whole k-tiles (one gemm() per segment).
void run_segmented_case(GemmPrecision prec, bool tA, bool tB, int64_t M, int64_t N, int64_t seg_k, int S,
                        float beta, bool bias, bool split, int64_t pad) {
  const int64_t lda = (tA ? M : seg_k) + pad, ldb = (tB ? seg_k : N) + pad, ldc = N + pad;
  std::vector<float> A[3], B[3];
  cuda::GemmSegment seg[3];
  std::vector<std::unique_ptr<DevBuf>> dev;
  for (int s = 0; s < S; ++s) {
    A[s] = etest::rand_vec((tA ? seg_k : M) * lda);
    B[s] = etest::rand_vec((tB ? N : seg_k) * ldb);
    if (prec == GemmPrecision::kBf16) {
      for (auto& x : A[s]) x = bf16_round(x);
      for (auto& x : B[s]) x = bf16_round(x);
    }
    dev.emplace_back(new DevBuf(A[s].size()));
    dev.emplace_back(new DevBuf(B[s].size()));
    DevBuf& da = *dev[dev.size() - 2];
    DevBuf& db = *dev.back();
    if (!da.p || !db.p) return;
    da.upload(A[s]);
    db.upload(B[s]);
    seg[s].A = da.p, seg[s].B = db.p;
  }
  const std::vector<float> C0 = etest::rand_vec(M * ldc), bs = etest::rand_vec(N);
  DevBuf c(C0.size()), bdev{size_t(N)};
  if (!c.p || !bdev.p) return;
  bdev.upload(bs);
  GemmOptions opt;
  opt.precision = prec;
  opt.bias = bias ? bdev.p : nullptr;
  const int64_t ws_floats = split ? cuda::gemm_segmented_workspace_floats(tA, tB, M, N, seg_k, S, opt) : 0;
  DevBuf ws(size_t(std::max<int64_t>(ws_floats, 1)));
  DevCounters counters;
  if (split) opt.workspace = ws.p, opt.workspace_floats = ws_floats, opt.tile_counters = counters.p;
  char tag[160];
  std::snprintf(tag, sizeof tag, " [segmented %s %c%c M=%lld N=%lld seg_k=%lld x%d beta=%g bias=%d ws=%lld pad=%lld]",
                cuda::gemm_precision_name(prec), tA ? 'T' : 'N', tB ? 'T' : 'N', (long long)M, (long long)N,
                (long long)seg_k, S, beta, int(bias), (long long)ws_floats, (long long)pad);
  std::vector<float> got(C0.size()), again(C0.size());
  for (int run = 0; run < 2; ++run) {
    c.upload(C0);
    const Status st = cuda::gemm_segmented(tA, tB, M, N, seg_k, 1.f, S, seg, lda, ldb, beta, c.p, ldc, opt);
    CHECK(st.ok()) << st.code_name() << ": " << st.message() << tag;
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    c.download(run == 0 ? &got : &again);
  }
  CHECK(etest::bit_equal(got.data(), again.data(), M * ldc)) << " not deterministic" << tag;
  CHECK(counters.all_zero()) << " split-K left a tile counter set" << tag;
  // float64 reference; the pad columns keep C0.
  std::vector<double> ref(C0.begin(), C0.end());
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double t = double(beta) * C0[m * ldc + n] + (bias ? bs[n] : 0.0);
      for (int s = 0; s < S; ++s)
        for (int64_t k = 0; k < seg_k; ++k)
          t += double(tA ? A[s][k * lda + m] : A[s][m * lda + k]) * double(tB ? B[s][n * ldb + k] : B[s][k * ldb + n]);
      ref[m * ldc + n] = t;
    }
  const double bound = prec == GemmPrecision::kFp32 ? 1e-5 : 1e-4;
  CHECK_LT(etest::rel_error(got.data(), ref.data(), M * ldc), bound) << " vs float64" << tag;
  // One gemm() per segment.
  c.upload(C0);
  for (int s = 0; s < S; ++s) {
    GemmOptions o;
    o.precision = prec;
    o.bias = s == 0 ? opt.bias : nullptr;
    CHECK(cuda::gemm(tA, tB, M, N, seg_k, 1.f, seg[s].A, lda, seg[s].B, ldb, s == 0 ? beta : 1.f, c.p, ldc, o).ok());
  }
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<float> sep(C0.size());
  c.download(&sep);
  CHECK_LT(etest::rel_error(got.data(), sep.data(), M * ldc), bound) << " vs separate GEMMs" << tag;
}

TEST(cuda_gemm_segmented) {
  if (!have_gpu("cuda_gemm_segmented")) return;
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    run_segmented_case(p, false, false, 200, 64, 64, 3, 1.f, false, true, 0);   // generator dX (H = 64)
    run_segmented_case(p, false, false, 130, 256, 256, 3, 1.f, false, true, 0);  // discriminator dX (H = 256)
    run_segmented_case(p, false, true, 70, 48, 32, 3, 0.f, true, false, 0);     // NT, bias
    run_segmented_case(p, true, false, 66, 40, 48, 3, 0.5f, true, false, 0);    // TN, beta and bias
    run_segmented_case(p, true, true, 33, 20, 16, 2, 1.f, false, false, 0);     // TT, two segments
    run_segmented_case(p, false, false, 35, 21, 48, 3, 1.f, false, false, 1);   // odd strides: 4-byte copies
    run_segmented_case(p, false, false, 40, 33, 528, 3, 1.f, true, true, 0);    // split-K across segments
    run_segmented_case(p, true, false, 20, 36, 512, 2, 0.f, false, true, 2);    // split-K, TN, 8-byte copies
    run_segmented_case(p, false, false, 30, 17, 20, 3, 1.f, true, true, 0);     // seg_k not whole k-tiles
  }
  // The split cases must split (else they test nothing new); the encoder's
  // shapes must not (see plan_split).
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  CHECK(cuda::gemm_segmented_workspace_floats(false, false, 40, 33, 528, 3, o) > 0);
  CHECK(cuda::gemm_segmented_workspace_floats(true, false, 20, 36, 512, 2, o) > 0);
  CHECK(cuda::gemm_segmented_workspace_floats(false, false, 16384, 256, 256, 3, o) == 0);
  CHECK(cuda::gemm_segmented_workspace_floats(false, false, 16384, 64, 64, 3, o) == 0);
  // Argument errors: no segments, too many, a fused GELU.
  cuda::GemmSegment sg[4];
  DevBuf cb(16);
  CHECK(cuda::gemm_segmented(false, false, 4, 4, 16, 1.f, 0, sg, 16, 4, 0.f, cb.p, 4).code() == StatusCode::kInvalidArgument);
  CHECK(cuda::gemm_segmented(false, false, 4, 4, 16, 1.f, 4, sg, 16, 4, 0.f, cb.p, 4).code() == StatusCode::kInvalidArgument);
  CHECK(cuda::gemm_segmented(false, false, 4, 4, 16, 1.f, 3, sg, 16, 4, 0.f, cb.p, 4, o).code() ==
        StatusCode::kInvalidArgument);  // null operands
  o.gelu = true;
  CHECK(cuda::gemm_segmented(false, false, 4, 4, 16, 1.f, 1, sg, 16, 4, 0.f, cb.p, 4, o).code() ==
        StatusCode::kInvalidArgument);
}

// The bf16 kernel's cp.async width: 16-byte copies for 16-byte aligned A, B
// with lda, ldb multiples of 4; 8-byte copies for 8-byte aligned, even ones;
// 4-byte copies otherwise. Every width must match the same references.
TEST(cuda_gemm_bf16_copy_width) {
  if (!have_gpu("cuda_gemm_bf16_copy_width")) return;
  DevBuf buf(64);
  if (!buf.p) return;
  CHECK(cuda::gemm_bf16_copy_floats(buf.p, 8, buf.p, 12) == 4);
  CHECK(cuda::gemm_bf16_copy_floats(buf.p, 7, buf.p, 12) == 1);      // odd lda
  CHECK(cuda::gemm_bf16_copy_floats(buf.p, 8, buf.p, 14) == 2);      // ldb even, not a multiple of 4
  CHECK(cuda::gemm_bf16_copy_floats(buf.p + 1, 8, buf.p, 8) == 1);   // A 4-byte aligned
  CHECK(cuda::gemm_bf16_copy_floats(buf.p, 8, buf.p + 2, 8) == 2);   // B 8-byte aligned
}

// The cp.async + mma.sync kernel with 16-byte copies on every layout: odd M,
// N, K (K not a multiple of the 16-deep k-tile, M and N not of the 64/128
// block tiles), the general epilogue with padded strides, bias + GELU; then
// 8- and 4-byte copies (even or odd leading dimensions, a shifted A).
TEST(cuda_gemm_bf16_mma) {
  if (!have_gpu("cuda_gemm_bf16_mma")) return;
  struct Shape {
    int64_t M, N, K;
  };
  const Shape shapes[] = {{1, 1, 1},      {7, 33, 129}, {33, 7, 1},    {129, 129, 33},
                          {130, 260, 47}, {1, 257, 7},  {257, 300, 515}, {200, 129, 100}};
  int i = 0;
  for (const Shape& sh : shapes)
    for (int t = 0; t < 4; ++t, ++i) {
      Case c{};
      c.tA = t & 1;
      c.tB = (t >> 1) & 1;
      c.M = sh.M, c.N = sh.N, c.K = sh.K;
      c.align4 = true;
      if (i % 3 == 0) {
        c.alpha = 1.f, c.beta = 0.f, c.pad = 0;
      } else if (i % 3 == 1) {
        c.alpha = 0.75f, c.beta = -1.25f, c.pad = 1 + i % 7;
      } else {
        c.alpha = 1.f, c.beta = 0.5f, c.pad = 4, c.bias = true, c.gelu = true;
      }
      run_case(GemmPrecision::kBf16, c);
    }
  // Most shapes above have small tile grids, which take the 64-row block tile;
  // this one has more 128 x 128 tiles (142) than the emulated GPU has SMs
  // (132), so the 128-row tile runs with the full epilogue (split-K covers
  // it too, with the raw epilogue).
  {
    Case big{false, true, 130, 70 * 128 + 1, 20, 0.5f, -1.f, 0, true, true, false};
    big.align4 = true;
    run_case(GemmPrecision::kBf16, big);
  }
  // Narrower copies: even leading dimensions (8 bytes), odd ones (4 bytes),
  // and an A one or two floats off 16-byte alignment.
  const Case narrow[] = {
      {false, false, 33, 66, 130, 1.f, 0.f, 0, true, true, false},   // lda 130, ldb 66: 8-byte
      {true, true, 130, 70, 34, 0.5f, 1.f, 0, false, false, false},  // lda 130, ldb 34: 8-byte
      {false, true, 33, 65, 129, 1.f, 0.f, 1, true, true, false},    // lda 130, ldb 130: 8-byte
      {false, false, 33, 65, 129, 1.f, 0.f, 1, true, true, false},   // ldb 66, lda 130: 8-byte
      {true, false, 130, 70, 33, 0.5f, 1.f, 3, false, false, false},  // lda 133: 4-byte
      {false, true, 7, 257, 31, 1.f, -1.f, 0, true, false, false},   // lda 31: 4-byte
  };
  for (const Case& c : narrow) run_case(GemmPrecision::kBf16, c);
  for (int64_t off : {1, 2}) {
    Case c{true, false, 64, 96, 80, 1.f, 0.f, 0, true, false, false};
    c.align4 = true;
    c.a_off = off;
    run_case(GemmPrecision::kBf16, c);
  }
}

// TFLOP/s at the ELECTRA-Small step's GEMM shapes, batch 128 x 128 (16,384
// tokens, 2,432 masked rows), with the layouts the backend uses and its
// split-K workspace. One line per shape and precision:
//   GEMM_BENCH <layout> <precision> M N K <ms> <TFLOP/s>
// (scripts/gpu-check.sh sets these against torch.matmul on the same shapes).
// Runs only with ELECTRA_CUDA_BENCH=1 and a GPU.
TEST(cuda_gemm_bench) {
  const char* env = std::getenv("ELECTRA_CUDA_BENCH");
  if (env == nullptr || std::strcmp(env, "1") != 0) {
    etest::skip("set ELECTRA_CUDA_BENCH=1 to time cuda::gemm");
    return;
  }
  if (!have_gpu("cuda_gemm_bench")) return;
  struct Shape {
    bool tA, tB;
    int64_t M, N, K;
  };
  const Shape shapes[] = {
      {false, true, 16384, 256, 256},    // attention projections, forward
      {false, true, 16384, 1024, 256},   // FFN up, forward
      {false, true, 16384, 256, 1024},   // FFN down, forward
      {false, false, 16384, 256, 1024},  // FFN down, dX
      {true, false, 256, 256, 16384},    // projection dW (K = tokens: split-K)
      {true, false, 1024, 256, 16384},   // FFN dW
      {false, true, 2432, 30522, 128},   // LM head logits
      {false, false, 2432, 128, 30522},  // LM head dX (K = vocabulary: split-K)
      {true, false, 30522, 128, 2432},   // LM head dW
  };
  for (const Shape& s : shapes) {
    const int64_t lda = s.tA ? s.M : s.K, ldb = s.tB ? s.K : s.N;
    std::vector<float> A = etest::rand_vec(s.M * s.K), B = etest::rand_vec(s.N * s.K);
    DevBuf dA(A.size()), dB(B.size()), dC(size_t(s.M * s.N));
    if (!dA.p || !dB.p || !dC.p) return;
    dA.upload(A);
    dB.upload(B);
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
      GemmOptions opt;
      opt.precision = p;
      const int64_t ws_floats = cuda::gemm_workspace_floats(s.tA, s.tB, s.M, s.N, s.K, opt);
      DevBuf ws(size_t(std::max<int64_t>(ws_floats, 1)));
      DevCounters counters;
      opt.workspace = ws.p;
      opt.workspace_floats = ws_floats;
      opt.tile_counters = counters.p;
      auto once = [&] {
        return cuda::gemm(s.tA, s.tB, s.M, s.N, s.K, 1.f, dA.p, lda, dB.p, ldb, 0.f, dC.p, s.N, opt);
      };
      for (int i = 0; i < 3; ++i) CHECK(once().ok());
      const int iters = 20;
      cudaEventRecord(t0);
      for (int i = 0; i < iters; ++i) once();
      cudaEventRecord(t1);
      CHECK(cudaEventSynchronize(t1) == cudaSuccess);
      float ms = 0;
      cudaEventElapsedTime(&ms, t0, t1);
      const double tflops = 2.0 * s.M * s.N * s.K * iters / (ms * 1e-3) / 1e12;
      std::printf("GEMM_BENCH %c%c %s %lld %lld %lld %.4f %.2f\n", s.tA ? 'T' : 'N', s.tB ? 'T' : 'N',
                  cuda::gemm_precision_name(p), (long long)s.M, (long long)s.N, (long long)s.K, ms / iters,
                  tflops);
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
  }
}

// The layernorm row finish (GemmLayerNormFinish): linear_forward + the
// sublayer tail dropout_residual_layernorm_forward in one GEMM launch, whose
// last block per row block runs the tail. Bit for bit what the two launches
// give (res, out, mean, rstd), in both precisions, unsplit and split-K (the
// row finish after the tile finish), H = 64, 256 and an odd width, with and
// without dropout, under every block order; the counters are left at 0. A
// wrong argument is an InvalidArgument.
void run_ln_finish_case(GemmPrecision prec, int64_t M, int64_t N, int64_t K, float p, bool split) {
  const std::vector<float> A = etest::rand_vec(M * K, -2.f, 2.f), W = etest::rand_vec(N * K),
                           bs = etest::rand_vec(N), X = etest::rand_vec(M * N, -1.f, 1.f),
                           G = etest::rand_vec(N, 0.5f, 1.5f), Be = etest::rand_vec(N);
  const size_t mn = size_t(M * N);
  const size_t rows = size_t(M);
  DevBuf a(A.size()), w(W.size()), b(bs.size()), x(X.size()), g(G.size()), be(Be.size()), r1(mn), o1(mn),
      m1(rows), s1(rows), r2(mn), o2(mn), m2(rows), s2(rows);
  if (!a.p || !w.p || !b.p || !x.p || !g.p || !be.p || !r1.p || !o1.p || !m1.p || !s1.p || !r2.p || !o2.p ||
      !m2.p || !s2.p)
    return;
  a.upload(A), w.upload(W), b.upload(bs), x.upload(X), g.upload(G), be.upload(Be);
  GemmOptions o;
  o.precision = prec;
  o.bias = b.p;
  const int64_t ws_floats = split ? cuda::gemm_workspace_floats(false, true, M, N, K, o) : 0;
  CHECK((ws_floats > 0) == split) << "the case " << (split ? "does not split" : "splits");
  DevBuf ws(size_t(std::max<int64_t>(ws_floats, 1)));
  DevCounters counters;
  o.tile_counters = counters.p;
  if (split) o.workspace = ws.p, o.workspace_floats = ws_floats;
  const float eps = 1e-12f;
  const uint64_t seed = 1234, off = 77;
  char tag[120];
  std::snprintf(tag, sizeof tag, " [ln finish %s M=%lld N=%lld K=%lld p=%g split=%d]",
                cuda::gemm_precision_name(prec), (long long)M, (long long)N, (long long)K, double(p), int(split));
  set_block_order("fwd");
  Status st = cuda::gemm(false, true, M, N, K, 1.f, a.p, K, w.p, K, 0.f, r2.p, N, o);
  CHECK(st.ok()) << st.message() << tag;
  st = cuda::dropout_residual_layernorm_forward(r2.p, o2.p, m2.p, s2.p, r2.p, x.p, g.p, be.p, M, N, eps, p, seed, off);
  CHECK(st.ok()) << st.message() << tag;
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<float> want_r(mn), want_o(mn), want_m(rows), want_s(rows);
  r2.download(&want_r), o2.download(&want_o), m2.download(&want_m), s2.download(&want_s);
  cuda::GemmLayerNormFinish ln;
  ln.res = r1.p, ln.out = o1.p, ln.mean = m1.p, ln.rstd = s1.p, ln.x = x.p, ln.gamma = g.p, ln.beta = be.p;
  ln.eps = eps, ln.p = p, ln.seed = seed, ln.offset = off;
  GemmOptions of = o;
  of.layernorm = &ln;
  const std::vector<float> nan_mn(mn, std::nanf("")), nan_m(rows, std::nanf(""));
  for (const char* order : block_orders()) {
    r1.upload(nan_mn), o1.upload(nan_mn), m1.upload(nan_m), s1.upload(nan_m);
    if (split) CHECK(cudaMemset(ws.p, 0xff, size_t(ws_floats) * sizeof(float)) == cudaSuccess);
    set_block_order(order);
    st = cuda::gemm(false, true, M, N, K, 1.f, a.p, K, w.p, K, 0.f, r1.p, N, of);
    CHECK(st.ok()) << st.message() << tag << " " << order;
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<float> hr(mn), ho(mn), hm(rows), hs(rows);
    r1.download(&hr), o1.download(&ho), m1.download(&hm), s1.download(&hs);
    CHECK(std::memcmp(hr.data(), want_r.data(), mn * 4) == 0) << "res differs" << tag << " " << order;
    CHECK(std::memcmp(ho.data(), want_o.data(), mn * 4) == 0) << "out differs" << tag << " " << order;
    CHECK(std::memcmp(hm.data(), want_m.data(), size_t(M) * 4) == 0) << "mean differs" << tag << " " << order;
    CHECK(std::memcmp(hs.data(), want_s.data(), size_t(M) * 4) == 0) << "rstd differs" << tag << " " << order;
    CHECK(counters.all_zero()) << "counters left non-zero" << tag << " " << order;
  }
  set_block_order("fwd");
}

TEST(cuda_gemm_layernorm_finish) {
  if (!have_gpu("cuda_gemm_layernorm_finish")) return;
  // Its own draws: the tests after it (the shared seeded generator) see the data they saw without it.
  const std::mt19937_64 saved_rng = etest::rng();
  struct Restore {
    std::mt19937_64 s;
    ~Restore() { etest::rng() = s; }
  } restore{saved_rng};
  for (GemmPrecision prec : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    run_ln_finish_case(prec, 130, 64, 48, 0.1f, false);
    run_ln_finish_case(prec, 70, 64, 600, 0.0f, true);
    run_ln_finish_case(prec, 130, 256, 40, 0.0f, false);
    run_ln_finish_case(prec, 70, 256, 600, 0.1f, true);
    run_ln_finish_case(prec, 130, 97, 33, 0.1f, false);
    run_ln_finish_case(prec, 70, 97, 600, 0.1f, true);
    run_ln_finish_case(prec, 70, 300, 20, 0.1f, false);  // the separate kernel's NV = 16, the finish's 32
  }
  // Argument errors: nothing launched.
  DevCounters counters;
  DevBuf buf(4096);
  if (!buf.p) return;
  cuda::GemmLayerNormFinish ln;
  ln.res = ln.out = ln.mean = ln.rstd = buf.p;
  ln.x = ln.gamma = ln.beta = buf.p;
  GemmOptions o;
  o.tile_counters = counters.p;
  o.layernorm = &ln;
  CHECK(cuda::gemm(false, true, 4, 8, 4, 1.f, buf.p, 4, buf.p, 4, 0.f, buf.p, 9, o).code() ==
        StatusCode::kInvalidArgument) << "ldc != N";
  CHECK(cuda::gemm(false, true, 2, 1025, 1, 1.f, buf.p, 1, buf.p, 1, 0.f, buf.p, 1025, o).code() ==
        StatusCode::kInvalidArgument) << "N > 1024";
  GemmOptions nc = o;
  nc.tile_counters = nullptr;
  CHECK(cuda::gemm(false, true, 4, 8, 4, 1.f, buf.p, 4, buf.p, 4, 0.f, buf.p, 8, nc).code() ==
        StatusCode::kInvalidArgument) << "no counters";
  ln.p = 1.0f;
  CHECK(cuda::gemm(false, true, 4, 8, 4, 1.f, buf.p, 4, buf.p, 4, 0.f, buf.p, 8, o).code() ==
        StatusCode::kInvalidArgument) << "p == 1";
}

#endif  // ELECTRA_HAVE_CUDA
