#include "model_wrap.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <limits>
#include <new>
#include <type_traits>
#include <string>
#include <vector>

#include "async.h"
#include "core/electra_model.h"
#include "errors.h"
#include "js_read.h"

namespace electra_addon {

using electra::Status;

// --- reading plain JS objects (js_read.h) ---------------------------------
double Num(const Napi::Object& o, const char* key, const char* ctx, bool required, double def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) ThrowInvalid(o.Env(), ctx, std::string(key) + " is required");
    return def;
  }
  if (!v.IsNumber()) ThrowInvalid(o.Env(), ctx, std::string(key) + " must be a number, got " + TypeName(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) ThrowInvalid(o.Env(), ctx, std::string(key) + " must be finite, got " + std::to_string(d));
  return d;
}
int64_t Int(const Napi::Object& o, const char* key, const char* ctx, bool required, int64_t def) {
  double d = Num(o, key, ctx, required, static_cast<double>(def));
  if (d != std::floor(d) || std::fabs(d) > 9007199254740991.0)
    ThrowInvalid(o.Env(), ctx, std::string(key) + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}
bool Bool(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsBoolean()) ThrowInvalid(o.Env(), "config", std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}
Napi::Object Obj(const Napi::Value& v, const char* ctx, const char* what) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray())
    ThrowInvalid(v.Env(), ctx, std::string(what) + " must be an object, got " + TypeName(v));
  return v.As<Napi::Object>();
}
std::vector<int32_t> Ints(const Napi::Object& o, const char* key, const char* ctx, bool required, size_t expect) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) ThrowInvalid(o.Env(), ctx, std::string(key) + " is required");
    return {};
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowInvalid(o.Env(), ctx, std::string(key) + " must be an Int32Array, got " + TypeName(v));
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (expect != 0 && a.ElementLength() != expect)
    ThrowInvalid(o.Env(), ctx, std::string(key) + " has " + std::to_string(a.ElementLength()) + " elements, expected " +
                                   std::to_string(expect));
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

// One field of config_table.h from a JS object: absent (or null) keeps the
// C++ default; integers and booleans are checked as such.
template <class T>
void ReadField(const Napi::Object& o, const char* key, const char* ctx, T* out) {
  if constexpr (std::is_same_v<T, bool>) {
    *out = Bool(o, key, *out);
  } else if constexpr (std::is_integral_v<T>) {
    const int64_t v = Int(o, key, ctx, false, static_cast<int64_t>(*out));
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        (std::is_same_v<T, int32_t> && v > std::numeric_limits<int32_t>::max()))
      ThrowInvalid(o.Env(), ctx, std::string(key) + " is out of range, got " + std::to_string(v));
    *out = static_cast<T>(v);
  } else {
    *out = static_cast<T>(Num(o, key, ctx, false, static_cast<double>(*out)));
  }
}

electra::EncoderConfig ReadEncoder(const Napi::Object& o, const char* ctx) {
  electra::EncoderConfig e;
#define READ(type, member, js, def) ReadField(o, js, ctx, &e.member);
  ELECTRA_ENCODER_FIELDS(READ)
#undef READ
  return e;
}

electra::ModelConfig ReadModelConfig(const Napi::Object& o) {
  const char* ctx = "model config";
  electra::ModelConfig c;
#define READ(type, member, js, def) ReadField(o, js, ctx, &c.member);
  ELECTRA_MODEL_FIELDS(READ)
#undef READ
  std::string objective = "electra";
  Napi::Value ov = o.Get("objective");
  if (ov.IsString()) objective = ov.As<Napi::String>().Utf8Value();
  if (objective == "mlm") c.objective = electra::Objective::kMlm;
  else if (objective != "electra") ThrowInvalid(o.Env(), ctx, "objective must be 'electra' or 'mlm'");
  if (c.objective == electra::Objective::kElectra)
    c.disc = ReadEncoder(Obj(o.Get("discriminator"), ctx, "discriminator"), "discriminator config");
  c.gen = ReadEncoder(Obj(o.Get("generator"), ctx, "generator"), "generator config");
  return c;
}

