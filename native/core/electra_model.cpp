#include "electra_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/sampling.h"
#include "philox.h"

namespace electra {

namespace {
template <class T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() != n) v.assign(n, T());
}
template <class T>
void zero(std::vector<T>& v) {
  std::fill(v.begin(), v.end(), T());
}
// Philox offset slots inside one micro-batch's window.
constexpr uint64_t kSlotMask = 0;       // +0, +1: masking choice and [MASK]/keep
constexpr uint64_t kSlotSample = 2;     // Gumbel noise
constexpr uint64_t kSlotGenEmb = 3;     // generator embedding dropout
constexpr uint64_t kSlotDiscEmb = 4;    // discriminator embedding dropout
constexpr uint64_t kSlotGenEnc = 16;    // generator encoder: 3 per layer
constexpr uint64_t kSlotDiscEnc = 16 + 3 * 256 + 16;  // discriminator encoder
}  // namespace

Status ElectraModel::create(const ModelConfig& cfg, std::unique_ptr<ElectraModel>* out, const ExecOptions& exec) {
  ELECTRA_RETURN_IF_ERROR(validate(cfg));
  std::unique_ptr<ElectraModel> m(new (std::nothrow) ElectraModel(cfg, exec));
  if (!m) return OutOfMemory("cannot allocate the model");
  ELECTRA_RETURN_IF_ERROR(m->build());
  *out = std::move(m);
  return Status::Ok();
}

Status ElectraModel::build() {
  const int64_t V = cfg_.vocab_size, E = cfg_.embedding_size;
  electra_ = cfg_.objective == Objective::kElectra;
  ParamTable& t = table_;
  ELECTRA_RETURN_IF_ERROR(t.add("electra.embeddings.word_embeddings.weight", {V, E}, true));
  ELECTRA_RETURN_IF_ERROR(t.add("electra.embeddings.position_embeddings.weight", {cfg_.max_position, E}, true));
  ELECTRA_RETURN_IF_ERROR(t.add("electra.embeddings.token_type_embeddings.weight", {cfg_.type_vocab_size, E}, true));
  ELECTRA_RETURN_IF_ERROR(t.add("electra.embeddings.LayerNorm.weight", {E}, false));
  ELECTRA_RETURN_IF_ERROR(t.add("electra.embeddings.LayerNorm.bias", {E}, false));
  if (electra_) {
    ELECTRA_RETURN_IF_ERROR(add_encoder_params(&t, "electra", cfg_.disc, E));
    const int64_t H = cfg_.disc.hidden;
    ELECTRA_RETURN_IF_ERROR(t.add("discriminator_predictions.dense.weight", {H, H}, true));
    ELECTRA_RETURN_IF_ERROR(t.add("discriminator_predictions.dense.bias", {H}, false));
    ELECTRA_RETURN_IF_ERROR(t.add("discriminator_predictions.dense_prediction.weight", {1, H}, true));
    ELECTRA_RETURN_IF_ERROR(t.add("discriminator_predictions.dense_prediction.bias", {1}, false));
  }
  ELECTRA_RETURN_IF_ERROR(add_encoder_params(&t, "generator", cfg_.gen, E));
  const int64_t Hg = cfg_.gen.hidden;
  ELECTRA_RETURN_IF_ERROR(t.add("generator_predictions.dense.weight", {E, Hg}, true));
  ELECTRA_RETURN_IF_ERROR(t.add("generator_predictions.dense.bias", {E}, false));
  ELECTRA_RETURN_IF_ERROR(t.add("generator_predictions.LayerNorm.weight", {E}, false));
  ELECTRA_RETURN_IF_ERROR(t.add("generator_predictions.LayerNorm.bias", {E}, false));
  ELECTRA_RETURN_IF_ERROR(t.add("generator_lm_head.bias", {V}, false));

  auto off = [&](const char* n) { return t.find(n)->offset; };
  wte_ = off("electra.embeddings.word_embeddings.weight");
  wpe_ = off("electra.embeddings.position_embeddings.weight");
  wtt_ = off("electra.embeddings.token_type_embeddings.weight");
  eln_g_ = off("electra.embeddings.LayerNorm.weight");
  eln_b_ = off("electra.embeddings.LayerNorm.bias");
  gpd_w_ = off("generator_predictions.dense.weight");
  gpd_b_ = off("generator_predictions.dense.bias");
  gpln_g_ = off("generator_predictions.LayerNorm.weight");
  gpln_b_ = off("generator_predictions.LayerNorm.bias");
  glm_b_ = off("generator_lm_head.bias");
  if (electra_) {
    dpd_w_ = off("discriminator_predictions.dense.weight");
    dpd_b_ = off("discriminator_predictions.dense.bias");
    dpp_w_ = off("discriminator_predictions.dense_prediction.weight");
    dpp_b_ = off("discriminator_predictions.dense_prediction.bias");
    ELECTRA_RETURN_IF_ERROR(disc_.bind(t, "electra", cfg_.disc, E));
  }
  ELECTRA_RETURN_IF_ERROR(gen_.bind(t, "generator", cfg_.gen, E));
  ELECTRA_RETURN_IF_ERROR(buf_.allocate(t.total()));
  init_weights(0);
  return Status::Ok();
}

