// The training step's host synchronisation on CUDA, and the pinned host
// memory it stages through:
//  - a step (any grad_accum, training or evaluation) waits for the device
//    once, for its metrics: the loss, the update's guard and the clipping are
//    decided on the device (counted by the emulator, which sees every
//    stream/device/event synchronisation and every host-blocking copy);
//  - the loss-spike guard decided on the device skips the update exactly as
//    the CPU's does;
//  - the emulator's pinned memory: an asynchronous download lands at the
//    synchronisation that completes it, not before (so a host reading early
//    reads garbage), an event recorded after it completes it, a pageable
//    download blocks the host, and pinned memory is not device memory.
#if defined(ELECTRA_HAVE_CUDA)
#include <cuda_runtime.h>

#include <cmath>
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

TrainConfig sync_train(int64_t k) {
  TrainConfig t;
  t.batch = 2;
  t.seq_len = 24;
  t.grad_accum = k;
  t.lr = 1e-3f;
  t.warmup_steps = 1;
  t.total_steps = 10;
  t.seed = 9;
  return t;
}

struct Tokens {
  std::vector<int32_t> ids, mask;
  Batch b;
  Tokens(int64_t rows, int64_t S, int64_t V) : ids(size_t(rows * S), 0), mask(ids.size(), 0) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t s = 0; s < S - r; ++s) {
        const size_t i = size_t(r * S + s);
        mask[i] = 1;
        ids[i] = s == 0 ? 2 : s == S - r - 1 ? 3 : int32_t(5 + (r * 37 + s * 11) % (V - 5));
      }
    b.input_ids = ids.data();
    b.attention_mask = mask.data();
    b.rows = rows;
    b.seq_len = S;
  }
};

ExecOptions cuda_fp32() {
  ExecOptions e;
  e.backend = BackendKind::kCuda;
  return e;
}

}  // namespace

#if defined(ELECTRA_CUDA_EMULATOR)
TEST(cuda_step_one_host_sync) {
  if (!cudatest::have_gpu()) return;
  for (int64_t k : {int64_t(1), int64_t(2)}) {
    const TrainConfig t = sync_train(k);
    const Tokens data(t.batch * k, t.seq_len, etest::tiny_step_config().vocab_size);
    auto m = etest::make_model(etest::tiny_step_config(), 4, cuda_fp32());
    if (!m) return;
    StepMetrics sm;
    CHECK(m->train_step(t, data.b, 0, &sm).ok());  // warm-up: uploads the weights, grows the workspaces
    for (int step = 1; step < 3; ++step) {
      const uint64_t before = emu::host_syncs();
      const Status st = m->train_step(t, data.b, step, &sm);
      CHECK(st.ok()) << st.code_name() << ": " << st.message();
      CHECK(emu::host_syncs() - before == 1) << "grad_accum " << k << ": a training step waited for the device "
                                             << (emu::host_syncs() - before) << " times";
    }
    const uint64_t before = emu::host_syncs();
    CHECK(m->evaluate(t, data.b, 7, &sm).ok());
    CHECK(emu::host_syncs() - before == 1) << "an evaluation waited " << (emu::host_syncs() - before) << " times";
  }
}

