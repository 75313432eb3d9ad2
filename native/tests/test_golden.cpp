// The whole model against HF transformers: test/golden/electra_tiny_step.safetensors
// is written by scripts/reference/make_golden.py (ElectraForMaskedLM +
// ElectraForPreTraining with shared embeddings and a tied LM head, dropout off,
// fixed masked positions and samples). Compared: logits and losses (< 1e-4),
// every gradient (< 1e-3), and parameters and Adam moments after 3 reference
// AdamW steps (< 1e-4), all as max relative error over each tensor.
#include <cmath>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/electra_model.h"
#include "core/safetensors.h"
#include "test_util.h"

using namespace electra;

namespace {

std::string golden_path() {
#ifdef ELECTRA_SOURCE_DIR
  return std::string(ELECTRA_SOURCE_DIR) + "/test/golden/electra_tiny_step.safetensors";
#else
  return "test/golden/electra_tiny_step.safetensors";
#endif
}

ModelConfig golden_config() {
  ModelConfig c;
  c.vocab_size = 64;
  c.embedding_size = 16;
  c.max_position = 16;
  c.type_vocab_size = 2;
  c.disc = {32, 2, 2, 64};
  c.gen = {24, 2, 1, 96};
  c.layer_norm_eps = 1e-12f;
  c.hidden_dropout = 0;
  c.attention_dropout = 0;
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  return c;
}

TrainConfig golden_train() {
  TrainConfig t;
  t.batch = 3;
  t.seq_len = 12;
  t.mask_prob = 0.25f;  // only sizes the masked-row buffers (3 per sequence); positions are given
  t.disc_weight = 50;
  t.lr = 1e-3f;
  t.warmup_steps = 2;
  t.total_steps = 10;
  t.clip_norm = 1.0f;
  t.weight_decay = 0.01f;
  t.adam_eps = 1e-6f;
  t.bias_correction = false;
  return t;
}

struct Golden {
  SafeTensorsFile f;
  std::vector<int32_t> ids, types, mask, positions, gen_ids, sampled;
  bool ok = false;
};

bool load(Golden* g) {
  Status st = g->f.open(golden_path());
  CHECK(st.ok()) << "golden file: " << st.message();
  if (!st.ok()) return false;
  for (auto& p : std::vector<std::pair<const char*, std::vector<int32_t>*>>{
           {"input_ids", &g->ids}, {"token_type_ids", &g->types}, {"attention_mask", &g->mask},
           {"masked_positions", &g->positions}, {"generator_input_ids", &g->gen_ids}, {"sampled_ids", &g->sampled}}) {
    st = g->f.read_i32(p.first, p.second);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) return false;
  }
  const auto& md = g->f.metadata();
  auto it = md.find("config");
  CHECK(it != md.end() && it->second.find("\"vocab_size\": 64") != std::string::npos &&
        it->second.find("\"embedding_size\": 16") != std::string::npos)
      << "golden config differs from the one this test hard-codes";
  return true;
}

std::unique_ptr<ElectraModel> model_from(const Golden& g, const char* prefix) {
  std::unique_ptr<ElectraModel> m;
  Status st = ElectraModel::create(golden_config(), &m);
  CHECK(st.ok()) << st.message();
  if (!st.ok()) return nullptr;
  for (const auto& s : m->table().specs()) {
    std::vector<float> v;
    st = g.f.read_f32(std::string(prefix) + s.name, &v);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) return nullptr;
    CHECK(static_cast<int64_t>(v.size()) == s.numel) << s.name;
    std::copy(v.begin(), v.end(), m->buffers().params + s.offset);
  }
  return m;
}

Batch batch_of(const Golden& g) {
  Batch b;
  b.input_ids = g.ids.data(); b.token_type_ids = g.types.data(); b.attention_mask = g.mask.data();
  b.rows = 3; b.seq_len = 12;
  return b;
}

StepOverrides overrides_of(const Golden& g) {
  StepOverrides ov;
  ov.masked_positions = g.positions;
  ov.generator_input_ids = g.gen_ids;
  ov.sampled_ids = g.sampled;
  return ov;
}

// Max |a - b| over max(max |b|, floor). The floor matters for tensors whose
// exact value is 0: the attention key bias gradient is exactly zero (softmax is
// invariant to q.b_k, a per-query constant), so both sides hold only roundoff.
double rel_error_floor(const float* a, const std::vector<float>& b, double floor) {
  double num = 0, den = floor;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::fmax(num, std::fabs(double(a[i]) - b[i]));
    den = std::fmax(den, std::fabs(double(b[i])));
  }
  return num / den;
}

double scalar(const Golden& g, const char* name) {
  std::vector<float> v;
  CHECK(g.f.read_f32(name, &v).ok() && v.size() == 1) << name;
  return v.empty() ? NAN : v[0];
}

}  // namespace

