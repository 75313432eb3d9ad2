// CUDA graphs: the Backend's capture and replay (begin_capture, end_capture,
// launch_graph), and the emulator's stream capture that keeps them testable
// without a GPU:
//  - captured work is recorded, not run, and a replay runs it in order;
//  - a kernel's arguments are frozen at capture (a per-step host value passed
//    by value is NOT seen by a replay), while an upload from pinned host
//    memory reads that memory at each replay;
//  - a sync, a blocking copy, an allocation or a pageable copy inside a
//    capture is an error that invalidates the capture;
//  - a replayed step is one graph launch and no host wait of its own.
#if defined(ELECTRA_HAVE_CUDA)
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/cpu/ops.h"
#include "core/electra_model.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"
#include "cuda_test_util.h"
#include "model_test_util.h"
#include "test_util.h"

using namespace electra;

namespace {

// False, with the test marked skipped and why, when graphs are off here
// (ELECTRA_CUDA_GRAPHS=0 in the environment): a graph test then tests nothing.
bool graphs_on(const Backend& be) {
  if (be.graphs_enabled()) return true;
  etest::skip("CUDA graphs are off in this environment (ELECTRA_CUDA_GRAPHS=0)");
  return false;
}

constexpr int64_t kN = 1000;
constexpr float kP = 0.25f;
constexpr uint64_t kSeed = 77;

std::unique_ptr<Backend> cuda_backend() {
  ExecOptions e;
  e.backend = BackendKind::kCuda;
  std::unique_ptr<Backend> be;
  const Status st = make_backend(e, &be);
  CHECK(st.ok()) << st.message();
  return be;
}

// What the CPU oracle gives for the captured ops: dropout(in; offset).
std::vector<float> expect_dropout(const float* in, uint64_t offset) {
  std::vector<float> out(kN);
  cpu::dropout_forward(out.data(), in, kN, kP, kSeed, offset);
  return out;
}

void fill_input(float* h, int step) {
  for (int64_t i = 0; i < kN; ++i) h[i] = 0.01f * float((i * 7 + step * 13) % 211) - 1.0f;
}

// Buffers of the "step" the tests capture: upload(in) from a pinned slot,
// dropout, download(out) into a pinned slot.
struct StepBuffers {
  Backend* be;
  float *d_in = nullptr, *d_out = nullptr, *h_in = nullptr, *h_out = nullptr;
  explicit StepBuffers(Backend* b) : be(b) {
    void* p = nullptr;
    CHECK(be->alloc(kN * sizeof(float), &p).ok());
    d_in = static_cast<float*>(p);
    CHECK(be->alloc(kN * sizeof(float), &p).ok());
    d_out = static_cast<float*>(p);
    CHECK(be->alloc_host(kN * sizeof(float), &p).ok());
    h_in = static_cast<float*>(p);
    CHECK(be->alloc_host(kN * sizeof(float), &p).ok());
    h_out = static_cast<float*>(p);
  }
  ~StepBuffers() {
    be->release(d_in);
    be->release(d_out);
    be->release_host(h_in);
    be->release_host(h_out);
  }
  Status ops(uint64_t offset) {
    ELECTRA_RETURN_IF_ERROR(be->upload(d_in, h_in, kN * sizeof(float)));
    ELECTRA_RETURN_IF_ERROR(be->dropout_forward(d_out, d_in, kN, kP, kSeed, offset));
    return be->download(h_out, d_out, kN * sizeof(float));
  }
};

bool same_bits(const float* a, const std::vector<float>& b) {
  return std::memcmp(a, b.data(), b.size() * sizeof(float)) == 0;
}

}  // namespace

