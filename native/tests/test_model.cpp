// Whole-model tests of the CPU training step: finite differences through the
// full ELECTRA loss (dropout on), masking rules, determinism and resume.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/cpu/sampling.h"
#include "core/masking.h"
#include "core/electra_model.h"
#include "model_test_util.h"
#include "test_util.h"

using namespace electra;
using etest::make_model;

namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 40;
  c.embedding_size = 12;
  c.max_position = 16;
  c.type_vocab_size = 2;
  c.disc = {16, 2, 2, 32};
  c.gen = {8, 2, 1, 32};
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  return c;
}

TrainConfig tiny_train() {
  TrainConfig t;
  t.batch = 3;
  t.seq_len = 12;
  t.lr = 2e-3f;
  t.warmup_steps = 3;
  t.total_steps = 100;
  t.seed = 7;
  return t;
}

// [CLS] w... [SEP] with some padding; ids from 5..V-1.
struct Data {
  std::vector<int32_t> ids, types, mask;
};
Data make_data(int64_t B, int64_t S, int64_t V, uint64_t salt) {
  Data d;
  d.ids.assign(B * S, 0); d.types.assign(B * S, 0); d.mask.assign(B * S, 0);
  for (int64_t b = 0; b < B; ++b) {
    int64_t len = S - (b % 3) * 2;
    for (int64_t s = 0; s < len; ++s) {
      int64_t i = b * S + s;
      d.mask[i] = 1;
      d.ids[i] = s == 0 ? 2 : s == len - 1 ? 3 : static_cast<int32_t>(5 + (b * 131 + s * 17 + salt * 7 + s * s) % (V - 5));
      d.types[i] = s > len / 2 ? 1 : 0;
    }
  }
  return d;
}

Batch as_batch(const Data& d, int64_t rows, int64_t S) {
  Batch b;
  b.input_ids = d.ids.data(); b.token_type_ids = d.types.data(); b.attention_mask = d.mask.data();
  b.rows = rows; b.seq_len = S;
  return b;
}

}  // namespace

TEST(model_param_table_names) {
  auto m = make_model(tiny_config(), 1);
  const ParamTable& t = m->table();
  for (const char* n : {"electra.embeddings.word_embeddings.weight", "electra.embeddings_project.weight",
                        "electra.encoder.layer.1.attention.self.query.weight", "discriminator_predictions.dense_prediction.weight",
                        "generator.embeddings_project.bias", "generator.encoder.layer.0.output.LayerNorm.weight",
                        "generator_predictions.dense.weight", "generator_lm_head.bias"})
    CHECK(t.find(n) != nullptr) << n;
  CHECK(!t.find("electra.embeddings.LayerNorm.weight")->decay);
  CHECK(!t.find("generator_lm_head.bias")->decay);
  CHECK(t.find("generator_predictions.dense.weight")->decay);
  ModelConfig bad = tiny_config();
  bad.disc.heads = 3;
  std::unique_ptr<ElectraModel> mb;
  Status st = ElectraModel::create(bad, &mb);
  CHECK(!st.ok() && st.code() == StatusCode::kInvalidArgument && st.message().find("heads must divide hidden") != std::string::npos)
      << st.message();
  bad = tiny_config();
  bad.vocab_size = 3;
  st = ElectraModel::create(bad, &mb);
  CHECK(!st.ok() && st.message().find("vocab too small") != std::string::npos) << st.message();
}

TEST(model_gumbel_sampling_distribution) {
  // Gumbel-max over logits log(q) samples from q.
  const int64_t R = 20000, V = 4;
  std::vector<float> logits(R * V);
  const double q[4] = {0.1, 0.2, 0.3, 0.4};
  for (int64_t r = 0; r < R; ++r)
    for (int64_t v = 0; v < V; ++v) logits[r * V + v] = static_cast<float>(std::log(q[v]));
  std::vector<int32_t> s(R);
  cpu::gumbel_sample(s.data(), logits.data(), R, V, 1.0f, 5, 9);
  std::vector<double> cnt(V, 0);
  for (int32_t x : s) cnt[x]++;
  for (int64_t v = 0; v < V; ++v) CHECK(std::fabs(cnt[v] / R - q[v]) < 0.015) << "class " << v << " freq " << cnt[v] / R;
}

