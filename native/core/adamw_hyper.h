// The hyper-parameters of one AdamW update, shared by the training step and
// both backends (so backend-independent code never includes a backend header).
// A plain struct: a new field (e.g. a per-tensor learning-rate scale) is added
// here with its default and read by cpu/adamw.cpp and cuda/adamw.cu.
#pragma once
#include <cstdint>

namespace electra {

struct AdamWHyper {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-6f;
  float weight_decay = 0.01f;
  int64_t step = 1;             // 1-based, used only for bias correction
  bool bias_correction = false;  // the ELECTRA reference has none
  // Backend double (Backend::guard_clip_grad_norm's flag): when set, the
  // update runs only if *apply != 0, a decision read where the update runs
  // (no host round trip). nullptr: always.
  const double* apply = nullptr;
};

}  // namespace electra