int64_t ElectraModel::num_parameters() const {
  int64_t n = 0;
  for (const auto& s : table_.specs()) n += s.numel;
  return n;
}

void ElectraModel::init_weights(uint64_t seed) {
  for (const auto& s : table_.specs()) {
    float* p = buf_.params + s.offset;
    const bool is_ln = s.name.find("LayerNorm") != std::string::npos;
    const bool is_bias = s.name.size() >= 4 && s.name.compare(s.name.size() - 4, 4, "bias") == 0;
    if (is_ln && !is_bias) {
      std::fill(p, p + s.numel, 1.0f);
    } else if (is_bias) {
      std::fill(p, p + s.numel, 0.0f);
    } else {
      // Box-Muller on Philox; the stream offset is the tensor's buffer offset.
      for (int64_t i = 0; i < s.numel; ++i) {
        const float u1 = philox_uniform_open(seed, 1u << 20, static_cast<uint64_t>(s.offset + i) * 2);
        const float u2 = philox_uniform(seed, 1u << 20, static_cast<uint64_t>(s.offset + i) * 2 + 1);
        p[i] = 0.02f * std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
      }
    }
  }
  const int64_t E = cfg_.embedding_size;
  std::fill(buf_.params + wte_ + cfg_.pad_id * E, buf_.params + wte_ + (cfg_.pad_id + 1) * E, 0.0f);
  std::memset(buf_.m, 0, sizeof(float) * buf_.total);
  std::memset(buf_.v, 0, sizeof(float) * buf_.total);
  std::memset(buf_.grads, 0, sizeof(float) * buf_.total);
}

void ElectraModel::resize(int64_t B, int64_t S, int64_t maxM) {
  if (B == B_ && S == S_ && maxM == maxM_) return;
  B_ = B; S_ = S; maxM_ = maxM;
  const size_t N = B * S, E = cfg_.embedding_size, V = cfg_.vocab_size, Hg = cfg_.gen.hidden;
  const size_t M = maxM;
  grow(gen_ids_, N); grow(disc_ids_, N); grow(types_, N); grow(mask_, N);
  grow(targets_, M); grow(sampled_, M); grow(argmax_, M); grow(rows_, M);
  positions_.reserve(M);
  for (auto* v : {&g_pre_, &g_emb_, &g_demb_, &d_pre_, &d_emb_, &d_demb_, &emb_scratch_}) grow(*v, N * E);
  for (auto* v : {&g_mean_, &g_rstd_, &d_mean_, &d_rstd_}) grow(*v, N);
  grow(dh_gen_, N * Hg);
  grow(hm_, M * Hg); grow(dtmp_m_, M * Hg);
  grow(hd1_, M * E); grow(hg1_, M * E); grow(hl_, M * E); grow(dtmp_m2_, M * E);
  grow(hl_mean_, M); grow(hl_rstd_, M); grow(losses_, M); grow(hd1_grad_, M * E);
  grow(logits_, M * V);
  gen_.resize(B, S);
  if (electra_) {
    const size_t H = cfg_.disc.hidden;
    disc_.resize(B, S);
    grow(dd1_, N * H); grow(dg1_, N * H); grow(dh_disc_, N * H); grow(dtmp_n_, N * H);
    grow(dlogit_, N); grow(dlabels_, N); grow(dweights_, N);
  }
}