// Directional finite difference of the full loss (gen + 50 * disc), with
// dropout on: masks are counter-based, so the loss is a smooth function of the
// parameters once positions and samples are fixed. fp32 forward: central
// difference with eps = 3e-3 (1e-2 already shows curvature) along a unit-norm direction per tensor; tolerance 2e-2.
namespace {

// Directional finite differences of the whole step's loss (dropout on, fixed
// masks and samples) for every tensor, against the analytic gradient.
void check_full_step_fd(const ModelConfig& c_in, const char* what) {
  ModelConfig c = c_in;
  c.hidden_dropout = 0.1f;
  c.attention_dropout = 0.1f;
  TrainConfig t = tiny_train();
  t.mask_prob = 0.4f;
  auto m = make_model(c, 3);
  Data d = make_data(t.batch, t.seq_len, c.vocab_size, 1);
  Batch b = as_batch(d, t.batch, t.seq_len);
  StepOverrides ov;
  std::vector<int32_t> gen(t.batch * t.seq_len);
  dynamic_mask(MaskingMode::kExactCount, &ov.masked_positions, gen.data(), d.ids.data(), d.mask.data(), t.batch, t.seq_len, t.mask_prob, max_predictions(t),
                    {0, 2, 3, 4}, 1, 0);
  ov.generator_input_ids = gen;
  for (size_t i = 0; i < ov.masked_positions.size(); ++i)
    ov.sampled_ids.push_back(i % 3 == 0 ? d.ids[ov.masked_positions[i]] : static_cast<int32_t>(5 + i));
  ov.apply_update = false;
  StepMetrics sm;
  Status st = m->train_step(t, b, 0, &sm, &ov);
  CHECK(st.ok()) << st.message();
  const int64_t n = m->buffers().total;
  std::vector<float> g(m->buffers().grads, m->buffers().grads + n);
  std::vector<float> p0(m->buffers().params, m->buffers().params + n);
  // Per tensor group: a random direction restricted to that tensor.
  for (const auto& spec : m->table().specs()) {
    std::vector<float> dir(spec.numel);
    etest::fill_uniform(dir.data(), spec.numel, -1, 1);
    double nrm = 0;
    for (float x : dir) nrm += double(x) * x;
    for (float& x : dir) x = static_cast<float>(x / std::sqrt(nrm));  // unit L2 norm
    double gd = 0;
    for (int64_t i = 0; i < spec.numel; ++i) gd += double(g[spec.offset + i]) * dir[i];
    const float eps = 3e-3f;
    double L[2];
    for (int sgn = 0; sgn < 2; ++sgn) {
      float* P = m->buffers().params;
      for (int64_t i = 0; i < spec.numel; ++i) P[spec.offset + i] = p0[spec.offset + i] + (sgn ? -eps : eps) * dir[i];
      StepMetrics sm2;
      st = m->train_step(t, b, 0, &sm2, &ov);
      L[sgn] = sm2.loss;
      std::memcpy(P + spec.offset, p0.data() + spec.offset, sizeof(float) * spec.numel);
    }
    double fd = (L[0] - L[1]) / (2 * eps);
    double err = std::fabs(fd - gd) / std::max(1e-2, std::fabs(gd));
    CHECK(err < 2e-2) << what << " " << spec.name << ": analytic " << gd << " vs fd " << fd;
  }
}

}  // namespace

TEST(model_full_step_gradient_fd) { check_full_step_fd(tiny_config(), "electra"); }

