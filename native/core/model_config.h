// Native model and training configuration. The TypeScript ElectraConfig is
// the user-facing source of truth (presets, defaults); this is what crosses
// into the core, validated once by validate().
#pragma once
#include <cstdint>
#include <string>

#include "status.h"

namespace electra {

struct EncoderConfig {
  int64_t hidden = 256;        // H
  int64_t layers = 12;         // L
  int64_t heads = 4;           // A
  int64_t intermediate = 1024; // FFN
};

enum class Objective { kElectra = 0, kMlm = 1 };

struct ModelConfig {
  int64_t vocab_size = 30522;  // V
  int64_t embedding_size = 128;  // E (shared by both networks)
  int64_t max_position = 512;
  int64_t type_vocab_size = 2;
  EncoderConfig disc;  // unused (no tensors) when objective == kMlm
  EncoderConfig gen;   // the MLM network; for kMlm it is the model itself
  float layer_norm_eps = 1e-12f;
  float hidden_dropout = 0.1f;
  float attention_dropout = 0.1f;
  Objective objective = Objective::kElectra;
  int32_t pad_id = 0, unk_id = 100, cls_id = 101, sep_id = 102, mask_id = 103;
};

struct TrainConfig {
  int64_t batch = 16;    // B, per micro-batch
  int64_t seq_len = 128; // S
  float mask_prob = 0.15f;
  float disc_weight = 50.0f;  // lambda
  float temperature = 1.0f;
  // Optimizer: lr_t = lr * min(1, t/warmup) * (1 - t/total_steps), t = 0-based step.
  float lr = 5e-4f;
  int64_t warmup_steps = 10000;
  int64_t total_steps = 1000000;
  float beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-6f, weight_decay = 0.01f;
  float clip_norm = 1.0f;  // <= 0 disables clipping
  bool bias_correction = false;
  int64_t grad_accum = 1;
  uint64_t seed = 0;
  // Loss-spike guard, 'skip' mode: a step whose loss exceeds this (> 0) computes
  // its metrics but applies no update (StepMetrics::skipped). 0: off.
  float skip_above_loss = 0.0f;
};

// max_predictions = int((p + 0.005) * seq_len), as the reference.
inline int64_t max_predictions(const TrainConfig& t) {
  return static_cast<int64_t>((t.mask_prob + 0.005f) * static_cast<float>(t.seq_len));
}

Status validate(const ModelConfig& m);
Status validate(const ModelConfig& m, const TrainConfig& t);

}  // namespace electra
