// info(): what this binary was built with and what it found at run time.
#include "addon.h"
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
  const char* simd = electra::cpu::sgemm_kernel_name();
  if (simd != nullptr && simd[0] != '\0') out.Set("simd", Napi::String::New(env, simd));
  return out;
}

}  // namespace electra_addon