// Replays see new pinned inputs each launch; the captured offset stays fixed.
TEST(cuda_backend_graph_replay_reads_pinned_inputs) {
  if (!cudatest::have_gpu()) return;
  auto be = cuda_backend();
  if (!be) return;
  if (!graphs_on(*be)) return;
  StepBuffers b(be.get());
  const uint64_t offset = 4096;
  fill_input(b.h_in, 0);
  CHECK(b.ops(offset).ok());  // warm-up, plain
  CHECK(be->mark().ok());
  CHECK(be->wait_marked().ok());
  CHECK(same_bits(b.h_out, expect_dropout(b.h_in, offset)));
  CHECK(be->begin_capture().ok());
  CHECK(b.ops(offset).ok());
  const Status st = be->end_capture("step");
  CHECK(st.ok()) << st.message();
  CHECK(be->graph_count() == 1);
  for (int step = 1; step <= 3; ++step) {
    fill_input(b.h_in, step);  // the next step's batch, written where the graph's upload reads it
#if defined(ELECTRA_CUDA_EMULATOR)
    const uint64_t syncs = emu::host_syncs(), graphs = emu::graph_launches();
#endif
    bool found = false;
    CHECK(be->launch_graph("step", &found).ok());
    CHECK(found);
    CHECK(be->mark().ok());
    CHECK(be->wait_marked().ok());
#if defined(ELECTRA_CUDA_EMULATOR)
    CHECK(emu::graph_launches() - graphs == 1);
    CHECK(emu::host_syncs() - syncs == 1) << "a replayed step waited " << (emu::host_syncs() - syncs) << " times";
#endif
    CHECK(same_bits(b.h_out, expect_dropout(b.h_in, offset))) << "step " << step;
  }
  bool found = true;
  CHECK(be->launch_graph("other shape", &found).ok());
  CHECK(!found);
}

// The bug class graphs bring: a per-step value passed to an op by value is
// captured once. A "step" whose Philox offset changes per step matches the
// plain path at the captured step only.
TEST(cuda_backend_graph_freezes_by_value_arguments) {
  if (!cudatest::have_gpu()) return;
  auto be = cuda_backend();
  if (!be || !graphs_on(*be)) return;
  StepBuffers b(be.get());
  fill_input(b.h_in, 0);
  CHECK(be->begin_capture().ok());
  CHECK(b.ops(/*offset of step 0*/ 0).ok());
  CHECK(be->end_capture("step").ok());
  int matches = 0;
  for (int step = 0; step < 3; ++step) {
    bool found = false;
    CHECK(be->launch_graph("step", &found).ok());
    CHECK(be->mark().ok());
    CHECK(be->wait_marked().ok());
    matches += same_bits(b.h_out, expect_dropout(b.h_in, uint64_t(step) * 4096));
  }
  CHECK(matches == 1) << "a replay saw a by-value argument change (" << matches << " of 3 steps matched)";
}

TEST(cuda_backend_graph_capture_failure_is_a_status) {
  if (!cudatest::have_gpu()) return;
  auto be = cuda_backend();
  if (!be || !graphs_on(*be)) return;
  StepBuffers b(be.get());
  fill_input(b.h_in, 0);
  CHECK(be->begin_capture().ok());
  CHECK(!be->begin_capture().ok()) << "nested capture";
  CHECK(b.ops(0).ok());
  CHECK(!be->sync().ok()) << "a sync inside a capture must fail";
  const Status st = be->end_capture("step");
  CHECK(!st.ok()) << "a capture with a sync in it must not give a graph";
  CHECK(be->graph_count() == 0);
  // A pageable download cannot be captured either.
  std::vector<float> pageable(kN);
  CHECK(be->begin_capture().ok());
  CHECK(!be->download(pageable.data(), b.d_out, kN * sizeof(float)).ok());
  CHECK(!be->end_capture("step").ok());
  // The stream works plainly afterwards.
  CHECK(b.ops(8192).ok());
  CHECK(be->sync().ok());
  CHECK(same_bits(b.h_out, expect_dropout(b.h_in, 8192)));
  CHECK(!be->end_capture("x").ok()) << "end without begin";
}

TEST(cuda_backend_graphs_off_switch_and_cpu) {
  std::unique_ptr<Backend> cpu;
  CHECK(make_backend(ExecOptions{}, &cpu).ok());
  CHECK(!cpu->graphs_enabled());
  CHECK(!cpu->begin_capture().ok());
  bool found = true;
  CHECK(cpu->launch_graph("k", &found).ok());
  CHECK(!found);
  if (!cudatest::have_gpu()) return;
  std::unique_ptr<Backend> be;
  {
    etest::ScopedEnv graphs_off("ELECTRA_CUDA_GRAPHS", "0");
    be = cuda_backend();
  }
  if (!be) return;
  CHECK(!be->graphs_enabled());
  const Status st = be->begin_capture();
  CHECK(!st.ok());
  CHECK(st.message().find("ELECTRA_CUDA_GRAPHS") != std::string::npos) << st.message();
}

