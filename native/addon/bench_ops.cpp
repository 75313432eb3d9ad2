// `bench`: the sgemm timing of `electra_bench gemm`, callable from JavaScript,
// so `electra-native bench` can measure GEMM with only the addon built (the
// node-gyp build of `npm ci` has no electra_bench). The timing loop runs in
// C++ on buffers allocated here: timing from JavaScript would add the call and
// typed-array costs to the small shapes.
#include <cmath>
#include <string>

#include "addon.h"
#include "core/cpu/gemm_timing.h"
#include "core/thread_pool.h"
#include "errors.h"

namespace electra {
namespace cpu {
const char* sgemm_kernel_name();  // gemm.cpp: the micro-kernel in use
}  // namespace cpu
}  // namespace electra

namespace electra_addon {
namespace {

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
// cpu::time_sgemm, as electra_bench gemm: 2 untimed calls, then repeats until
// at least minSeconds (default 0.5) and 5 runs; the median run counts.
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

  const electra::cpu::SgemmTiming t = electra::cpu::time_sgemm(ta, tb, M, N, K, min_total);

  Napi::Object r = Napi::Object::New(env);
  r.Set("medianMs", Napi::Number::New(env, t.median_s * 1e3));
  r.Set("minMs", Napi::Number::New(env, t.min_s * 1e3));
  r.Set("runs", Napi::Number::New(env, double(t.runs)));
  r.Set("gflops", Napi::Number::New(env, t.gflops()));
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
