// The whole training step on the CUDA backend against the CPU oracle: the
// same model, data, seed and Philox stream (so the same masks, dropout and,
// up to fp32 rounding of the logits, the same Gumbel samples) on both
// backends. fp32: loss relative error < 1e-4 after 3 steps; bf16 GEMMs: loss
// within 2%. Also: inference paths, the host/device parameter sync, device
// out-of-memory as a Status, and (on every machine) the errors for a CUDA
// request that cannot be met.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/device.h"
#include "core/electra_model.h"
#include "model_test_util.h"
#include "test_util.h"

using namespace electra;

namespace {

ModelConfig step_config() {
  ModelConfig c;
  c.vocab_size = 1000;
  c.embedding_size = 32;
  c.max_position = 64;
  c.type_vocab_size = 2;
  c.disc = {64, 2, 4, 128};  // head dim 16
  c.gen = {32, 2, 1, 64};    // head dim 32
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  return c;
}

TrainConfig step_train() {
  TrainConfig t;
  t.batch = 4;
  t.seq_len = 48;
  t.lr = 1e-3f;
  t.warmup_steps = 2;
  t.total_steps = 100;
  t.seed = 11;
  return t;
}

// rows x S token ids: [CLS] w... [SEP] then padding (a different length per
// row), with its attention mask; batch() points a Batch at them.
struct Data {
  std::vector<int32_t> ids, mask;
  int64_t rows = 0, S = 0;
  Data(int64_t rows_, int64_t S_, int64_t V) : ids(size_t(rows_ * S_), 0), mask(ids.size(), 0), rows(rows_), S(S_) {
    for (int64_t b = 0; b < rows; ++b) {
      const int64_t len = S - (b % 4) * 5;
      for (int64_t s = 0; s < len; ++s) {
        const int64_t i = b * S + s;
        mask[size_t(i)] = 1;
        ids[size_t(i)] = s == 0 ? 2 : s == len - 1 ? 3 : int32_t(5 + (b * 977 + s * 131 + s * s * 7) % (V - 5));
      }
    }
  }
  Batch batch() const {
    Batch b;
    b.input_ids = ids.data();
    b.attention_mask = mask.data();
    b.rows = rows;
    b.seq_len = S;
    return b;
  }
};

using etest::gpu_or_skip;
using etest::make_model;

ExecOptions cuda_exec(Precision p) {
  ExecOptions e;
  e.backend = BackendKind::kCuda;
  e.precision = p;
  return e;
}

double rel(double a, double b) { return std::fabs(a - b) / std::max(1e-12, std::fabs(b)); }

// NMSE of a against the reference b.
double nmse(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return den > 0 ? num / den : num;
}

// Trains a CPU and a CUDA model side by side for `steps` steps and checks
// every step's loss against `loss_tol` and the final parameters against `param_nmse`.
void compare_steps(Precision prec, int64_t grad_accum, int steps, double loss_tol, double param_nmse) {
  const ModelConfig c = step_config();
  TrainConfig t = step_train();
  t.grad_accum = grad_accum;
  const Data data(t.batch * grad_accum, t.seq_len, c.vocab_size);
  const Batch b = data.batch();
  auto cpu = make_model(c, 3, ExecOptions());
  auto gpu = make_model(c, 3, cuda_exec(prec));
  if (!cpu || !gpu) return;
  for (int s = 0; s < steps; ++s) {
    StepMetrics mc, mg;
    Status sc = cpu->train_step(t, b, s, &mc);
    Status sg = gpu->train_step(t, b, s, &mg);
    CHECK(sc.ok()) << sc.message();
    CHECK(sg.ok()) << sg.code_name() << ": " << sg.message();
    if (!sc.ok() || !sg.ok()) return;
    CHECK(mc.masked == mg.masked) << "step " << s << ": masked " << mc.masked << " vs " << mg.masked;
    CHECK(mc.tokens == mg.tokens);
    if (prec == Precision::kFp32)
      CHECK(mc.replaced == mg.replaced) << "step " << s << ": replaced " << mc.replaced << " vs " << mg.replaced
                                        << " (a Gumbel sample differs)";
    CHECK(rel(mg.loss, mc.loss) < loss_tol) << "step " << s << ": loss cuda " << mg.loss << " vs cpu " << mc.loss;
    CHECK(rel(mg.gen_loss, mc.gen_loss) < loss_tol) << "step " << s << ": gen loss " << mg.gen_loss << " vs " << mc.gen_loss;
    CHECK(rel(mg.grad_norm, mc.grad_norm) < 10 * loss_tol) << "step " << s << ": grad norm " << mg.grad_norm << " vs "
                                                           << mc.grad_norm;
    CHECK(std::isfinite(mg.loss) && std::isfinite(mg.grad_norm));
  }
  Status st = gpu->sync_to_host();
  CHECK(st.ok()) << st.message();
  const ParamBuffers& pg = gpu->buffers();
  const ParamBuffers& pc = cpu->buffers();
  const double e_p = nmse(pg.params, pc.params, pc.total), e_m = nmse(pg.m, pc.m, pc.total);
  CHECK(e_p < param_nmse) << "params NMSE " << e_p;
  CHECK(e_m < 1e3 * param_nmse) << "Adam m NMSE " << e_m;
  for (int64_t i = 0; i < pg.total; ++i)
    if (!std::isfinite(pg.params[i]) || !std::isfinite(pg.v[i])) {
      CHECK(false) << "non-finite parameter or moment at " << i;
      break;
    }
}

}  // namespace

TEST(cuda_step_fp32_matches_cpu) {
  if (!gpu_or_skip()) return;
  compare_steps(Precision::kFp32, 1, 3, 1e-4, 1e-8);
}

