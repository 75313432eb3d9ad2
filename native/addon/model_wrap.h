// The `Model` class exposed to JavaScript: one native ElectraModel (parameters,
// gradients, optimizer state, activations) per instance.
#pragma once
#include <napi.h>

namespace electra_addon {
// Adds the Model constructor to exports.
void RegisterModel(Napi::Env env, Napi::Object exports);
}  // namespace electra_addon