namespace {

TrainConfig graph_train(int64_t k) {
  TrainConfig t;
  t.batch = 2;
  t.seq_len = 24;
  t.grad_accum = k;
  t.lr = 1e-3f;
  t.warmup_steps = 3;  // the learning rate changes every step
  t.total_steps = 10;
  t.bias_correction = true;  // so do the bias-correction factors
  t.seed = 5;
  // The reference masking (the default) draws with replacement, so the
  // masked-row count M changes from step to step: the device pads to the most
  // rows, and M is not part of a graph's shape.
  return t;
}

// rows x S tokens; row r has `pad(r)` padding tokens at its end (0: full
// length, the masked-row count then does not change from step to step).
struct GraphTokens {
  std::vector<int32_t> ids, mask;
  Batch b;
  GraphTokens(int64_t rows, int64_t S, int64_t V, int variant, int64_t pad) : ids(size_t(rows * S), 0), mask(ids.size(), 0) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t s = 0; s < S - (r == 0 ? pad : 0); ++s) {
        const size_t i = size_t(r * S + s);
        const int64_t len = S - (r == 0 ? pad : 0);
        mask[i] = 1;
        ids[i] = s == 0 ? 2 : s == len - 1 ? 3 : int32_t(5 + (r * 37 + s * 11 + variant * 7) % (V - 5));
      }
    b.input_ids = ids.data();
    b.attention_mask = mask.data();
    b.rows = rows;
    b.seq_len = S;
  }
};

std::unique_ptr<ElectraModel> graph_model(bool graphs) {
  ExecOptions e;
  e.backend = BackendKind::kCuda;
  return etest::make_model_with_env("ELECTRA_CUDA_GRAPHS", graphs ? "1" : "0", etest::tiny_step_config(), 4, e);
}

bool same_metrics(const StepMetrics& a, const StepMetrics& b) {
  return std::memcmp(&a.loss, &b.loss, sizeof(double)) == 0 && std::memcmp(&a.gen_loss, &b.gen_loss, sizeof(double)) == 0 &&
         std::memcmp(&a.disc_loss, &b.disc_loss, sizeof(double)) == 0 &&
         std::memcmp(&a.grad_norm, &b.grad_norm, sizeof(double)) == 0 && a.gen_accuracy == b.gen_accuracy &&
         a.disc_accuracy == b.disc_accuracy && a.masked == b.masked && a.replaced == b.replaced &&
         a.lr == b.lr && a.skipped == b.skipped;
}

// Trains both models on the same steps; every step's metrics and the final
// parameters and AdamW moments must have the same bits.
void train_both(ElectraModel* on, ElectraModel* off, const TrainConfig& t, const std::vector<const Batch*>& steps,
                int64_t first_step) {
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t step = first_step + int64_t(i);
    StepMetrics a, b;
#if defined(ELECTRA_CUDA_EMULATOR)
    const uint64_t syncs = emu::host_syncs(), graphs = emu::graph_launches();
    const int64_t launches = on->graph_stats().launches;
#endif
    Status st = on->train_step(t, *steps[i], step, &a);
    CHECK(st.ok()) << st.message();
#if defined(ELECTRA_CUDA_EMULATOR)
    // (The first step of a new shape also waits for its buffers and workspaces.)
    if (i > 0)
      CHECK(emu::host_syncs() - syncs == 1) << "step " << step << " waited " << (emu::host_syncs() - syncs) << " times";
    CHECK(emu::graph_launches() - graphs == uint64_t(on->graph_stats().launches - launches))
        << "step " << step << ": graph launches";
    CHECK(emu::graph_launches() - graphs <= 1) << "step " << step;
#endif
    st = off->train_step(t, *steps[i], step, &b);
    CHECK(st.ok()) << st.message();
    CHECK(same_metrics(a, b)) << "step " << step << ": loss " << a.loss << " vs " << b.loss << ", norm "
                              << a.grad_norm << " vs " << b.grad_norm;
  }
  etest::check_same_state(on, off);
}

}  // namespace