TEST(cuda_step_fp32_grad_accum_matches_cpu) {
  if (!gpu_or_skip()) return;
  compare_steps(Precision::kFp32, 2, 3, 1e-4, 1e-8);
}

TEST(cuda_step_bf16_within_2pct) {
  if (!gpu_or_skip()) return;
  compare_steps(Precision::kBf16, 1, 3, 2e-2, 1e-4);
}

// discriminate, generator_logits and evaluate: forward only, fp32.
TEST(cuda_step_inference_matches_cpu) {
  if (!gpu_or_skip()) return;
  const ModelConfig c = step_config();
  const TrainConfig t = step_train();
  const Data data(t.batch, t.seq_len, c.vocab_size);
  const Batch b = data.batch();
  auto cpu = make_model(c, 5, ExecOptions());
  auto gpu = make_model(c, 5, cuda_exec(Precision::kFp32));
  if (!cpu || !gpu) return;
  std::vector<float> lc, lg;
  CHECK(cpu->discriminate(b, &lc).ok());
  Status st = gpu->discriminate(b, &lg);
  CHECK(st.ok()) << st.message();
  CHECK(lc.size() == lg.size() && nmse(lg.data(), lc.data(), int64_t(lc.size())) < 1e-9);
  const std::vector<int32_t> rows = {1, 7, 50, 99, 150};
  CHECK(cpu->generator_logits(b, rows, &lc).ok());
  st = gpu->generator_logits(b, rows, &lg);
  CHECK(st.ok()) << st.message();
  CHECK(lc.size() == lg.size() && nmse(lg.data(), lc.data(), int64_t(lc.size())) < 1e-9);
  StepMetrics ec, eg;
  CHECK(cpu->evaluate(t, b, 4, &ec).ok());
  st = gpu->evaluate(t, b, 4, &eg);
  CHECK(st.ok()) << st.message();
  CHECK(rel(eg.loss, ec.loss) < 1e-4) << eg.loss << " vs " << ec.loss;
  CHECK(eg.masked == ec.masked && eg.replaced == ec.replaced);
}

// Host writes (after sync_to_host) reach the device; device results reach the host.
TEST(cuda_step_host_device_sync) {
  if (!gpu_or_skip()) return;
  const ModelConfig c = step_config();
  const TrainConfig t = step_train();
  const Data data(t.batch, t.seq_len, c.vocab_size);
  const Batch b = data.batch();
  auto cpu = make_model(c, 8, ExecOptions());
  auto gpu = make_model(c, 1, cuda_exec(Precision::kFp32));  // different weights, replaced below
  if (!cpu || !gpu) return;
  StepMetrics m0;
  CHECK(gpu->train_step(t, b, 0, &m0).ok());
  CHECK(gpu->sync_to_host().ok());
  ParamBuffers& g = gpu->buffers();
  const ParamBuffers& h = cpu->buffers();
  std::copy(h.params, h.params + h.total, g.params);
  std::copy(h.m, h.m + h.total, g.m);
  std::copy(h.v, h.v + h.total, g.v);
  gpu->host_modified();
  StepMetrics mc, mg;
  CHECK(cpu->train_step(t, b, 0, &mc).ok());
  CHECK(gpu->train_step(t, b, 0, &mg).ok());
  CHECK(rel(mg.loss, mc.loss) < 1e-4) << "after host_modified: " << mg.loss << " vs " << mc.loss;
}

// A device allocation that cannot succeed is kOutOfMemory, and the backend stays usable.
TEST(cuda_backend_out_of_memory_is_a_status) {
  if (!gpu_or_skip()) return;
  std::unique_ptr<Backend> be;
  Status st = make_backend(cuda_exec(Precision::kBf16), &be);
  CHECK(st.ok()) << st.message();
  if (!be) return;
  void* p = nullptr;
  st = be->alloc(size_t(1) << 50, &p);
  CHECK(st.code() == StatusCode::kOutOfMemory) << st.code_name() << ": " << st.message();
  CHECK(st.message().find("out of memory") != std::string::npos) << st.message();
  st = be->alloc(1 << 20, &p);
  CHECK(st.ok()) << "a small allocation after the failed one: " << st.message();
  if (st.ok()) be->release(p);
  CHECK(be->bytes_in_use() >= 0 && be->peak_bytes() >= (1 << 20));
}

// On every machine: a CUDA request that cannot be met is a clear Status.
TEST(backend_cuda_request_errors) {
  std::unique_ptr<Backend> be;
  ExecOptions e = cuda_exec(Precision::kFp32);
  e.device = -1;
  CHECK(make_backend(e, &be).code() == StatusCode::kInvalidArgument);
  e.device = 4096;
  Status st = make_backend(e, &be);
  CHECK(st.code() == StatusCode::kNoDevice) << st.code_name() << ": " << st.message();
  if (cuda_compiled())
    CHECK(st.message().find("driver") != std::string::npos && st.message().find("runtime") != std::string::npos)
        << st.message();
  ExecOptions cpu_bf16;
  cpu_bf16.precision = Precision::kBf16;
  st = make_backend(cpu_bf16, &be);
  CHECK(st.code() == StatusCode::kInvalidArgument && st.message().find("bf16") != std::string::npos) << st.message();
  std::unique_ptr<ElectraModel> m;
  DeviceInfo info;
  CHECK(cuda_device_count(&info).ok());
  if (info.count == 0) {
    st = ElectraModel::create(step_config(), &m, cuda_exec(Precision::kBf16));
    CHECK(st.code() == StatusCode::kNoDevice && !m) << st.code_name() << ": " << st.message();
  }
}