// The same under objective 'mlm' (generator alone, BERT-style): catches a
// wrong masked-LM gradient that the loss-equality checks cannot see.
TEST(model_full_step_gradient_fd_mlm) {
  ModelConfig c = tiny_config();
  c.objective = Objective::kMlm;
  c.gen = c.disc;
  check_full_step_fd(c, "mlm");
}

// MLM training learns: after a short run on data whose tokens depend on their
// context, the masked-LM loss is below the unigram entropy of the targets,
// which is the best any context-free predictor can do. Mutations caught: an
// MLM step that does not update, or updates with a wrong gradient sign.
TEST(model_mlm_training_beats_unigram_entropy) {
  ModelConfig c = tiny_config();
  c.objective = Objective::kMlm;
  c.gen = c.disc;
  auto m = make_model(c, 5);
  if (!m) return;
  TrainConfig t = tiny_train();
  t.batch = 8;
  t.lr = 2e-3f;
  t.warmup_steps = 20;
  t.total_steps = 600;
  // Counting rows: [CLS] a, a+1, a+2, ... [SEP] (mod the 35 ordinary ids),
  // a new random start a per row: a masked token is its neighbour + 1, while
  // every id is about equally frequent.
  std::vector<Data> data;
  std::vector<double> count(c.vocab_size, 0.0);
  double total = 0;
  const int32_t W = static_cast<int32_t>(c.vocab_size - 5);
  std::mt19937 starts(17);  // its own stream: the data do not depend on which tests ran before
  for (uint64_t salt = 0; salt < 16; ++salt) {
    Data d = make_data(t.batch, t.seq_len, c.vocab_size, salt);  // for its padding and types
    for (int64_t b = 0; b < t.batch; ++b) {
      const int32_t a = static_cast<int32_t>(starts() % static_cast<uint32_t>(W));
      for (int64_t s = 1; s < t.seq_len; ++s) {
        const int64_t i = b * t.seq_len + s;
        if (!d.mask[i] || d.ids[i] == 3) continue;  // padding, [SEP]
        d.ids[i] = 5 + (a + static_cast<int32_t>(s)) % W;
        count[d.ids[i]] += 1;
        total += 1;
      }
    }
    data.push_back(d);
  }
  double entropy = 0;  // nats, over the maskable (non-special) tokens
  for (double k : count)
    if (k > 0) entropy -= k / total * std::log(k / total);
  double late = 0;
  int late_n = 0;
  for (int64_t s = 0; s < 600; ++s) {
    const Data& d = data[s % data.size()];
    StepMetrics sm;
    Status st = m->train_step(t, as_batch(d, t.batch, t.seq_len), s, &sm);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) return;
    if (s >= 550) {
      late += sm.gen_loss;
      ++late_n;
    }
  }
  late /= late_n;
  // The 50-step mean has a noise of about 0.05 nats (about 12 masked tokens a
  // step); 0.25 below the entropy is far outside it, and an untrained model
  // sits at about log(40) = 3.7, above the entropy.
  CHECK_LT(late, entropy - 0.25) << "MLM loss over the last 50 steps vs the unigram entropy " << entropy;
}

TEST(model_determinism_and_resume) {
  ModelConfig c = tiny_config();
  TrainConfig t = tiny_train();
  t.grad_accum = 2;
  Data d = make_data(t.batch * 2, t.seq_len, c.vocab_size, 5);
  Batch b = as_batch(d, t.batch * 2, t.seq_len);
  auto a = make_model(c, 9), z = make_model(c, 9), r = make_model(c, 9);
  std::vector<double> la, lz;
  for (int64_t s = 0; s < 20; ++s) {
    StepMetrics ma, mz;
    CHECK(a->train_step(t, b, s, &ma).ok());
    CHECK(z->train_step(t, b, s, &mz).ok());
    la.push_back(ma.loss);
    lz.push_back(mz.loss);
    if (s == 9) {
      // "save" after 10 steps: weights and optimizer state; the RNG state is the step index.
      auto& src = a->buffers();
      auto& dst = r->buffers();
      std::memcpy(dst.params, src.params, sizeof(float) * src.total);
      std::memcpy(dst.m, src.m, sizeof(float) * src.total);
      std::memcpy(dst.v, src.v, sizeof(float) * src.total);
    }
    if (s >= 10) {
      StepMetrics mr;
      CHECK(r->train_step(t, b, s, &mr).ok());
      CHECK(std::memcmp(&mr.loss, &ma.loss, sizeof(double)) == 0) << "resumed step " << s << " differs";
    }
  }
  CHECK(std::memcmp(la.data(), lz.data(), sizeof(double) * la.size()) == 0) << "same seed gave different losses";
  CHECK(std::memcmp(a->buffers().params, r->buffers().params, sizeof(float) * a->buffers().total) == 0);
  CHECK(la.back() < la.front()) << "loss did not fall: " << la.front() << " -> " << la.back();
}

