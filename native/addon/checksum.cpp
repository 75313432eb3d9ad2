// crc32c(bytes, prev = 0) -> number: the CRC-32C of a Uint8Array/Buffer (any
// TypedArray's bytes), continuing `prev`. Synchronous: a few GB/s, so even a
// large checkpoint file costs less than writing it.
#include <napi.h>

#include <cmath>

#include "addon.h"
#include "core/crc32c.h"
#include "errors.h"

namespace electra_addon {

Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) ThrowInvalid(env, "crc32c", "data must be a Uint8Array or Buffer, got " + TypeName(info[0]));
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  uint32_t prev = 0;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    double p = NumberArg(info, 1, "crc32c", "prev");
    if (!(p >= 0 && p <= 4294967295.0) || p != std::floor(p)) ThrowInvalid(env, "crc32c", "prev must be an unsigned 32-bit integer");
    prev = static_cast<uint32_t>(p);
  }
  const uint8_t* base = static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  return Napi::Number::New(env, electra::crc32c(prev, base, a.ByteLength()));
}

}  // namespace electra_addon
