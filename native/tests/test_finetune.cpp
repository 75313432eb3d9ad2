// The fine-tuning model (core/finetune_model.h):
//  - HF parity against test/golden/electra_finetune_step.safetensors (written
//    by scripts/reference/make_finetune_golden.py: ElectraForSequenceClassification
//    with 3 classes and with regression, ElectraForTokenClassification with 4
//    tags, on the same encoder weights, dropout off). Tolerances as the
//    pre-training golden test: logits and loss < 1e-4, every gradient < 1e-3,
//    parameters after 3 reference AdamW steps with layer-wise rates < 1e-4
//    (max relative error over each tensor).
//  - the layer-wise learning-rate depth map for L = 12, tensor by tensor;
//  - directional finite differences of the whole step with dropout on;
//  - bad labels and configs become errors.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/finetune_model.h"
#include "core/safetensors.h"
#include "test_util.h"

using namespace electra;

namespace {

std::string golden_path() {
#ifdef ELECTRA_SOURCE_DIR
  return std::string(ELECTRA_SOURCE_DIR) + "/test/golden/electra_finetune_step.safetensors";
#else
  return "test/golden/electra_finetune_step.safetensors";
#endif
}

ModelConfig golden_encoder() {
  ModelConfig c;
  c.vocab_size = 64;
  c.embedding_size = 16;
  c.max_position = 16;
  c.type_vocab_size = 2;
  c.disc = {32, 2, 2, 64};
  c.layer_norm_eps = 1e-12f;
  c.hidden_dropout = 0;
  c.attention_dropout = 0;
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  return c;
}

FinetuneConfig task_config(const std::string& task) {
  FinetuneConfig f;
  f.model = golden_encoder();
  if (task == "cls") { f.head = HeadKind::kClassification; f.num_labels = 3; }
  if (task == "reg") { f.head = HeadKind::kRegression; f.num_labels = 1; }
  if (task == "tok") { f.head = HeadKind::kToken; f.num_labels = 4; }
  return f;
}

TrainConfig golden_train() {
  TrainConfig t;
  t.lr = 1e-3f;
  t.warmup_steps = 1;
  t.total_steps = 10;
  t.clip_norm = 1.0f;
  t.weight_decay = 0.01f;
  t.adam_eps = 1e-6f;
  t.bias_correction = false;
  return t;
}

struct Golden {
  SafeTensorsFile f;
  std::vector<int32_t> ids, types, mask, cls_labels, tok_labels;
  std::vector<float> reg_targets;
};

bool load(Golden* g) {
  Status st = g->f.open(golden_path());
  CHECK(st.ok()) << "golden file: " << st.message();
  if (!st.ok()) return false;
  for (auto& p : std::vector<std::pair<const char*, std::vector<int32_t>*>>{
           {"input_ids", &g->ids}, {"token_type_ids", &g->types}, {"attention_mask", &g->mask},
           {"cls_labels", &g->cls_labels}, {"tok_labels", &g->tok_labels}}) {
    st = g->f.read_i32(p.first, p.second);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) return false;
  }
  st = g->f.read_f32("reg_targets", &g->reg_targets);
  CHECK(st.ok()) << st.message();
  const auto it = g->f.metadata().find("config");
  CHECK(it != g->f.metadata().end() && it->second.find("\"hidden_size\": 32") != std::string::npos &&
        it->second.find("\"embedding_size\": 16") != std::string::npos)
      << "golden config differs from the one this test hard-codes";
  return st.ok();
}

std::unique_ptr<FinetuneModel> model_from(const Golden& g, const std::string& task) {
  std::unique_ptr<FinetuneModel> m;
  Status st = FinetuneModel::create(task_config(task), &m);
  CHECK(st.ok()) << st.message();
  if (!st.ok()) return nullptr;
  for (const auto& s : m->table().specs()) {
    std::vector<float> v;
    st = g.f.read_f32(task + "/param/" + s.name, &v);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) return nullptr;
    CHECK(static_cast<int64_t>(v.size()) == s.numel) << s.name;
    std::copy(v.begin(), v.end(), m->buffers().params + s.offset);
  }
  m->host_modified();
  return m;
}

