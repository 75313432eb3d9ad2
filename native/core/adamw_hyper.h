// The hyper-parameters of one AdamW update, shared by the training step and
// both backends (so backend-independent code never includes a backend header).
// A plain struct: a new field (e.g. a per-tensor learning-rate scale) is added
// here with its default and read by cpu/adamw.cpp and cuda/adamw.cu.
#pragma once
#include <cstdint>

namespace electra {

// The per-step part of an update, in backend memory (AdamWHyper::step_values),
// so that a replayed CUDA graph sees each step's: the learning rate, the
// 1-based step, and its bias-correction factors (adamw_consts's c1 and c2,
// made on the host; the CPU recomputes them from `step` with the same code).
struct AdamWStep {
  float lr = 0, c1 = 1, c2 = 1, unused = 0;
  int64_t step = 1;
};

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
  // Backend memory; when set, the update takes lr and step (and c1, c2) from
  // it when it runs, not from the fields above. Not with per-tensor lr scales.
  const AdamWStep* step_values = nullptr;
};

}  // namespace electra