// Graphs on vs off: several steps, each with its own Philox offsets and
// learning rate (warm-up, bias correction), give the same bits; the step is
// captured once (after one plain warm-up step) and replayed, one graph launch
// and one host wait per step.
TEST(cuda_step_graph_matches_plain) {
  if (!cudatest::have_gpu()) return;
  for (int64_t k : {int64_t(1), int64_t(2)}) {
    auto on = graph_model(true), off = graph_model(false);
    if (!on || !off) return;
    if (!graphs_on(on->backend())) return;
    const TrainConfig t = graph_train(k);
    std::vector<GraphTokens> data;
    for (int v = 0; v < 5; ++v) data.emplace_back(t.batch * k, t.seq_len, etest::tiny_step_config().vocab_size, v, 0);
    std::vector<const Batch*> steps;
    for (auto& d : data) steps.push_back(&d.b);
    train_both(on.get(), off.get(), t, steps, 0);
    const auto& g = on->graph_stats();
    CHECK(g.captures == 1 && g.plain == 1 && g.launches == 4)
        << "k " << k << ": captures " << g.captures << ", plain " << g.plain << ", launches " << g.launches
        << (g.fallback.empty() ? "" : ": " + g.fallback);
    CHECK(off->graph_stats().launches == 0 && off->graph_stats().captures == 0);
    // Evaluation between steps runs plainly (a new key) and leaves the kept graph.
    StepMetrics a, b;
    CHECK(on->evaluate(t, data[0].b, 9, &a).ok());
    CHECK(off->evaluate(t, data[0].b, 9, &b).ok());
    CHECK(same_metrics(a, b)) << "evaluation";
  }
}

// Steps without metrics (train_step with no StepMetrics): the host does not
// wait for the step it enqueued, nor for the one before; it waits only before
// refilling a staging set that a step two back may still read. Interleaved
// with steps that ask for metrics, they give the same bits as a run that asks
// every step: metrics, parameters and AdamW moments. The emulator's pinned-copy
// check (EMU RACE) sees a staging set rewritten before its upload was done.
TEST(cuda_step_without_metrics_matches_and_does_not_wait) {
  if (!cudatest::have_gpu()) return;
  auto lazy = graph_model(true), eager = graph_model(true);
  if (!lazy || !eager) return;
  if (!graphs_on(lazy->backend())) return;
  const TrainConfig t = graph_train(1);
  std::vector<GraphTokens> data;
  for (int v = 0; v < 7; ++v) data.emplace_back(t.batch, t.seq_len, etest::tiny_step_config().vocab_size, v, v % 3);
  // Which steps ask for metrics, and how often each step may wait for the device.
  const bool metrics[7] = {true, false, false, false, true, false, true};
  const int waits[7] = {-1, 0, 0, 1, 2, 0, 1};  // -1: the first step also grows the buffers
#if defined(ELECTRA_CUDA_EMULATOR)
  const uint64_t races = emu::race_count();
#endif
  for (int step = 0; step < 7; ++step) {
    StepMetrics a, b;
#if defined(ELECTRA_CUDA_EMULATOR)
    const uint64_t syncs = emu::host_syncs();
#endif
    Status st = lazy->train_step(t, data[size_t(step)].b, step, metrics[step] ? &a : nullptr);
    CHECK(st.ok()) << st.message();
#if defined(ELECTRA_CUDA_EMULATOR)
    if (waits[step] >= 0)
      CHECK(emu::host_syncs() - syncs == uint64_t(waits[step]))
          << "step " << step << " waited " << (emu::host_syncs() - syncs) << " times, expected " << waits[step];
#endif
    st = eager->train_step(t, data[size_t(step)].b, step, &b);
    CHECK(st.ok()) << st.message();
    if (metrics[step])
      CHECK(same_metrics(a, b)) << "step " << step << ": loss " << a.loss << " vs " << b.loss << ", norm "
                                << a.grad_norm << " vs " << b.grad_norm;
  }
  // Keys: set 0 and 1 without metrics, set 0 and 1 with: steps 3, 5 and 6 replay.
  const auto& g = lazy->graph_stats();
  CHECK(g.captures == 2 && g.launches == 3 && g.plain == 4)
      << "captures " << g.captures << ", plain " << g.plain << ", launches " << g.launches
      << (g.fallback.empty() ? "" : ": " + g.fallback);
  // A step without metrics, then reading the model: it waits for the step.
  CHECK(lazy->train_step(t, data[0].b, 7, nullptr).ok());
  StepMetrics b;
  CHECK(eager->train_step(t, data[0].b, 7, &b).ok());
  etest::check_same_state(lazy.get(), eager.get());
#if defined(ELECTRA_CUDA_EMULATOR)
  CHECK(emu::race_count() == races) << "a staging set was rewritten while a step still read it";
#endif
  // An evaluation needs its metrics.
  CHECK(lazy->evaluate(t, data[0].b, 0, nullptr).code() == StatusCode::kInvalidArgument);
}

