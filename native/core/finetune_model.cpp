#include "finetune_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "electra_model.h"
#include "philox.h"

namespace electra {

#define TRY ELECTRA_RETURN_IF_ERROR

namespace {
// Philox offset slots inside one step's window (kRngWindow wide).
constexpr uint64_t kSlotHead0 = 1;  // dropout before the head's first linear
constexpr uint64_t kSlotHead1 = 2;  // dropout before out_proj (sequence heads)
constexpr uint64_t kSlotEmb = 4;    // embedding dropout
constexpr uint64_t kSlotEnc = 16;   // encoder: 3 per layer

template <class T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() != n) v.assign(n, T());
}
}  // namespace

Status validate(const FinetuneConfig& c) {
  ModelConfig m = c.model;
  m.objective = Objective::kElectra;
  ELECTRA_RETURN_IF_ERROR(validate(m));
  if (c.head == HeadKind::kRegression && c.num_labels != 1)
    return InvalidArgument("a regression head has exactly 1 output, got numLabels " + std::to_string(c.num_labels));
  if (c.head != HeadKind::kRegression && c.num_labels < 2)
    return InvalidArgument("a classification head needs at least 2 labels, got " + std::to_string(c.num_labels));
  if (c.num_labels > 100000) return InvalidArgument("too many labels: " + std::to_string(c.num_labels));
  if (!(c.classifier_dropout < 1) || std::isnan(c.classifier_dropout))
    return InvalidArgument("classifier dropout must be < 1");
  return Status::Ok();
}

float layer_lr_scale(const std::string& name, int64_t L, float decay) {
  int64_t exponent = 0;  // head
  if (name.rfind("electra.embeddings.", 0) == 0 || name.rfind("electra.embeddings_project.", 0) == 0) {
    exponent = L;
  } else {
    const std::string pre = "electra.encoder.layer.";
    if (name.rfind(pre, 0) == 0) {
      // The index runs to the next '.', so layer 1 never matches layer 10.
      const size_t dot = name.find('.', pre.size());
      const std::string idx = name.substr(pre.size(), dot == std::string::npos ? std::string::npos : dot - pre.size());
      int64_t i = 0;
      for (char ch : idx) i = i * 10 + (ch - '0');
      exponent = L - 1 - i;
    }
  }
  return static_cast<float>(std::pow(static_cast<double>(decay), static_cast<double>(exponent)));
}

Status FinetuneModel::create(const FinetuneConfig& cfg, std::unique_ptr<FinetuneModel>* out,
                             const ExecOptions& exec) {
  ELECTRA_RETURN_IF_ERROR(validate(cfg));
  std::unique_ptr<FinetuneModel> m(new (std::nothrow) FinetuneModel(cfg, exec));
  if (!m) return OutOfMemory("cannot allocate the model");
  TRY(m->build());
  *out = std::move(m);
  return Status::Ok();
}

float FinetuneModel::head_dropout() const {
  return cfg_.classifier_dropout >= 0 ? cfg_.classifier_dropout : cfg_.model.hidden_dropout;
}

