#include "electra_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "adamw_math.h"
#include "masking.h"
#include "philox.h"

namespace electra {

#define TRY ELECTRA_RETURN_IF_ERROR

namespace {
template <class T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() != n) v.assign(n, T());
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
  // The backend first: a missing GPU is reported before any memory is allocated.
  TRY(make_backend(exec_, &be_));
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
  TRY(buf_.allocate(t.total()));
  if (be_->memory_is_host()) {
    P_ = buf_.params; G_ = buf_.grads; M_ = buf_.m; V_ = buf_.v;
  } else {
    const size_t n = static_cast<size_t>(t.total());
    TRY(dev_.resize(be_.get(), 4 * n));
    P_ = dev_.data(); G_ = P_ + n; M_ = G_ + n; V_ = M_ + n;
  }
  TRY(d_step_.resize(be_.get(), 1));
  TRY(h_step_.resize(be_.get(), kStageSets));
  for (int i = 0; i < kStageSets; ++i) h_step_.data()[i] = StepValues();
  TRY(be_->upload(d_step_.data(), h_step_.data(), sizeof(StepValues)));
  TRY(be_->sync());
  be_->set_philox_base(&d_step_.data()->philox_base);
  init_weights(0);
  return Status::Ok();
}

int64_t ElectraModel::num_parameters() const {
  int64_t n = 0;
  for (const auto& s : table_.specs()) n += s.numel;
  return n;
}

int64_t ElectraModel::step_workspace_bytes(int64_t B, int64_t S) const {
  StepWorkspaceShape w;
  w.rows = B;
  w.seq = S;
  w.embedding = cfg_.embedding_size;
  w.params = table_.total();
  const std::string ln = "LayerNorm.weight";
  for (const auto& t : table_.specs()) {
    if (t.shape.size() == 2) {
      w.max_out = std::max(w.max_out, t.shape[0]);
      w.max_weight = std::max(w.max_weight, t.numel);
    } else if (t.name.size() >= ln.size() && t.name.compare(t.name.size() - ln.size(), ln.size(), ln) == 0) {
      w.norm_widths.push_back(t.numel);
    }
  }
  return be_->step_workspace_bytes(w);
}

namespace {
// Philox streams of init_weights; the index is the element's buffer offset.
constexpr uint64_t kInitNormal = 1u << 20;   // + attempt: truncated-normal draws (2 per try)
constexpr uint64_t kInitUniform = 1u << 21;  // Glorot-uniform draws
constexpr int kMaxNormalTries = 64;

// N(0, stddev) truncated at 2 stddev, as TF's truncated_normal: redraw while
// |z| > 2 (4.6% of draws), attempt a from stream kInitNormal + a. After 64
// rejections (probability 1e-86) the value is 0.
float truncated_normal(uint64_t seed, uint64_t index, float stddev) {
  for (int a = 0; a < kMaxNormalTries; ++a) {
    const float u1 = philox_uniform_open(seed, kInitNormal + a, index * 2);
    const float u2 = philox_uniform(seed, kInitNormal + a, index * 2 + 1);
    const float z = std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
    if (std::fabs(z) <= 2.0f) return stddev * z;
  }
  return 0.0f;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}
}  // namespace

void ElectraModel::init_weights(uint64_t seed) {
  for (const auto& s : table_.specs()) {
    float* p = buf_.params + s.offset;
    const bool is_ln = s.name.find("LayerNorm") != std::string::npos;
    const bool is_bias = ends_with(s.name, "bias");
    // The reference's tf.layers.dense without an initializer: embeddings_project
    // (either network) and the discriminator's final dense(1).
    const bool glorot = ends_with(s.name, "embeddings_project.weight") ||
                        s.name == "discriminator_predictions.dense_prediction.weight";
    if (is_ln && !is_bias) {
      std::fill(p, p + s.numel, 1.0f);
    } else if (is_bias) {
      std::fill(p, p + s.numel, 0.0f);
    } else if (glorot) {
      // uniform(-l, l), l = sqrt(6 / (fan_in + fan_out)); shape [out, in].
      const float limit = std::sqrt(6.0f / static_cast<float>(s.shape[0] + s.shape[1]));
      for (int64_t i = 0; i < s.numel; ++i)
        p[i] = limit * (2.0f * philox_uniform_open(seed, kInitUniform, static_cast<uint64_t>(s.offset + i)) - 1.0f);
    } else {
      for (int64_t i = 0; i < s.numel; ++i) p[i] = truncated_normal(seed, static_cast<uint64_t>(s.offset + i), 0.02f);
    }
  }
  const int64_t E = cfg_.embedding_size;
  std::fill(buf_.params + wte_ + cfg_.pad_id * E, buf_.params + wte_ + (cfg_.pad_id + 1) * E, 0.0f);
  std::memset(buf_.m, 0, sizeof(float) * buf_.total);
  std::memset(buf_.v, 0, sizeof(float) * buf_.total);
  std::memset(buf_.grads, 0, sizeof(float) * buf_.total);
  host_modified();
  host_stale_ = false;  // the host now holds the newest values
}