// A step asked for no metrics (train_step with m == nullptr) is the same step:
// interleaved with steps that ask, the metrics and the weights keep their bits.
TEST(model_step_without_metrics_is_the_same_step) {
  ModelConfig c = tiny_config();
  TrainConfig t = tiny_train();
  t.grad_accum = 2;
  Data d = make_data(t.batch * 2, t.seq_len, c.vocab_size, 6);
  Batch b = as_batch(d, t.batch * 2, t.seq_len);
  auto lazy = make_model(c, 9), eager = make_model(c, 9);
  for (int64_t s = 0; s < 6; ++s) {
    const bool want = s % 3 == 2;
    StepMetrics ml, me;
    CHECK(lazy->train_step(t, b, s, want ? &ml : nullptr).ok());
    CHECK(eager->train_step(t, b, s, &me).ok());
    if (want) CHECK(std::memcmp(&ml.loss, &me.loss, sizeof(double)) == 0) << "step " << s;
  }
  etest::check_same_state(lazy.get(), eager.get());
  CHECK(lazy->evaluate(t, b, 0, nullptr).code() == StatusCode::kInvalidArgument);
}

TEST(model_mlm_objective_and_bad_batch) {
  ModelConfig c = tiny_config();
  c.objective = Objective::kMlm;
  c.gen = c.disc;
  auto m = make_model(c, 2);
  CHECK(m->table().find("discriminator_predictions.dense.weight") == nullptr);
  TrainConfig t = tiny_train();
  Data d = make_data(t.batch, t.seq_len, c.vocab_size, 2);
  StepMetrics sm;
  Status st = m->train_step(t, as_batch(d, t.batch, t.seq_len), 0, &sm);
  CHECK(st.ok()) << st.message();
  CHECK(std::fabs(sm.loss - sm.gen_loss) < 1e-12 && sm.disc_loss == 0);
  d.ids[5] = 999;
  st = m->train_step(t, as_batch(d, t.batch, t.seq_len), 1, &sm);
  CHECK(!st.ok() && st.code() == StatusCode::kInvalidArgument && st.message().find("outside the vocabulary") != std::string::npos)
      << st.message();
  st = m->train_step(t, as_batch(d, t.batch - 1, t.seq_len), 1, &sm);
  CHECK(!st.ok() && st.code() == StatusCode::kInvalidArgument);
}

// evaluate() is the step's forward with dropout off: the same loss as a
// dropout-free training step at the same (seed, index), and no side effects.
TEST(model_evaluate_matches_forward_and_changes_nothing) {
  ModelConfig c = tiny_config();
  c.hidden_dropout = 0;
  c.attention_dropout = 0;
  TrainConfig t = tiny_train();
  auto a = make_model(c, 4);
  Data d = make_data(t.batch, t.seq_len, c.vocab_size, 8);
  Batch b = as_batch(d, t.batch, t.seq_len);
  std::vector<float> before(a->buffers().params, a->buffers().params + a->buffers().total);
  StepMetrics ev, ev2, tr;
  CHECK(a->evaluate(t, b, 3, &ev).ok());
  CHECK(a->evaluate(t, b, 3, &ev2).ok());
  CHECK(std::memcmp(a->buffers().params, before.data(), sizeof(float) * before.size()) == 0) << "evaluate changed parameters";
  CHECK(ev.loss == ev2.loss && ev.grad_norm == 0 && ev.lr == 0);
  CHECK(a->train_step(t, b, 3, &tr).ok());
  CHECK(std::fabs(ev.loss - tr.loss) <= 1e-6 * std::fabs(tr.loss)) << ev.loss << " vs " << tr.loss;
  CHECK(ev.masked == tr.masked && ev.replaced == tr.replaced);
}