// Rows with padding (another real-token count, another masked-row count)
// replay the same graph, and still match the plain path bit for bit; another
// batch size is another shape: its buffers are new, the kept graphs are
// dropped, and it is captured again after its own warm-up step.
TEST(cuda_step_graph_shape_change_recaptures) {
  if (!cudatest::have_gpu()) return;
  auto on = graph_model(true), off = graph_model(false);
  if (!on || !off || !graphs_on(on->backend())) return;
  const TrainConfig t = graph_train(1);
  const int64_t V = etest::tiny_step_config().vocab_size;
  GraphTokens full0(t.batch, t.seq_len, V, 0, 0), full1(t.batch, t.seq_len, V, 1, 0);
  GraphTokens padded0(t.batch, t.seq_len, V, 2, 12), padded1(t.batch, t.seq_len, V, 3, 7);
  train_both(on.get(), off.get(), t, {&full0.b, &full1.b, &full0.b}, 0);  // plain, capture, replay
  CHECK(on->graph_stats().captures == 1 && on->graph_stats().launches == 2);
  train_both(on.get(), off.get(), t, {&padded0.b, &padded1.b, &padded0.b, &full1.b}, 3);
  const auto& g = on->graph_stats();
  CHECK(g.captures == 1 && g.launches == 6 && g.plain == 1)
      << "captures " << g.captures << ", launches " << g.launches << ", plain " << g.plain;
  // Another batch size: new buffers, the kept graphs are dropped.
  TrainConfig t4 = t;
  t4.batch = 4;
  GraphTokens big0(4, t.seq_len, V, 4, 0), big1(4, t.seq_len, V, 5, 3);
  train_both(on.get(), off.get(), t4, {&big0.b, &big1.b, &big0.b}, 7);
  CHECK(on->graph_stats().captures == 2 && on->graph_stats().launches == 8 && on->backend().graph_count() == 1)
      << "captures " << on->graph_stats().captures << ", launches " << on->graph_stats().launches;
}

