// electra_bench step: times the whole ELECTRA training step
// (ElectraModel::train_step: masking, generator, Gumbel sampling,
// discriminator, both losses, backward, clipping, AdamW) at a preset's size.
//
//   electra_bench step [--preset tiny|small|base|large] [--batch 16] [--seq 128]
//                      [--steps N] [--warmup 2] [--threads N] [--seed S]
//                      [--backend cpu|cuda] [--device N] [--precision fp32|bf16]
//                      [--masking reference|exact] [--no-metrics] [--json]
//
// --no-metrics: every step runs without its metrics (train_step with no
// StepMetrics), back to back as Trainer metricsEvery runs them: the backend is
// not drained between the timed steps, only once after the last, and each
// step's time is that total / steps. The printed losses are 0: none was read.
//
// Input: random token ids, each row [CLS] w_1 .. w_{S-2} [SEP] with w_i uniform
// in 1000..29999 (ordinary WordPiece ids, no special tokens), no padding, all
// token types 0. tokens/s = batch*seq / median step time. Peak RSS is the
// process's getrusage(RUSAGE_SELF).ru_maxrss (model, optimizer state,
// activations and the token buffer).
//
// --backend cuda (precision default bf16; the CPU computes in fp32 only): each
// step is timed from a backend().sync() before it to a backend().sync() after
// it, so a step's time covers all of its GPU work. Peak device memory is
// backend().peak_bytes() (every allocation the backend made, highest since the
// model was created); as a cross-check, the drop in cudaMemGetInfo's free bytes
// from just before the model is created to just after the timed steps
// (includes the CUDA library workspaces and anything else the process
// allocated on the device meanwhile; other processes on the GPU skew it).
// A backend that cannot be created (no GPU, a build without CUDA) is an error:
// exit status 1 with "<code>: <message>" on stderr.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/electra_model.h"
#include "core/thread_pool.h"

#if defined(ELECTRA_HAVE_CUDA)
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>
#endif

namespace electra {
namespace cpu {
const char* sgemm_kernel_name();  // gemm.cpp: the micro-kernel in use
}  // namespace cpu
}  // namespace electra

namespace {

using Clock = std::chrono::steady_clock;

// The model sizes of lib/config.ts PRESETS (keep in sync with it). The
// generator follows generatorSize() there: width round(H * fraction), heads
// max(1, floor(width / 64)), FFN 4 * width, the discriminator's depth.
struct PresetSize {
  const char* name;
  electra::EncoderConfig disc;
  int64_t embedding;
  double gen_fraction;
  double gen_layers;  // generator depth / discriminator depth
  int64_t max_position;
};
const PresetSize kPresets[] = {
    {"tiny", {64, 2, 2, 256}, 32, 0.25, 0.5, 128},
    {"small", {256, 12, 4, 1024}, 128, 0.25, 1.0, 512},
    {"base", {768, 12, 12, 3072}, 768, 1.0 / 3.0, 1.0, 512},
    {"large", {1024, 24, 16, 4096}, 1024, 0.25, 1.0, 512},
};

electra::ModelConfig preset_config(const PresetSize& p) {
  electra::ModelConfig c;  // vocab 30522, 2 types, BERT special ids, dropout 0.1
  c.embedding_size = p.embedding;
  c.max_position = p.max_position;
  c.disc = p.disc;
  const int64_t gh = std::max<int64_t>(1, std::llround(double(p.disc.hidden) * p.gen_fraction));
  c.gen.hidden = gh;
  c.gen.layers = std::max<int64_t>(1, std::llround(double(p.disc.layers) * p.gen_layers));
  c.gen.heads = std::max<int64_t>(1, gh / 64);
  c.gen.intermediate = 4 * gh;
  c.objective = electra::Objective::kElectra;
  return c;
}

struct StepArgs {
  std::string preset = "small";
  int64_t batch = 16, seq = 128;
  int steps = 0;  // 0: automatic
  int warmup = 2;
  int threads = 0;
  uint64_t seed = 1;
  bool json = false;
  electra::BackendKind backend = electra::BackendKind::kCpu;
  int device = 0;
  bool precision_set = false;  // false: fp32 on the CPU, bf16 on CUDA
  electra::Precision precision = electra::Precision::kFp32;
  // exact: the masked-row count is the same every step here (full-length
  // rows), so on CUDA the step is one graph launch after its warm-up step.
  electra::MaskingMode masking = electra::MaskingMode::kReference;
  bool metrics = true;
};


// JSON string body: escapes quotes, backslashes and control characters.
std::string json_escape(const std::string& in) {
  std::string o;
  for (unsigned char c : in) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\u%04x", c);
      o += b;
    } else {
      o += char(c);
    }
  }
  return o;
}