Status ElectraModel::ensure_device() {
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

Status ElectraModel::sync_to_host() {
  TRY(settle());
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

Status ElectraModel::resize(int64_t B, int64_t S, int64_t maxM) {
  if (B == B_ && S == S_ && maxM == maxM_) return Status::Ok();
  TRY(settle());  // the steps in flight read the buffers reallocated here
  B_ = S_ = maxM_ = 0;  // stays invalid unless every allocation below succeeds
  forget_graphs();      // they point at the buffers reallocated here
  Backend* be = be_.get();
  const size_t N = B * S, E = cfg_.embedding_size, V = cfg_.vocab_size, Hg = cfg_.gen.hidden;
  const size_t M = maxM;
  grow(h_labels_, N);
  h_positions_.reserve(M);
  stage_.reset();  // re-laid out for the new shape by ensure_staging
  stage_slots_ = 0;
  B_ = B; S_ = S; maxM_ = maxM;  // for input_layout(); reset below if an allocation fails
  const InputLayout in = input_layout();
  B_ = S_ = maxM_ = 0;
  TRY(d_in_.resize(be, static_cast<size_t>(in.end)));
  char* base = d_in_.data();
  d_ids_.point(base, in.ids);
  d_types_.point(base, in.types);
  d_mask_.point(base, in.mask);
  d_dweights_.point(base, in.dweights);
  d_gen_ids_.point(base, in.gen_ids);
  d_positions_.point(base, in.positions);
  d_targets_.point(base, in.targets);
  d_scales_.point(base, in.scales);
  TRY(d_disc_ids_.resize(be, N));
  for (auto* b : {&d_sampled_, &d_argmax_, &d_rows_}) TRY(b->resize(be, M));
  TRY(d_labels_.resize(be, N));
  TRY(d_scalars_.resize(be, 8));
  std::vector<int32_t> rows(M);
  for (size_t r = 0; r < M; ++r) rows[r] = static_cast<int32_t>(r);
  TRY(be->upload(d_rows_.data(), rows.data(), sizeof(int32_t) * M));
  for (EmbActs* a : {&g_emb_, &d_emb_}) {
    const bool used = a == &g_emb_ || electra_;
    for (auto* b : {&a->pre, &a->out, &a->dout}) TRY(b->resize(be, used ? N * E : 0));
    for (auto* b : {&a->mean, &a->rstd}) TRY(b->resize(be, used ? N : 0));
  }
  TRY(emb_scratch_.resize(be, N * E));
  TRY(dh_gen_.resize(be, N * Hg));
  TRY(hm_.resize(be, M * Hg));
  TRY(dtmp_m_.resize(be, M * Hg));
  for (auto* b : {&hd1_, &hg1_, &hl_, &dtmp_m2_, &hd1_grad_}) TRY(b->resize(be, M * E));
  for (auto* b : {&hl_mean_, &hl_rstd_, &losses_}) TRY(b->resize(be, M));
  TRY(logits_.resize(be, M * V));
  TRY(gen_.resize(be, B, S));
  if (electra_) {
    const size_t H = cfg_.disc.hidden;
    TRY(disc_.resize(be, B, S));
    for (auto* b : {&dd1_, &dg1_, &dh_disc_, &dtmp_n_}) TRY(b->resize(be, N * H));
    TRY(dlogit_.resize(be, N));
  }
  B_ = B; S_ = S; maxM_ = maxM;
  return Status::Ok();
}

namespace {
constexpr int64_t kStageAlign = 64;
int64_t stage_round(int64_t bytes) { return (bytes + kStageAlign - 1) / kStageAlign * kStageAlign; }
}  // namespace

ElectraModel::InputLayout ElectraModel::input_layout() const {
  const int64_t n = stage_round(B_ * S_ * int64_t(sizeof(int32_t))), m = stage_round(maxM_ * int64_t(sizeof(int32_t)));
  InputLayout l;
  l.ids = 0;
  l.types = l.ids + n;
  l.mask = l.types + n;
  l.dweights = l.mask + n;  // float, as int32_t
  l.inputs_end = l.dweights + n;
  l.gen_ids = l.inputs_end;
  l.positions = l.gen_ids + n;
  l.targets = l.positions + m;
  l.scales = l.targets + m;
  l.end = l.scales + stage_round(sizeof(MicroScales));
  return l;
}

Status ElectraModel::ensure_staging(int64_t k) {
  const int64_t N = B_ * S_, M = maxM_, i4 = sizeof(int32_t);
  slot_bytes_ = input_layout().end + stage_round(M * i4) + stage_round(N * i4) + stage_round(M * i4) +
                stage_round(3 * sizeof(double));
  if (stage_slots_ >= k && stage_.size() > 0) return Status::Ok();
  // Growing frees the old staging: nothing may still read or fill it.
  TRY(settle());
  TRY(be_->sync());
  forget_graphs();
  set_bytes_ = k * slot_bytes_ + stage_round(3 * sizeof(double));
  TRY(stage_.resize(be_.get(), static_cast<size_t>(kStageSets * set_bytes_)));
  stage_slots_ = k;
  return Status::Ok();
}

ElectraModel::Slot ElectraModel::slot(int set, int64_t i) {
  const int64_t N = B_ * S_, M = maxM_, i4 = sizeof(int32_t);
  char* base = stage_.data() + set * set_bytes_ + i * slot_bytes_;
  const InputLayout in = input_layout();
  Slot sl;
  sl.ids = reinterpret_cast<int32_t*>(base + in.ids);
  sl.types = reinterpret_cast<int32_t*>(base + in.types);
  sl.mask = reinterpret_cast<int32_t*>(base + in.mask);
  sl.dweights = reinterpret_cast<float*>(base + in.dweights);
  sl.gen_ids = reinterpret_cast<int32_t*>(base + in.gen_ids);
  sl.positions = reinterpret_cast<int32_t*>(base + in.positions);
  sl.targets = reinterpret_cast<int32_t*>(base + in.targets);
  sl.scales = reinterpret_cast<MicroScales*>(base + in.scales);
  char* p = base + in.end;  // the rest: not uploaded with the inputs
  auto take = [&p](int64_t bytes) {
    char* q = p;
    p += stage_round(bytes);
    return q;
  };
  sl.sampled_in = reinterpret_cast<int32_t*>(take(M * i4));
  sl.dlogit = reinterpret_cast<float*>(take(N * i4));
  sl.sampled = reinterpret_cast<int32_t*>(take(M * i4));
  sl.scalars = reinterpret_cast<double*>(take(3 * sizeof(double)));
  return sl;
}

double* ElectraModel::tail_scalars(int set) {
  return reinterpret_cast<double*>(stage_.data() + set * set_bytes_ + stage_slots_ * slot_bytes_);
}

Status ElectraModel::settle() {
  bool any = false;
  for (bool f : in_flight_) any = any || f;
  if (!any) return Status::Ok();
  TRY(be_->sync());
  for (bool& f : in_flight_) f = false;
  return Status::Ok();
}

void ElectraModel::forget_graphs() {
  if (be_) be_->drop_graphs();
  warm_keys_.clear();
  no_graph_.clear();
}

Status ElectraModel::upload_batch(const Batch& b, int64_t r0, const Slot& sl, int64_t* real_tokens) {
  fill_batch(b, r0, sl, real_tokens);
  return upload_inputs(sl);
}

void ElectraModel::fill_batch(const Batch& b, int64_t r0, const Slot& sl, int64_t* real_tokens) {
  const int64_t N = B_ * S_, first = r0 * S_;
  int64_t real = 0;
  std::memcpy(sl.ids, b.input_ids + first, sizeof(int32_t) * static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    sl.types[i] = b.token_type_ids ? b.token_type_ids[first + i] : 0;
    sl.mask[i] = b.attention_mask ? (b.attention_mask[first + i] != 0) : 1;
    sl.dweights[i] = static_cast<float>(sl.mask[i]);
    real += sl.mask[i];
  }
  *real_tokens = real;
}

// The slot's uploaded part starts at sl.ids (slot()), d_in_'s at d_ids_.
Status ElectraModel::upload_inputs(const Slot& sl) {
  return be_->upload(d_in_.data(), sl.ids, static_cast<size_t>(input_layout().inputs_end));
}

Status ElectraModel::upload_micro(const Slot& sl) {
  return be_->upload(d_in_.data(), sl.ids, static_cast<size_t>(input_layout().end));
}

Status ElectraModel::embed_forward(const int32_t* ids, EmbActs* a, float p, uint64_t seed, uint64_t off) {
  Backend& be = *be_;
  const float* P = P_;
  const int64_t N = B_ * S_, E = cfg_.embedding_size;
  TRY(be.embedding_forward(a->pre.data(), ids, d_types_.data(), P + wte_, P + wpe_, P + wtt_, B_, S_, E));
  return be.layernorm_dropout_forward(a->out.data(), a->mean.data(), a->rstd.data(), a->pre.data(), P + eln_g_,
                                      P + eln_b_, N, E, cfg_.layer_norm_eps, p, seed, off);
}

Status ElectraModel::embed_backward(const int32_t* ids, EmbActs* a, float p, uint64_t seed, uint64_t off) {
  Backend& be = *be_;
  const float* P = P_;
  float* G = G_;
  const int64_t N = B_ * S_, E = cfg_.embedding_size;
  // a->dout is the gradient of the dropout output (consumed here); the
  // dropout and LayerNorm backwards write the scratch.
  float* d2 = emb_scratch_.data();
  TRY(be.dropout_layernorm_backward_write(d2, G + eln_g_, G + eln_b_, a->dout.data(), a->pre.data(), P + eln_g_,
                                          a->mean.data(), a->rstd.data(), N, E, p, seed, off));
  return be.embedding_backward(G + wte_, G + wpe_, G + wtt_, d2, ids, d_types_.data(), B_, S_, E);
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

Status ElectraModel::gen_head_forward(const float* hg, const int32_t* rows, int64_t M, float* logits) {
  Backend& be = *be_;
  const float* P = P_;
  const int64_t E = cfg_.embedding_size, V = cfg_.vocab_size, Hg = cfg_.gen.hidden;
  TRY(be.gather_rows(hm_.data(), hg, rows, M, Hg));
  TRY(be.linear_gelu_forward(hd1_.data(), hg1_.data(), hm_.data(), P + gpd_w_, P + gpd_b_, M, Hg, E));
  TRY(be.layernorm_forward(hl_.data(), hl_mean_.data(), hl_rstd_.data(), hg1_.data(), P + gpln_g_, P + gpln_b_, M, E,
                           cfg_.layer_norm_eps));
  return be.linear_forward(logits, hl_.data(), P + wte_, P + glm_b_, M, E, V);
}

Status ElectraModel::disc_head_forward(const float* h, float* logits) {
  const float* P = P_;
  const int64_t N = B_ * S_, H = cfg_.disc.hidden;
  TRY(be_->linear_gelu_forward(dd1_.data(), dg1_.data(), h, P + dpd_w_, P + dpd_b_, N, H, H));
  return be_->linear_forward(logits, dg1_.data(), P + dpp_w_, P + dpp_b_, N, H, 1);
}

Status ElectraModel::train_step(const TrainConfig& t, const Batch& batch, int64_t step, StepMetrics* out,
                                const StepOverrides* ov) {
  return run_step(t, batch, step, out, ov, true);
}

Status ElectraModel::evaluate(const TrainConfig& t, const Batch& batch, int64_t index, StepMetrics* out) {
  return run_step(t, batch, index, out, nullptr, false);
}

// The step's overrides that fix its random parts (masking, sampling) need
// k = 1; an override of the update alone (apply_update = false) works for any k.
static Status check_overrides(const StepOverrides* ov, int64_t k, int64_t N, int64_t V, int64_t max_masked,
                              bool* fixed) {
  *fixed = ov && (!ov->masked_positions.empty() || !ov->generator_input_ids.empty() || !ov->sampled_ids.empty());
  if (!*fixed) return Status::Ok();
  if (k != 1) return InvalidArgument("step overrides of masking/sampling need gradAccum = 1");
  const size_t M = ov->masked_positions.size();
  if (M == 0 || M > static_cast<size_t>(max_masked) || ov->sampled_ids.size() != M ||
      ov->generator_input_ids.size() != static_cast<size_t>(N))
    return InvalidArgument("step overrides have inconsistent sizes");
  for (size_t i = 0; i < M; ++i) {
    if (ov->masked_positions[i] < 0 || ov->masked_positions[i] >= N || ov->sampled_ids[i] < 0 ||
        ov->sampled_ids[i] >= V || (i > 0 && ov->masked_positions[i] <= ov->masked_positions[i - 1]))
      return InvalidArgument("step overrides: masked positions must be sorted, unique and in range");
  }
  return Status::Ok();
}

Status ElectraModel::run_step(const TrainConfig& t, const Batch& batch, int64_t step, StepMetrics* out,
                              const StepOverrides* ov, bool train) {
  ELECTRA_RETURN_IF_ERROR(validate(cfg_, t));
  ELECTRA_RETURN_IF_ERROR(check_batch(cfg_, t, batch));
  if (step < 0) return InvalidArgument("step must be >= 0");
  const int64_t B = t.batch, S = t.seq_len, k = t.grad_accum;
  bool fixed = false;
  TRY(check_overrides(ov, k, B * S, cfg_.vocab_size, B * max_predictions(t), &fixed));
  if (!out && !train) return InvalidArgument("an evaluation without metrics does nothing");
  TRY(resize(B, S, B * max_predictions(t)));
  TRY(ensure_device());
  TRY(ensure_staging(k));
  StepRun run;
  // Set 0, unless the previous step (enqueued without metrics) may still read
  // its set: then the other one. So steps with metrics always use set 0 (one
  // graph), and a run of steps without them alternates between two.
  run.set = in_flight_[last_set_] ? (last_set_ + 1) % kStageSets : 0;
  last_set_ = run.set;
  run.metrics = out != nullptr;
  run.train = train;
  run.update = train && !(ov && !ov->apply_update);
  // This set's last step (two steps ago) must have read its staging before
  // the host refills it; normally long done. (A bounded pipeline: the host
  // runs at most two steps ahead of the device.)
  if (in_flight_[run.set]) {
    TRY(be_->wait_marked(run.set));
    in_flight_[run.set] = false;
  }
  if (train) host_stale_ = !be_->memory_is_host();
  // The host side first, for every micro-batch: its inputs and its dynamic
  // masking into its staging slot (so the masked-row count M is known with no
  // device round trip). Then the device part reads only the staging and the
  // step's values, and can be one graph launch.
  // Philox: the step's part of every offset, read by the ops from StepValues.
  const uint64_t step_base = static_cast<uint64_t>(step * k) * kRngWindow;
  std::vector<Micro> micros(static_cast<size_t>(k));
  for (int64_t micro = 0; micro < k; ++micro) {
    Micro& mb = micros[static_cast<size_t>(micro)];
    mb.t = &t;
    mb.ov = ov;
    mb.fixed = fixed;
    mb.base = static_cast<uint64_t>(micro) * kRngWindow;
    mb.host_base = step_base + mb.base;
    mb.ids = batch.input_ids + micro * B * S;
    mb.sl = slot(run.set, micro);
    mb.run = &run;
    // Evaluation: dropout off, no backward, no update.
    mb.hp = train ? cfg_.hidden_dropout : 0.0f;
    mb.ap = train ? cfg_.attention_dropout : 0.0f;
    fill_batch(batch, micro * B, mb.sl, &mb.real);
    mask_host(&mb);
  }
  const float lr = train ? static_cast<float>(learning_rate(t, step)) : 0.0f;
  StepValues& sv = h_step_.data()[run.set];
  sv.philox_base = step_base;
  sv.adam.lr = lr;
  sv.adam.step = step + 1;
  const AdamWConsts c = adamw_consts(t.beta1, t.beta2, lr, t.adam_eps, t.weight_decay, true, t.bias_correction,
                                     step + 1);
  sv.adam.c1 = c.c1;
  sv.adam.c2 = c.c2;
  // The test hooks download into pageable memory: not capturable.
  TRY(run_device_step(micros, t, run, ov == nullptr));
  TRY(be_->mark(run.set));
  if (!run.metrics) {
    in_flight_[run.set] = true;
    return Status::Ok();
  }
  // The step's one host wait: for its metrics and the update. Every earlier
  // step is done with it (one stream).
  TRY(be_->wait_marked(run.set));
  for (bool& f : in_flight_) f = false;
  StepMetrics m;
  MetricCounts counts;
  for (const Micro& mb : micros) collect_metrics(mb, k, &m, &counts);
  finish_metrics(counts, &m);
  m.lr = train ? learning_rate(t, step) : 0.0;
  if (train) TRY(check_update(step, run, &m));
  if (!std::isfinite(m.loss))
    return Status(StatusCode::kDiverged, "loss is not finite at step " + std::to_string(step + 1) +
                                             " (1-based; diverged: lower the learning rate)");
  *out = m;
  return Status::Ok();
}

// Phase 1, mask: dynamic masking on the host (or the test hook's fixed
// choice), so the masked-row count M is known here, with no device round
// trip; the chosen rows, generator inputs, targets and loss scales are
// written to the slot, and uploaded with the batch inputs in one copy.
void ElectraModel::mask_host(Micro* mb) {
  const TrainConfig& t = *mb->t;
  const Slot& sl = mb->sl;
  if (mb->fixed) {
    h_positions_ = mb->ov->masked_positions;
    std::copy(mb->ov->generator_input_ids.begin(), mb->ov->generator_input_ids.end(), sl.gen_ids);
  } else {
    const SpecialIds sp{cfg_.pad_id, cfg_.cls_id, cfg_.sep_id, cfg_.mask_id};
    dynamic_mask(t.masking, &h_positions_, sl.gen_ids, mb->ids, sl.mask, B_, S_, t.mask_prob, max_predictions(t), sp,
                 t.seed, mb->host_base + kSlotMask);
  }
  mb->M = static_cast<int64_t>(h_positions_.size());
  std::copy(h_positions_.begin(), h_positions_.end(), sl.positions);
  for (int64_t r = 0; r < mb->M; ++r) sl.targets[r] = mb->ids[h_positions_[r]];
  // The device works on maxM rows whatever M is (so M is not part of a step
  // graph's shape): the rows past M are padding (position and target -1).
  for (int64_t r = mb->M; r < maxM_; ++r) sl.positions[r] = sl.targets[r] = -1;
  const int64_t M = mb->M, k = t.grad_accum;
  mb->scales.ce = M > 0 ? 1.0f / static_cast<float>(M * k) : 0.0f;
  mb->scales.bce = t.disc_weight / static_cast<float>(std::max<int64_t>(mb->real, 1) * t.grad_accum);
  mb->scales.real = static_cast<double>(mb->real);
  *sl.scales = mb->scales;
}

// Phase 2, generator: shared embeddings, encoder over all positions, head at
// the masked rows only (logits_ [M,V]).
Status ElectraModel::phase_generator(Micro* mb) {
  const uint64_t seed = mb->t->seed;
  TRY(embed_forward(d_gen_ids_.data(), &g_emb_, mb->hp, seed, mb->base + kSlotGenEmb));
  TRY(gen_.forward(P_, g_emb_.out.data(), d_mask_.data(), cfg_.layer_norm_eps, mb->hp, mb->ap, seed,
                   mb->base + kSlotGenEnc, &mb->hg));
  if (maxM_ == 0) return Status::Ok();
  TRY(gen_head_forward(mb->hg, d_positions_.data(), maxM_, logits_.data()));  // M rows + padding
  if (mb->ov && mb->ov->gen_logits_out) {  // test hook: a pageable download
    mb->ov->gen_logits_out->resize(static_cast<size_t>(mb->M * cfg_.vocab_size));
    TRY(be_->download(mb->ov->gen_logits_out->data(), logits_.data(), sizeof(float) * mb->M * cfg_.vocab_size));
  }
  return Status::Ok();
}

// Phase 3, sample: Gumbel-max samples from the logits, then the generator
// loss (mean over masked rows), whose gradient overwrites the logits.
Status ElectraModel::phase_sample(Micro* mb) {
  const int64_t M = maxM_, V = cfg_.vocab_size;  // the masked rows and the padding
  if (M == 0) return Status::Ok();
  float* logits = logits_.data();
  if (electra_) {
    if (mb->fixed) {
      std::copy(mb->ov->sampled_ids.begin(), mb->ov->sampled_ids.end(), mb->sl.sampled_in);
      TRY(be_->upload(d_sampled_.data(), mb->sl.sampled_in, sizeof(int32_t) * M));
    } else {
      TRY(be_->gumbel_sample(d_sampled_.data(), logits, M, V, mb->t->temperature, mb->t->seed,
                             mb->base + kSlotSample));
    }
    // The metrics' labels come from the samples (M ids, not N labels).
    if (mb->run->metrics) TRY(be_->download(mb->sl.sampled, d_sampled_.data(), sizeof(int32_t) * M));
  }
  return be_->crossentropy_forward_backward(losses_.data(), d_argmax_.data(), logits, logits, d_rows_.data(),
                                            d_targets_.data(), M, V, mb->scales.ce, &d_scales_.data()->ce);
}

// Phase 4, discriminator: inputs and labels from the samples, forward, sigmoid
// BCE over real tokens (its gradient overwrites the logits).
Status ElectraModel::phase_discriminator(Micro* mb) {
  const TrainConfig& t = *mb->t;
  const int64_t N = B_ * S_;
  const size_t fb = sizeof(float);
  TRY(be_->make_disc_inputs(d_disc_ids_.data(), d_labels_.data(), d_ids_.data(), d_positions_.data(),
                            d_sampled_.data(), maxM_, N));
  TRY(embed_forward(d_disc_ids_.data(), &d_emb_, mb->hp, t.seed, mb->base + kSlotDiscEmb));
  TRY(disc_.forward(P_, d_emb_.out.data(), d_mask_.data(), cfg_.layer_norm_eps, mb->hp, mb->ap, t.seed,
                    mb->base + kSlotDiscEnc, &mb->hd));
  TRY(disc_head_forward(mb->hd, dlogit_.data()));
  if (mb->ov && mb->ov->disc_logits_out) {  // test hook: a pageable download
    mb->ov->disc_logits_out->resize(static_cast<size_t>(N));
    TRY(be_->download(mb->ov->disc_logits_out->data(), dlogit_.data(), fb * N));
  }
  if (mb->run->metrics) TRY(be_->download(mb->sl.dlogit, dlogit_.data(), fb * N));
  return be_->bce_forward_backward(d_scalars_.data(), dlogit_.data(), dlogit_.data(), d_labels_.data(),
                                   d_dweights_.data(), N, mb->scales.bce, &d_scales_.data()->bce);
}

// The micro-batch's losses on the backend: the generator's mean and accuracy,
// and the step's loss so far (d_scalars_[3]), which the update's guard reads.
Status ElectraModel::phase_losses(Micro* mb, int64_t micro) {
  const TrainConfig& t = *mb->t;
  double* s = d_scalars_.data();
  TRY(be_->step_loss(s + 1, s + 3, losses_.data(), d_argmax_.data(), d_targets_.data(), maxM_,
                     electra_ ? s : nullptr, t.disc_weight, mb->real, t.grad_accum, micro == 0,
                     &d_scales_.data()->real));
  return mb->run->metrics ? be_->download(mb->sl.scalars, s, 3 * sizeof(double)) : Status::Ok();
}

// Phase 5, backward: the discriminator (head, encoder, its embeddings), then
// the generator (tied output layer, head, gather, encoder, embeddings); the
// shared embeddings collect both gradients.
Status ElectraModel::phase_backward(Micro* mb) {
  Backend& be = *be_;
  const float* P = P_;
  float* G = G_;
  const int64_t N = B_ * S_, M = maxM_, E = cfg_.embedding_size, V = cfg_.vocab_size, Hg = cfg_.gen.hidden;
  const uint64_t seed = mb->t->seed;
  const size_t fb = sizeof(float);
  if (electra_) {
    const int64_t H = cfg_.disc.hidden;
    // Buffers produced by one op alone are written (the *_write variants), not zeroed + accumulated.
    // The prediction dense's input gradient through its GELU (dd1_ the GELU's
    // input): one op, fused into the dX GEMM's epilogue on CUDA.
    TRY(be.linear_backward_gelu_write(dh_disc_.data(), G + dpp_w_, G + dpp_b_, dlogit_.data(), dg1_.data(),
                                      P + dpp_w_, dd1_.data(), N, H, 1));
    TRY(be.linear_backward_write(dtmp_n_.data(), G + dpd_w_, G + dpd_b_, dh_disc_.data(), mb->hd, P + dpd_w_, N, H,
                                 H));
    TRY(disc_.backward(P, G, dtmp_n_.data(), d_emb_.dout.data(), d_emb_.out.data(), d_mask_.data(), mb->hp, mb->ap,
                       seed, mb->base + kSlotDiscEnc));
    TRY(embed_backward(d_disc_ids_.data(), &d_emb_, mb->hp, seed, mb->base + kSlotDiscEmb));
  }
  TRY(be.zero(dh_gen_.data(), fb * N * Hg));
  if (M > 0) {
    TRY(be.linear_backward_write(dtmp_m2_.data(), G + wte_, G + glm_b_, logits_.data(), hl_.data(), P + wte_, M, E, V));
    // The head's LayerNorm backward through its GELU, into hd1_grad_ (hd1_ the GELU's input).
    TRY(be.layernorm_backward_gelu_write(nullptr, hd1_grad_.data(), G + gpln_g_, G + gpln_b_, dtmp_m2_.data(),
                                         hg1_.data(), P + gpln_g_, hl_mean_.data(), hl_rstd_.data(), hd1_.data(), M, E));
    TRY(be.linear_backward_write(dtmp_m_.data(), G + gpd_w_, G + gpd_b_, hd1_grad_.data(), hm_.data(), P + gpd_w_, M,
                                 Hg, E));
    TRY(be.gather_rows_backward(dh_gen_.data(), dtmp_m_.data(), d_positions_.data(), M, Hg));
  }
  TRY(gen_.backward(P, G, dh_gen_.data(), g_emb_.dout.data(), g_emb_.out.data(), d_mask_.data(), mb->hp, mb->ap, seed,
                    mb->base + kSlotGenEnc));
  return embed_backward(d_gen_ids_.data(), &g_emb_, mb->hp, seed, mb->base + kSlotGenEmb);
}

// This micro-batch's metrics, from what its phases downloaded into its slot.
void ElectraModel::collect_metrics(const Micro& mb, int64_t k, StepMetrics* m, MetricCounts* c) {
  const int64_t M = mb.M, N = B_ * S_;
  const Slot& sl = mb.sl;
  // The backend's generator mean (index-order double sum of the row losses)
  // and accuracy count (step_loss), so the loss here has the bits of the one
  // the update's guard read.
  const double gl = sl.scalars[1];
  c->gen_correct += static_cast<int64_t>(sl.scalars[2]);
  m->gen_loss += gl / k;
  m->masked += M;
  m->tokens += mb.real;
  if (!electra_) {
    m->loss += gl / k;
    return;
  }
  // labels[i] = disc_ids[i] != ids[i], as make_disc_inputs (positions unique).
  std::fill(h_labels_.begin(), h_labels_.end(), 0.0f);
  for (int64_t r = 0; r < M; ++r) {
    const int32_t pos = sl.positions[r];
    h_labels_[static_cast<size_t>(pos)] = sl.sampled[r] != mb.ids[pos] ? 1.0f : 0.0f;
  }
  const SpecialIds sp{cfg_.pad_id, cfg_.cls_id, cfg_.sep_id, cfg_.mask_id};
  double csum = 0;
  int64_t cand = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (!sl.mask[i] || !maskable_token(mb.ids[i], sp)) continue;
    const float z = sl.dlogit[i];
    const bool pred = z > 0, lab = h_labels_[i] > 0.5f;
    (lab ? m->disc_hist_replaced : m->disc_hist_original)[auc_bin(z)] += 1;
    // BCE with logits, stable: softplus(z) - y z = max(z, 0) - y z + log1p(exp(-|z|)).
    csum += std::max(double(z), 0.0) - (lab ? double(z) : 0.0) + std::log1p(std::exp(-std::fabs(double(z))));
    ++cand;
    m->replaced += lab;
    c->disc_correct += pred == lab;
    c->tp += pred && lab;
    c->pred_pos += pred;
  }
  m->candidates += cand;
  m->disc_candidate_loss += (cand > 0 ? csum / double(cand) : 0) / k;
  const double dl = sl.scalars[0] / std::max<int64_t>(mb.real, 1);
  m->disc_loss += dl / k;
  m->loss += (gl + mb.t->disc_weight * dl) / k;
}

void ElectraModel::finish_metrics(const MetricCounts& c, StepMetrics* m) const {
  m->gen_accuracy = m->masked > 0 ? double(c.gen_correct) / double(m->masked) : 0;
  if (!electra_) return;
  m->disc_accuracy = m->candidates > 0 ? double(c.disc_correct) / double(m->candidates) : 0;
  m->disc_precision = c.pred_pos > 0 ? double(c.tp) / double(c.pred_pos) : 0;
  m->disc_recall = m->replaced > 0 ? double(c.tp) / double(m->replaced) : 0;
  m->replaced_fraction = m->candidates > 0 ? double(m->replaced) / double(m->candidates) : 0;
}

// Phase 6, update: the guard and the clipping by the global norm, the norm's
// download, then AdamW, all enqueued: the backend decides from the step's loss (d_scalars_[3]) and
// the norm whether the update runs (d_scalars_[5]), so no host round trip
// sits between the backward and the update. No update when `update` is false
// (the gradients stay unclipped; only the norm is measured), when the loss-spike
// guard skips the step, or when the loss or the norm is not finite.
Status ElectraModel::phase_update(const TrainConfig& t, const StepRun& r) {
  Backend& be = *be_;
  double* s = d_scalars_.data();
  TRY(be.guard_clip_grad_norm(s + 4, s + 5, G_, buf_.total, t.clip_norm, s + 3, t.skip_above_loss, r.update));
  if (r.metrics) TRY(be.download(tail_scalars(r.set), s + 4, 2 * sizeof(double)));
  if (r.update) {
    AdamWHyper h;
    h.step_values = &d_step_.data()->adam;  // lr and step: this step's, read when the update runs
    h.beta1 = t.beta1;
    h.beta2 = t.beta2;
    h.eps = t.adam_eps;
    h.weight_decay = t.weight_decay;
    h.bias_correction = t.bias_correction;
    h.apply = s + 5;
    TRY(be.adamw_update_table(table_, P_, G_, M_, V_, h));
  }
  return Status::Ok();
}

// The device part of one step: every value that changes from step to step
// comes from the staging slots or the step's values (d_step_), both uploaded
// here from pinned memory, so the same sequence replayed as a graph computes
// this step.
Status ElectraModel::enqueue_step(std::vector<Micro>& micros, const TrainConfig& t, const StepRun& r) {
  const bool train = r.train;
  TRY(be_->upload(d_step_.data(), h_step_.data() + r.set, sizeof(StepValues)));
  if (train) TRY(be_->zero(G_, sizeof(float) * static_cast<size_t>(buf_.total)));
  for (size_t micro = 0; micro < micros.size(); ++micro) {
    Micro& mb = micros[micro];
    TRY(upload_micro(mb.sl));  // inputs, masking and scales: one copy
    TRY(phase_generator(&mb));
    TRY(phase_sample(&mb));
    if (electra_) TRY(phase_discriminator(&mb));
    TRY(phase_losses(&mb, static_cast<int64_t>(micro)));
    if (train) TRY(phase_backward(&mb));
  }
  if (train) TRY(phase_update(t, r));
  return Status::Ok();
}

// Everything that the device part passes to an op by value, and every shape:
// two steps with the same key enqueue the same ops with the same arguments.
std::string ElectraModel::graph_key(const std::vector<Micro>& micros, const TrainConfig& t, const StepRun& r) const {
  char buf[512];
  std::snprintf(buf, sizeof(buf), "B%lld S%lld k%lld set%d metrics%d train%d update%d seed%llu T%a dw%a clip%a skip%a "
                "b%a,%a eps%a wd%a bc%d drop%a,%a",
                (long long)B_, (long long)S_, (long long)micros.size(), r.set, int(r.metrics), int(r.train),
                int(r.update),
                (unsigned long long)t.seed, double(t.temperature), double(t.disc_weight), double(t.clip_norm),
                double(t.skip_above_loss), double(t.beta1), double(t.beta2), double(t.adam_eps),
                double(t.weight_decay), int(t.bias_correction), double(micros[0].hp), double(micros[0].ap));
  std::string key = buf;
  return key;
}

// A step's device part as a CUDA graph where it can be: replayed when a graph
// of its key is kept; captured when a step of the same key ran plainly since
// the last resize (it grew the workspaces, so nothing allocates in the
// capture); plainly otherwise. The staging set is part of the key, so two
// sets alternate between two graphs. A capture that fails ran nothing: the step then
// runs plainly, and its key is not captured again.
Status ElectraModel::run_device_step(std::vector<Micro>& micros, const TrainConfig& t, const StepRun& r,
                                     bool graphs) {
  if (!graphs || !be_->graphs_enabled()) {
    ++graph_stats_.plain;
    return enqueue_step(micros, t, r);
  }
  const std::string key = graph_key(micros, t, r);
  bool found = false;
  TRY(be_->launch_graph(key, &found));
  if (found) {
    ++graph_stats_.launches;
    return Status::Ok();
  }
  if (!warm_keys_.count(key) || no_graph_.count(key)) {
    warm_keys_.insert(key);
    ++graph_stats_.plain;
    return enqueue_step(micros, t, r);
  }
  TRY(be_->begin_capture());
  const Status st = enqueue_step(micros, t, r);
  const Status end = be_->end_capture(key);
  if (st.ok() && end.ok()) {
    ++graph_stats_.captures;
    TRY(be_->launch_graph(key, &found));
    if (!found) return Status(StatusCode::kInternal, "a captured step graph was not kept");
    ++graph_stats_.launches;
    return Status::Ok();
  }
  graph_stats_.fallback = "the step could not be captured as a CUDA graph, so it runs op by op: " +
                          (st.ok() ? end : st).message();
  no_graph_.insert(key);
  ++graph_stats_.plain;
  return enqueue_step(micros, t, r);
}

// After the step's sync: the norm, and what the guard decided. The host's
// loss has the bits of the one the guard read (step_loss), so `skipped` is
// also what the host rule (loss > skip_above_loss) gives.
Status ElectraModel::check_update(int64_t step, const StepRun& r, StepMetrics* m) {
  const double* tail = tail_scalars(r.set);  // grad norm, apply flag
  m->grad_norm = tail[0];
  if (!std::isfinite(m->grad_norm) || !std::isfinite(m->loss))
    return Status(StatusCode::kDiverged, "non-finite loss or gradient norm at step " + std::to_string(step + 1) +
                                             " (1-based); no update was applied (diverged: lower the learning rate, or check the data)");
  m->skipped = r.update && tail[1] == 0.0;
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
  const int64_t N = b.rows * b.seq_len, R = static_cast<int64_t>(rows.size()), V = cfg_.vocab_size;
  for (int32_t r : rows)
    if (r < 0 || r >= N) return InvalidArgument("position " + std::to_string(r) + " is outside the batch");
  TRY(resize(b.rows, b.seq_len, std::max<int64_t>({maxM_, R, 1})));
  TRY(ensure_device());
  TRY(ensure_staging(1));
  TRY(settle());  // a step without metrics may still read staging set 0
  int64_t real = 0;
  TRY(upload_batch(b, 0, slot(0, 0), &real));
  const float eps = cfg_.layer_norm_eps;
  TRY(embed_forward(d_ids_.data(), &g_emb_, 0.0f, 0, 0));
  const float* hg = nullptr;
  TRY(gen_.forward(P_, g_emb_.out.data(), d_mask_.data(), eps, 0.0f, 0.0f, 0, 0, &hg));
  logits->resize(static_cast<size_t>(R * V));
  if (R == 0) return be_->sync();
  TRY(be_->upload(d_positions_.data(), rows.data(), sizeof(int32_t) * R));
  TRY(gen_head_forward(hg, d_positions_.data(), R, logits_.data()));
  TRY(be_->download(logits->data(), logits_.data(), sizeof(float) * R * V));
  return be_->sync();
}

Status ElectraModel::discriminate(const Batch& b, std::vector<float>* logits) {
  if (!electra_) return InvalidArgument("an MLM model has no discriminator");
  ELECTRA_RETURN_IF_ERROR(check_inference_batch(b));
  const int64_t N = b.rows * b.seq_len;
  TRY(resize(b.rows, b.seq_len, std::max<int64_t>(maxM_, 1)));
  TRY(ensure_device());
  TRY(ensure_staging(1));
  TRY(settle());  // a step without metrics may still read staging set 0
  int64_t real = 0;
  TRY(upload_batch(b, 0, slot(0, 0), &real));
  TRY(embed_forward(d_ids_.data(), &d_emb_, 0.0f, 0, 0));
  const float* hd = nullptr;
  TRY(disc_.forward(P_, d_emb_.out.data(), d_mask_.data(), cfg_.layer_norm_eps, 0.0f, 0.0f, 0, 0, &hd));
  TRY(disc_head_forward(hd, dlogit_.data()));
  logits->resize(static_cast<size_t>(N));
  TRY(be_->download(logits->data(), dlogit_.data(), sizeof(float) * N));
  return be_->sync();
}

}  // namespace electra
