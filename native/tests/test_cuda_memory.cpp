// Device memory of a CUDA model, as the memory plan and dispose() rely on it.
// lib/memory-plan.ts restates the backend's activation buffers, and
// test/reliability.test.ts checks it byte for byte against the CPU backend;
// these tests carry that to CUDA, on the emulator's allocator when no GPU is
// lent (native/tests/emu):
//  - a training step allocates the CPU's activation bytes (the plan's) on
//    CUDA too, less the attention probabilities the bf16 tensor-core path
//    does not keep (the plan asks Backend::attention_saved_floats through
//    the addon), plus CUDA-only buffers (the AdamW decay mask and the
//    GEMM/reduction workspaces) that the model's step_workspace_bytes()
//    bounds before the step (the plan adds it);
//  - an encoder's activations are exactly the plan's per-encoder formula
//    with the backend's saved attention state: [B,A,S,S] on the CPU and in
//    fp32, [B,A,S] in bf16 where the tensor-core kernels fit; and with its
//    GELU output [N,F] and its q, k, v [N,H] in bf16 where the backend says
//    so (ffn_gelu_bf16, attention_qkv_bf16: CUDA in bf16; the plan asks them
//    through the addon's ffnGeluBf16 and attentionQkvBf16);
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
#include "core/encoder.h"
#include "cuda/ops_cuda.h"
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

// The memory plan rounds each buffer up to 64 bytes, as the CPU allocates.
int64_t plan_bytes(int64_t floats) { return floats == 0 ? 0 : (floats * 4 + 63) / 64 * 64; }

// Bytes the model's backend holds after creation and after one step.
struct Footprint {
  int64_t created = -1, stepped = -1, params = 0, bound = -1;
  // What the plan's activations drop on this backend, both encoders: the
  // probabilities [B,A,S,S] less the attention state the backend keeps
  // (lib/memory-plan.ts encoderBuffers with the addon's attentionSavedFloats).
  int64_t attn_saving = 0;
  // And the GELU outputs [N,F] and q, k, v [N,H] the backend keeps as bf16
  // (ffn_gelu_bf16, attention_qkv_bf16).
  int64_t bf16_saving = 0;
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
  const int64_t B = t.batch, S = t.seq_len;
  for (const EncoderConfig& e : {c.gen, c.disc}) {
    const int64_t A = e.heads, saved = m->backend().attention_saved_floats(B, S, A, e.hidden / A);
    f.attn_saving += e.layers * (plan_bytes(B * A * S * S) - plan_bytes(saved));
    if (m->backend().ffn_gelu_bf16(e.hidden, e.intermediate))
      f.bf16_saving += e.layers * (plan_bytes(B * S * e.intermediate) - plan_bytes(B * S * e.intermediate / 2));
    if (m->backend().attention_qkv_bf16(S, A, e.hidden / A))
      f.bf16_saving += 3 * e.layers * (plan_bytes(B * S * e.hidden) - plan_bytes(B * S * e.hidden / 2));
  }
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
    // The CPU's step = lib/memory-plan.ts activationBytes (reliability.test.ts);
    // on this backend the plan counts its saved attention state instead.
    CHECK(cpu.attn_saving == 0) << "the CPU keeps the probabilities";
    if (p == Precision::kFp32) CHECK(gpu.attn_saving == 0) << "fp32 keeps the probabilities";
    else CHECK(gpu.attn_saving > 0) << "bf16 at S = 32 runs the tensor-core attention, which keeps no probabilities";
    CHECK(cpu.bf16_saving == 0) << "the CPU keeps the GELU output in fp32";
    if (p == Precision::kFp32) CHECK(gpu.bf16_saving == 0) << "fp32 keeps the GELU output in fp32";
    const int64_t plan = cpu.stepped - cpu.created - gpu.attn_saving - gpu.bf16_saving;
    const int64_t step = gpu.stepped - gpu.created;
    // CUDA-only buffers a step adds: the AdamW decay mask (1 byte per
    // parameter, made at the first update) and the split-K / reduction
    // workspaces, sized by the GEMM plan for this GPU's SM count. The plan
    // adds step_workspace_bytes(), asked before the step: it must cover them.
    const int64_t extra = step - plan;
    std::fprintf(stderr, "  %s: model %lld bytes; a step adds %lld = the plan's activations %lld (probabilities not kept: %lld) + CUDA workspaces and decay mask %lld (bound %lld)\n",
                 name, (long long)gpu.created, (long long)step, (long long)plan, (long long)gpu.attn_saving,
                 (long long)extra, (long long)gpu.bound);
    CHECK(cpu.bound == 0) << "the CPU backend's step workspace: " << cpu.bound;
    CHECK(extra >= gpu.params) << name << ": the decay mask alone is " << gpu.params << " bytes";
    CHECK(extra <= gpu.bound) << name << ": a step grew " << extra << " bytes beyond the plan's activations, more than step_workspace_bytes' " << gpu.bound;
  }
}