// Free and total device memory of `device` (cudaMemGetInfo), or false when
// the build has no CUDA or the query fails.
bool device_mem_info(int device, int64_t* free_b, int64_t* total_b) {
#if defined(ELECTRA_HAVE_CUDA)
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  size_t f = 0, t = 0;
  if (cudaMemGetInfo(&f, &t) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  *free_b = int64_t(f);
  *total_b = int64_t(t);
  return true;
#else
  (void)device;
  (void)free_b;
  (void)total_b;
  return false;
#endif
}

bool parse_int(const char* s, long long lo, long long* out) {
  char* end = nullptr;
  const long long v = std::strtoll(s, &end, 10);
  if (!end || *end != '\0' || v < lo) return false;
  *out = v;
  return true;
}

bool parse_step_args(int argc, char** argv, StepArgs* a) {
  for (int i = 2; i < argc; ++i) {
    const char* f = argv[i];
    auto need = [&](long long lo, long long* v) {
      if (i + 1 >= argc || !parse_int(argv[i + 1], lo, v)) {
        std::fprintf(stderr, "electra_bench step: %s needs an integer >= %lld\n", f, lo);
        return false;
      }
      ++i;
      return true;
    };
    long long v = 0;
    if (std::strcmp(f, "--json") == 0) {
      a->json = true;
    } else if (std::strcmp(f, "--preset") == 0 && i + 1 < argc) {
      a->preset = argv[++i];
    } else if (std::strcmp(f, "--backend") == 0) {
      const char* w = i + 1 < argc ? argv[i + 1] : "";
      if (std::strcmp(w, "cpu") == 0) {
        a->backend = electra::BackendKind::kCpu;
      } else if (std::strcmp(w, "cuda") == 0) {
        a->backend = electra::BackendKind::kCuda;
      } else {
        std::fprintf(stderr, "electra_bench step: --backend must be cpu or cuda, got '%s'\n", w);
        return false;
      }
      ++i;
    } else if (std::strcmp(f, "--precision") == 0) {
      const char* w = i + 1 < argc ? argv[i + 1] : "";
      if (std::strcmp(w, "fp32") == 0) {
        a->precision = electra::Precision::kFp32;
      } else if (std::strcmp(w, "bf16") == 0) {
        a->precision = electra::Precision::kBf16;
      } else {
        std::fprintf(stderr, "electra_bench step: --precision must be fp32 or bf16, got '%s'\n", w);
        return false;
      }
      a->precision_set = true;
      ++i;
    } else if (std::strcmp(f, "--device") == 0) {
      if (!need(0, &v)) return false;
      a->device = int(v);
    } else if (std::strcmp(f, "--batch") == 0) {
      if (!need(1, &v)) return false;
      a->batch = v;
    } else if (std::strcmp(f, "--seq") == 0) {
      if (!need(3, &v)) return false;
      a->seq = v;
    } else if (std::strcmp(f, "--steps") == 0) {
      if (!need(1, &v)) return false;
      a->steps = int(v);
    } else if (std::strcmp(f, "--warmup") == 0) {
      if (!need(0, &v)) return false;
      a->warmup = int(v);
    } else if (std::strcmp(f, "--threads") == 0) {
      if (!need(1, &v)) return false;
      a->threads = int(v);
    } else if (std::strcmp(f, "--masking") == 0) {
      const char* m = i + 1 < argc ? argv[++i] : "";
      if (std::strcmp(m, "reference") == 0) a->masking = electra::MaskingMode::kReference;
      else if (std::strcmp(m, "exact") == 0) a->masking = electra::MaskingMode::kExactCount;
      else {
        std::fprintf(stderr, "electra_bench step: --masking must be reference or exact\n");
        return false;
      }
    } else if (std::strcmp(f, "--no-metrics") == 0) {
      a->metrics = false;
    } else if (std::strcmp(f, "--seed") == 0) {
      if (!need(0, &v)) return false;
      a->seed = uint64_t(v);
    } else {
      std::fprintf(stderr, "electra_bench step: unknown argument '%s'\n", f);
      return false;
    }
  }
  if (!a->precision_set)
    a->precision = a->backend == electra::BackendKind::kCuda ? electra::Precision::kBf16 : electra::Precision::kFp32;
  if (a->backend == electra::BackendKind::kCpu && a->precision != electra::Precision::kFp32) {
    std::fprintf(stderr, "electra_bench step: --precision %s needs --backend cuda (the CPU computes in fp32)\n",
                 electra::precision_name(a->precision));
    return false;
  }
  return true;
}

double peak_rss_mb() {
  struct rusage ru;
  std::memset(&ru, 0, sizeof(ru));
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace

// Defined here, listed in bench_main.cpp's kModes.
int electra_bench_mode_step(int argc, char** argv) {
  StepArgs a;
  if (!parse_step_args(argc, argv, &a)) return 2;
  const PresetSize* ps = nullptr;
  for (const auto& p : kPresets)
    if (a.preset == p.name) ps = &p;
  if (!ps) {
    std::fprintf(stderr, "electra_bench step: unknown preset '%s' (tiny, small, base, large)\n",
                 a.preset.c_str());
    return 2;
  }
  if (a.threads > 0) electra::set_num_threads(a.threads);

  electra::ModelConfig mc = preset_config(*ps);
  mc.max_position = std::max(mc.max_position, a.seq);  // as the CLI: the preset's, or the sequence length
  const bool cuda = a.backend == electra::BackendKind::kCuda;
  electra::ExecOptions exec;
  exec.backend = a.backend;
  exec.device = a.device;
  exec.precision = a.precision;
  char where[64];
  if (cuda)
    std::snprintf(where, sizeof(where), "cuda:%d, %s", a.device, electra::precision_name(a.precision));
  else
    std::snprintf(where, sizeof(where), "cpu, %s", electra::precision_name(a.precision));

  int64_t free_before = 0, total_dev = 0, free_after = 0, total_after = 0;
  const bool have_meminfo = cuda && device_mem_info(a.device, &free_before, &total_dev);

  std::unique_ptr<electra::ElectraModel> model;
  electra::Status st = electra::ElectraModel::create(mc, &model, exec);
  if (!st.ok()) {
    std::fprintf(stderr, "electra_bench step: create (%s): %s: %s\n", where, st.code_name(), st.message().c_str());
    return 1;
  }
  if (model->backend().kind() != a.backend) {
    std::fprintf(stderr, "electra_bench step: create (%s): ERR_INTERNAL: the model runs on the %s backend\n", where,
                 electra::backend_kind_name(model->backend().kind()));
    return 1;
  }
  const std::string device_desc = model->backend().describe();
  model->init_weights(a.seed);

  electra::TrainConfig tc;  // mask 0.15, lambda 50, AdamW eps 1e-6 wd 0.01, clip 1.0
  tc.batch = a.batch;
  tc.seq_len = a.seq;
  tc.warmup_steps = 0;  // full learning rate from step 0, so the weights really move
  tc.seed = a.seed;
  tc.masking = a.masking;
  const int64_t N = a.batch * a.seq;
  std::vector<int32_t> ids(static_cast<size_t>(N));
  uint64_t x = 0x9E3779B97F4A7C15ull ^ a.seed;
  for (int64_t b = 0; b < a.batch; ++b) {
    for (int64_t s = 0; s < a.seq; ++s) {
      int32_t id;
      if (s == 0) {
        id = mc.cls_id;
      } else if (s == a.seq - 1) {
        id = mc.sep_id;
      } else {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        id = 1000 + int32_t((x >> 33) % 29000u);  // 1000..29999
      }
      ids[size_t(b * a.seq + s)] = id;
    }
  }
  electra::Batch batch;
  batch.input_ids = ids.data();
  batch.rows = a.batch;
  batch.seq_len = a.seq;

  int64_t step = 0;
  electra::StepMetrics m;
  auto check = [&](const electra::Status& s, const char* what) {
    if (!s.ok()) {
      std::fprintf(stderr, "electra_bench step: %s %lld (%s): %s: %s\n", what, (long long)step, where, s.code_name(),
                   s.message().c_str());
      std::exit(1);
    }
  };
  // One step, timed from a drained backend to a drained backend (on the CPU
  // the ops run inside the call, so the syncs are skipped).
  auto run_step = [&]() -> double {
    if (cuda && a.metrics) check(model->backend().sync(), "sync before step");
    const auto t0 = Clock::now();
#if defined(ELECTRA_HAVE_CUDA)
    // One profiler range per step (nsys/ncu --capture-range=cudaProfilerApi;
    // the emulator's launch log for scripts/cuda-static-report).
    if (cuda) cudaProfilerStart();
#endif
    check(model->train_step(tc, batch, step, a.metrics ? &m : nullptr), "train_step");
#if defined(ELECTRA_HAVE_CUDA)
    if (cuda) cudaProfilerStop();
#endif
    if (cuda && a.metrics) check(model->backend().sync(), "sync after step");
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    ++step;
    return sec;
  };

  double last = 0;
  for (int i = 0; i < a.warmup; ++i) last = run_step();
  int steps = a.steps;
  if (steps <= 0) {
    // Automatic: about 10 s of timed steps, at least 3 (for a median) and at most 20.
    if (last <= 0) last = run_step();  // no warm-up: one untimed probe
    steps = int(std::ceil(10.0 / std::max(last, 1e-3)));
    steps = std::min(20, std::max(3, steps));
  }
  std::vector<double> ts;
  if (cuda && !a.metrics) check(model->backend().sync(), "sync before the timed steps");
  const auto T0 = Clock::now();
  for (int i = 0; i < steps; ++i) ts.push_back(run_step());
  if (cuda && !a.metrics) check(model->backend().sync(), "sync after the timed steps");
  const double total = std::chrono::duration<double>(Clock::now() - T0).count();
  if (!a.metrics) ts.assign(ts.size(), total / double(steps));  // no per-step boundary on the device
  int64_t peak_dev = -1, in_use_dev = -1;
  if (cuda) {
    check(model->backend().sync(), "sync after the timed steps");
    peak_dev = model->backend().peak_bytes();
    in_use_dev = model->backend().bytes_in_use();
  }
  const bool have_meminfo_after = have_meminfo && device_mem_info(a.device, &free_after, &total_after);
  const int64_t dev_delta = have_meminfo_after ? free_before - free_after : -1;

  std::vector<double> sorted = ts;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double med = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  double mean = 0;
  for (double t : ts) mean += t;
  mean /= double(n);
  const double tps = double(N) / med;
  const double rss = peak_rss_mb();
  const int threads = electra::num_threads();
  const long long params = (long long)model->num_parameters();
  std::string kernel = electra::cpu::sgemm_kernel_name();
  if (cuda) kernel = std::string("cuda-") + electra::precision_name(a.precision);
  const double MiB = 1024.0 * 1024.0;

  // The last step's metrics; null (JSON) or "not read" without them.
  auto fixed4 = [&](double v) {
    char b[32];
    std::snprintf(b, sizeof(b), "%.4f", v);
    return a.metrics ? std::string(b) : std::string("null");
  };
  char last_metrics[160];
  if (a.metrics)
    std::snprintf(last_metrics, sizeof(last_metrics), "last loss %.4f (gen %.4f, disc %.4f), %lld masked", m.loss,
                  m.gen_loss, m.disc_loss, (long long)m.masked);
  else
    std::snprintf(last_metrics, sizeof(last_metrics), "steps back to back, no metrics read");
  if (a.json) {
    auto num_or_null = [](int64_t v) { return v < 0 ? std::string("null") : std::to_string((long long)v); };
    std::printf(
        "{\"mode\": \"step\", \"impl\": \"electra-native\", \"backend\": \"%s\", \"device\": %s, "
        "\"device_name\": \"%s\", \"precision\": \"%s\", \"preset\": \"%s\", \"batch\": %lld, "
        "\"seq\": %lld, \"threads\": %d, \"kernel\": \"%s\", \"params\": %lld, \"warmup\": %d, "
        "\"steps\": %d, \"median_ms\": %.2f, \"min_ms\": %.2f, \"max_ms\": %.2f, \"mean_ms\": %.2f, "
        "\"ms_per_step\": %.2f, \"tokens_per_s\": %.1f, \"tokens_per_s_mean\": %.1f, \"peak_rss_mb\": %.1f, "
        "\"peak_device_bytes\": %s, \"device_bytes_in_use\": %s, \"device_mem_delta_bytes\": %s, "
        "\"device_total_bytes\": %s, \"loss\": %s, "
        "\"gen_loss\": %s, \"disc_loss\": %s, \"masked\": %s, \"step_ms\": [",
        electra::backend_kind_name(a.backend), cuda ? std::to_string(a.device).c_str() : "null", json_escape(device_desc).c_str(),
        electra::precision_name(a.precision), ps->name, (long long)a.batch, (long long)a.seq, threads, kernel.c_str(), params, a.warmup, steps, med * 1e3,
        sorted.front() * 1e3, sorted.back() * 1e3, mean * 1e3, med * 1e3, tps, double(N) * double(n) / total, rss,
        num_or_null(peak_dev).c_str(), num_or_null(in_use_dev).c_str(), num_or_null(dev_delta).c_str(),
        num_or_null(have_meminfo ? total_dev : -1).c_str(), fixed4(m.loss).c_str(), fixed4(m.gen_loss).c_str(),
        fixed4(m.disc_loss).c_str(), a.metrics ? std::to_string((long long)m.masked).c_str() : "null");
    for (size_t i = 0; i < ts.size(); ++i) std::printf("%s%.2f", i ? ", " : "", ts[i] * 1e3);
    std::printf("]}\n");
  } else if (!cuda) {
    std::printf(
        "ELECTRA training step (electra-native, CPU): preset %s (%lld params), batch %lld x seq %lld, "
        "%d thread(s), kernel %s\n",
        ps->name, params, (long long)a.batch, (long long)a.seq, threads, kernel.c_str());
    std::printf("%d warm-up + %d timed steps; %s\n", a.warmup, steps, last_metrics);
    std::printf("%12s %10s %10s %10s %12s %14s\n", "tokens/s", "ms/step", "min ms", "max ms", "tokens/step",
                "peak RSS MB");
    std::printf("%12.1f %10.1f %10.1f %10.1f %12lld %14.1f\n", tps, med * 1e3, sorted.front() * 1e3,
                sorted.back() * 1e3, (long long)N, rss);
  } else {
    std::printf("ELECTRA training step (electra-native, %s): preset %s (%lld params), batch %lld x seq %lld\n",
                device_desc.c_str(), ps->name, params, (long long)a.batch, (long long)a.seq);
    std::printf("%d warm-up + %d timed steps; %s\n", a.warmup, steps, last_metrics);
    std::printf("%12s %10s %10s %10s %12s %16s %16s %12s\n", "tokens/s", "ms/step", "min ms", "max ms",
                "tokens/step", "peak dev MiB", "dev delta MiB", "peak RSS MB");
    char delta[32];
    if (dev_delta >= 0)
      std::snprintf(delta, sizeof(delta), "%.1f", double(dev_delta) / MiB);
    else
      std::snprintf(delta, sizeof(delta), "n/a");
    std::printf("%12.1f %10.2f %10.2f %10.2f %12lld %16.1f %16s %12.1f\n", tps, med * 1e3, sorted.front() * 1e3,
                sorted.back() * 1e3, (long long)N, double(peak_dev) / MiB, delta, rss);
  }
  return 0;
}