electra::TrainConfig ReadTrainConfig(const Napi::Object& o) {
  const char* ctx = "train config";
  electra::TrainConfig t;
#define READ(type, member, js, def) ReadField(o, js, ctx, &t.member);
  ELECTRA_TRAIN_FIELDS(READ)
#undef READ
  Napi::Value mv = o.Get("masking");
  if (!mv.IsUndefined() && !mv.IsNull()) {
    const std::string m = mv.IsString() ? mv.As<Napi::String>().Utf8Value() : "";
    if (m == "reference") t.masking = electra::MaskingMode::kReference;
    else if (m == "exact") t.masking = electra::MaskingMode::kExactCount;
    else ThrowInvalid(o.Env(), ctx, "masking must be 'reference' or 'exact'");
  }
  return t;
}

// The Model constructor's second argument: {backend: 'cpu'|'cuda', device:
// int >= 0 (the CUDA ordinal; ignored on the CPU), precision: 'fp32'|'bf16'
// (default bf16 on CUDA, fp32 on the CPU, which only has fp32)}.
electra::ExecOptions ReadExecOptions(const Napi::Value& v) {
  const char* ctx = "Model options";
  electra::ExecOptions ex;
  if (v.IsUndefined() || v.IsNull()) return ex;
  Napi::Object o = Obj(v, ctx, "options");
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    if (k != "backend" && k != "device" && k != "precision")
      ThrowInvalid(o.Env(), ctx, "unknown option '" + k + "' (expected backend, device, precision)");
  }
  Napi::Value b = o.Get("backend");
  if (!b.IsUndefined() && !b.IsNull()) {
    if (!b.IsString()) ThrowInvalid(o.Env(), ctx, "backend must be 'cpu' or 'cuda', got " + TypeName(b));
    std::string s = b.As<Napi::String>().Utf8Value();
    if (s == "cuda") ex.backend = electra::BackendKind::kCuda;
    else if (s != "cpu") ThrowInvalid(o.Env(), ctx, "backend must be 'cpu' or 'cuda', got '" + s + "'");
  }
  const int64_t dev = Int(o, "device", ctx, false, 0);
  if (dev < 0 || dev > 1 << 20) ThrowInvalid(o.Env(), ctx, "device must be an integer >= 0, got " + std::to_string(dev));
  ex.device = static_cast<int>(dev);
  const bool cuda = ex.backend == electra::BackendKind::kCuda;
  ex.precision = cuda ? electra::Precision::kBf16 : electra::Precision::kFp32;
  Napi::Value p = o.Get("precision");
  if (!p.IsUndefined() && !p.IsNull()) {
    if (!p.IsString()) ThrowInvalid(o.Env(), ctx, "precision must be 'fp32' or 'bf16', got " + TypeName(p));
    std::string s = p.As<Napi::String>().Utf8Value();
    if (s == "fp32") ex.precision = electra::Precision::kFp32;
    else if (s == "bf16") ex.precision = electra::Precision::kBf16;
    else ThrowInvalid(o.Env(), ctx, "precision must be 'fp32' or 'bf16', got '" + s + "'");
  }
  if (!cuda && ex.precision == electra::Precision::kBf16)
    ThrowInvalid(o.Env(), ctx, "precision 'bf16' needs the CUDA backend; the CPU backend computes in fp32");
  return ex;
}

BatchCopy ReadBatch(const Napi::Value& v) {
  const char* ctx = "batch";
  Napi::Object o = Obj(v, ctx, "batch");
  BatchCopy b;
  b.rows = Int(o, "rows", ctx, true, 0);
  b.seq = Int(o, "seqLen", ctx, true, 0);
  if (b.rows <= 0 || b.seq <= 0 || b.rows > (1 << 24) || b.seq > (1 << 20))
    ThrowInvalid(v.Env(), ctx, "rows and seqLen must be positive");
  const size_t n = static_cast<size_t>(b.rows * b.seq);
  b.ids = Ints(o, "inputIds", ctx, true, n);
  b.types = Ints(o, "tokenTypeIds", ctx, false, n);
  b.mask = Ints(o, "attentionMask", ctx, false, n);
  return b;
}