// One encoder's activations on one backend: Encoder::resize's allocation,
// measured by the backend's accounting, against the plan's formula
// (lib/memory-plan.ts encoderBuffers, E = H so no projection) with the
// backend's attention state. CUDA accounts the bytes asked for, the CPU
// rounds each buffer to 64 bytes.
struct EncoderCase {
  int64_t B, S, H, L, A, F;
};

void check_encoder_activations(Backend* be, const EncoderCase& k, int64_t saved, const char* what) {
  EncoderConfig c;
  c.hidden = k.H;
  c.layers = k.L;
  c.heads = k.A;
  c.intermediate = k.F;
  ParamTable table;
  CHECK(add_encoder_params(&table, "generator", c, k.H).ok()) << what;
  Encoder enc;
  CHECK(enc.bind(table, "generator", c, k.H).ok()) << what;
  const int64_t before = be->bytes_in_use();
  const Status st = enc.resize(be, k.B, k.S);
  CHECK(st.ok()) << what << ": " << st.code_name() << ": " << st.message();
  const int64_t got = be->bytes_in_use() - before;
  const bool host = be->kind() == BackendKind::kCpu;
  const auto bytes = [&](int64_t floats) { return host ? plan_bytes(floats) : floats * 4; };
  const int64_t N = k.B * k.S;
  const int64_t gelu = be->ffn_gelu_bf16(k.H, k.F) ? N * k.F / 2 : N * k.F;  // floats: bf16 takes half
  const int64_t qkv = be->attention_qkv_bf16(k.S, k.A, k.H / k.A) ? N * k.H / 2 : N * k.H;
  const int64_t plan = k.L * (3 * bytes(qkv) + 5 * bytes(N * k.H) + 4 * bytes(N) + bytes(saved) + bytes(N * k.F) +
                              bytes(gelu)) +
                       6 * bytes(N * k.H) + bytes(N * k.F);
  CHECK(got == plan) << what << ": Encoder::resize allocated " << got << " bytes, the plan's formula says " << plan;
}

TEST(cuda_attention_saved_state_in_the_plan) {
  if (!cudatest::have_gpu()) return;
  // The discriminator and generator of mem_config (hd = 16 and 32: the
  // tensor-core kernels fit any GPU), and a head of 128 at S = 512, whose
  // kernels fit no GPU (the fp32 fallback keeps the probabilities).
  const EncoderCase cases[] = {{3, 32, 64, 2, 4, 128}, {3, 32, 32, 1, 1, 64}, {1, 512, 128, 1, 1, 256}};
  std::unique_ptr<Backend> cpu, fp32, bf16;
  CHECK(make_backend(exec_for(BackendKind::kCpu, Precision::kFp32), &cpu).ok());
  CHECK(make_backend(exec_for(BackendKind::kCuda, Precision::kFp32), &fp32).ok());
  CHECK(make_backend(exec_for(BackendKind::kCuda, Precision::kBf16), &bf16).ok());
  if (!cpu || !fp32 || !bf16) return;
  for (const EncoderCase& k : cases) {
    const int64_t hd = k.H / k.A, probs = k.B * k.A * k.S * k.S, rows = k.B * k.A * k.S;
    bool tc = false;
    CHECK(electra::cuda::attention_tc_fits(k.S, hd, &tc).ok());
    CHECK(tc == (k.S <= 32)) << "S=" << k.S << " hd=" << hd << ": attention_tc_fits " << tc;
    CHECK(cpu->attention_saved_floats(k.B, k.S, k.A, hd) == probs) << "cpu";
    CHECK(fp32->attention_saved_floats(k.B, k.S, k.A, hd) == probs) << "cuda fp32";
    const int64_t saved = bf16->attention_saved_floats(k.B, k.S, k.A, hd);
    CHECK(saved == (tc ? rows : probs)) << "cuda bf16, S=" << k.S << " hd=" << hd << ": " << saved;
    const std::string where = "S=" + std::to_string(k.S) + " hd=" + std::to_string(hd);
    check_encoder_activations(cpu.get(), k, probs, ("cpu " + where).c_str());
    check_encoder_activations(fp32.get(), k, probs, ("cuda fp32 " + where).c_str());
    check_encoder_activations(bf16.get(), k, saved, ("cuda bf16 " + where).c_str());
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