Status FinetuneModel::build() {
  TRY(make_backend(exec_, &be_));
  const ModelConfig& c = cfg_.model;
  const int64_t V = c.vocab_size, E = c.embedding_size, H = c.disc.hidden, C = cfg_.num_labels;
  ParamTable& t = table_;
  TRY(t.add("electra.embeddings.word_embeddings.weight", {V, E}, true));
  TRY(t.add("electra.embeddings.position_embeddings.weight", {c.max_position, E}, true));
  TRY(t.add("electra.embeddings.token_type_embeddings.weight", {c.type_vocab_size, E}, true));
  TRY(t.add("electra.embeddings.LayerNorm.weight", {E}, false));
  TRY(t.add("electra.embeddings.LayerNorm.bias", {E}, false));
  TRY(add_encoder_params(&t, "electra", c.disc, E));
  if (cfg_.head == HeadKind::kToken) {
    TRY(t.add("classifier.weight", {C, H}, true));
    TRY(t.add("classifier.bias", {C}, false));
  } else {
    TRY(t.add("classifier.dense.weight", {H, H}, true));
    TRY(t.add("classifier.dense.bias", {H}, false));
    TRY(t.add("classifier.out_proj.weight", {C, H}, true));
    TRY(t.add("classifier.out_proj.bias", {C}, false));
  }
  auto off = [&](const char* n) { return t.find(n)->offset; };
  wte_ = off("electra.embeddings.word_embeddings.weight");
  wpe_ = off("electra.embeddings.position_embeddings.weight");
  wtt_ = off("electra.embeddings.token_type_embeddings.weight");
  eln_g_ = off("electra.embeddings.LayerNorm.weight");
  eln_b_ = off("electra.embeddings.LayerNorm.bias");
  if (cfg_.head == HeadKind::kToken) {
    co_w_ = off("classifier.weight");
    co_b_ = off("classifier.bias");
  } else {
    cd_w_ = off("classifier.dense.weight");
    cd_b_ = off("classifier.dense.bias");
    co_w_ = off("classifier.out_proj.weight");
    co_b_ = off("classifier.out_proj.bias");
  }
  TRY(enc_.bind(t, "electra", c.disc, E));
  TRY(buf_.allocate(t.total()));
  if (be_->memory_is_host()) {
    P_ = buf_.params; G_ = buf_.grads; M_ = buf_.m; V_ = buf_.v;
  } else {
    const size_t n = static_cast<size_t>(t.total());
    TRY(dev_.resize(be_.get(), 4 * n));
    P_ = dev_.data(); G_ = P_ + n; M_ = G_ + n; V_ = M_ + n;
  }
  TRY(d_scalars_.resize(be_.get(), 2));
  init_weights(0);
  return Status::Ok();
}

int64_t FinetuneModel::num_parameters() const {
  int64_t n = 0;
  for (const auto& s : table_.specs()) n += s.numel;
  return n;
}

void FinetuneModel::init_weights(uint64_t seed) {
  for (const auto& s : table_.specs()) {
    float* p = buf_.params + s.offset;
    const bool is_ln = s.name.find("LayerNorm") != std::string::npos;
    const bool is_bias = s.name.size() >= 4 && s.name.compare(s.name.size() - 4, 4, "bias") == 0;
    if (is_ln && !is_bias) {
      std::fill(p, p + s.numel, 1.0f);
    } else if (is_bias) {
      std::fill(p, p + s.numel, 0.0f);
    } else {
      for (int64_t i = 0; i < s.numel; ++i) {
        const float u1 = philox_uniform_open(seed, 1u << 20, static_cast<uint64_t>(s.offset + i) * 2);
        const float u2 = philox_uniform(seed, 1u << 20, static_cast<uint64_t>(s.offset + i) * 2 + 1);
        p[i] = 0.02f * std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
      }
    }
  }
  const int64_t E = cfg_.model.embedding_size, pad = cfg_.model.pad_id;
  std::fill(buf_.params + wte_ + pad * E, buf_.params + wte_ + (pad + 1) * E, 0.0f);
  std::memset(buf_.m, 0, sizeof(float) * buf_.total);
  std::memset(buf_.v, 0, sizeof(float) * buf_.total);
  std::memset(buf_.grads, 0, sizeof(float) * buf_.total);
  host_modified();
  host_stale_ = false;
}

Status FinetuneModel::set_layer_decay(float decay) {
  if (!(decay > 0.0f && decay <= 1.0f)) return InvalidArgument("layer-wise learning-rate decay must be in (0, 1]");
  std::vector<std::string> names;
  for (const auto& s : table_.specs()) names.push_back(s.name);
  for (const auto& n : names) TRY(table_.set_lr_scale(n, layer_lr_scale(n, cfg_.model.disc.layers, decay)));
  return Status::Ok();
}