// The padding rows a step graph works with (rows past the masked-row count):
// a row index, position or target < 0. CUDA and the CPU oracle agree, and the
// padding contributes nothing; the cross-entropy's scale read from memory.
TEST(cuda_padding_rows_match_cpu) {
  if (!cudatest::have_gpu()) return;
  auto cu = cuda_backend();
  std::unique_ptr<Backend> cpu;
  CHECK(make_backend(ExecOptions{}, &cpu).ok());
  if (!cu || !cpu) return;
  constexpr int64_t R = 5, V = 7, C = 3, N = 6;
  const std::vector<int32_t> rows = {0, 1, 2, 3, 4}, targets = {2, -1, 4, -1, 0};
  const std::vector<int32_t> positions = {4, -1, 1, -1, 0}, sampled = {6, 9, 5, 9, 3}, ids = {0, 1, 2, 3, 4, 5};
  std::vector<float> logits(size_t(R * V)), inp(size_t(N * C)), dout(size_t(R * C));
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = 0.37f * float(int(i * 5 % 11) - 5);
  for (size_t i = 0; i < inp.size(); ++i) inp[i] = 0.5f + float(i);
  for (size_t i = 0; i < dout.size(); ++i) dout[i] = 1.0f + float(i);
  const float scale = 0.125f;
  struct Out {
    std::vector<float> losses, dlogits, gathered, dinp, labels;
    std::vector<int32_t> argmax, disc_ids;
    std::vector<double> s;
  };
  auto run = [&](Backend* be) {
    Out o;
    auto dev = [&](size_t bytes, const void* host) {
      void* p = nullptr;
      CHECK(be->alloc(bytes, &p).ok());
      if (host) CHECK(be->upload(p, host, bytes).ok());
      return p;
    };
    float* d_logits = static_cast<float*>(dev(logits.size() * 4, logits.data()));
    float* d_losses = static_cast<float*>(dev(R * 4, nullptr));
    int32_t* d_argmax = static_cast<int32_t*>(dev(R * 4, nullptr));
    int32_t* d_rows = static_cast<int32_t*>(dev(R * 4, rows.data()));
    int32_t* d_targets = static_cast<int32_t*>(dev(R * 4, targets.data()));
    int32_t* d_pos = static_cast<int32_t*>(dev(R * 4, positions.data()));
    int32_t* d_sampled = static_cast<int32_t*>(dev(R * 4, sampled.data()));
    int32_t* d_ids = static_cast<int32_t*>(dev(N * 4, ids.data()));
    int32_t* d_disc = static_cast<int32_t*>(dev(N * 4, nullptr));
    float* d_labels = static_cast<float*>(dev(N * 4, nullptr));
    float* d_scale = static_cast<float*>(dev(4, &scale));
    float* d_inp = static_cast<float*>(dev(inp.size() * 4, inp.data()));
    float* d_gath = static_cast<float*>(dev(R * C * 4, nullptr));
    float* d_dout = static_cast<float*>(dev(dout.size() * 4, dout.data()));
    float* d_dinp = static_cast<float*>(dev(N * C * 4, nullptr));
    double* d_s = static_cast<double*>(dev(4 * sizeof(double), nullptr));
    CHECK(be->zero(d_dinp, N * C * 4).ok());
    // grad_scale by value is ignored when the memory one is given.
    CHECK(be->crossentropy_forward_backward(d_losses, d_argmax, d_logits, d_logits, d_rows, d_targets, R, V, 99.0f,
                                            d_scale).ok());
    CHECK(be->step_loss(d_s, d_s + 2, d_losses, d_argmax, d_targets, R, nullptr, 0.0f, 1, 1, true).ok());
    CHECK(be->make_disc_inputs(d_disc, d_labels, d_ids, d_pos, d_sampled, R, N).ok());
    CHECK(be->gather_rows(d_gath, d_inp, d_pos, R, C).ok());
    CHECK(be->gather_rows_backward(d_dinp, d_dout, d_pos, R, C).ok());
    o.losses.resize(R); o.dlogits.resize(R * V); o.argmax.resize(R); o.disc_ids.resize(N); o.labels.resize(N);
    o.gathered.resize(R * C); o.dinp.resize(N * C); o.s.resize(3);
    CHECK(be->download(o.losses.data(), d_losses, R * 4).ok());
    CHECK(be->download(o.dlogits.data(), d_logits, R * V * 4).ok());
    CHECK(be->download(o.argmax.data(), d_argmax, R * 4).ok());
    CHECK(be->download(o.disc_ids.data(), d_disc, N * 4).ok());
    CHECK(be->download(o.labels.data(), d_labels, N * 4).ok());
    CHECK(be->download(o.gathered.data(), d_gath, R * C * 4).ok());
    CHECK(be->download(o.dinp.data(), d_dinp, N * C * 4).ok());
    CHECK(be->download(o.s.data(), d_s, 3 * sizeof(double)).ok());
    CHECK(be->sync().ok());
    for (void* p : {(void*)d_logits, (void*)d_losses, (void*)d_argmax, (void*)d_rows, (void*)d_targets, (void*)d_pos,
                    (void*)d_sampled, (void*)d_ids, (void*)d_disc, (void*)d_labels, (void*)d_scale, (void*)d_inp,
                    (void*)d_gath, (void*)d_dout, (void*)d_dinp, (void*)d_s})
      be->release(p);
    return o;
  };
  const Out c = run(cpu.get()), g = run(cu.get());
  for (int64_t r = 0; r < R; ++r) {
    CHECK(std::fabs(c.losses[size_t(r)] - g.losses[size_t(r)]) <= 1e-5f * (1 + std::fabs(c.losses[size_t(r)])));
    for (int64_t j = 0; j < V; ++j) {
      const size_t i = size_t(r * V + j);
      CHECK(std::fabs(c.dlogits[i] - g.dlogits[i]) <= 1e-6f) << r << "," << j;
      if (targets[size_t(r)] < 0) CHECK(c.dlogits[i] == 0.0f && g.dlogits[i] == 0.0f) << "padding row gradient";
    }
    if (targets[size_t(r)] < 0) CHECK(c.losses[size_t(r)] == 0.0f && g.losses[size_t(r)] == 0.0f);
    else CHECK(c.losses[size_t(r)] > 0.0f);
  }
  // The scale came from memory: a real row's gradient sums to 0 and its target
  // entry is scale * (p_t - 1).
  CHECK(c.dlogits[2] < 0.0f && c.dlogits[2] > -scale);
  CHECK(c.argmax == g.argmax);
  // step_loss: the mean over the 3 real rows, in index order.
  const double mean = (double(c.losses[0]) + double(c.losses[2]) + double(c.losses[4])) / 3.0;
  CHECK(c.s[0] == mean) << c.s[0] << " vs " << mean;
  CHECK(std::fabs(g.s[0] - c.s[0]) <= 1e-6 * c.s[0]);
  CHECK(c.s[1] == g.s[1]);
  CHECK(c.disc_ids == g.disc_ids && c.labels == g.labels);
  CHECK(c.disc_ids == (std::vector<int32_t>{3, 5, 2, 3, 6, 5})) << "positions < 0 are skipped";
  CHECK(c.gathered == g.gathered && c.dinp == g.dinp);
  for (int64_t r : {1, 3})
    for (int64_t j = 0; j < C; ++j) CHECK(c.gathered[size_t(r * C + j)] == 0.0f) << "a padding row gathers zeros";
  for (int64_t n : {2, 3, 5})
    for (int64_t j = 0; j < C; ++j) CHECK(c.dinp[size_t(n * C + j)] == 0.0f) << "a padding row adds nothing";
}