Napi::Float32Array ToF32(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

namespace {

Napi::Object MetricsToJs(Napi::Env env, const electra::StepMetrics& m) {
  Napi::Object o = Napi::Object::New(env);
#define SET(type, member, js, def) o.Set(js, static_cast<double>(m.member));
  ELECTRA_STEP_METRIC_FIELDS(SET)
#undef SET
  Napi::Float64Array hr = Napi::Float64Array::New(env, electra::kAucBins);
  Napi::Float64Array ho = Napi::Float64Array::New(env, electra::kAucBins);
  std::memcpy(hr.Data(), m.disc_hist_replaced.data(), sizeof(double) * electra::kAucBins);
  std::memcpy(ho.Data(), m.disc_hist_original.data(), sizeof(double) * electra::kAucBins);
  o.Set("discHistReplaced", hr);
  o.Set("discHistOriginal", ho);
  o.Set("skipped", m.skipped);
  return o;
}

// The arguments trainStep, enqueueStep and evaluate start with: (batch,
// trainConfig, n), n a non-negative integer that errors call `n_name`
// ("step", "index"). The batch is copied, so JS may reuse its arrays while
// the call runs.
struct StepArgs {
  std::shared_ptr<BatchCopy> batch;
  electra::TrainConfig train;
  int64_t n = 0;
};
StepArgs ReadStepArgs(const Napi::CallbackInfo& info, const char* op, const char* n_name) {
  StepArgs a;
  a.batch = std::make_shared<BatchCopy>(ReadBatch(info[0]));
  a.train = ReadTrainConfig(Obj(info[1], op, "train config"));
  const double n = NumberArg(info, 2, op, n_name);
  if (!(n >= 0) || n != std::floor(n)) ThrowInvalid(info.Env(), op, std::string(n_name) + " must be a non-negative integer");
  a.n = static_cast<int64_t>(n);
  return a;
}

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {InstanceMethod("numParameters", &ModelWrap::NumParameters),
                        InstanceMethod("tensorSpecs", &ModelWrap::TensorSpecs),
                        InstanceMethod("getTensor", &ModelWrap::GetTensor),
                        InstanceMethod("setTensor", &ModelWrap::SetTensor),
                        InstanceMethod("initWeights", &ModelWrap::InitWeights),
                        InstanceMethod("trainStep", &ModelWrap::TrainStep),
                        InstanceMethod("enqueueStep", &ModelWrap::EnqueueStep),
                        InstanceMethod("discriminate", &ModelWrap::Discriminate),
                        InstanceMethod("generatorLogits", &ModelWrap::GeneratorLogits),
                        InstanceMethod("evaluate", &ModelWrap::Evaluate),
                        InstanceMethod("device", &ModelWrap::Device),
                        InstanceMethod("memory", &ModelWrap::Memory),
                        InstanceMethod("stepWorkspaceBytes", &ModelWrap::StepWorkspaceBytes),
                        InstanceMethod("attentionSavedFloats", &ModelWrap::AttentionSavedFloats),
                        InstanceMethod("ffnGeluBf16", &ModelWrap::FfnGeluBf16),
                        InstanceMethod("attentionQkvBf16", &ModelWrap::AttentionQkvBf16),
                        InstanceMethod("dispose", &ModelWrap::Dispose),
                        InstanceMethod("isDisposed", &ModelWrap::IsDisposed)});
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    Napi::Env env = info.Env();
    electra::ModelConfig cfg = ReadModelConfig(Obj(info[0], "Model", "config"));
    electra::ExecOptions exec = ReadExecOptions(info[1]);
    electra::Status st;
    try {
      st = electra::ElectraModel::create(cfg, &model_, exec);
    } catch (const std::bad_alloc&) {
      st = electra::OutOfMemory("out of host memory while creating the model");
    }
    ThrowIfError(env, st, "Model");
  }

 private:
  // The native model, or ERR_INVALID_ARGUMENT once dispose() freed it.
  electra::ElectraModel* Live(Napi::Env env) {
    if (!model_)
      throw StatusToError(env, electra::InvalidArgument("the model was disposed; create or load a new one"));
    return model_.get();
  }

  // dispose(): frees parameters, gradients, moments and activations now
  // instead of at garbage collection. ERR_BUSY while an operation runs; a
  // second call does nothing.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "dispose");
    model_.reset();
    return info.Env().Undefined();
  }

  Napi::Value IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !model_); }

  // Rejects a second call while a step runs: the native state is not shared.
  void CheckIdle(Napi::Env env, const char* op) {
    if (busy_.load())
      throw StatusToError(env, electra::Status(electra::StatusCode::kBusy,
                                               std::string(op) + ": the model is busy with another operation; await it first"));
  }

  // The host copy of the buffers, current: on CUDA the working copy lives on
  // the device, so every host read goes through here first.
  void SyncToHost(Napi::Env env, const char* op) { ThrowIfError(env, Live(env)->sync_to_host(), op); }

  // kind: "params" | "grads" | "m" | "v" (undefined: "params")
  float* Buffer(Napi::Env env, const Napi::Value& kind) {
    if (!kind.IsUndefined() && !kind.IsNull() && !kind.IsString())
      ThrowInvalid(env, "tensor", "kind must be 'params', 'grads', 'm' or 'v', got " + TypeName(kind));
    std::string k = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "params";
    auto& b = Live(env)->buffers();
    if (k == "params") return b.params;
    if (k == "grads") return b.grads;
    if (k == "m") return b.m;
    if (k == "v") return b.v;
    ThrowInvalid(env, "tensor", "kind must be 'params', 'grads', 'm' or 'v', got '" + k + "'");
  }

  const electra::TensorSpec& Spec(const Napi::CallbackInfo& info, const char* op) {
    if (!info[0].IsString()) ThrowInvalid(info.Env(), op, "name must be a string, got " + TypeName(info[0]));
    std::string name = info[0].As<Napi::String>().Utf8Value();
    const electra::TensorSpec* s = Live(info.Env())->table().find(name);
    if (!s) ThrowInvalid(info.Env(), op, "no tensor named '" + name + "'");
    return *s;
  }

  // device() -> {backend, device, precision, description}
  Napi::Value Device(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const electra::ExecOptions& ex = Live(env)->exec();
    electra::Backend& be = Live(env)->backend();
    Napi::Object o = Napi::Object::New(env);
    o.Set("backend", electra::backend_kind_name(be.kind()));
    o.Set("device", Napi::Number::New(env, be.kind() == electra::BackendKind::kCuda ? ex.device : 0));
    o.Set("precision", electra::precision_name(be.precision()));
    o.Set("description", be.describe());
    return o;
  }

  // memory() -> {bytesInUse, peakBytes}: what the backend holds (device memory on CUDA).
  // ERR_BUSY while an operation runs (the counters move then).
  Napi::Value Memory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "memory");
    electra::Backend& be = Live(env)->backend();
    Napi::Object o = Napi::Object::New(env);
    o.Set("bytesInUse", Napi::Number::New(env, static_cast<double>(be.bytes_in_use())));
    o.Set("peakBytes", Napi::Number::New(env, static_cast<double>(be.peak_bytes())));
    return o;
  }

  // stepWorkspaceBytes(rows, seq) -> bytes a training step on rows x seq
  // micro-batches may still make the backend allocate beyond the activations
  // (ElectraModel::step_workspace_bytes; 0 on the CPU).
  Napi::Value StepWorkspaceBytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
      throw StatusToError(env, electra::InvalidArgument("stepWorkspaceBytes(rows, seq): two numbers expected"));
    const int64_t rows = info[0].As<Napi::Number>().Int64Value(), seq = info[1].As<Napi::Number>().Int64Value();
    if (rows <= 0 || seq <= 0)
      throw StatusToError(env, electra::InvalidArgument("stepWorkspaceBytes(rows, seq): both must be positive"));
    return Napi::Number::New(env, static_cast<double>(Live(env)->step_workspace_bytes(rows, seq)));
  }

  // attentionSavedFloats(rows, seq, heads, headDim) -> floats of attention
  // state one encoder layer of that shape keeps for the backward on this
  // model's backend (Backend::attention_saved_floats, what Encoder::resize
  // allocates): rows*heads*seq*seq, or rows*heads*seq where the backend
  // recomputes the probabilities (CUDA bf16 on tensor cores).
  Napi::Value AttentionSavedFloats(const Napi::CallbackInfo& info) {
    int64_t v[4];
    PositiveInts(info, "attentionSavedFloats(rows, seq, heads, headDim)", 4, v);
    const int64_t n = Live(info.Env())->backend().attention_saved_floats(v[0], v[1], v[2], v[3]);
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }
  // ffnGeluBf16(hidden, intermediate) -> whether an encoder of those widths
  // keeps its GELU output as bf16 (Backend::ffn_gelu_bf16).
  Napi::Value FfnGeluBf16(const Napi::CallbackInfo& info) {
    int64_t v[2];
    PositiveInts(info, "ffnGeluBf16(hidden, intermediate)", 2, v);
    return Napi::Boolean::New(info.Env(), Live(info.Env())->backend().ffn_gelu_bf16(v[0], v[1]));
  }
  // attentionQkvBf16(seq, heads, headDim) -> whether an encoder of that
  // attention shape keeps q, k, v as bf16 (Backend::attention_qkv_bf16).
  Napi::Value AttentionQkvBf16(const Napi::CallbackInfo& info) {
    int64_t v[3];
    PositiveInts(info, "attentionQkvBf16(seq, heads, headDim)", 3, v);
    return Napi::Boolean::New(info.Env(), Live(info.Env())->backend().attention_qkv_bf16(v[0], v[1], v[2]));
  }
  // The n positive integer arguments of a shape query (sig names them), or ERR_INVALID_ARGUMENT.
  static void PositiveInts(const Napi::CallbackInfo& info, const char* sig, size_t n, int64_t* v) {
    for (size_t i = 0; i < n; ++i) {
      if (info.Length() <= i || !info[i].IsNumber())
        throw StatusToError(info.Env(), electra::InvalidArgument(std::string(sig) + ": " + std::to_string(n) +
                                                                 " numbers expected"));
      v[i] = info[i].As<Napi::Number>().Int64Value();
      if (v[i] <= 0)
        throw StatusToError(info.Env(), electra::InvalidArgument(std::string(sig) + ": all must be positive"));
    }
  }

  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Live(info.Env())->num_parameters()));
  }

  Napi::Value TensorSpecs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& specs = Live(env)->table().specs();
    Napi::Array out = Napi::Array::New(env, specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", specs[i].name);
      Napi::Array shape = Napi::Array::New(env, specs[i].shape.size());
      for (size_t d = 0; d < specs[i].shape.size(); ++d) shape.Set(d, static_cast<double>(specs[i].shape[d]));
      o.Set("shape", shape);
      o.Set("decay", specs[i].decay);
      out.Set(i, o);
    }
    return out;
  }

  Napi::Value GetTensor(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "getTensor");
    const electra::TensorSpec& s = Spec(info, "getTensor");
    float* buf = Buffer(info.Env(), info[1]);
    SyncToHost(info.Env(), "getTensor");
    const float* src = buf + s.offset;
    Napi::Float32Array a = Napi::Float32Array::New(info.Env(), s.numel);
    std::memcpy(a.Data(), src, s.numel * sizeof(float));
    return a;
  }

  Napi::Value SetTensor(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "setTensor");
    const electra::TensorSpec& s = Spec(info, "setTensor");
    Napi::Float32Array a = Float32Arg(info, 1, "setTensor", "data");
    if (static_cast<int64_t>(a.ElementLength()) != s.numel)
      ThrowInvalid(info.Env(), "setTensor", s.name + " has " + std::to_string(s.numel) + " elements, got " +
                                                std::to_string(a.ElementLength()));
    for (size_t i = 0; i < a.ElementLength(); ++i)
      if (!std::isfinite(a[i])) ThrowInvalid(info.Env(), "setTensor", s.name + " contains a non-finite value");
    float* buf = Buffer(info.Env(), info[2]);
    // The rest of the host copy must be current before part of it is
    // overwritten and the whole is marked as the newer copy.
    SyncToHost(info.Env(), "setTensor");
    std::memcpy(buf + s.offset, a.Data(), s.numel * sizeof(float));
    Live(info.Env())->host_modified();
    return info.Env().Undefined();
  }

  Napi::Value InitWeights(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "initWeights");
    double seed = NumberArg(info, 0, "initWeights", "seed");
    if (!(seed >= 0) || seed != std::floor(seed)) ThrowInvalid(info.Env(), "initWeights", "seed must be a non-negative integer");
    // init_weights writes params and resets the moments on the host; grads
    // must be current there before the whole copy is marked as the newer one.
    SyncToHost(info.Env(), "initWeights");
    Live(info.Env())->init_weights(static_cast<uint64_t>(seed));
    Live(info.Env())->host_modified();
    return info.Env().Undefined();
  }

  // trainStep(batch, trainConfig, step, overrides?) -> Promise<metrics>
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "trainStep");
    const StepArgs a = ReadStepArgs(info, "trainStep", "step");
    auto ov = std::make_shared<electra::StepOverrides>();
    auto gl = std::make_shared<std::vector<float>>();
    auto dl = std::make_shared<std::vector<float>>();
    bool has_ov = info.Length() > 3 && info[3].IsObject();
    if (has_ov) {
      Napi::Object o = info[3].As<Napi::Object>();
      const char* ctx = "step overrides";
      ov->masked_positions = Ints(o, "maskedPositions", ctx, true, 0);
      ov->generator_input_ids = Ints(o, "generatorInputIds", ctx, true, 0);
      ov->sampled_ids = Ints(o, "sampledIds", ctx, true, 0);
      ov->apply_update = Bool(o, "applyUpdate", true);
      if (Bool(o, "returnLogits", false)) {
        ov->gen_logits_out = gl.get();
        ov->disc_logits_out = dl.get();
      }
    }
    auto metrics = std::make_shared<electra::StepMetrics>();
    electra::ElectraModel* model = Live(env);
    busy_ = true;
    return PromiseWorker::Run(
        env, Value(),
        [=]() { return model->train_step(a.train, a.batch->view(), a.n, metrics.get(), has_ov ? ov.get() : nullptr); },
        [=](Napi::Env e) -> Napi::Value {
          Napi::Object o = MetricsToJs(e, *metrics);
          if (has_ov && ov->gen_logits_out) {
            o.Set("genLogits", ToF32(e, *gl));
            o.Set("discLogits", ToF32(e, *dl));
          }
          return o;
        },
        [this]() { busy_ = false; });
  }

  // enqueueStep(batch, trainConfig, step) -> Promise<undefined>: the same step,
  // without metrics. It resolves once the step is enqueued (CUDA: the device
  // may still run it; anything that reads the model waits for it) or done (CPU).
  Napi::Value EnqueueStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "enqueueStep");
    const StepArgs a = ReadStepArgs(info, "enqueueStep", "step");
    electra::ElectraModel* model = Live(env);
    busy_ = true;
    return PromiseWorker::Run(
        env, Value(), [=]() { return model->train_step(a.train, a.batch->view(), a.n, nullptr); },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); }, [this]() { busy_ = false; });
  }

  // evaluate(batch, trainConfig, index) -> Promise<metrics>: forward only, dropout off.
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "evaluate");
    const StepArgs a = ReadStepArgs(info, "evaluate", "index");
    auto metrics = std::make_shared<electra::StepMetrics>();
    electra::ElectraModel* model = Live(env);
    busy_ = true;
    return PromiseWorker::Run(
        env, Value(), [=]() { return model->evaluate(a.train, a.batch->view(), a.n, metrics.get()); },
        [=](Napi::Env e) -> Napi::Value { return MetricsToJs(e, *metrics); }, [this]() { busy_ = false; });
  }

  // discriminate(batch) -> Promise<Float32Array> of per-token logits [rows*seqLen]
  Napi::Value Discriminate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "discriminate");
    auto batch = std::make_shared<BatchCopy>(ReadBatch(info[0]));
    auto logits = std::make_shared<std::vector<float>>();
    electra::ElectraModel* model = Live(env);
    busy_ = true;
    return PromiseWorker::Run(
        env, Value(), [=]() { return model->discriminate(batch->view(), logits.get()); },
        [=](Napi::Env e) -> Napi::Value { return ToF32(e, *logits); }, [this]() { busy_ = false; });
  }

  // generatorLogits(batch, positions: Int32Array) -> Promise<Float32Array> [positions.length * vocab]
  Napi::Value GeneratorLogits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "generatorLogits");
    auto batch = std::make_shared<BatchCopy>(ReadBatch(info[0]));
    Napi::Int32Array pos = Int32Arg(info, 1, "generatorLogits", "positions");
    auto rows = std::make_shared<std::vector<int32_t>>(pos.Data(), pos.Data() + pos.ElementLength());
    auto logits = std::make_shared<std::vector<float>>();
    electra::ElectraModel* model = Live(env);
    busy_ = true;
    return PromiseWorker::Run(
        env, Value(), [=]() { return model->generator_logits(batch->view(), *rows, logits.get()); },
        [=](Napi::Env e) -> Napi::Value { return ToF32(e, *logits); }, [this]() { busy_ = false; });
  }

  std::unique_ptr<electra::ElectraModel> model_;
  std::atomic<bool> busy_{false};
};