Status FinetuneModel::ensure_device() {
  if (be_->memory_is_host() || !device_stale_) return Status::Ok();
  const size_t bytes = sizeof(float) * static_cast<size_t>(buf_.total);
  TRY(be_->upload(P_, buf_.params, bytes));
  TRY(be_->upload(G_, buf_.grads, bytes));
  TRY(be_->upload(M_, buf_.m, bytes));
  TRY(be_->upload(V_, buf_.v, bytes));
  TRY(be_->sync());
  device_stale_ = false;
  host_stale_ = false;
  return Status::Ok();
}

Status FinetuneModel::sync_to_host() {
  if (be_->memory_is_host() || !host_stale_ || device_stale_) return Status::Ok();
  const size_t bytes = sizeof(float) * static_cast<size_t>(buf_.total);
  TRY(be_->download(buf_.params, P_, bytes));
  TRY(be_->download(buf_.grads, G_, bytes));
  TRY(be_->download(buf_.m, M_, bytes));
  TRY(be_->download(buf_.v, V_, bytes));
  TRY(be_->sync());
  host_stale_ = false;
  return Status::Ok();
}

Status FinetuneModel::resize(int64_t B, int64_t S) {
  if (B == B_ && S == S_) return Status::Ok();
  B_ = S_ = 0;  // stays invalid unless every allocation below succeeds
  Backend* be = be_.get();
  const size_t N = B * S, E = cfg_.model.embedding_size, H = cfg_.model.disc.hidden, C = cfg_.num_labels;
  const bool token = cfg_.head == HeadKind::kToken;
  const size_t R = token ? N : B;  // rows of logits
  grow(h_types_, N);
  grow(h_mask_, N);
  grow(h_rows_, R);
  grow(h_targets_, R);
  grow(h_argmax_, R);
  grow(h_losses_, R);
  for (auto* b : {&d_ids_, &d_types_, &d_mask_}) TRY(b->resize(be, N));
  for (auto* b : {&d_rows_, &d_targets_, &d_argmax_}) TRY(b->resize(be, R));
  TRY(d_first_.resize(be, B));
  TRY(d_regr_.resize(be, B));
  TRY(losses_.resize(be, R));
  for (auto* b : {&emb_pre_, &emb_out_, &emb_dout_, &emb_scratch_}) TRY(b->resize(be, N * E));
  for (auto* b : {&emb_mean_, &emb_rstd_}) TRY(b->resize(be, N));
  TRY(enc_.resize(be, B, S));
  for (auto* b : {&x0_, &x0d_, &pre_, &g_, &gd_, &dtmp_}) TRY(b->resize(be, token ? 0 : B * H));
  TRY(hd_.resize(be, token ? N * H : 0));
  TRY(logits_.resize(be, R * C));
  TRY(dlogits_.resize(be, R * C));
  TRY(dh_.resize(be, N * H));
  // The first token of every sequence: flat rows b*S.
  std::vector<int32_t> first(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) first[b] = static_cast<int32_t>(b * S);
  TRY(be->upload(d_first_.data(), first.data(), sizeof(int32_t) * B));
  TRY(be->sync());
  B_ = B;
  S_ = S;
  return Status::Ok();
}