FinetuneBatch batch_of(const Golden& g, const std::string& task) {
  FinetuneBatch b;
  b.batch.input_ids = g.ids.data();
  b.batch.token_type_ids = g.types.data();
  b.batch.attention_mask = g.mask.data();
  b.batch.rows = 3;
  b.batch.seq_len = 12;
  if (task == "cls") b.labels = g.cls_labels.data();
  if (task == "tok") b.labels = g.tok_labels.data();
  if (task == "reg") b.targets = g.reg_targets.data();
  return b;
}

double rel_error_floor(const float* a, const std::vector<float>& b, double floor) {
  double num = 0, den = floor;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::fmax(num, std::fabs(double(a[i]) - b[i]));
    den = std::fmax(den, std::fabs(double(b[i])));
  }
  return num / den;
}

void check_task_forward_and_gradients(const std::string& task) {
  Golden g;
  if (!load(&g)) return;
  auto m = model_from(g, task);
  if (!m) return;
  FinetuneMetrics fm;
  std::vector<float> logits;
  Status st = m->train_step(golden_train(), batch_of(g, task), 0, &fm, false, &logits);
  CHECK(st.ok()) << st.message();
  if (!st.ok()) return;
  std::vector<float> ref;
  CHECK(g.f.read_f32(task + "/logits", &ref).ok());
  CHECK(ref.size() == logits.size()) << task << " logits size " << logits.size() << " vs " << ref.size();
  if (ref.size() == logits.size())
    CHECK_LT(etest::rel_error(logits.data(), ref.data(), ref.size()), 1e-4) << task << " logits";
  CHECK(g.f.read_f32(task + "/loss", &ref).ok() && ref.size() == 1);
  CHECK_LT(std::fabs(fm.loss - ref[0]) / std::fabs(ref[0]), 1e-4) << task << " loss " << fm.loss << " vs " << ref[0];
  int checked = 0;
  for (const auto& s : m->table().specs()) {
    st = g.f.read_f32(task + "/grad/" + s.name, &ref);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) continue;
    CHECK_LT(rel_error_floor(m->buffers().grads + s.offset, ref, 1e-5), 1e-3) << task << " gradient of " << s.name;
    ++checked;
  }
  CHECK(checked == static_cast<int>(m->table().specs().size()));
  // Same names and count as the HF model's parameters.
  const std::string& names = g.f.metadata().at("param_names");
  for (const auto& s : m->table().specs())
    CHECK(names.find("\"" + s.name + "\"") != std::string::npos) << s.name << " is not an HF parameter name";
}

void check_task_adamw_steps(const std::string& task) {
  Golden g;
  if (!load(&g)) return;
  auto m = model_from(g, task);
  if (!m) return;
  Status st = m->set_layer_decay(0.8f);
  CHECK(st.ok()) << st.message();
  std::vector<float> lr, norms, ref;
  CHECK(g.f.read_f32(task + "/lr", &lr).ok() && lr.size() == 3);
  CHECK(g.f.read_f32(task + "/grad_norm", &norms).ok() && norms.size() == 3);
  for (int64_t step = 0; step < 3 && lr.size() == 3 && norms.size() == 3; ++step) {
    FinetuneMetrics fm;
    st = m->train_step(golden_train(), batch_of(g, task), step, &fm);
    CHECK(st.ok()) << st.message();
    CHECK(std::fabs(fm.lr - lr[step]) <= 1e-9 + 1e-6 * std::fabs(lr[step])) << "lr at step " << step;
    CHECK_LT(std::fabs(fm.grad_norm - norms[step]) / norms[step], 1e-3) << task << " grad norm at step " << step;
  }
  for (const auto& s : m->table().specs()) {
    st = g.f.read_f32(task + "/param3/" + s.name, &ref);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) continue;
    CHECK_LT(rel_error_floor(m->buffers().params + s.offset, ref, 1e-30), 1e-4) << task << " param3 " << s.name;
  }
}

}  // namespace

