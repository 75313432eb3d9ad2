#include "errors.h"

namespace electra_addon {

Napi::Error StatusToError(Napi::Env env, const electra::Status& st, const char* context) {
  std::string msg = st.message().empty() ? std::string(st.code_name()) : st.message();
  if (context != nullptr) msg = std::string(context) + ": " + msg;
  Napi::Error err = Napi::Error::New(env, msg);
  err.Set("code", Napi::String::New(env, st.code_name()));
  return err;
}

void ThrowIfError(Napi::Env env, const electra::Status& st, const char* context) {
  if (!st.ok()) throw StatusToError(env, st, context);
}

void ThrowInvalid(Napi::Env env, const char* context, const std::string& msg) {
  throw StatusToError(env, electra::InvalidArgument(msg), context);
}

std::string TypeName(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
    case napi_object: break;
  }
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "Int8Array";
      case napi_uint8_array: return "Uint8Array";
      case napi_uint8_clamped_array: return "Uint8ClampedArray";
      case napi_int16_array: return "Int16Array";
      case napi_uint16_array: return "Uint16Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_bigint64_array: return "BigInt64Array";
      case napi_biguint64_array: return "BigUint64Array";
      default: return "TypedArray";
    }
  }
  if (v.IsArray()) return "Array";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  return "object";
}

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber())
    ThrowInvalid(info.Env(), op, std::string(name) + " must be a number, got " + TypeName(v));
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Float32Array Float32Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                              const char* name, bool nullable) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return Napi::Float32Array();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    ThrowInvalid(info.Env(), op,
                 std::string(name) + " must be a Float32Array" + (nullable ? " or null" : "") +
                     ", got " + TypeName(v));
  return v.As<Napi::Float32Array>();
}

Napi::Int32Array Int32Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                          const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowInvalid(info.Env(), op, std::string(name) + " must be an Int32Array, got " + TypeName(v));
  return v.As<Napi::Int32Array>();
}

}  // namespace electra_addon