Status FinetuneModel::check_batch(const Batch& b) const {
  const ModelConfig& c = cfg_.model;
  if (!b.input_ids || b.rows <= 0 || b.seq_len <= 0) return InvalidArgument("empty batch");
  if (b.seq_len > c.max_position)
    return InvalidArgument("sequence length " + std::to_string(b.seq_len) + " exceeds max position embeddings " +
                           std::to_string(c.max_position));
  const int64_t n = b.rows * b.seq_len;
  for (int64_t i = 0; i < n; ++i) {
    if (b.input_ids[i] < 0 || b.input_ids[i] >= c.vocab_size)
      return InvalidArgument("token id " + std::to_string(b.input_ids[i]) + " at index " + std::to_string(i) +
                             " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    if (b.token_type_ids && (b.token_type_ids[i] < 0 || b.token_type_ids[i] >= c.type_vocab_size))
      return InvalidArgument("token type id " + std::to_string(b.token_type_ids[i]) + " at index " +
                             std::to_string(i) + " is outside [0, " + std::to_string(c.type_vocab_size) + ")");
  }
  return Status::Ok();
}

Status FinetuneModel::upload_batch(const Batch& b) {
  const int64_t N = B_ * S_;
  for (int64_t i = 0; i < N; ++i) {
    h_types_[i] = b.token_type_ids ? b.token_type_ids[i] : 0;
    h_mask_[i] = b.attention_mask ? (b.attention_mask[i] != 0) : 1;
  }
  const size_t ib = sizeof(int32_t) * static_cast<size_t>(N);
  TRY(be_->upload(d_ids_.data(), b.input_ids, ib));
  TRY(be_->upload(d_types_.data(), h_types_.data(), ib));
  return be_->upload(d_mask_.data(), h_mask_.data(), ib);
}

Status FinetuneModel::forward(float hp, float ap, float head_p, uint64_t seed, uint64_t base) {
  Backend& be = *be_;
  const float* P = P_;
  const ModelConfig& c = cfg_.model;
  const int64_t N = B_ * S_, E = c.embedding_size, H = c.disc.hidden, C = cfg_.num_labels;
  // Embeddings: sum of the three tables, LayerNorm, dropout.
  TRY(be.embedding_forward(emb_pre_.data(), d_ids_.data(), d_types_.data(), P + wte_, P + wpe_, P + wtt_, B_, S_, E));
  TRY(be.layernorm_forward(emb_out_.data(), emb_mean_.data(), emb_rstd_.data(), emb_pre_.data(), P + eln_g_,
                           P + eln_b_, N, E, c.layer_norm_eps));
  TRY(be.dropout_forward(emb_out_.data(), emb_out_.data(), N * E, hp, seed, base + kSlotEmb));
  TRY(enc_.forward(P, emb_out_.data(), d_mask_.data(), c.layer_norm_eps, hp, ap, seed, base + kSlotEnc, &hidden_));
  if (cfg_.head == HeadKind::kToken) {
    TRY(be.dropout_forward(hd_.data(), hidden_, N * H, head_p, seed, base + kSlotHead0));
    return be.linear_forward(logits_.data(), hd_.data(), P + co_w_, P + co_b_, N, H, C);
  }
  TRY(be.gather_rows(x0_.data(), hidden_, d_first_.data(), B_, H));
  TRY(be.dropout_forward(x0d_.data(), x0_.data(), B_ * H, head_p, seed, base + kSlotHead0));
  TRY(be.linear_gelu_forward(pre_.data(), g_.data(), x0d_.data(), P + cd_w_, P + cd_b_, B_, H, H));
  TRY(be.dropout_forward(gd_.data(), g_.data(), B_ * H, head_p, seed, base + kSlotHead1));
  return be.linear_forward(logits_.data(), gd_.data(), P + co_w_, P + co_b_, B_, H, C);
}

// dlogits_ holds the loss gradient. A dropout's backward into a fresh buffer
// is the dropout forward of the gradient (same mask and scale).
Status FinetuneModel::backward(float hp, float ap, float head_p, uint64_t seed, uint64_t base) {
  Backend& be = *be_;
  const float* P = P_;
  float* G = G_;
  const ModelConfig& c = cfg_.model;
  const int64_t N = B_ * S_, E = c.embedding_size, H = c.disc.hidden, C = cfg_.num_labels;
  const size_t fb = sizeof(float);
  if (cfg_.head == HeadKind::kToken) {
    TRY(be.linear_backward_write(dh_.data(), G + co_w_, G + co_b_, dlogits_.data(), hd_.data(), P + co_w_, N, H, C));
    TRY(be.dropout_forward(dh_.data(), dh_.data(), N * H, head_p, seed, base + kSlotHead0));
  } else {
    TRY(be.linear_backward_write(dtmp_.data(), G + co_w_, G + co_b_, dlogits_.data(), gd_.data(), P + co_w_, B_, H,
                                 C));
    TRY(be.dropout_forward(dtmp_.data(), dtmp_.data(), B_ * H, head_p, seed, base + kSlotHead1));
    TRY(be.gelu_backward_write(dtmp_.data(), dtmp_.data(), pre_.data(), B_ * H));
    TRY(be.linear_backward_write(x0_.data(), G + cd_w_, G + cd_b_, dtmp_.data(), x0d_.data(), P + cd_w_, B_, H, H));
    TRY(be.dropout_forward(x0_.data(), x0_.data(), B_ * H, head_p, seed, base + kSlotHead0));
    TRY(be.zero(dh_.data(), fb * N * H));
    TRY(be.gather_rows_backward(dh_.data(), x0_.data(), d_first_.data(), B_, H));
  }
  TRY(enc_.backward(P, G, dh_.data(), emb_dout_.data(), emb_out_.data(), d_mask_.data(), hp, ap, seed,
                    base + kSlotEnc));
  TRY(be.dropout_forward(emb_dout_.data(), emb_dout_.data(), N * E, hp, seed, base + kSlotEmb));
  TRY(be.layernorm_backward_write(emb_scratch_.data(), nullptr, G + eln_g_, G + eln_b_, emb_dout_.data(),
                                  emb_pre_.data(), P + eln_g_, emb_mean_.data(), emb_rstd_.data(), N, E, 0.0f, 0, 0));
  return be.embedding_backward(G + wte_, G + wpe_, G + wtt_, emb_scratch_.data(), d_ids_.data(), d_types_.data(), B_,
                               S_, E);
}

Status FinetuneModel::train_step(const TrainConfig& t, const FinetuneBatch& fb, int64_t step, FinetuneMetrics* out,
                                 bool apply_update, std::vector<float>* logits_out) {
  const Batch& b = fb.batch;
  TRY(check_batch(b));
  if (step < 0) return InvalidArgument("step must be >= 0");
  if (!(t.lr >= 0) || !std::isfinite(t.lr)) return InvalidArgument("learning rate must be >= 0");
  if (t.warmup_steps < 0) return InvalidArgument("warm-up steps must be >= 0");
  if (t.total_steps <= 0) return InvalidArgument("total steps must be positive");
  if (!(t.beta1 >= 0 && t.beta1 < 1) || !(t.beta2 >= 0 && t.beta2 < 1))
    return InvalidArgument("Adam betas must be in [0, 1)");
  if (!(t.adam_eps > 0)) return InvalidArgument("Adam epsilon must be positive");
  if (!(t.weight_decay >= 0)) return InvalidArgument("weight decay must be >= 0");
  const HeadKind kind = cfg_.head;
  const int64_t B = b.rows, S = b.seq_len, C = cfg_.num_labels;
  // Labels: checked and compacted on the host (token head: only labelled tokens).
  int64_t R = 0;
  std::vector<int32_t> rows, targets;
  if (kind == HeadKind::kRegression) {
    if (!fb.targets) return InvalidArgument("a regression batch needs float targets");
    for (int64_t i = 0; i < B; ++i)
      if (!std::isfinite(fb.targets[i])) return InvalidArgument("regression target " + std::to_string(i) + " is not finite");
    R = B;
  } else {
    if (!fb.labels) return InvalidArgument("a classification batch needs integer labels");
    const int64_t n = kind == HeadKind::kToken ? B * S : B;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t y = fb.labels[i];
      if (kind == HeadKind::kToken && y == -1) continue;
      if (y < 0 || y >= C)
        return InvalidArgument("label " + std::to_string(y) + " at index " + std::to_string(i) + " is outside [0, " +
                               std::to_string(C) + ")" + (kind == HeadKind::kToken ? " (or -1 to ignore)" : ""));
      rows.push_back(static_cast<int32_t>(i));
      targets.push_back(y);
    }
    R = static_cast<int64_t>(rows.size());
  }
  TRY(resize(B, S));
  TRY(ensure_device());
  TRY(upload_batch(b));
  Backend& be = *be_;
  TRY(be.zero(G_, sizeof(float) * static_cast<size_t>(buf_.total)));
  host_stale_ = !be.memory_is_host();
  const float hp = cfg_.model.hidden_dropout, ap = cfg_.model.attention_dropout, head_p = head_dropout();
  const uint64_t base = static_cast<uint64_t>(step) * kRngWindow;
  TRY(forward(hp, ap, head_p, t.seed, base));
  const int64_t rowsL = kind == HeadKind::kToken ? B * S : B;  // rows of logits
  if (logits_out) {
    logits_out->resize(static_cast<size_t>(rowsL * C));
    TRY(be.download(logits_out->data(), logits_.data(), sizeof(float) * rowsL * C));
  }
  FinetuneMetrics m;
  m.counted = R;
  if (kind == HeadKind::kRegression) {
    TRY(be.upload(d_regr_.data(), fb.targets, sizeof(float) * B));
    TRY(be.mse_forward_backward(d_scalars_.data(), dlogits_.data(), logits_.data(), d_regr_.data(), B,
                                1.0f / static_cast<float>(B)));
    double sum = 0;
    TRY(be.download(&sum, d_scalars_.data(), sizeof(double)));
    TRY(be.sync());
    m.loss = sum / static_cast<double>(B);
  } else {
    TRY(be.zero(dlogits_.data(), sizeof(float) * static_cast<size_t>(rowsL * C)));
    if (R > 0) {
      TRY(be.upload(d_rows_.data(), rows.data(), sizeof(int32_t) * R));
      TRY(be.upload(d_targets_.data(), targets.data(), sizeof(int32_t) * R));
      TRY(be.crossentropy_forward_backward(losses_.data(), d_argmax_.data(), dlogits_.data(), logits_.data(),
                                           d_rows_.data(), d_targets_.data(), R, C, 1.0f / static_cast<float>(R)));
      TRY(be.download(h_losses_.data(), losses_.data(), sizeof(float) * R));
      TRY(be.download(h_argmax_.data(), d_argmax_.data(), sizeof(int32_t) * R));
    }
    TRY(be.sync());
    double sum = 0;
    for (int64_t r = 0; r < R; ++r) {
      sum += h_losses_[r];
      m.correct += h_argmax_[r] == targets[r];
    }
    m.loss = R > 0 ? sum / static_cast<double>(R) : 0.0;
  }
  TRY(backward(hp, ap, head_p, t.seed, base));
  m.lr = ElectraModel::learning_rate(t, step);
  TRY(be.clip_grad_norm(d_scalars_.data() + 1, G_, buf_.total, apply_update ? t.clip_norm : 0.0f));
  TRY(be.download(&m.grad_norm, d_scalars_.data() + 1, sizeof(double)));
  TRY(be.sync());
  if (!std::isfinite(m.grad_norm) || !std::isfinite(m.loss))
    return Status(StatusCode::kDiverged, "non-finite loss or gradient norm at step " + std::to_string(step + 1) +
                                             " (1-based); no update was applied (diverged: lower the learning rate, or check the data)");
  if (apply_update) {
    AdamWHyper h;
    h.lr = static_cast<float>(m.lr);
    h.beta1 = t.beta1; h.beta2 = t.beta2; h.eps = t.adam_eps; h.weight_decay = t.weight_decay;
    h.step = step + 1;
    h.bias_correction = t.bias_correction;
    TRY(be.adamw_update_table(table_, P_, G_, M_, V_, h));
    TRY(be.sync());
  }
  *out = m;
  return Status::Ok();
}

Status FinetuneModel::predict(const Batch& b, std::vector<float>* logits) {
  TRY(check_batch(b));
  TRY(resize(b.rows, b.seq_len));
  TRY(ensure_device());
  TRY(upload_batch(b));
  TRY(forward(0.0f, 0.0f, 0.0f, 0, 0));
  const int64_t rowsL = cfg_.head == HeadKind::kToken ? B_ * S_ : B_, C = cfg_.num_labels;
  logits->resize(static_cast<size_t>(rowsL * C));
  TRY(be_->download(logits->data(), logits_.data(), sizeof(float) * rowsL * C));
  return be_->sync();
}

}  // namespace electra