// The detection metrics count the candidates: real tokens the masking may
// pick ([CLS], [SEP] and padding are never replaced). Each candidate lands
// once, in the bin of its logit, in the replaced or the original histogram;
// the candidate loss is their mean BCE; accuracy and the replaced fraction are
// over them too. Masks and samples are fixed, so the labels are known here.
// Mutations caught: counting padding or [CLS]/[SEP], swapping the two
// histograms, a bin formula off by one bin, a BCE sign or a wrong denominator.
TEST(model_step_detection_metrics_count_the_candidate_tokens) {
  CHECK(auc_bin(-1e9f) == 0 && auc_bin(1e9f) == kAucBins - 1 && auc_bin(NAN) == 0);
  CHECK(auc_bin(0.0f) == kAucBins / 2 && auc_bin(-1e-6f) == kAucBins / 2 - 1);
  CHECK(auc_bin(-kAucLogitRange + 1.5f * 2 * kAucLogitRange / kAucBins) == 1);
  ModelConfig c = tiny_config();
  TrainConfig t = tiny_train();
  t.mask_prob = 0.25f;  // room for 2 masked positions per row
  auto m = make_model(c, 4);
  Data d = make_data(t.batch, t.seq_len, c.vocab_size, 5);
  const int64_t N = t.batch * t.seq_len;
  std::vector<float> logits;
  StepOverrides ov;
  ov.apply_update = false;
  ov.disc_logits_out = &logits;
  // Mask positions 1 and 2 of every row; position 1 gets a different token
  // (replaced), position 2 its own (a correct sample: original).
  ov.generator_input_ids = d.ids;
  std::vector<uint8_t> replaced(static_cast<size_t>(N), 0);
  for (int64_t b = 0; b < t.batch; ++b) {
    for (int64_t s : {1, 2}) {
      const int64_t i = b * t.seq_len + s;
      ov.masked_positions.push_back(static_cast<int32_t>(i));
      ov.generator_input_ids[i] = c.mask_id;
      const int32_t orig = d.ids[i];
      const int32_t other = static_cast<int32_t>(5 + (orig - 5 + 1) % (c.vocab_size - 5));
      ov.sampled_ids.push_back(s == 1 ? other : orig);
      replaced[i] = s == 1;
    }
  }
  StepMetrics sm;
  Status st = m->train_step(t, as_batch(d, t.batch, t.seq_len), 2, &sm, &ov);
  CHECK(st.ok()) << st.message();
  std::vector<double> want_r(kAucBins, 0.0), want_o(kAucBins, 0.0);
  double bce = 0;
  int64_t cand = 0, real = 0, correct = 0, nrep = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (!d.mask[i]) continue;
    ++real;
    if (d.ids[i] == c.cls_id || d.ids[i] == c.sep_id) continue;
    ++cand;
    const double z = logits[i];
    (replaced[i] ? want_r : want_o)[auc_bin(logits[i])] += 1;
    bce += replaced[i] ? std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
    correct += (z > 0) == (replaced[i] != 0);
    nrep += replaced[i];
  }
  bool same = true;
  for (int k = 0; k < kAucBins; ++k) same = same && sm.disc_hist_replaced[k] == want_r[k] && sm.disc_hist_original[k] == want_o[k];
  CHECK(same) << "histograms differ from the candidates' logits";
  CHECK(cand < real && sm.tokens == real && sm.candidates == cand) << cand << " candidates of " << real << "; got " << sm.candidates;
  CHECK(sm.replaced == nrep && nrep == t.batch) << sm.replaced;
  CHECK(std::fabs(sm.disc_candidate_loss - bce / double(cand)) <= 1e-9 * bce) << sm.disc_candidate_loss << " vs " << bce / double(cand);
  CHECK(std::fabs(sm.disc_accuracy - double(correct) / double(cand)) < 1e-12 && std::fabs(sm.replaced_fraction - double(nrep) / double(cand)) < 1e-12);
}

