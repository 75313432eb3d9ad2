// The addon's error path: an electra::Status becomes a JS Error whose `code`
// is status.code_name() (e.g. 'ERR_INVALID_ARGUMENT'). The addon layer is the
// only place that uses C++ exceptions (NAPI_CPP_EXCEPTIONS): a thrown
// Napi::Error surfaces in JavaScript as the Error. The core never throws.
#pragma once
#include <napi.h>

#include <string>

#include "core/status.h"

namespace electra_addon {

// A JS Error with .code = st.code_name(); `context` prefixes the message.
Napi::Error StatusToError(Napi::Env env, const electra::Status& st, const char* context = nullptr);
// Throws StatusToError(...) unless st is ok.
void ThrowIfError(Napi::Env env, const electra::Status& st, const char* context = nullptr);
// Throws an ERR_INVALID_ARGUMENT Error with message "<context>: <msg>".
[[noreturn]] void ThrowInvalid(Napi::Env env, const char* context, const std::string& msg);

// Argument readers: each throws ERR_INVALID_ARGUMENT naming the argument and
// the JS type it got when the type is wrong. Numbers are returned as given
// (NaN included): their values are checked by core/ops_check.h.
double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
// `nullable`: null/undefined give an empty Float32Array (check IsEmpty()).
Napi::Float32Array Float32Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                              const char* name, bool nullable = false);
Napi::Int32Array Int32Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                          const char* name);
// A short description of a value's JS type, for messages ("number", "Int32Array", ...).
std::string TypeName(const Napi::Value& v);

}  // namespace electra_addon
