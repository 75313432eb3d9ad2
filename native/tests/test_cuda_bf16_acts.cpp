// bf16 activation storage on the bf16 CUDA backend: the encoder FFN's GELU
// output [N, F] (Backend::ffn_gelu_bf16), which its only consumers (the
// output projection's forward and weight-gradient GEMMs) round to bf16
// anyway, and the attention's q, k, v [N, H] (Backend::attention_qkv_bf16),
// which the tensor-core attention forward and backward round to bf16 as they
// load them. A training step must give the SAME BITS with it on
// and off (ELECTRA_CUDA_BF16_ACTS=0, read when the backend is created), over
// several steps (metrics, parameters, AdamW moments), while the buffer takes
// half the bytes. The fp32 precision and the CPU backend never take it, nor
// an attention shape the tensor-core kernels do not take.
#if defined(ELECTRA_HAVE_CUDA)
#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/electra_model.h"
#include "cuda_test_util.h"
#include "model_test_util.h"
#include "test_util.h"

using namespace electra;

namespace {

std::unique_ptr<ElectraModel> acts_model(bool bf16_acts, Precision prec = Precision::kBf16) {
  ExecOptions e;
  e.backend = BackendKind::kCuda;
  e.precision = prec;
  return etest::make_model_with_env("ELECTRA_CUDA_BF16_ACTS", bf16_acts ? "1" : "0", etest::tiny_step_config(), 4, e);
}

TrainConfig acts_train() {
  TrainConfig t;
  t.batch = 2;
  t.seq_len = 24;
  t.lr = 1e-3f;
  t.warmup_steps = 2;
  t.total_steps = 10;
  t.seed = 9;
  return t;
}

struct Tokens {
  std::vector<int32_t> ids, mask;
  Batch b;
  Tokens(int64_t rows, int64_t S, int64_t V, int variant) : ids(size_t(rows * S), 0), mask(ids.size(), 1) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t s = 0; s < S; ++s)
        ids[size_t(r * S + s)] = s == 0 ? 2 : s == S - 1 ? 3 : int32_t(5 + (r * 41 + s * 13 + variant * 5) % (V - 5));
    b.input_ids = ids.data();
    b.attention_mask = mask.data();
    b.rows = rows;
    b.seq_len = S;
  }
};

bool same_bits(const double& a, const double& b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

}  // namespace

TEST(cuda_step_bf16_acts_match_fp32_storage) {
  if (!cudatest::have_gpu()) return;
  auto on = acts_model(true), off = acts_model(false);
  if (!on || !off) return;
  const ModelConfig c = etest::tiny_step_config();
  // Not vacuous: the switch decides, for both encoders' shapes.
  CHECK(on->backend().ffn_gelu_bf16(c.disc.hidden, c.disc.intermediate));
  CHECK(on->backend().ffn_gelu_bf16(c.gen.hidden, c.gen.intermediate));
  CHECK(!off->backend().ffn_gelu_bf16(c.disc.hidden, c.disc.intermediate));
  const TrainConfig t = acts_train();
  for (const EncoderConfig& e : {c.disc, c.gen}) {
    CHECK(on->backend().attention_qkv_bf16(t.seq_len, e.heads, e.hidden / e.heads));
    CHECK(!off->backend().attention_qkv_bf16(t.seq_len, e.heads, e.hidden / e.heads));
  }
  std::vector<Tokens> data;
  for (int v = 0; v < 3; ++v) data.emplace_back(t.batch, t.seq_len, c.vocab_size, v);
  for (int step = 0; step < 3; ++step) {
    StepMetrics a, b;
    Status st = on->train_step(t, data[size_t(step)].b, step, &a);
    CHECK(st.ok()) << st.message();
    st = off->train_step(t, data[size_t(step)].b, step, &b);
    CHECK(st.ok()) << st.message();
    CHECK(same_bits(a.loss, b.loss) && same_bits(a.gen_loss, b.gen_loss) && same_bits(a.disc_loss, b.disc_loss) &&
          same_bits(a.grad_norm, b.grad_norm) && a.gen_accuracy == b.gen_accuracy &&
          a.disc_accuracy == b.disc_accuracy && a.replaced == b.replaced)
        << "step " << step << ": loss " << a.loss << " vs " << b.loss << ", norm " << a.grad_norm << " vs "
        << b.grad_norm;
    if (step == 0) {
      // The GELU outputs [N, F] and q, k, v [N, H] of every layer, half the
      // bytes (and nothing else differs).
      const int64_t N = t.batch * t.seq_len;
      const int64_t saved = 2 * N * (c.disc.layers * (c.disc.intermediate + 3 * c.disc.hidden) +
                                     c.gen.layers * (c.gen.intermediate + 3 * c.gen.hidden));
      CHECK(off->backend().bytes_in_use() - on->backend().bytes_in_use() == saved)
          << off->backend().bytes_in_use() << " - " << on->backend().bytes_in_use() << " != " << saved;
    }
  }
  etest::check_same_state(on.get(), off.get());
  const size_t bytes = sizeof(float) * size_t(on->buffers().total);
  // And the parameters moved (the steps did something).
  auto fresh = acts_model(false);
  if (!fresh) return;
  CHECK(fresh->sync_to_host().ok());
  CHECK(std::memcmp(fresh->buffers().params, on->buffers().params, bytes) != 0) << "the steps changed nothing";
}

TEST(cuda_bf16_acts_only_on_bf16_cuda) {
  std::unique_ptr<Backend> cpu;
  CHECK(make_backend(ExecOptions{}, &cpu).ok());
  CHECK(!cpu->ffn_gelu_bf16(64, 256));
  CHECK(!cpu->attention_qkv_bf16(128, 4, 64));
  if (!cudatest::have_gpu()) return;
  auto fp32 = acts_model(true, Precision::kFp32);
  if (!fp32) return;
  CHECK(!fp32->backend().ffn_gelu_bf16(64, 256));
  CHECK(!fp32->backend().attention_qkv_bf16(128, 4, 64));
  auto bf16 = acts_model(true);
  if (!bf16) return;
  CHECK(bf16->backend().ffn_gelu_bf16(64, 256));
  CHECK(!bf16->backend().ffn_gelu_bf16(64, 100)) << "F not a multiple of 8: fp32 storage";
  CHECK(bf16->backend().attention_qkv_bf16(128, 4, 64));
  // Where the tensor-core attention does not run (the fp32 kernels take fp32 inputs): S > 512.
  CHECK(!bf16->backend().attention_qkv_bf16(1024, 4, 64)) << "S > 512: fp32 storage";
}

#endif  // ELECTRA_HAVE_CUDA
