// Resume through checkpoint files, bit for bit, on every backend: train N
// steps, write params and both AdamW moments with the native safetensors
// writer, read them into a fresh model that was initialised differently, and
// train N more steps. Losses, parameters and moments must equal those of 2N
// uninterrupted steps exactly, and two runs from the same seed must agree
// exactly (determinism). grad_accum = 2 so the micro-batch Philox windows are
// part of what must line up. The CPU test runs everywhere; the cuda_ one on a
// GPU or under the CUDA emulator.
// Mutations caught: training state kept in the model object outside params
// and moments (an Adam step counter, a cached RNG position), host_modified()
// not honoured on CUDA (the device keeps the stale weights), a
// nondeterministic CUDA reduction (atomics).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/electra_model.h"
#include "core/safetensors.h"
#include "model_test_util.h"
#include "test_util.h"

using namespace electra;

namespace {

ModelConfig resume_config() {
  ModelConfig c;
  c.vocab_size = 200;
  c.embedding_size = 16;
  c.max_position = 32;
  c.type_vocab_size = 2;
  c.disc = {32, 2, 2, 64};
  c.gen = {16, 1, 1, 32};
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  return c;
}

struct Rows {
  std::vector<int32_t> ids, mask;
};
Rows make_rows(int64_t rows, int64_t S, int64_t V) {
  Rows r;
  r.ids.assign(size_t(rows * S), 0);
  r.mask.assign(r.ids.size(), 0);
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t len = S - (b % 3) * 3;
    for (int64_t s = 0; s < len; ++s) {
      const size_t i = size_t(b * S + s);
      r.mask[i] = 1;
      r.ids[i] = s == 0 ? 2 : s == len - 1 ? 3 : int32_t(5 + (b * 37 + s * 11 + s * s) % (V - 5));
    }
  }
  return r;
}

std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/electra_resume_" + name + "_" + std::to_string(std::rand()) +
         ".safetensors";
}

Status save_checkpoint(ElectraModel& m, const std::string& path) {
  ELECTRA_RETURN_IF_ERROR(m.sync_to_host());
  const ParamBuffers& b = m.buffers();
  const size_t bytes = sizeof(float) * static_cast<size_t>(b.total);
  std::vector<StWriteTensor> t = {{"params", "F32", {b.total}, b.params, bytes},
                                  {"adam_m", "F32", {b.total}, b.m, bytes},
                                  {"adam_v", "F32", {b.total}, b.v, bytes}};
  return write_safetensors(path, t, {});
}

Status load_checkpoint(ElectraModel& m, const std::string& path) {
  SafeTensorsFile f;
  ELECTRA_RETURN_IF_ERROR(f.open(path));
  ELECTRA_RETURN_IF_ERROR(m.sync_to_host());
  ParamBuffers& b = m.buffers();
  for (auto& [name, dst] : std::vector<std::pair<const char*, float*>>{
           {"params", b.params}, {"adam_m", b.m}, {"adam_v", b.v}}) {
    std::vector<float> v;
    ELECTRA_RETURN_IF_ERROR(f.read_f32(name, &v));
    if (static_cast<int64_t>(v.size()) != b.total) return InvalidArgument(std::string(name) + ": wrong size");
    std::memcpy(dst, v.data(), sizeof(float) * v.size());
  }
  m.host_modified();
  return Status::Ok();
}

void check_resume_through_file(const ExecOptions& e, const char* what) {
  const ModelConfig c = resume_config();
  TrainConfig t;
  t.batch = 2; t.seq_len = 16; t.grad_accum = 2;
  t.lr = 2e-3f; t.warmup_steps = 2; t.total_steps = 50; t.seed = 21;
  const Rows d = make_rows(t.batch * t.grad_accum, t.seq_len, c.vocab_size);
  Batch b;
  b.input_ids = d.ids.data(); b.attention_mask = d.mask.data();
  b.rows = t.batch * t.grad_accum; b.seq_len = t.seq_len;

  auto a = etest::make_model(c, 9, e), z = etest::make_model(c, 9, e), r = etest::make_model(c, 1234, e);
  if (!a || !z || !r) return;
  const int64_t N = 4;
  const std::string path = temp_path(what);
  for (int64_t s = 0; s < 2 * N; ++s) {
    StepMetrics ma, mz;
    CHECK(a->train_step(t, b, s, &ma).ok()) << what;
    CHECK(z->train_step(t, b, s, &mz).ok()) << what;
    CHECK(std::memcmp(&ma.loss, &mz.loss, sizeof(double)) == 0 && ma.grad_norm == mz.grad_norm)
        << what << ": same seed, different step " << s << " (" << ma.loss << " vs " << mz.loss << ")";
    if (s == N - 1) {
      Status st = save_checkpoint(*a, path);
      CHECK(st.ok()) << st.message();
      st = load_checkpoint(*r, path);
      CHECK(st.ok()) << st.message();
    }
    if (s >= N) {
      StepMetrics mr;
      CHECK(r->train_step(t, b, s, &mr).ok()) << what;
      CHECK(std::memcmp(&mr.loss, &ma.loss, sizeof(double)) == 0)
          << what << ": resumed step " << s << " loss " << mr.loss << " vs " << ma.loss;
    }
  }
  std::remove(path.c_str());
  CHECK(a->sync_to_host().ok() && r->sync_to_host().ok());
  const ParamBuffers &x = a->buffers(), &y = r->buffers();
  CHECK(etest::bit_equal(x.params, y.params, x.total)) << what << ": parameters differ after resume";
  CHECK(etest::bit_equal(x.m, y.m, x.total)) << what << ": AdamW m differs after resume";
  CHECK(etest::bit_equal(x.v, y.v, x.total)) << what << ": AdamW v differs after resume";
}

}  // namespace

TEST(model_resume_through_checkpoint_file_bit_exact) { check_resume_through_file(ExecOptions(), "cpu"); }

TEST(cuda_step_determinism_and_resume_through_file) {
  if (!etest::gpu_or_skip()) return;
  ExecOptions e;
  e.backend = BackendKind::kCuda;
  check_resume_through_file(e, "cuda-fp32");
  e.precision = Precision::kBf16;
  check_resume_through_file(e, "cuda-bf16");
}
