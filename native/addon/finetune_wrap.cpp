#include "finetune_wrap.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "async.h"
#include "core/finetune_model.h"
#include "errors.h"
#include "js_read.h"

namespace electra_addon {
namespace {

// {vocabSize, embeddingSize, maxPosition, typeVocabSize?, discriminator: {hidden,
//  layers, heads, intermediate}, layerNormEps?, hiddenDropout?, attentionDropout?,
//  padId?.., head: 'classification'|'regression'|'token', numLabels,
//  classifierDropout? (default: hiddenDropout)}
electra::FinetuneConfig ReadFinetuneConfig(const Napi::Object& o) {
  const char* ctx = "finetune config";
  electra::FinetuneConfig f;
  electra::ModelConfig& c = f.model;
  c.vocab_size = Int(o, "vocabSize", ctx, true, 0);
  c.embedding_size = Int(o, "embeddingSize", ctx, true, 0);
  c.max_position = Int(o, "maxPosition", ctx, true, 0);
  c.type_vocab_size = Int(o, "typeVocabSize", ctx, false, 2);
  Napi::Object d = Obj(o.Get("discriminator"), ctx, "discriminator");
  c.disc.hidden = Int(d, "hidden", "discriminator config", true, 0);
  c.disc.layers = Int(d, "layers", "discriminator config", true, 0);
  c.disc.heads = Int(d, "heads", "discriminator config", true, 0);
  c.disc.intermediate = Int(d, "intermediate", "discriminator config", true, 0);
  c.layer_norm_eps = static_cast<float>(Num(o, "layerNormEps", ctx, false, 1e-12));
  c.hidden_dropout = static_cast<float>(Num(o, "hiddenDropout", ctx, false, 0.1));
  c.attention_dropout = static_cast<float>(Num(o, "attentionDropout", ctx, false, 0.1));
  c.pad_id = static_cast<int32_t>(Int(o, "padId", ctx, false, 0));
  c.unk_id = static_cast<int32_t>(Int(o, "unkId", ctx, false, std::min<int64_t>(100, c.vocab_size - 1)));
  c.cls_id = static_cast<int32_t>(Int(o, "clsId", ctx, false, std::min<int64_t>(101, c.vocab_size - 1)));
  c.sep_id = static_cast<int32_t>(Int(o, "sepId", ctx, false, std::min<int64_t>(102, c.vocab_size - 1)));
  c.mask_id = static_cast<int32_t>(Int(o, "maskId", ctx, false, std::min<int64_t>(103, c.vocab_size - 1)));
  Napi::Value h = o.Get("head");
  if (!h.IsString()) ThrowInvalid(o.Env(), ctx, "head must be 'classification', 'regression' or 'token', got " + TypeName(h));
  const std::string head = h.As<Napi::String>().Utf8Value();
  if (head == "classification") f.head = electra::HeadKind::kClassification;
  else if (head == "regression") f.head = electra::HeadKind::kRegression;
  else if (head == "token") f.head = electra::HeadKind::kToken;
  else ThrowInvalid(o.Env(), ctx, "head must be 'classification', 'regression' or 'token', got '" + head + "'");
  f.num_labels = Int(o, "numLabels", ctx, true, 0);
  f.classifier_dropout = static_cast<float>(Num(o, "classifierDropout", ctx, false, -1));
  return f;
}

class FinetuneWrap : public Napi::ObjectWrap<FinetuneWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FinetuneModel",
                       {InstanceMethod("numParameters", &FinetuneWrap::NumParameters),
                        InstanceMethod("tensorSpecs", &FinetuneWrap::TensorSpecs),
                        InstanceMethod("getTensor", &FinetuneWrap::GetTensor),
                        InstanceMethod("setTensor", &FinetuneWrap::SetTensor),
                        InstanceMethod("initWeights", &FinetuneWrap::InitWeights),
                        InstanceMethod("setLayerDecay", &FinetuneWrap::SetLayerDecay),
                        InstanceMethod("trainStep", &FinetuneWrap::TrainStep),
                        InstanceMethod("predict", &FinetuneWrap::Predict),
                        InstanceMethod("device", &FinetuneWrap::Device)});
  }

  explicit FinetuneWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FinetuneWrap>(info) {
    Napi::Env env = info.Env();
    electra::FinetuneConfig cfg = ReadFinetuneConfig(Obj(info[0], "FinetuneModel", "config"));
    electra::ExecOptions exec = ReadExecOptions(info[1]);
    electra::Status st;
    try {
      st = electra::FinetuneModel::create(cfg, &model_, exec);
    } catch (const std::bad_alloc&) {
      st = electra::OutOfMemory("out of host memory while creating the model");
    }
    ThrowIfError(env, st, "FinetuneModel");
  }

 private:
  void CheckIdle(Napi::Env env, const char* op) {
    if (busy_.load())
      throw StatusToError(env, electra::Status(electra::StatusCode::kBusy,
                                               std::string(op) + ": the model is busy with another operation; await it first"));
  }
  void SyncToHost(Napi::Env env, const char* op) { ThrowIfError(env, model_->sync_to_host(), op); }

  float* Buffer(Napi::Env env, const Napi::Value& kind) {
    if (!kind.IsUndefined() && !kind.IsNull() && !kind.IsString())
      ThrowInvalid(env, "tensor", "kind must be 'params', 'grads', 'm' or 'v', got " + TypeName(kind));
    std::string k = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "params";
    auto& b = model_->buffers();
    if (k == "params") return b.params;
    if (k == "grads") return b.grads;
    if (k == "m") return b.m;
    if (k == "v") return b.v;
    ThrowInvalid(env, "tensor", "kind must be 'params', 'grads', 'm' or 'v', got '" + k + "'");
  }

  const electra::TensorSpec& Spec(const Napi::CallbackInfo& info, const char* op) {
    if (!info[0].IsString()) ThrowInvalid(info.Env(), op, "name must be a string, got " + TypeName(info[0]));
    std::string name = info[0].As<Napi::String>().Utf8Value();
    const electra::TensorSpec* s = model_->table().find(name);
    if (!s) ThrowInvalid(info.Env(), op, "no tensor named '" + name + "'");
    return *s;
  }

  Napi::Value Device(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    electra::Backend& be = model_->backend();
    Napi::Object o = Napi::Object::New(env);
    o.Set("backend", electra::backend_kind_name(be.kind()));
    o.Set("device", Napi::Number::New(env, be.kind() == electra::BackendKind::kCuda ? model_->exec().device : 0));
    o.Set("precision", electra::precision_name(be.precision()));
    o.Set("description", be.describe());
    return o;
  }

  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(model_->num_parameters()));
  }

  // [{name, shape, decay, lrScale}]
  Napi::Value TensorSpecs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& specs = model_->table().specs();
    Napi::Array out = Napi::Array::New(env, specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", specs[i].name);
      Napi::Array shape = Napi::Array::New(env, specs[i].shape.size());
      for (size_t d = 0; d < specs[i].shape.size(); ++d) shape.Set(d, static_cast<double>(specs[i].shape[d]));
      o.Set("shape", shape);
      o.Set("decay", specs[i].decay);
      o.Set("lrScale", static_cast<double>(specs[i].lr_scale));
      out.Set(i, o);
    }
    return out;
  }

  Napi::Value GetTensor(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "getTensor");
    const electra::TensorSpec& s = Spec(info, "getTensor");
    float* buf = Buffer(info.Env(), info[1]);
    SyncToHost(info.Env(), "getTensor");
    Napi::Float32Array a = Napi::Float32Array::New(info.Env(), s.numel);
    std::memcpy(a.Data(), buf + s.offset, s.numel * sizeof(float));
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
    SyncToHost(info.Env(), "setTensor");
    std::memcpy(buf + s.offset, a.Data(), s.numel * sizeof(float));
    model_->host_modified();
    return info.Env().Undefined();
  }

  Napi::Value InitWeights(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "initWeights");
    double seed = NumberArg(info, 0, "initWeights", "seed");
    if (!(seed >= 0) || seed != std::floor(seed)) ThrowInvalid(info.Env(), "initWeights", "seed must be a non-negative integer");
    SyncToHost(info.Env(), "initWeights");
    model_->init_weights(static_cast<uint64_t>(seed));
    model_->host_modified();
    return info.Env().Undefined();
  }

  // setLayerDecay(decay in (0, 1]): every tensor's learning-rate scale.
  Napi::Value SetLayerDecay(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "setLayerDecay");
    double d = NumberArg(info, 0, "setLayerDecay", "decay");
    ThrowIfError(info.Env(), model_->set_layer_decay(static_cast<float>(d)), "setLayerDecay");
    return info.Env().Undefined();
  }

  // trainStep(batch, labels: Int32Array | Float32Array, trainConfig, step, {applyUpdate?, returnLogits?})
  //   -> Promise<{loss, counted, correct, gradNorm, lr, logits?}>
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "trainStep");
    auto batch = std::make_shared<BatchCopy>(ReadBatch(info[0]));
    const bool regression = model_->config().head == electra::HeadKind::kRegression;
    const bool token = model_->config().head == electra::HeadKind::kToken;
    const size_t want = static_cast<size_t>(token ? batch->rows * batch->seq : batch->rows);
    auto labels = std::make_shared<std::vector<int32_t>>();
    auto targets = std::make_shared<std::vector<float>>();
    if (regression) {
      Napi::Float32Array a = Float32Arg(info, 1, "trainStep", "labels");
      targets->assign(a.Data(), a.Data() + a.ElementLength());
    } else {
      Napi::Int32Array a = Int32Arg(info, 1, "trainStep", "labels");
      labels->assign(a.Data(), a.Data() + a.ElementLength());
    }
    const size_t got = regression ? targets->size() : labels->size();
    if (got != want)
      ThrowInvalid(env, "trainStep", "labels has " + std::to_string(got) + " elements, expected " + std::to_string(want) +
                                         (token ? " (rows * seqLen)" : " (rows)"));
    electra::TrainConfig train = ReadTrainConfig(Obj(info[2], "trainStep", "train config"));
    double step = NumberArg(info, 3, "trainStep", "step");
    if (!(step >= 0) || step != std::floor(step)) ThrowInvalid(env, "trainStep", "step must be a non-negative integer");
    bool apply = true, want_logits = false;
    if (info.Length() > 4 && info[4].IsObject()) {
      Napi::Object o = info[4].As<Napi::Object>();
      apply = Bool(o, "applyUpdate", true);
      want_logits = Bool(o, "returnLogits", false);
    }
    auto metrics = std::make_shared<electra::FinetuneMetrics>();
    auto logits = std::make_shared<std::vector<float>>();
    electra::FinetuneModel* model = model_.get();
    busy_ = true;
    return PromiseWorker::Run(
        env, Value(),
        [=]() {
          electra::FinetuneBatch fb;
          fb.batch = batch->view();
          fb.labels = regression ? nullptr : labels->data();
          fb.targets = regression ? targets->data() : nullptr;
          return model->train_step(train, fb, static_cast<int64_t>(step), metrics.get(), apply,
                                   want_logits ? logits.get() : nullptr);
        },
        [=](Napi::Env e) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("loss", metrics->loss);
          o.Set("counted", static_cast<double>(metrics->counted));
          o.Set("correct", static_cast<double>(metrics->correct));
          o.Set("gradNorm", metrics->grad_norm);
          o.Set("lr", metrics->lr);
          if (want_logits) o.Set("logits", ToF32(e, *logits));
          return o;
        },
        [this]() { busy_ = false; });
  }

  // predict(batch) -> Promise<Float32Array>: [rows, numLabels] (token head: [rows*seqLen, numLabels]); dropout off.
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckIdle(env, "predict");
    auto batch = std::make_shared<BatchCopy>(ReadBatch(info[0]));
    auto logits = std::make_shared<std::vector<float>>();
    electra::FinetuneModel* model = model_.get();
    busy_ = true;
    return PromiseWorker::Run(
        env, Value(), [=]() { return model->predict(batch->view(), logits.get()); },
        [=](Napi::Env e) -> Napi::Value { return ToF32(e, *logits); }, [this]() { busy_ = false; });
  }

  std::unique_ptr<electra::FinetuneModel> model_;
  std::atomic<bool> busy_{false};
};

}  // namespace

void RegisterFinetuneModel(Napi::Env env, Napi::Object exports) {
  exports.Set("FinetuneModel", FinetuneWrap::Define(env));
}

}  // namespace electra_addon