TEST(cuda_emu_pinned_memory_semantics) {
  if (!cudatest::have_gpu()) return;
  cudaStream_t s = nullptr;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
  size_t free0 = 0, total = 0;
  CHECK(cudaMemGetInfo(&free0, &total) == cudaSuccess);
  float* pinned = nullptr;
  CHECK(cudaMallocHost(&pinned, 64 * sizeof(float)) == cudaSuccess);
  size_t free1 = 0;
  CHECK(cudaMemGetInfo(&free1, &total) == cudaSuccess);
  CHECK(free1 == free0) << "pinned host memory is not device memory";
  float* dev = nullptr;
  CHECK(cudaMalloc(&dev, 64 * sizeof(float)) == cudaSuccess);
  std::vector<float> host(64);
  for (int i = 0; i < 64; ++i) host[size_t(i)] = float(i) + 0.5f;
  CHECK(cudaMemcpyAsync(dev, host.data(), 64 * sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
  // A download lands at the stream's synchronisation, not before.
  const uint64_t syncs0 = emu::host_syncs();
  CHECK(cudaMemcpyAsync(pinned, dev, 64 * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(emu::host_syncs() == syncs0) << "a pinned download does not block the host";
  CHECK(std::isnan(pinned[3])) << "the download was visible before the stream was synchronised";
  CHECK(cudaStreamSynchronize(s) == cudaSuccess);
  CHECK(pinned[3] == 3.5f && pinned[63] == 63.5f);
  // An event recorded after the copy completes it.
  std::memset(pinned, 0, 64 * sizeof(float));
  cudaEvent_t ev = nullptr;
  CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) == cudaSuccess);
  CHECK(cudaMemcpyAsync(pinned, dev, 64 * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(cudaEventRecord(ev, s) == cudaSuccess);
  CHECK(cudaEventSynchronize(ev) == cudaSuccess);
  CHECK(pinned[10] == 10.5f);
  // A pageable download blocks the host: it counts as a synchronisation.
  const uint64_t syncs1 = emu::host_syncs();
  CHECK(cudaMemcpyAsync(host.data(), dev, 64 * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(emu::host_syncs() == syncs1 + 1);
  // cudaFreeHost takes only pinned memory.
  CHECK(cudaFreeHost(host.data()) == cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK(cudaEventDestroy(ev) == cudaSuccess);
  CHECK(cudaFreeHost(pinned) == cudaSuccess);
  CHECK(cudaFree(dev) == cudaSuccess);
  CHECK(cudaStreamDestroy(s) == cudaSuccess);
}
#endif  // ELECTRA_CUDA_EMULATOR

// The loss-spike guard, decided on the device: the step is skipped, as on the
// CPU, and the parameters and moments keep their bits.
TEST(cuda_step_loss_spike_guard_matches_cpu) {
  if (!etest::gpu_or_skip()) return;
  TrainConfig t = sync_train(1);
  t.skip_above_loss = 1e-3f;  // far below any loss of a fresh model
  const Tokens data(t.batch, t.seq_len, etest::tiny_step_config().vocab_size);
  auto cpu = etest::make_model(etest::tiny_step_config(), 6, ExecOptions());
  auto gpu = etest::make_model(etest::tiny_step_config(), 6, cuda_fp32());
  if (!cpu || !gpu) return;
  StepMetrics mc, mg;
  CHECK(cpu->train_step(t, data.b, 0, &mc).ok());
  const Status st = gpu->train_step(t, data.b, 0, &mg);
  CHECK(st.ok()) << st.code_name() << ": " << st.message();
  CHECK(mc.skipped && mg.skipped) << "cpu skipped " << mc.skipped << ", cuda skipped " << mg.skipped;
  CHECK(std::isfinite(mg.grad_norm) && mg.grad_norm > 0);
  CHECK(gpu->sync_to_host().ok());
  const ParamBuffers& pg = gpu->buffers();
  const ParamBuffers& pc = cpu->buffers();
  CHECK(etest::bit_equal(pg.params, pc.params, pc.total)) << "a skipped step changed the parameters";
  for (int64_t i = 0; i < pg.total; ++i)
    if (pg.m[i] != 0.0f || pg.v[i] != 0.0f) {
      CHECK(false) << "a skipped step moved the AdamW moments at " << i;
      break;
    }
  // Without the guard the next step updates (step 0's learning rate is 0: warm-up).
  t.skip_above_loss = 0;
  CHECK(gpu->train_step(t, data.b, 1, &mg).ok());
  CHECK(!mg.skipped);
  CHECK(gpu->sync_to_host().ok());
  CHECK(!etest::bit_equal(gpu->buffers().params, pc.params, pc.total)) << "the update did not run";
}

#endif  // ELECTRA_HAVE_CUDA