// A float default as the decimal it was written as (0.01f -> 0.01, not
// 0.009999999776): the shortest %g that reads back as the same float.
double ShortestDecimal(float v) {
  char buf[32];
  for (int prec = 6; prec <= 9; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return std::strtod(buf, nullptr);
}

template <class T>
void PutDefault(Napi::Object& o, const char* js, T v) {
  if constexpr (std::is_same_v<T, bool>) o.Set(js, Napi::Boolean::New(o.Env(), v));
  else if constexpr (std::is_same_v<T, float>) o.Set(js, Napi::Number::New(o.Env(), ShortestDecimal(v)));
  else o.Set(js, Napi::Number::New(o.Env(), static_cast<double>(v)));
}

// configSchema() -> {model, encoder, train, metrics}: each a {jsName: default}
// object in declaration order, from config_table.h (what lib/defaults.ts reads).
Napi::Value ConfigSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const electra::ModelConfig mc;
  const electra::EncoderConfig ec;
  const electra::TrainConfig tc;
  const electra::StepMetrics sm;
  Napi::Object model = Napi::Object::New(env), enc = Napi::Object::New(env), train = Napi::Object::New(env),
               metrics = Napi::Object::New(env);
#define M(type, member, js, def) PutDefault(model, js, mc.member);
#define E(type, member, js, def) PutDefault(enc, js, ec.member);
#define T(type, member, js, def) PutDefault(train, js, tc.member);
#define S(type, member, js, def) PutDefault(metrics, js, sm.member);
  ELECTRA_MODEL_FIELDS(M)
  ELECTRA_ENCODER_FIELDS(E)
  ELECTRA_TRAIN_FIELDS(T)
  ELECTRA_STEP_METRIC_FIELDS(S)
#undef M
#undef E
#undef T
#undef S
  model.Set("objective", "electra");
  train.Set("masking", tc.masking == electra::MaskingMode::kReference ? "reference" : "exact");
  Napi::Object out = Napi::Object::New(env);
  out.Set("model", model);
  out.Set("encoder", enc);
  out.Set("train", train);
  out.Set("metrics", metrics);
  return out;
}

