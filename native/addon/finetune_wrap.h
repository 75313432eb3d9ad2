// The `FinetuneModel` class exposed to JavaScript: one native FinetuneModel
// (encoder + task head, parameters, gradients, AdamW state) per instance.
#pragma once
#include <napi.h>

namespace electra_addon {
// Adds the FinetuneModel constructor to exports.
void RegisterFinetuneModel(Napi::Env env, Napi::Object exports);
}  // namespace electra_addon
