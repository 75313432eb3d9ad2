// Module pieces, one per file; addon.cpp puts them on `exports`.
#pragma once
#include <napi.h>

namespace electra_addon {

// info(): backend description (info.cpp).
Napi::Value Info(const Napi::CallbackInfo& info);
// The `debug` object: a few single ops for tests and the demo (debug_ops.cpp).
Napi::Object MakeDebugOps(Napi::Env env);
// The `bench` object: sgemm timing for `electra-native bench` without electra_bench (bench_ops.cpp).
Napi::Object MakeBenchOps(Napi::Env env);
// crc32c(bytes, prev?): checkpoint file digests (checksum.cpp).
Napi::Value Crc32c(const Napi::CallbackInfo& info);

}  // namespace electra_addon

#ifndef ELECTRA_VERSION
#define ELECTRA_VERSION "0.0.0"
#endif
