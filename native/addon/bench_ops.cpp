// `bench`: the sgemm timing of `electra_bench gemm`, callable from JavaScript,
// so `electra-native bench` can measure GEMM with only the addon built (the
// node-gyp build of `npm ci` has no electra_bench). The timing loop runs in
// C++ on buffers allocated here: timing from JavaScript would add the call and
// typed-array costs to the small shapes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "addon.h"
#include "core/cpu/ops.h"
#include "core/thread_pool.h"
#include "errors.h"

namespace electra {
namespace cpu {
const char* sgemm_kernel_name();  // gemm.cpp: the micro-kernel in use
}  // namespace cpu
}  // namespace electra

namespace electra_addon {
namespace {

using Clock = std::chrono::steady_clock;

// Largest accepted dimension: far above any model shape, and small enough that
// three operands stay well inside memory.
constexpr double kMaxDim = 65536;
constexpr double kMaxElements = double(1) * 1024 * 1024 * 1024;  // per operand

int64_t DimArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const double v = NumberArg(info, i, "bench.sgemm", name);
  if (!(v >= 1 && v <= kMaxDim) || std::floor(v) != v)
    ThrowInvalid(info.Env(), "bench.sgemm",
                 std::string(name) + " must be an integer in 1.." + std::to_string(int64_t(kMaxDim)));
  return int64_t(v);
}

// sgemm(transA, transB, M, N, K, minSeconds?) ->
//   { medianMs, minMs, runs, gflops, kernel, threads }
// Same method as electra_bench gemm: 2 untimed calls, then repeats until at
// least minSeconds (default 0.5) and 5 runs; the median run counts.
// C = A op B with alpha 1, beta 0 and tight strides, as that program calls it.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bench.sgemm";
  if (info.Length() < 5 || info.Length() > 6)
    ThrowInvalid(env, op, "expected (transA, transB, M, N, K, minSeconds?), got " + std::to_string(info.Length()) +
                              " argument(s)");
  if (!info[0].IsBoolean() || !info[1].IsBoolean())
    ThrowInvalid(env, op, "transA and transB must be booleans, got " + TypeName(info[0]) + ", " + TypeName(info[1]));
  const bool ta = info[0].As<Napi::Boolean>().Value(), tb = info[1].As<Napi::Boolean>().Value();
  const int64_t M = DimArg(info, 2, "M"), N = DimArg(info, 3, "N"), K = DimArg(info, 4, "K");
  double min_total = 0.5;
  if (info.Length() == 6 && !info[5].IsUndefined()) {
    min_total = NumberArg(info, 5, op, "minSeconds");
    if (!(min_total >= 0 && min_total <= 600)) ThrowInvalid(env, op, "minSeconds must be in 0..600");
  }
  if (double(M) * double(K) > kMaxElements || double(K) * double(N) > kMaxElements ||
      double(M) * double(N) > kMaxElements)
    ThrowInvalid(env, op, "an operand has more than 2^30 elements");

  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  std::vector<float> A(size_t(M * K)), B(size_t(K * N)), C(size_t(M * N));
  uint32_t x = 12345;
  auto rnd = [&] {
    x = x * 1664525u + 1013904223u;
    return float(x >> 8) / float(1 << 24) - 0.5f;
  };
  for (auto& v : A) v = rnd();
  for (auto& v : B) v = rnd();
  auto call = [&] { electra::cpu::sgemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N); };

  call();
  call();
  std::vector<double> ts;
  double total = 0;
  while (total < min_total || ts.size() < 5) {
    const auto t0 = Clock::now();
    call();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    ts.push_back(s);
    total += s;
  }
  std::sort(ts.begin(), ts.end());
  const double med = ts[ts.size() / 2];

  Napi::Object r = Napi::Object::New(env);
  r.Set("medianMs", Napi::Number::New(env, med * 1e3));
  r.Set("minMs", Napi::Number::New(env, ts.front() * 1e3));
  r.Set("runs", Napi::Number::New(env, double(ts.size())));
  r.Set("gflops", Napi::Number::New(env, 2.0 * double(M) * double(N) * double(K) / med * 1e-9));
  r.Set("kernel", Napi::String::New(env, electra::cpu::sgemm_kernel_name()));
  r.Set("threads", Napi::Number::New(env, electra::num_threads()));
  return r;
}

}  // namespace

Napi::Object MakeBenchOps(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  return o;
}

}  // namespace electra_addon