// checkConfig(model, train?): the core's validate() on these configs (fields
// missing from the objects take their defaults); throws ERR_INVALID_ARGUMENT.
Napi::Value CheckConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const electra::ModelConfig mc = ReadModelConfig(Obj(info[0], "checkConfig", "model config"));
  if (info.Length() < 2 || info[1].IsUndefined()) {
    ThrowIfError(env, electra::validate(mc));
  } else {
    const electra::TrainConfig tc = ReadTrainConfig(Obj(info[1], "checkConfig", "train config"));
    ThrowIfError(env, electra::validate(mc, tc));
  }
  return env.Undefined();
}

// learningRate(train, step) -> the learning rate the native step uses at 0-based `step`.
Napi::Value LearningRate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const electra::TrainConfig t = ReadTrainConfig(Obj(info[0], "learningRate", "train config"));
  const double step = NumberArg(info, 1, "learningRate", "step");
  if (!(step >= 0) || step != std::floor(step)) ThrowInvalid(env, "learningRate", "step must be a non-negative integer");
  return Napi::Number::New(env, electra::ElectraModel::learning_rate(t, static_cast<int64_t>(step)));
}

}  // namespace

void RegisterModel(Napi::Env env, Napi::Object exports) {
  exports.Set("Model", ModelWrap::Define(env));
  exports.Set("configSchema", Napi::Function::New(env, ConfigSchema, "configSchema"));
  exports.Set("checkConfig", Napi::Function::New(env, CheckConfig, "checkConfig"));
  exports.Set("learningRate", Napi::Function::New(env, LearningRate, "learningRate"));
}

}  // namespace electra_addon