TEST(golden_hf_forward_losses_and_gradients) {
  Golden g;
  if (!load(&g)) return;
  auto m = model_from(g, "param/");
  if (!m) return;
  StepOverrides ov = overrides_of(g);
  std::vector<float> gl, dl;
  ov.gen_logits_out = &gl;
  ov.disc_logits_out = &dl;
  ov.apply_update = false;
  StepMetrics sm;
  Status st = m->train_step(golden_train(), batch_of(g), 0, &sm, &ov);
  CHECK(st.ok()) << st.message();
  if (!st.ok()) return;
  std::vector<float> ref;
  CHECK(g.f.read_f32("gen_logits", &ref).ok());
  CHECK(ref.size() == gl.size()) << "gen logits size " << gl.size() << " vs " << ref.size();
  if (ref.size() == gl.size()) CHECK_LT(etest::rel_error(gl.data(), ref.data(), ref.size()), 1e-4) << "generator logits";
  CHECK(g.f.read_f32("disc_logits", &ref).ok());
  // Padding positions carry logits too (HF computes them); compare only real tokens.
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!g.mask[i]) continue;
    num = std::fmax(num, std::fabs(dl[i] - ref[i]));
    den = std::fmax(den, std::fabs(ref[i]));
  }
  CHECK_LT(num / den, 1e-4) << "discriminator logits";
  for (auto [name, got] : {std::pair<const char*, double>{"gen_loss", sm.gen_loss}, {"disc_loss", sm.disc_loss}, {"total_loss", sm.loss}}) {
    double want = scalar(g, name);
    CHECK_LT(std::fabs(got - want) / std::fabs(want), 1e-4) << name << " " << got << " vs " << want;
  }
  int checked = 0;
  for (const auto& s : m->table().specs()) {
    st = g.f.read_f32("grad/" + s.name, &ref);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) continue;
    CHECK_LT(rel_error_floor(m->buffers().grads + s.offset, ref, 1e-5), 1e-3) << "gradient of " << s.name;
    ++checked;
  }
  CHECK(checked == static_cast<int>(m->table().specs().size()));
}

TEST(golden_hf_three_adamw_steps) {
  Golden g;
  if (!load(&g)) return;
  auto m = model_from(g, "param/");
  if (!m) return;
  StepOverrides ov = overrides_of(g);
  std::vector<float> lr, norms;
  CHECK(g.f.read_f32("lr", &lr).ok());
  CHECK(g.f.read_f32("grad_norm", &norms).ok());
  for (int64_t step = 0; step < 3; ++step) {
    StepMetrics sm;
    Status st = m->train_step(golden_train(), batch_of(g), step, &sm, &ov);
    CHECK(st.ok()) << st.message();
    if (lr.size() == 3) CHECK(std::fabs(sm.lr - lr[step]) <= 1e-9 + 1e-6 * std::fabs(lr[step])) << "lr at step " << step << ": " << sm.lr << " vs " << lr[step];
    if (norms.size() == 3) CHECK_LT(std::fabs(sm.grad_norm - norms[step]) / norms[step], 1e-3) << "grad norm at step " << step;
  }
  std::vector<float> ref;
  for (const auto& s : m->table().specs()) {
    // Moments follow the gradients (< 1e-3, floors as for gradients: v ~ g^2); parameters < 1e-4.
    for (auto [prefix, buf, floor, tol] : {std::tuple<const char*, float*, double, double>{"param3/", m->buffers().params, 1e-30, 1e-4},
                                           {"m3/", m->buffers().m, 1e-5, 1e-3},
                                           {"v3/", m->buffers().v, 1e-10, 1e-3}}) {
      Status st = g.f.read_f32(prefix + s.name, &ref);
      CHECK(st.ok()) << st.message();
      if (!st.ok()) continue;
      CHECK_LT(rel_error_floor(buf + s.offset, ref, floor), tol) << prefix << s.name;
    }
  }
}

// Which tensors AdamW decays, for all of them, against the golden file's
// "decay" map (make_golden.py's rule: no decay on LayerNorm and biases, as the
// ELECTRA reference). The golden learning rates make decay move a tensor by at
// most 1.4e-5 of its scale, below the optimizer check's tolerance, so only
// this test sees a wrong flag. Mutation caught: flip any spec's decay flag
// (e.g. decay LayerNorm weights, or exempt the embeddings).
TEST(golden_weight_decay_flags_every_tensor) {
  Golden g;
  if (!load(&g)) return;
  const auto& md = g.f.metadata();
  auto it = md.find("decay");
  CHECK(it != md.end()) << "golden file has no decay map";
  if (it == md.end()) return;
  const std::string& js = it->second;  // {"name": true, ...} (sorted keys, json.dumps)
  std::unique_ptr<ElectraModel> m = model_from(g, "param/");
  if (!m) return;
  int64_t checked = 0, in_map = 0;
  for (size_t p = 0; (p = js.find('"', p)) != std::string::npos;) {
    const size_t q = js.find('"', p + 1);
    const std::string name = js.substr(p + 1, q - p - 1);
    const size_t v = js.find_first_not_of(": ", q + 1);
    const bool decay = js.compare(v, 4, "true") == 0;
    p = v;
    ++in_map;
    const TensorSpec* s = m->table().find(name);
    CHECK(s != nullptr) << name << " is in the golden decay map but not in the model";
    if (!s) continue;
    CHECK(s->decay == decay) << name << ": model decay=" << s->decay << ", golden " << decay;
    ++checked;
  }
  CHECK(checked == static_cast<int64_t>(m->table().specs().size()) && in_map == checked)
      << "checked " << checked << " of " << m->table().specs().size() << " tensors (map has " << in_map << ")";
}