#if defined(ELECTRA_CUDA_EMULATOR)
// The emulator's rules, on the runtime API directly.
TEST(cuda_emu_stream_capture_rules) {
  if (!cudatest::have_gpu()) return;
  cudaStream_t s = nullptr;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
  float *d = nullptr, *h = nullptr;
  CHECK(cudaMalloc(&d, kN * sizeof(float)) == cudaSuccess);
  CHECK(cudaMallocHost(&h, kN * sizeof(float)) == cudaSuccess);
  for (int64_t i = 0; i < kN; ++i) h[i] = float(i);
  CHECK(cudaMemcpyAsync(d, h, kN * sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
  CHECK(cudaStreamSynchronize(s) == cudaSuccess);

  // Recorded, not run: the kernel's output is unchanged until the launch.
  cudaStreamCaptureStatus cs;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK(cudaStreamIsCapturing(s, &cs) == cudaSuccess && cs == cudaStreamCaptureStatusActive);
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaErrorIllegalState);
  cudaGetLastError();
  CHECK(cuda::dropout_forward(d, d, kN, kP, kSeed, 0, s).ok());  // in place: a replay applies it again
  CHECK(cudaMemcpyAsync(h, d, kN * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  cudaGraph_t g = nullptr;
  CHECK(cudaStreamEndCapture(s, &g) == cudaSuccess && g != nullptr);
  CHECK(cudaStreamIsCapturing(s, &cs) == cudaSuccess && cs == cudaStreamCaptureStatusNone);
  for (int64_t i = 0; i < kN; ++i) CHECK(h[i] == float(i)) << "captured work ran at capture";
  cudaGraphExec_t x = nullptr;
  CHECK(cudaGraphInstantiate(&x, g, 0) == cudaSuccess);
  std::vector<float> want(kN), in(kN);
  for (int64_t i = 0; i < kN; ++i) in[size_t(i)] = float(i);
  cpu::dropout_forward(want.data(), in.data(), kN, kP, kSeed, 0);
  for (int rep = 0; rep < 2; ++rep) {
    CHECK(cudaGraphLaunch(x, s) == cudaSuccess);
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    CHECK(same_bits(h, want)) << "replay " << rep;
    in = want;
    cpu::dropout_forward(want.data(), in.data(), kN, kP, kSeed, 0);
  }

  // Prohibited inside a capture: each invalidates it, and EndCapture then fails.
  enum { kSync, kDevSync, kMemcpy, kMalloc, kPageable, kEvent };
  for (int what : {kSync, kDevSync, kMemcpy, kMalloc, kPageable, kEvent}) {
    std::vector<float> pageable(kN);
    cudaEvent_t ev = nullptr;
    CHECK(cudaEventCreate(&ev) == cudaSuccess);
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
    CHECK(cuda::dropout_forward(d, d, kN, kP, kSeed, 0, s).ok());
    cudaError_t e = cudaSuccess;
    void* extra = nullptr;
    switch (what) {
      case kSync: e = cudaStreamSynchronize(s); break;
      case kDevSync: e = cudaDeviceSynchronize(); break;
      case kMemcpy: e = cudaMemcpy(pageable.data(), d, kN * sizeof(float), cudaMemcpyDeviceToHost); break;
      case kMalloc: e = cudaMalloc(&extra, 256); break;
      case kPageable: e = cudaMemcpyAsync(pageable.data(), d, kN * sizeof(float), cudaMemcpyDeviceToHost, s); break;
      case kEvent:
        CHECK(cudaEventRecord(ev, s) == cudaSuccess);
        e = cudaEventSynchronize(ev);
        break;
    }
    CHECK(e != cudaSuccess) << "prohibited call " << what << " succeeded inside a capture";
    if (what != kEvent) {
      CHECK(e == cudaErrorStreamCaptureUnsupported) << what << ": " << cudaGetErrorName(e);
      CHECK(cudaStreamIsCapturing(s, &cs) == cudaSuccess && cs == cudaStreamCaptureStatusInvalidated);
      cudaGetLastError();
      CHECK(cuda::dropout_forward(d, d, kN, kP, kSeed, 0, s).ok() == false) << "launch into an invalidated capture";
    } else {
      CHECK(e == cudaErrorCapturedEvent);
    }
    cudaGraph_t bad = nullptr;
    const cudaError_t end = cudaStreamEndCapture(s, &bad);
    CHECK((what == kEvent) == (end == cudaSuccess)) << what << ": " << cudaGetErrorName(end);
    if (bad) cudaGraphDestroy(bad);
    CHECK(extra == nullptr);
    cudaEventDestroy(ev);
    cudaGetLastError();
  }
#if defined(ELECTRA_CUDA_EMULATOR)
  // Setting a kernel's shared-memory limit is refused inside a capture (the
  // emulator's conservative rule), so the backend opts each kernel in once,
  // before: cuda::opt_in_smem_once makes no runtime call the second time.
  {
    void (*probe)(float*) = [](float*) {};
    CHECK(cuda::opt_in_smem_once(probe, 64 * 1024) == cudaSuccess);
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
    CHECK(cuda::opt_in_smem_once(probe, 64 * 1024) == cudaSuccess);
    CHECK(cudaStreamIsCapturing(s, &cs) == cudaSuccess && cs == cudaStreamCaptureStatusActive)
        << "an attribute already set was set again inside the capture";
    CHECK(cudaFuncSetAttribute(probe, cudaFuncAttributeMaxDynamicSharedMemorySize, 80 * 1024) ==
          cudaErrorStreamCaptureUnsupported);
    CHECK(cudaStreamIsCapturing(s, &cs) == cudaSuccess && cs == cudaStreamCaptureStatusInvalidated);
    cudaGraph_t bad = nullptr;
    CHECK(cudaStreamEndCapture(s, &bad) != cudaSuccess);
    if (bad) cudaGraphDestroy(bad);
    cudaGetLastError();
  }
#endif
  // A relaxed capture allows an allocation (not a sync of the capturing stream).
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed) == cudaSuccess);
  void* extra = nullptr;
  CHECK(cudaMalloc(&extra, 256) == cudaSuccess);
  CHECK(cudaStreamEndCapture(s, &g) == cudaSuccess);
  CHECK(cudaFree(extra) == cudaSuccess);
  CHECK(cudaGraphDestroy(g) == cudaSuccess);
  CHECK(cudaStreamEndCapture(s, &g) == cudaErrorIllegalState);
  cudaGetLastError();
  CHECK(cudaGraphExecDestroy(x) == cudaSuccess);
  cudaFree(d);
  cudaFreeHost(h);
  cudaStreamDestroy(s);
}
#endif  // ELECTRA_CUDA_EMULATOR

#endif  // ELECTRA_HAVE_CUDA
