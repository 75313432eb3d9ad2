// info(): what this binary was built with and what it found at run time.
#include <string>

#include "addon.h"
#include "core/cpu/simd_level.h"
#include "core/device.h"
#include "core/thread_pool.h"
#include "errors.h"

namespace electra {
namespace cpu {
// The GEMM micro-kernel in use ("avx512", "avx2", "generic"): a testing and
// benchmark hook defined in core/cpu/gemm.cpp, not part of ops.h.
const char* sgemm_kernel_name();
}  // namespace cpu
}  // namespace electra

namespace electra_addon {

#ifndef ELECTRA_BUILD_SYSTEM
#define ELECTRA_BUILD_SYSTEM "unknown"
#endif
#ifndef ELECTRA_BUILD_TYPE
#define ELECTRA_BUILD_TYPE "unknown"
#endif

// How this binary was built: the build system, type, compiler and CUDA targets.
static Napi::Object BuildInfo(Napi::Env env) {
  Napi::Object b = Napi::Object::New(env);
  b.Set("system", ELECTRA_BUILD_SYSTEM);
  b.Set("type", ELECTRA_BUILD_TYPE);
#if defined(__clang__)
  b.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  b.Set("compiler", std::string("gcc ") + __VERSION__);
#else
  b.Set("compiler", "unknown");
#endif
#ifdef ELECTRA_CUDA_ARCHS
  if (electra::cuda_compiled()) b.Set("cudaArchitectures", ELECTRA_CUDA_ARCHS);
#endif
  return b;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  electra::DeviceInfo dev;
  ThrowIfError(env, electra::cuda_device_count(&dev), "info");

  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("deviceCount", Napi::Number::New(env, dev.count));
  cuda.Set("driverVersion", Napi::Number::New(env, dev.driver_version));
  cuda.Set("runtimeVersion", Napi::Number::New(env, dev.runtime_version));
  Napi::Array devices = Napi::Array::New(env, dev.devices.size());
  for (size_t i = 0; i < dev.devices.size(); ++i) {
    const auto& d = dev.devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, d.name));
    o.Set("memory", Napi::Number::New(env, double(d.total_memory)));
    o.Set("cc", Napi::String::New(env, std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)));
    o.Set("multiprocessors", Napi::Number::New(env, d.multiprocessors));
    devices.Set(uint32_t(i), o);
  }
  cuda.Set("devices", devices);
  if (!dev.reason.empty()) cuda.Set("reason", Napi::String::New(env, dev.reason));

  Napi::Object out = Napi::Object::New(env);
  out.Set("version", Napi::String::New(env, ELECTRA_VERSION));
  out.Set("cudaCompiled", Napi::Boolean::New(env, electra::cuda_compiled()));
  out.Set("cuda", cuda);
  out.Set("threads", Napi::Number::New(env, electra::num_threads()));
  out.Set("build", BuildInfo(env));
  const char* simd = electra::cpu::sgemm_kernel_name();
  if (simd != nullptr && simd[0] != '\0') out.Set("simd", Napi::String::New(env, simd));
  // The CPU ops' SIMD level in use (ELECTRA_SIMD may lower it) and the best
  // this CPU and build can run.
  out.Set("simdLevel", Napi::String::New(env, electra::cpu::simd_level_name(electra::cpu::simd_level())));
  out.Set("simdLevelMax", Napi::String::New(env, electra::cpu::simd_level_name(electra::cpu::cpu_simd_level())));
  return out;
}

}  // namespace electra_addon
