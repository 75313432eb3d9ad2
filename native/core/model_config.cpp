#include "model_config.h"

#include <cmath>

namespace electra {

static Status check_encoder(const char* which, const EncoderConfig& e) {
  std::string w(which);
  if (e.hidden <= 0) return InvalidArgument(w + " hidden size must be positive");
  if (e.layers <= 0) return InvalidArgument(w + " layers must be positive");
  if (e.heads <= 0) return InvalidArgument(w + " heads must be positive");
  if (e.hidden % e.heads != 0)
    return InvalidArgument(w + " heads must divide hidden (" + std::to_string(e.heads) + " does not divide " +
                           std::to_string(e.hidden) + ")");
  if (e.intermediate <= 0) return InvalidArgument(w + " intermediate size must be positive");
  if (e.layers > 256) return InvalidArgument(w + " layers must be at most 256");
  return Status::Ok();
}

Status validate(const ModelConfig& m) {
  if (m.vocab_size < 8) return InvalidArgument("vocab too small: need at least 8 entries, got " + std::to_string(m.vocab_size));
  if (m.vocab_size > (int64_t(1) << 30)) return InvalidArgument("vocab too large");
  if (m.embedding_size <= 0) return InvalidArgument("embeddingSize must be positive");
  if (m.max_position <= 0) return InvalidArgument("maxPosition must be positive");
  if (m.type_vocab_size <= 0) return InvalidArgument("typeVocabSize must be positive");
  if (m.objective == Objective::kElectra) ELECTRA_RETURN_IF_ERROR(check_encoder("discriminator", m.disc));
  ELECTRA_RETURN_IF_ERROR(check_encoder("generator", m.gen));
  if (!(m.layer_norm_eps > 0) || !std::isfinite(m.layer_norm_eps)) return InvalidArgument("layerNormEps must be positive");
  if (!(m.hidden_dropout >= 0 && m.hidden_dropout < 1)) return InvalidArgument("hiddenDropout must be in [0, 1), got " + std::to_string(m.hidden_dropout));
  if (!(m.attention_dropout >= 0 && m.attention_dropout < 1)) return InvalidArgument("attentionDropout must be in [0, 1), got " + std::to_string(m.attention_dropout));
  for (int32_t id : {m.pad_id, m.unk_id, m.cls_id, m.sep_id, m.mask_id})
    if (id < 0 || id >= m.vocab_size) return InvalidArgument("special token id " + std::to_string(id) + " is outside the vocabulary");
  return Status::Ok();
}

Status validate(const ModelConfig& m, const TrainConfig& t) {
  ELECTRA_RETURN_IF_ERROR(validate(m));
  if (t.batch <= 0) return InvalidArgument("batch size must be positive");
  if (t.seq_len <= 1) return InvalidArgument("sequence length must be at least 2");
  if (t.seq_len > m.max_position)
    return InvalidArgument("sequence length " + std::to_string(t.seq_len) + " exceeds max position embeddings " +
                           std::to_string(m.max_position));
  if (!(t.mask_prob > 0 && t.mask_prob < 1)) return InvalidArgument("mask probability must be in (0, 1)");
  if (max_predictions(t) < 1) return InvalidArgument("mask probability too small for this sequence length: no position would be masked");
  if (!(t.disc_weight >= 0) || !std::isfinite(t.disc_weight)) return InvalidArgument("discriminator weight must be >= 0");
  if (!(t.temperature > 0) || !std::isfinite(t.temperature)) return InvalidArgument("temperature must be positive");
  if (!(t.lr >= 0) || !std::isfinite(t.lr)) return InvalidArgument("learning rate must be >= 0");
  if (t.warmup_steps < 0) return InvalidArgument("warm-up steps must be >= 0");
  if (t.total_steps <= 0) return InvalidArgument("total steps must be positive");
  if (!(t.beta1 >= 0 && t.beta1 < 1) || !(t.beta2 >= 0 && t.beta2 < 1)) return InvalidArgument("Adam betas must be in [0, 1)");
  if (!(t.adam_eps > 0)) return InvalidArgument("Adam epsilon must be positive");
  if (!(t.weight_decay >= 0)) return InvalidArgument("weight decay must be >= 0");
  if (!std::isfinite(t.clip_norm)) return InvalidArgument("clip norm must be finite");
  if (!(t.skip_above_loss >= 0) || !std::isfinite(t.skip_above_loss)) return InvalidArgument("skip-above loss must be finite and >= 0");
  if (t.grad_accum <= 0) return InvalidArgument("gradient accumulation must be >= 1");
  return Status::Ok();
}

}  // namespace electra