TEST(finetune_golden_hf_classification) { check_task_forward_and_gradients("cls"); }
TEST(finetune_golden_hf_regression) { check_task_forward_and_gradients("reg"); }
TEST(finetune_golden_hf_token_classification) { check_task_forward_and_gradients("tok"); }
TEST(finetune_golden_adamw_layer_decay_classification) { check_task_adamw_steps("cls"); }
TEST(finetune_golden_adamw_layer_decay_regression) { check_task_adamw_steps("reg"); }
TEST(finetune_golden_adamw_layer_decay_token) { check_task_adamw_steps("tok"); }

// The depth map for a 12-layer encoder, written out: the head and layer 11
// get the full rate, layer i decay^(11-i), the embeddings decay^12. Layer 1
// must not take layer 10's or 11's rate (the reference's substring bug).
TEST(finetune_layer_lr_scale_depth_map_L12) {
  const float d = 0.8f;
  auto near = [](float a, double b) { return std::fabs(a - b) <= 1e-6 * b; };
  CHECK(near(layer_lr_scale("classifier.dense.weight", 12, d), 1.0));
  CHECK(near(layer_lr_scale("classifier.out_proj.bias", 12, d), 1.0));
  CHECK(near(layer_lr_scale("classifier.weight", 12, d), 1.0));
  CHECK(near(layer_lr_scale("electra.embeddings.word_embeddings.weight", 12, d), std::pow(0.8, 12)));
  CHECK(near(layer_lr_scale("electra.embeddings.LayerNorm.bias", 12, d), std::pow(0.8, 12)));
  CHECK(near(layer_lr_scale("electra.embeddings_project.weight", 12, d), std::pow(0.8, 12)));
  const double want[12] = {std::pow(0.8, 11), std::pow(0.8, 10), std::pow(0.8, 9), std::pow(0.8, 8),
                           std::pow(0.8, 7),  std::pow(0.8, 6),  std::pow(0.8, 5), std::pow(0.8, 4),
                           std::pow(0.8, 3),  std::pow(0.8, 2),  0.8,              1.0};
  for (int i = 0; i < 12; ++i)
    for (const char* t : {".attention.self.query.weight", ".output.LayerNorm.bias", ".intermediate.dense.bias"}) {
      const std::string n = "electra.encoder.layer." + std::to_string(i) + t;
      CHECK(near(layer_lr_scale(n, 12, d), want[i])) << n << ": " << layer_lr_scale(n, 12, d) << " vs " << want[i];
    }
  CHECK(layer_lr_scale("electra.encoder.layer.1.output.dense.weight", 12, d) <
        layer_lr_scale("electra.encoder.layer.10.output.dense.weight", 12, d));
  // Through the model: every tensor of a 12-layer table gets its scale.
  FinetuneConfig f;
  f.model = golden_encoder();
  f.model.disc.layers = 12;
  std::unique_ptr<FinetuneModel> m;
  Status st = FinetuneModel::create(f, &m);
  CHECK(st.ok()) << st.message();
  if (!st.ok()) return;
  CHECK(m->set_layer_decay(d).ok());
  int64_t full = 0, smallest = 0;
  for (const auto& s : m->table().specs()) {
    CHECK(s.lr_scale == layer_lr_scale(s.name, 12, d)) << s.name;
    full += s.lr_scale == 1.0f;
    smallest += near(s.lr_scale, std::pow(0.8, 12));
  }
  CHECK(full == 16 + 4) << "layer 11's 16 tensors and the head's 4 get the full rate, got " << full;
  CHECK(smallest == 5 + 2) << "the embeddings and their projection get decay^12, got " << smallest;
  CHECK(m->set_layer_decay(0.0f).code() == StatusCode::kInvalidArgument);
  CHECK(m->set_layer_decay(1.5f).code() == StatusCode::kInvalidArgument);
}

