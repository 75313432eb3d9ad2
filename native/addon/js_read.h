// Reading plain JS objects into core structs (configs, batches) with
// ERR_INVALID_ARGUMENT errors that name the field; shared by the Model and
// FinetuneModel classes (model_wrap.cpp defines them).
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "core/backend.h"
#include "core/electra_model.h"
#include "core/model_config.h"

namespace electra_addon {

double Num(const Napi::Object& o, const char* key, const char* ctx, bool required, double def);
int64_t Int(const Napi::Object& o, const char* key, const char* ctx, bool required, int64_t def);
bool Bool(const Napi::Object& o, const char* key, bool def);
Napi::Object Obj(const Napi::Value& v, const char* ctx, const char* what);
// An Int32Array field (expect == 0: any length).
std::vector<int32_t> Ints(const Napi::Object& o, const char* key, const char* ctx, bool required, size_t expect);
electra::ModelConfig ReadModelConfig(const Napi::Object& o);
electra::TrainConfig ReadTrainConfig(const Napi::Object& o);
electra::ExecOptions ReadExecOptions(const Napi::Value& v);

// Owned copy of a batch, so JS may reuse its arrays while the step runs.
struct BatchCopy {
  std::vector<int32_t> ids, types, mask;
  int64_t rows = 0, seq = 0;
  electra::Batch view() const {
    electra::Batch b;
    b.input_ids = ids.data();
    b.token_type_ids = types.empty() ? nullptr : types.data();
    b.attention_mask = mask.empty() ? nullptr : mask.data();
    b.rows = rows;
    b.seq_len = seq;
    return b;
  }
};
BatchCopy ReadBatch(const Napi::Value& v);
Napi::Float32Array ToF32(Napi::Env env, const std::vector<float>& v);

}  // namespace electra_addon