void ElectraModel::embed_forward(const int32_t* ids, const int32_t* types, std::vector<float>* pre,
                                 std::vector<float>* mean, std::vector<float>* rstd, std::vector<float>* out,
                                 float p, uint64_t seed, uint64_t off) {
  const float* P = buf_.params;
  const int64_t N = B_ * S_, E = cfg_.embedding_size;
  cpu::embedding_forward(pre->data(), ids, types, P + wte_, P + wpe_, P + wtt_, B_, S_, E);
  cpu::layernorm_forward(out->data(), mean->data(), rstd->data(), pre->data(), P + eln_g_, P + eln_b_, N, E,
                         cfg_.layer_norm_eps);
  cpu::dropout_forward(out->data(), out->data(), N * E, p, seed, off);
}

void ElectraModel::embed_backward(const int32_t* ids, const int32_t* types, const std::vector<float>& pre,
                                  const std::vector<float>& mean, const std::vector<float>& rstd,
                                  std::vector<float>* demb, float p, uint64_t seed, uint64_t off) {
  const float* P = buf_.params;
  float* G = buf_.grads;
  const int64_t N = B_ * S_, E = cfg_.embedding_size;
  // demb is the gradient of the dropout output (consumed here): the dropout
  // backward into a fresh buffer equals the dropout forward of demb, done in
  // place; the LayerNorm backward accumulates into the zeroed member scratch.
  cpu::dropout_forward(demb->data(), demb->data(), N * E, p, seed, off);
  float* d2 = emb_scratch_.data();
  std::fill(d2, d2 + N * E, 0.0f);
  cpu::layernorm_backward(d2, G + eln_g_, G + eln_b_, demb->data(), pre.data(), P + eln_g_, mean.data(),
                          rstd.data(), N, E);
  cpu::embedding_backward(G + wte_, G + wpe_, G + wtt_, d2, ids, types, B_, S_, E);
}

double ElectraModel::learning_rate(const TrainConfig& t, int64_t step) {
  double warm = t.warmup_steps > 0 ? std::min(1.0, double(step) / double(t.warmup_steps)) : 1.0;
  double decay = std::max(0.0, 1.0 - double(step) / double(t.total_steps));
  return double(t.lr) * warm * decay;
}