// Directional finite differences of the step's loss with dropout on (masks
// are counter-based: a smooth function of the parameters for a fixed step),
// every tensor, each head. Tolerance as model_full_step_gradient_fd.
TEST(finetune_full_step_gradient_fd) {
  Golden g;
  if (!load(&g)) return;
  for (const std::string task : {"cls", "reg", "tok"}) {
    FinetuneConfig f = task_config(task);
    f.model.hidden_dropout = 0.1f;
    f.model.attention_dropout = 0.1f;
    std::unique_ptr<FinetuneModel> m;
    Status st = FinetuneModel::create(f, &m);
    CHECK(st.ok()) << st.message();
    if (!st.ok()) continue;
    m->init_weights(7);
    // Classifiers: larger head weights, so the encoder's gradients stand well
    // above fp32 roundoff (the regression loss is already O(1) per unit output).
    for (const auto& s : m->table().specs())
      if (task != "reg" && s.name.rfind("classifier", 0) == 0)
        for (int64_t i = 0; i < s.numel; ++i) m->buffers().params[s.offset + i] *= 20.0f;
    m->host_modified();
    TrainConfig t = golden_train();
    FinetuneBatch b = batch_of(g, task);
    FinetuneMetrics fm;
    st = m->train_step(t, b, 5, &fm, false);
    CHECK(st.ok()) << st.message();
    const int64_t n = m->buffers().total;
    std::vector<float> gr(m->buffers().grads, m->buffers().grads + n);
    std::vector<float> p0(m->buffers().params, m->buffers().params + n);
    for (const auto& spec : m->table().specs()) {
      std::vector<float> dir(spec.numel);
      etest::fill_uniform(dir.data(), spec.numel, -1, 1);
      double nrm = 0;
      for (float x : dir) nrm += double(x) * x;
      for (float& x : dir) x = static_cast<float>(x / std::sqrt(nrm));
      double gd = 0;
      for (int64_t i = 0; i < spec.numel; ++i) gd += double(gr[spec.offset + i]) * dir[i];
      const float eps = 3e-3f;
      double L[2];
      for (int sgn = 0; sgn < 2; ++sgn) {
        float* P = m->buffers().params;
        for (int64_t i = 0; i < spec.numel; ++i) P[spec.offset + i] = p0[spec.offset + i] + (sgn ? -eps : eps) * dir[i];
        m->host_modified();
        FinetuneMetrics f2;
        st = m->train_step(t, b, 5, &f2, false);
        L[sgn] = f2.loss;
        std::memcpy(P + spec.offset, p0.data() + spec.offset, sizeof(float) * spec.numel);
      }
      const double fd = (L[0] - L[1]) / (2 * eps);
      CHECK(std::fabs(fd - gd) / std::max(1e-2, std::fabs(gd)) < 2e-2)
          << task << " " << spec.name << ": analytic " << gd << " vs fd " << fd;
    }
  }
}

TEST(finetune_bad_labels_and_configs) {
  Golden g;
  if (!load(&g)) return;
  auto m = model_from(g, "cls");
  if (!m) return;
  std::vector<int32_t> bad = {0, 3, 1};  // 3 classes: label 3 is out of range
  FinetuneBatch b = batch_of(g, "cls");
  b.labels = bad.data();
  FinetuneMetrics fm;
  Status st = m->train_step(golden_train(), b, 0, &fm);
  CHECK(st.code() == StatusCode::kInvalidArgument && st.message().find("label 3") != std::string::npos) << st.message();
  b.labels = nullptr;
  CHECK(m->train_step(golden_train(), b, 0, &fm).code() == StatusCode::kInvalidArgument);
  auto r = model_from(g, "reg");
  if (!r) return;
  std::vector<float> nan_t = {0.f, NAN, 1.f};
  FinetuneBatch rb = batch_of(g, "reg");
  rb.targets = nan_t.data();
  CHECK(r->train_step(golden_train(), rb, 0, &fm).code() == StatusCode::kInvalidArgument);
  FinetuneConfig f = task_config("reg");
  f.num_labels = 2;
  std::unique_ptr<FinetuneModel> x;
  CHECK(FinetuneModel::create(f, &x).code() == StatusCode::kInvalidArgument);
  f = task_config("cls");
  f.num_labels = 1;
  CHECK(FinetuneModel::create(f, &x).code() == StatusCode::kInvalidArgument);
  // Token head: all labels ignored is a zero loss and no head gradient, not an error.
  auto t = model_from(g, "tok");
  if (!t) return;
  std::vector<int32_t> none(g.tok_labels.size(), -1);
  FinetuneBatch tb = batch_of(g, "tok");
  tb.labels = none.data();
  st = t->train_step(golden_train(), tb, 0, &fm, false);
  CHECK(st.ok() && fm.loss == 0 && fm.counted == 0) << st.message();
}