// Gradient accumulation, checked against its definition: with the update off,
// the k = 2 step s over rows [A; B] gives the mean of the k = 1 gradients of
// step 2s over A and step 2s+1 over B (micro-batch j of step s draws from
// Philox window s*k + j, so those are the same masks, samples and dropout),
// with the loss and the grad norm to match.
// Mutations caught: drop the 1/k scaling of either loss (gradients and loss
// 2x), give every micro-batch the same Philox window (micro-batch 1 masks and
// samples as step 2s), skip zeroing between micro-batches, or average the
// discriminator loss over the whole batch's tokens instead of per micro-batch.
TEST(model_grad_accumulation_is_the_mean_of_micro_batches) {
  ModelConfig c = tiny_config();
  TrainConfig t = tiny_train();
  const int64_t B = t.batch, S = t.seq_len, step = 3;
  Data d = make_data(2 * B, S, c.vocab_size, 11);
  StepOverrides no_update;
  no_update.apply_update = false;

  auto acc = make_model(c, 4), one = make_model(c, 4);
  if (!acc || !one) return;
  t.grad_accum = 2;
  StepMetrics ma;
  Status st = acc->train_step(t, as_batch(d, 2 * B, S), step, &ma, &no_update);
  CHECK(st.ok()) << st.message();
  const int64_t n = acc->buffers().total;
  std::vector<double> g_acc(acc->buffers().grads, acc->buffers().grads + n);

  t.grad_accum = 1;
  std::vector<double> g_mean(n, 0.0);
  double loss_mean = 0, gen_mean = 0, disc_mean = 0;
  for (int64_t half = 0; half < 2; ++half) {
    Batch b = as_batch(d, B, S);
    b.input_ids += half * B * S;
    b.token_type_ids += half * B * S;
    b.attention_mask += half * B * S;
    StepMetrics m1;
    st = one->train_step(t, b, 2 * step + half, &m1, &no_update);
    CHECK(st.ok()) << st.message();
    for (int64_t i = 0; i < n; ++i) g_mean[i] += 0.5 * one->buffers().grads[i];
    loss_mean += 0.5 * m1.loss;
    gen_mean += 0.5 * m1.gen_loss;
    disc_mean += 0.5 * m1.disc_loss;
  }
  std::vector<float> ga(g_acc.begin(), g_acc.end());
  CHECK_LT(etest::rel_error(ga.data(), g_mean.data(), n), 1e-5) << "k=2 gradient vs the mean of two k=1 gradients";
  CHECK_LT(std::fabs(ma.loss - loss_mean), 1e-6 * std::fabs(loss_mean)) << ma.loss << " vs " << loss_mean;
  CHECK_LT(std::fabs(ma.gen_loss - gen_mean), 1e-6 * gen_mean);
  CHECK_LT(std::fabs(ma.disc_loss - disc_mean), 1e-6 * disc_mean);
  double norm = 0;
  for (double g : g_mean) norm += g * g;
  norm = std::sqrt(norm);
  CHECK_LT(std::fabs(ma.grad_norm - norm), 1e-5 * norm) << ma.grad_norm << " vs " << norm;
  // Not vacuous: the two halves' gradients differ, so a wrong pairing shows.
  CHECK(ma.grad_norm > 0 && ma.masked > 0);
}
