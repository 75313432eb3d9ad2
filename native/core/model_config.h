// Native model and training configuration: the fields and defaults declared
// once in config_table.h, and validate(), the one validation of both (the
// addon exposes it to TypeScript as checkConfig).
#pragma once
#include <cstdint>
#include <string>

#include "config_table.h"
#include "masking.h"
#include "status.h"

namespace electra {

struct EncoderConfig {
  ELECTRA_ENCODER_FIELDS(ELECTRA_DECLARE_FIELD)  // H, L, A, FFN
};

enum class Objective { kElectra = 0, kMlm = 1 };

// Scalar fields and their defaults: config_table.h.
struct ModelConfig {
  ELECTRA_MODEL_FIELDS(ELECTRA_DECLARE_FIELD)
  EncoderConfig disc;  // unused (no tensors) when objective == kMlm
  EncoderConfig gen;   // the MLM network; for kMlm it is the model itself
  Objective objective = Objective::kElectra;
};

struct TrainConfig {
  ELECTRA_TRAIN_FIELDS(ELECTRA_DECLARE_FIELD)
  MaskingMode masking = MaskingMode::kReference;
};

// max_predictions = int((p + 0.005) * seq_len), as the reference.
inline int64_t max_predictions(const TrainConfig& t) {
  return static_cast<int64_t>((t.mask_prob + 0.005f) * static_cast<float>(t.seq_len));
}

Status validate(const ModelConfig& m);
Status validate(const ModelConfig& m, const TrainConfig& t);

}  // namespace electra