static Status check_batch(const ModelConfig& c, const TrainConfig& t, const Batch& b) {
  if (!b.input_ids) return InvalidArgument("batch has no input ids");
  if (b.seq_len != t.seq_len)
    return InvalidArgument("batch sequence length " + std::to_string(b.seq_len) + " != configured " +
                           std::to_string(t.seq_len));
  if (b.rows != t.batch * t.grad_accum)
    return InvalidArgument("batch has " + std::to_string(b.rows) + " rows, expected batch * gradAccum = " +
                           std::to_string(t.batch * t.grad_accum));
  const int64_t n = b.rows * b.seq_len;
  for (int64_t i = 0; i < n; ++i) {
    if (b.input_ids[i] < 0 || b.input_ids[i] >= c.vocab_size)
      return InvalidArgument("token id " + std::to_string(b.input_ids[i]) + " at index " + std::to_string(i) +
                             " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    if (b.token_type_ids && (b.token_type_ids[i] < 0 || b.token_type_ids[i] >= c.type_vocab_size))
      return InvalidArgument("token type id out of range at index " + std::to_string(i));
  }
  return Status::Ok();
}

void ElectraModel::disc_head_forward(const float* h, float* logits) {
  const float* P = buf_.params;
  const int64_t N = B_ * S_, H = cfg_.disc.hidden;
  cpu::linear_forward(dd1_.data(), h, P + dpd_w_, P + dpd_b_, N, H, H);
  cpu::gelu_forward(dg1_.data(), dd1_.data(), N * H);
  cpu::linear_forward(logits, dg1_.data(), P + dpp_w_, P + dpp_b_, N, H, 1);
}

Status ElectraModel::train_step(const TrainConfig& t, const Batch& batch, int64_t step, StepMetrics* out,
                                const StepOverrides* ov) {
  return run_step(t, batch, step, out, ov, true);
}

Status ElectraModel::evaluate(const TrainConfig& t, const Batch& batch, int64_t index, StepMetrics* out) {
  return run_step(t, batch, index, out, nullptr, false);
}

Status ElectraModel::run_step(const TrainConfig& t, const Batch& batch, int64_t step, StepMetrics* out,
                              const StepOverrides* ov, bool train) {
  ELECTRA_RETURN_IF_ERROR(validate(cfg_, t));
  ELECTRA_RETURN_IF_ERROR(check_batch(cfg_, t, batch));
  if (step < 0) return InvalidArgument("step must be >= 0");
  const int64_t B = t.batch, S = t.seq_len, N = B * S, E = cfg_.embedding_size, V = cfg_.vocab_size;
  const int64_t Hg = cfg_.gen.hidden, k = t.grad_accum;
  const int64_t max_pred = max_predictions(t);
  resize(B, S, B * max_pred);
  if (ov) {
    if (k != 1) return InvalidArgument("step overrides need gradAccum = 1");
    const size_t M = ov->masked_positions.size();
    if (M == 0 || M > static_cast<size_t>(B * max_pred) || ov->sampled_ids.size() != M ||
        ov->generator_input_ids.size() != static_cast<size_t>(N))
      return InvalidArgument("step overrides have inconsistent sizes");
    for (size_t i = 0; i < M; ++i) {
      if (ov->masked_positions[i] < 0 || ov->masked_positions[i] >= N || ov->sampled_ids[i] < 0 ||
          ov->sampled_ids[i] >= V || (i > 0 && ov->masked_positions[i] <= ov->masked_positions[i - 1]))
        return InvalidArgument("step overrides: masked positions must be sorted, unique and in range");
    }
  }
  const float* P = buf_.params;
  float* G = buf_.grads;
  if (train) std::memset(G, 0, sizeof(float) * buf_.total);
  // Evaluation: dropout off, no backward, no update.
  const float hp = train ? cfg_.hidden_dropout : 0.0f, ap = train ? cfg_.attention_dropout : 0.0f;
  const float eps = cfg_.layer_norm_eps;
  const uint64_t seed = t.seed;
  const cpu::SpecialIds sp{cfg_.pad_id, cfg_.cls_id, cfg_.sep_id, cfg_.mask_id};

  StepMetrics m;
  int64_t gen_correct = 0, disc_correct = 0, tp = 0, pred_pos = 0;
  for (int64_t micro = 0; micro < k; ++micro) {
    const uint64_t base = static_cast<uint64_t>(step * k + micro) * kRngWindow;
    const int32_t* ids = batch.input_ids + micro * N;
    for (int64_t i = 0; i < N; ++i) {
      types_[i] = batch.token_type_ids ? batch.token_type_ids[micro * N + i] : 0;
      mask_[i] = batch.attention_mask ? (batch.attention_mask[micro * N + i] != 0) : 1;
    }
    // 1. Dynamic masking (or the test hook's fixed choice).
    if (ov) {
      positions_ = ov->masked_positions;
      std::copy(ov->generator_input_ids.begin(), ov->generator_input_ids.end(), gen_ids_.begin());
    } else {
      cpu::dynamic_mask(&positions_, gen_ids_.data(), ids, mask_.data(), B, S, t.mask_prob, max_pred, sp, seed,
                        base + kSlotMask);
    }
    const int64_t M = static_cast<int64_t>(positions_.size());
    int64_t real = 0;
    for (int64_t i = 0; i < N; ++i) real += mask_[i];
    for (int64_t r = 0; r < M; ++r) targets_[r] = ids[positions_[r]];

    // 2. Generator: shared embeddings, encoder over all positions, head at masked rows only.
    embed_forward(gen_ids_.data(), types_.data(), &g_pre_, &g_mean_, &g_rstd_, &g_emb_, hp, seed, base + kSlotGenEmb);
    const float* hg = gen_.forward(P, g_emb_.data(), mask_.data(), eps, hp, ap, seed, base + kSlotGenEnc);
    float* logits = logits_.data();  // [M,V]
    if (M > 0) {
      cpu::gather_rows(hm_.data(), hg, positions_.data(), M, Hg);
      cpu::linear_forward(hd1_.data(), hm_.data(), P + gpd_w_, P + gpd_b_, M, Hg, E);
      cpu::gelu_forward(hg1_.data(), hd1_.data(), M * E);
      cpu::layernorm_forward(hl_.data(), hl_mean_.data(), hl_rstd_.data(), hg1_.data(), P + gpln_g_, P + gpln_b_, M, E, eps);
      cpu::linear_forward(logits, hl_.data(), P + wte_, P + glm_b_, M, E, V);
      if (ov && ov->gen_logits_out) ov->gen_logits_out->assign(logits, logits + M * V);
    }
    // 3. The fused sampling step: Gumbel-max samples (before the loss overwrites logits with its gradient).
    if (electra_ && M > 0) {
      if (ov) std::copy(ov->sampled_ids.begin(), ov->sampled_ids.end(), sampled_.begin());
      else cpu::gumbel_sample(sampled_.data(), logits, M, V, t.temperature, seed, base + kSlotSample);
    }
    // Generator loss (mean over masked rows), its gradient written in place.
    int32_t* rows = rows_.data();  // 0..M-1, sized by resize()
    for (int64_t r = 0; r < M; ++r) rows[r] = static_cast<int32_t>(r);
    if (M > 0)
      cpu::crossentropy_forward_backward(losses_.data(), argmax_.data(), logits, logits, rows, targets_.data(),
                                         M, V, 1.0f / static_cast<float>(M * k));
    double gl = 0;
    for (int64_t r = 0; r < M; ++r) {
      gl += losses_[r];
      gen_correct += argmax_[r] == targets_[r];
    }
    gl = M > 0 ? gl / M : 0;
    m.gen_loss += gl / k;
    m.masked += M;
    m.tokens += real;

    // 4. Discriminator: inputs and labels from the samples, forward, sigmoid BCE over real tokens.
    if (electra_) {
      std::copy(ids, ids + N, disc_ids_.begin());
      for (int64_t r = 0; r < M; ++r) disc_ids_[positions_[r]] = sampled_[r];
      int64_t replaced = 0;
      for (int64_t i = 0; i < N; ++i) {
        dlabels_[i] = disc_ids_[i] != ids[i] ? 1.0f : 0.0f;
        dweights_[i] = static_cast<float>(mask_[i]);
        replaced += mask_[i] && disc_ids_[i] != ids[i];
      }
      m.replaced += replaced;
      embed_forward(disc_ids_.data(), types_.data(), &d_pre_, &d_mean_, &d_rstd_, &d_emb_, hp, seed, base + kSlotDiscEmb);
      const float* hd = disc_.forward(P, d_emb_.data(), mask_.data(), eps, hp, ap, seed, base + kSlotDiscEnc);
      disc_head_forward(hd, dlogit_.data());
      if (ov && ov->disc_logits_out) ov->disc_logits_out->assign(dlogit_.begin(), dlogit_.end());
      for (int64_t i = 0; i < N; ++i) {
        if (!mask_[i]) continue;
        const bool pred = dlogit_[i] > 0, lab = dlabels_[i] > 0.5f;
        disc_correct += pred == lab;
        tp += pred && lab;
        pred_pos += pred;
      }
      const double dsum = cpu::bce_forward_backward(dlogit_.data(), dlogit_.data(), dlabels_.data(), dweights_.data(), N,
                                                    t.disc_weight / static_cast<float>(std::max<int64_t>(real, 1) * k));
      const double dl = dsum / std::max<int64_t>(real, 1);
      m.disc_loss += dl / k;
      m.loss += (gl + t.disc_weight * dl) / k;

      // 5a. Discriminator backward: head, encoder, then its embeddings into the shared gradients.
      if (train) {
      const int64_t H = cfg_.disc.hidden;
      // Buffers produced by one op alone are written (the *_write variants), not zeroed + accumulated.
      cpu::linear_backward_write(dtmp_n_.data(), G + dpp_w_, G + dpp_b_, dlogit_.data(), dg1_.data(), P + dpp_w_, N, H, 1);
      cpu::gelu_backward_write(dh_disc_.data(), dtmp_n_.data(), dd1_.data(), N * H);
      cpu::linear_backward_write(dtmp_n_.data(), G + dpd_w_, G + dpd_b_, dh_disc_.data(), hd, P + dpd_w_, N, H, H);
      zero(d_demb_);
      disc_.backward(P, G, dtmp_n_.data(), d_demb_.data(), d_emb_.data(), mask_.data(), hp, ap, seed,
                     base + kSlotDiscEnc);
      embed_backward(disc_ids_.data(), types_.data(), d_pre_, d_mean_, d_rstd_, &d_demb_, hp, seed, base + kSlotDiscEmb);
      }
    } else {
      m.loss += gl / k;
    }

    // 5b. Generator backward: tied output layer (its weight is the word embedding), head, gather, encoder.
    if (!train) continue;
    zero(dh_gen_);
    if (M > 0) {
      cpu::linear_backward_write(dtmp_m2_.data(), G + wte_, G + glm_b_, logits, hl_.data(), P + wte_, M, E, V);
      std::fill(hd1_grad_.begin(), hd1_grad_.begin() + M * E, 0.0f);
      cpu::layernorm_backward(hd1_grad_.data(), G + gpln_g_, G + gpln_b_, dtmp_m2_.data(), hg1_.data(), P + gpln_g_,
                              hl_mean_.data(), hl_rstd_.data(), M, E);
      cpu::gelu_backward_write(dtmp_m2_.data(), hd1_grad_.data(), hd1_.data(), M * E);
      cpu::linear_backward_write(dtmp_m_.data(), G + gpd_w_, G + gpd_b_, dtmp_m2_.data(), hm_.data(), P + gpd_w_, M, Hg, E);
      cpu::gather_rows_backward(dh_gen_.data(), dtmp_m_.data(), positions_.data(), M, Hg);
    }
    zero(g_demb_);
    gen_.backward(P, G, dh_gen_.data(), g_demb_.data(), g_emb_.data(), mask_.data(), hp, ap, seed, base + kSlotGenEnc);
    embed_backward(gen_ids_.data(), types_.data(), g_pre_, g_mean_, g_rstd_, &g_demb_, hp, seed, base + kSlotGenEmb);
  }

  // 6. Metrics, then clip by the global norm and AdamW.
  m.gen_accuracy = m.masked > 0 ? double(gen_correct) / double(m.masked) : 0;
  if (electra_) {
    m.disc_accuracy = m.tokens > 0 ? double(disc_correct) / double(m.tokens) : 0;
    m.disc_precision = pred_pos > 0 ? double(tp) / double(pred_pos) : 0;
    m.disc_recall = m.replaced > 0 ? double(tp) / double(m.replaced) : 0;
    m.replaced_fraction = m.tokens > 0 ? double(m.replaced) / double(m.tokens) : 0;
  }
  m.lr = train ? learning_rate(t, step) : 0.0;
  if (!train) {
    m.grad_norm = 0;
  } else if (ov && !ov->apply_update) {
    m.grad_norm = cpu::global_norm(G, buf_.total);
  } else {
    m.grad_norm = t.clip_norm > 0 ? cpu::clip_grad_norm(G, buf_.total, t.clip_norm) : cpu::global_norm(G, buf_.total);
    if (!std::isfinite(m.grad_norm) || !std::isfinite(m.loss))
      return Status(StatusCode::kInternal, "non-finite loss or gradient at step " + std::to_string(step) +
                                               "; the update was skipped (diverged: lower the learning rate)");
    cpu::AdamWHyper h;
    h.lr = static_cast<float>(m.lr);
    h.beta1 = t.beta1; h.beta2 = t.beta2; h.eps = t.adam_eps; h.weight_decay = t.weight_decay;
    h.step = step + 1;
    h.bias_correction = t.bias_correction;
    cpu::adamw_update_table(table_, buf_.params, G, buf_.m, buf_.v, h);
  }
  if (!std::isfinite(m.loss))
    return Status(StatusCode::kInternal, "loss is not finite at step " + std::to_string(step) +
                                             " (diverged: lower the learning rate)");
  *out = m;
  return Status::Ok();
}

Status ElectraModel::check_inference_batch(const Batch& b) {
  if (!b.input_ids || b.rows <= 0 || b.seq_len <= 0) return InvalidArgument("empty batch");
  if (b.seq_len > cfg_.max_position)
    return InvalidArgument("sequence length " + std::to_string(b.seq_len) + " exceeds max position embeddings " +
                           std::to_string(cfg_.max_position));
  const int64_t N = b.rows * b.seq_len;
  for (int64_t i = 0; i < N; ++i) {
    if (b.input_ids[i] < 0 || b.input_ids[i] >= cfg_.vocab_size)
      return InvalidArgument("token id " + std::to_string(b.input_ids[i]) + " is outside the vocabulary");
    if (b.token_type_ids && (b.token_type_ids[i] < 0 || b.token_type_ids[i] >= cfg_.type_vocab_size))
      return InvalidArgument("token type id out of range at index " + std::to_string(i));
  }
  return Status::Ok();
}

Status ElectraModel::generator_logits(const Batch& b, const std::vector<int32_t>& rows, std::vector<float>* logits) {
  ELECTRA_RETURN_IF_ERROR(check_inference_batch(b));
  const int64_t N = b.rows * b.seq_len, R = static_cast<int64_t>(rows.size());
  const int64_t E = cfg_.embedding_size, V = cfg_.vocab_size, Hg = cfg_.gen.hidden;
  for (int32_t r : rows)
    if (r < 0 || r >= N) return InvalidArgument("position " + std::to_string(r) + " is outside the batch");
  resize(b.rows, b.seq_len, std::max<int64_t>(maxM_, 1));
  for (int64_t i = 0; i < N; ++i) {
    types_[i] = b.token_type_ids ? b.token_type_ids[i] : 0;
    mask_[i] = b.attention_mask ? (b.attention_mask[i] != 0) : 1;
  }
  const float* P = buf_.params;
  embed_forward(b.input_ids, types_.data(), &g_pre_, &g_mean_, &g_rstd_, &g_emb_, 0.0f, 0, 0);
  const float* hg = gen_.forward(P, g_emb_.data(), mask_.data(), cfg_.layer_norm_eps, 0.0f, 0.0f, 0, 0);
  std::vector<float> hm(R * Hg), d1(R * E), g1(R * E), l1(R * E), mean(R), rstd(R);
  cpu::gather_rows(hm.data(), hg, rows.data(), R, Hg);
  cpu::linear_forward(d1.data(), hm.data(), P + gpd_w_, P + gpd_b_, R, Hg, E);
  cpu::gelu_forward(g1.data(), d1.data(), R * E);
  cpu::layernorm_forward(l1.data(), mean.data(), rstd.data(), g1.data(), P + gpln_g_, P + gpln_b_, R, E, cfg_.layer_norm_eps);
  logits->resize(R * V);
  cpu::linear_forward(logits->data(), l1.data(), P + wte_, P + glm_b_, R, E, V);
  return Status::Ok();
}

Status ElectraModel::discriminate(const Batch& b, std::vector<float>* logits) {
  if (!electra_) return InvalidArgument("an MLM model has no discriminator");
  ELECTRA_RETURN_IF_ERROR(check_inference_batch(b));
  const int64_t N = b.rows * b.seq_len;
  resize(b.rows, b.seq_len, std::max<int64_t>(maxM_, 1));
  for (int64_t i = 0; i < N; ++i) {
    types_[i] = b.token_type_ids ? b.token_type_ids[i] : 0;
    mask_[i] = b.attention_mask ? (b.attention_mask[i] != 0) : 1;
  }
  embed_forward(b.input_ids, types_.data(), &d_pre_, &d_mean_, &d_rstd_, &d_emb_, 0.0f, 0, 0);
  const float* hd = disc_.forward(buf_.params, d_emb_.data(), mask_.data(), cfg_.layer_norm_eps, 0.0f, 0.0f, 0, 0);
  logits->resize(N);
  disc_head_forward(hd, logits->data());
  return Status::Ok();
}

}  // namespace electra
