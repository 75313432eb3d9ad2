// Device memory of a CUDA model, as the memory plan and dispose() rely on it.
// lib/memory-plan.ts restates the backend's activation buffers, and
// test/reliability.test.ts checks it byte for byte against the CPU backend;
// these tests carry that to CUDA, on the emulator's allocator when no GPU is
// lent (native/tests/emu):
//  - a training step allocates the CPU's activation bytes (the plan's) on
//    CUDA too, at both precisions, plus CUDA-only buffers (the AdamW decay
//    mask and the GEMM/reduction workspaces) that the model's
//    step_workspace_bytes() bounds before the step (the plan adds it);
//  - every device byte the backend takes is in its own accounting
//    (bytes_in_use), so nothing escapes the plan unseen;
//  - destroying a model, which is what dispose() does, gives every device
//    byte back at once.
#if defined(ELECTRA_HAVE_CUDA)
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/electra_model.h"
#include "cuda_test_util.h"
#include "model_test_util.h"
#include "test_util.h"

using namespace electra;

namespace {

ModelConfig mem_config() {
  ModelConfig c;
  c.vocab_size = 500;
  c.embedding_size = 32;
  c.max_position = 64;
  c.type_vocab_size = 2;
  c.disc = {64, 2, 4, 128};
  c.gen = {32, 1, 1, 64};
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  return c;
}

TrainConfig mem_train() {
  TrainConfig t;
  t.batch = 3;
  t.seq_len = 32;
  t.lr = 1e-3f;
  t.warmup_steps = 2;
  t.total_steps = 10;
  t.seed = 5;
  return t;
}

struct Rows {
  std::vector<int32_t> ids, mask;
  Rows(int64_t B, int64_t S, int64_t V) : ids(size_t(B * S), 0), mask(ids.size(), 0) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < S - b; ++s) {
        const size_t i = size_t(b * S + s);
        mask[i] = 1;
        ids[i] = s == 0 ? 2 : s == S - b - 1 ? 3 : int32_t(5 + (b * 31 + s * 7) % (V - 5));
      }
  }
};

size_t device_used() {
  size_t free_b = 0, total_b = 0;
  const cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
  CHECK(e == cudaSuccess) << cudaGetErrorString(e);
  return total_b - free_b;
}

ExecOptions exec_for(BackendKind kind, Precision p) {
  ExecOptions e;
  e.backend = kind;
  e.precision = p;
  return e;
}

// Bytes the model's backend holds after creation and after one step.
struct Footprint {
  int64_t created = -1, stepped = -1, params = 0, bound = -1;
};

Footprint footprint(BackendKind kind, Precision p) {
  Footprint f;
  const ModelConfig c = mem_config();
  const TrainConfig t = mem_train();
  const Rows rows(t.batch, t.seq_len, c.vocab_size);
  Batch b;
  b.input_ids = rows.ids.data();
  b.attention_mask = rows.mask.data();
  b.rows = t.batch;
  b.seq_len = t.seq_len;
  auto m = etest::make_model(c, 3, exec_for(kind, p));
  if (!m) return f;
  f.created = m->backend().bytes_in_use();
  f.params = m->buffers().total;
  f.bound = m->step_workspace_bytes(t.batch, t.seq_len);
  StepMetrics sm;
  const Status st = m->train_step(t, b, 0, &sm);
  CHECK(st.ok()) << st.code_name() << ": " << st.message();
  f.stepped = m->backend().bytes_in_use();
  return f;
}

}  // namespace

TEST(cuda_step_memory_within_the_plan) {
  if (!cudatest::have_gpu()) return;
  const Footprint cpu = footprint(BackendKind::kCpu, Precision::kFp32);
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    const Footprint gpu = footprint(BackendKind::kCuda, p);
    const char* name = p == Precision::kFp32 ? "fp32" : "bf16";
    CHECK(gpu.created >= 0 && gpu.stepped >= 0) << name;
    const int64_t plan = cpu.stepped - cpu.created;  // = lib/memory-plan.ts activationBytes (reliability.test.ts)
    const int64_t step = gpu.stepped - gpu.created;
    // CUDA-only buffers a step adds: the AdamW decay mask (1 byte per
    // parameter, made at the first update) and the split-K / reduction
    // workspaces, sized by the GEMM plan for this GPU's SM count. The plan
    // adds step_workspace_bytes(), asked before the step: it must cover them.
    const int64_t extra = step - plan;
    std::fprintf(stderr, "  %s: model %lld bytes; a step adds %lld = the plan's activations %lld + CUDA workspaces and decay mask %lld (bound %lld)\n",
                 name, (long long)gpu.created, (long long)step, (long long)plan, (long long)extra, (long long)gpu.bound);
    CHECK(cpu.bound == 0) << "the CPU backend's step workspace: " << cpu.bound;
    CHECK(extra >= gpu.params) << name << ": the decay mask alone is " << gpu.params << " bytes";
    CHECK(extra <= gpu.bound) << name << ": a step grew " << extra << " bytes beyond the plan's activations, more than step_workspace_bytes' " << gpu.bound;
  }
}

TEST(cuda_model_memory_accounted_and_released) {
  if (!cudatest::have_gpu()) return;
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    const char* name = p == Precision::kFp32 ? "fp32" : "bf16";
    const size_t before = device_used();
    {
      const ModelConfig c = mem_config();
      const TrainConfig t = mem_train();
      const Rows rows(t.batch, t.seq_len, c.vocab_size);
      Batch b;
      b.input_ids = rows.ids.data();
      b.attention_mask = rows.mask.data();
      b.rows = t.batch;
      b.seq_len = t.seq_len;
      auto m = etest::make_model(c, 3, exec_for(BackendKind::kCuda, p));
      if (!m) return;
      StepMetrics sm;
      for (int s = 0; s < 2; ++s) CHECK(m->train_step(t, b, s, &sm).ok());
      const int64_t accounted = m->backend().bytes_in_use();
      const int64_t used = int64_t(device_used() - before);
      // The device rounds each allocation up (256 bytes on the emulator).
      CHECK(used >= accounted && used <= accounted + accounted / 20 + (64 << 10))
          << name << ": the device holds " << used << " bytes for the model, its backend accounts for " << accounted;
    }
    CHECK(device_used() == before) << name << ": " << (device_used() - before) << " device bytes still held after the model was destroyed";
  }
}

#endif  // ELECTRA_HAVE_CUDA
