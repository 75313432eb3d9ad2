// `debug`: single CPU ops callable from JavaScript, for tests and the demo.
// Every argument is checked (errors.h for types, core/ops_check.h for
// values) before the op runs; outputs are fresh typed arrays.
#include <cstring>

#include "addon.h"
#include "core/cpu/ops.h"
#include "core/ops_check.h"
#include "core/thread_pool.h"
#include "errors.h"

namespace electra_addon {
namespace {

namespace chk = electra::check;

void RequireArgs(const Napi::CallbackInfo& info, size_t min, size_t max, const char* op,
                 const char* signature) {
  if (info.Length() < min || info.Length() > max)
    ThrowInvalid(info.Env(), op,
                 "expected " + std::string(signature) + ", got " + std::to_string(info.Length()) +
                     " argument(s)");
}

// linearForward(inp, weight, bias|null, M, K, N) -> Float32Array[M*N]
Napi::Value LinearForward(const Napi::CallbackInfo& info) {
  const char* op = "linearForward";
  Napi::Env env = info.Env();
  RequireArgs(info, 6, 6, op, "(inp, weight, bias, M, K, N)");
  Napi::Float32Array inp = Float32Arg(info, 0, op, "inp");
  Napi::Float32Array weight = Float32Arg(info, 1, op, "weight");
  Napi::Float32Array bias = Float32Arg(info, 2, op, "bias", /*nullable=*/true);
  double M = NumberArg(info, 3, op, "M"), K = NumberArg(info, 4, op, "K"),
         N = NumberArg(info, 5, op, "N");
  int64_t m = 0, k = 0, n = 0;
  ThrowIfError(env,
               chk::linear_forward(M, K, N, int64_t(inp.ElementLength()),
                                   int64_t(weight.ElementLength()),
                                   bias.IsEmpty() ? -1 : int64_t(bias.ElementLength()), &m, &k, &n),
               op);
  Napi::Float32Array out = Napi::Float32Array::New(env, size_t(m * n));
  electra::cpu::linear_forward(out.Data(), inp.Data(), weight.Data(),
                               bias.IsEmpty() ? nullptr : bias.Data(), m, k, n);
  return out;
}

// layerNormForward(inp, gamma, beta, N, C, eps) -> {out, mean, rstd}
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  const char* op = "layerNormForward";
  Napi::Env env = info.Env();
  RequireArgs(info, 6, 6, op, "(inp, gamma, beta, N, C, eps)");
  Napi::Float32Array inp = Float32Arg(info, 0, op, "inp");
  Napi::Float32Array gamma = Float32Arg(info, 1, op, "gamma");
  Napi::Float32Array beta = Float32Arg(info, 2, op, "beta");
  double N = NumberArg(info, 3, op, "N"), C = NumberArg(info, 4, op, "C"),
         eps = NumberArg(info, 5, op, "eps");
  int64_t n = 0, c = 0;
  ThrowIfError(env,
               chk::layernorm_forward(N, C, eps, int64_t(inp.ElementLength()),
                                      int64_t(gamma.ElementLength()),
                                      int64_t(beta.ElementLength()), &n, &c),
               op);
  Napi::Float32Array out = Napi::Float32Array::New(env, size_t(n * c));
  Napi::Float32Array mean = Napi::Float32Array::New(env, size_t(n));
  Napi::Float32Array rstd = Napi::Float32Array::New(env, size_t(n));
  electra::cpu::layernorm_forward(out.Data(), mean.Data(), rstd.Data(), inp.Data(), gamma.Data(),
                                  beta.Data(), n, c, float(eps));
  Napi::Object res = Napi::Object::New(env);
  res.Set("out", out);
  res.Set("mean", mean);
  res.Set("rstd", rstd);
  return res;
}

// geluForward(inp) -> Float32Array (same length)
Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  const char* op = "geluForward";
  Napi::Env env = info.Env();
  RequireArgs(info, 1, 1, op, "(inp)");
  Napi::Float32Array inp = Float32Arg(info, 0, op, "inp");
  const int64_t n = int64_t(inp.ElementLength());
  ThrowIfError(env, chk::elementwise(op, n));
  Napi::Float32Array out = Napi::Float32Array::New(env, size_t(n));
  if (n > 0) electra::cpu::gelu_forward(out.Data(), inp.Data(), n);
  return out;
}

// crossEntropy(logits, rows, targets, V, gradScale = 1)
//   -> {losses: Float32Array[R], argmax: Int32Array[R], dlogits: Float32Array[N*V]}
// dlogits rows not listed in `rows` are 0.
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropy";
  Napi::Env env = info.Env();
  RequireArgs(info, 4, 5, op, "(logits, rows, targets, V[, gradScale])");
  Napi::Float32Array logits = Float32Arg(info, 0, op, "logits");
  Napi::Int32Array rows = Int32Arg(info, 1, op, "rows");
  Napi::Int32Array targets = Int32Arg(info, 2, op, "targets");
  double V = NumberArg(info, 3, op, "V");
  double scale = 1.0;
  if (info.Length() > 4 && !info[4].IsUndefined()) scale = NumberArg(info, 4, op, "gradScale");
  int64_t v = 0, n_rows = 0;
  const int64_t R = int64_t(rows.ElementLength());
  ThrowIfError(env,
               chk::crossentropy(V, int64_t(logits.ElementLength()), R > 0 ? rows.Data() : nullptr, R,
                                 targets.ElementLength() > 0 ? targets.Data() : nullptr,
                                 int64_t(targets.ElementLength()), scale, &v, &n_rows),
               op);
  Napi::Float32Array losses = Napi::Float32Array::New(env, size_t(R));
  Napi::Int32Array argmax = Napi::Int32Array::New(env, size_t(R));
  Napi::Float32Array dlogits = Napi::Float32Array::New(env, size_t(n_rows * v));  // zeroed
  electra::cpu::crossentropy_forward_backward(losses.Data(), argmax.Data(), dlogits.Data(),
                                              logits.Data(), rows.Data(), targets.Data(), R, v,
                                              float(scale));
  Napi::Object res = Napi::Object::New(env);
  res.Set("losses", losses);
  res.Set("argmax", argmax);
  res.Set("dlogits", dlogits);
  return res;
}

// setThreads(n) -> the thread count now in use
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const char* op = "setThreads";
  Napi::Env env = info.Env();
  RequireArgs(info, 1, 1, op, "(n)");
  int64_t n = 0;
  ThrowIfError(env, chk::threads(NumberArg(info, 0, op, "n"), &n), op);
  electra::set_num_threads(int(n));
  return Napi::Number::New(env, electra::num_threads());
}

// getThreads() -> the thread count in use
Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), electra::num_threads());
}

}  // namespace

Napi::Object MakeDebugOps(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("linearForward", Napi::Function::New(env, LinearForward, "linearForward"));
  o.Set("layerNormForward", Napi::Function::New(env, LayerNormForward, "layerNormForward"));
  o.Set("geluForward", Napi::Function::New(env, GeluForward, "geluForward"));
  o.Set("crossEntropy", Napi::Function::New(env, CrossEntropy, "crossEntropy"));
  o.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  o.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  return o;
}

}  // namespace electra_addon
