// The N-API module electra_native: a thin layer over the C++ core. It checks
// arguments (core/ops_check.h), calls the core, and turns a failed Status
// into a JS Error with a `code` (errors.h). No training logic lives here.
#include <napi.h>

#include "addon.h"
#include "finetune_wrap.h"
#include "model_wrap.h"

namespace electra_addon {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, ELECTRA_VERSION));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("debug", MakeDebugOps(env));
  exports.Set("bench", MakeBenchOps(env));
  exports.Set("crc32c", Napi::Function::New(env, Crc32c, "crc32c"));
  RegisterModel(env, exports);
  RegisterFinetuneModel(env, exports);
  return exports;
}

}  // namespace electra_addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return electra_addon::Init(env, exports);
}

NODE_API_MODULE(electra_native, InitModule)