// Inference equals the training forward with dropout off, and changes nothing.
TEST(finetune_predict_matches_step_logits) {
  Golden g;
  if (!load(&g)) return;
  for (const std::string task : {"cls", "tok"}) {
    auto m = model_from(g, task);
    if (!m) continue;
    std::vector<float> a, b;
    Status st = m->predict(batch_of(g, task).batch, &a);
    CHECK(st.ok()) << st.message();
    FinetuneMetrics fm;
    st = m->train_step(golden_train(), batch_of(g, task), 0, &fm, false, &b);
    CHECK(st.ok()) << st.message();
    CHECK(a == b) << task << ": predict differs from the step's logits";
  }
}

// The fine-tuning step on the CUDA backend (fp32) against the CPU oracle:
// the golden weights and batch, dropout on (same Philox stream), layer-wise
// learning rates (the per-tensor AdamW path), 3 steps. Loss and every
// parameter tensor (but the key biases) afterwards within 1e-4 (relative to the tensor's scale);
// then predict() on both. Skips without a GPU.
TEST(cuda_finetune_step_matches_cpu) {
  if (!etest::gpu_or_skip()) return;
  Golden g;
  if (!load(&g)) return;
  for (const std::string task : {"cls", "reg", "tok"}) {
    FinetuneConfig f = task_config(task);
    f.model.hidden_dropout = 0.1f;
    f.model.attention_dropout = 0.1f;
    ExecOptions ex;
    ex.backend = BackendKind::kCuda;
    ex.precision = Precision::kFp32;
    std::unique_ptr<FinetuneModel> cpu, gpu;
    Status st = FinetuneModel::create(f, &cpu);
    CHECK(st.ok()) << st.message();
    st = FinetuneModel::create(f, &gpu, ex);
    CHECK(st.ok()) << st.message();
    if (!cpu || !gpu) return;
    cpu->init_weights(3);
    gpu->init_weights(3);
    CHECK(cpu->set_layer_decay(0.8f).ok() && gpu->set_layer_decay(0.8f).ok());
    TrainConfig t = golden_train();
    t.seed = 5;
    for (int64_t step = 0; step < 3; ++step) {
      FinetuneMetrics a, b;
      st = cpu->train_step(t, batch_of(g, task), step, &a);
      CHECK(st.ok()) << st.message();
      st = gpu->train_step(t, batch_of(g, task), step, &b);
      CHECK(st.ok()) << st.message();
      CHECK(std::fabs(a.loss - b.loss) <= 1e-4 * std::fabs(a.loss) + 1e-7)
          << task << " step " << step << " loss cpu " << a.loss << " cuda " << b.loss;
      CHECK(a.correct == b.correct && a.counted == b.counted) << task << " step " << step;
    }
    CHECK(gpu->sync_to_host().ok());
    for (const auto& s : cpu->table().specs()) {
      // Attention key biases have an analytically zero gradient (softmax is
      // shift-invariant): both backends hold roundoff there, which AdamW's
      // normalisation turns into learning-rate-sized steps of either sign.
      if (s.name.size() > 8 && s.name.compare(s.name.size() - 8, 8, "key.bias") == 0) continue;
      std::vector<float> ref(cpu->buffers().params + s.offset, cpu->buffers().params + s.offset + s.numel);
      CHECK_LT(rel_error_floor(gpu->buffers().params + s.offset, ref, 1e-30), 1e-4) << task << " cuda param " << s.name;
    }
    std::vector<float> la, lb;
    CHECK(cpu->predict(batch_of(g, task).batch, &la).ok() && gpu->predict(batch_of(g, task).batch, &lb).ok());
    CHECK(la.size() == lb.size());
    if (la.size() == lb.size()) CHECK_LT(etest::rel_error(lb.data(), la.data(), la.size()), 1e-4) << task << " predict";
  }
}
