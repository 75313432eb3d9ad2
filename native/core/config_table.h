// The one declaration of every scalar field of the model config, the training
// config and the step metrics: C++ member, JS name and default. The structs in
// model_config.h and electra_model.h are generated from these lists; the addon
// reads and writes JS objects from them and exports them (configSchema()), and
// lib/defaults.ts takes its defaults from there. Changing a default here changes
// it in C++, the addon, TypeScript and the CLI at once.
//
// X(c_type, member, "jsName", default)
#pragma once

#define ELECTRA_ENCODER_FIELDS(X)           \
  X(int64_t, hidden, "hidden", 256)         \
  X(int64_t, layers, "layers", 12)          \
  X(int64_t, heads, "heads", 4)             \
  X(int64_t, intermediate, "intermediate", 1024)

#define ELECTRA_MODEL_FIELDS(X)                         \
  X(int64_t, vocab_size, "vocabSize", 30522)            \
  X(int64_t, embedding_size, "embeddingSize", 128)      \
  X(int64_t, max_position, "maxPosition", 512)          \
  X(int64_t, type_vocab_size, "typeVocabSize", 2)       \
  X(float, layer_norm_eps, "layerNormEps", 1e-12f)      \
  X(float, hidden_dropout, "hiddenDropout", 0.1f)       \
  X(float, attention_dropout, "attentionDropout", 0.1f) \
  X(int32_t, pad_id, "padId", 0)                        \
  X(int32_t, unk_id, "unkId", 100)                      \
  X(int32_t, cls_id, "clsId", 101)                      \
  X(int32_t, sep_id, "sepId", 102)                      \
  X(int32_t, mask_id, "maskId", 103)

// Optimizer: lr_t = lr * min(1, t/warmup) * (1 - t/total_steps), t = 0-based step.
// batch is sequences per micro-batch; a step runs grad_accum micro-batches.
#define ELECTRA_TRAIN_FIELDS(X)                       \
  X(int64_t, batch, "batch", 16)                      \
  X(int64_t, seq_len, "seqLen", 128)                  \
  X(float, mask_prob, "maskProb", 0.15f)              \
  X(float, disc_weight, "discWeight", 50.0f)          \
  X(float, temperature, "temperature", 1.0f)          \
  X(float, lr, "lr", 5e-4f)                           \
  X(int64_t, warmup_steps, "warmupSteps", 10000)      \
  X(int64_t, total_steps, "totalSteps", 1000000)      \
  X(float, beta1, "beta1", 0.9f)                      \
  X(float, beta2, "beta2", 0.999f)                    \
  X(float, adam_eps, "eps", 1e-6f)                    \
  X(float, weight_decay, "weightDecay", 0.01f)        \
  X(float, clip_norm, "clipNorm", 1.0f)               \
  X(bool, bias_correction, "biasCorrection", false)   \
  X(int64_t, grad_accum, "gradAccum", 1)              \
  X(uint64_t, seed, "seed", 0)                        \
  /* loss-spike guard: a step whose loss exceeds this (> 0) applies no update */ \
  X(float, skip_above_loss, "skipAboveLoss", 0.0f)

// Step metrics (all reported as JS numbers). disc_loss is the objective's:
// the mean BCE over all real tokens, [CLS] and [SEP] included, as the
// reference. The detection metrics (disc_candidate_loss, disc_accuracy,
// precision, recall, replaced_fraction, the AUC histograms) count only the
// candidates: real tokens the masking may pick (maskable_token in masking.h).
#define ELECTRA_STEP_METRIC_FIELDS(X)                   \
  X(double, loss, "loss", 0)                            \
  X(double, gen_loss, "genLoss", 0)                     \
  X(double, disc_loss, "discLoss", 0)                   \
  X(double, disc_candidate_loss, "discCandidateLoss", 0) \
  X(double, gen_accuracy, "genAccuracy", 0)             \
  X(double, disc_accuracy, "discAccuracy", 0)           \
  X(double, disc_precision, "discPrecision", 0)         \
  X(double, disc_recall, "discRecall", 0)               \
  X(double, replaced_fraction, "replacedFraction", 0)   \
  X(double, grad_norm, "gradNorm", 0)                   \
  X(double, lr, "lr", 0)                                \
  X(int64_t, masked, "maskedTokens", 0)                 \
  X(int64_t, tokens, "tokens", 0)                       \
  X(int64_t, replaced, "replacedTokens", 0)            \
  X(int64_t, candidates, "candidateTokens", 0)

#define ELECTRA_DECLARE_FIELD(type, member, js, def) type member = def;
