// electra_bench step: times the whole ELECTRA training step
// (ElectraModel::train_step: masking, generator, Gumbel sampling,
// discriminator, both losses, backward, clipping, AdamW) at a preset's size.
//
//   electra_bench step [--preset tiny|small|base|large] [--batch 16] [--seq 128]
//                      [--steps N] [--warmup 2] [--threads N] [--seed S] [--json]
//
// Input: random token ids, each row [CLS] w_1 .. w_{S-2} [SEP] with w_i uniform
// in 1000..29999 (ordinary WordPiece ids, no special tokens), no padding, all
// token types 0. tokens/s = batch*seq / median step time. Peak RSS is the
// process's getrusage(RUSAGE_SELF).ru_maxrss (model, optimizer state,
// activations and the token buffer).
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
};
const PresetSize kPresets[] = {
    {"tiny", {64, 2, 2, 256}, 32, 0.5},
    {"small", {256, 12, 4, 1024}, 128, 0.25},
    {"base", {768, 12, 12, 3072}, 768, 1.0 / 3.0},
    {"large", {1024, 24, 16, 4096}, 1024, 0.25},
};

electra::ModelConfig preset_config(const PresetSize& p) {
  electra::ModelConfig c;  // vocab 30522, max position 512, 2 types, BERT special ids, dropout 0.1
  c.embedding_size = p.embedding;
  c.disc = p.disc;
  const int64_t gh = std::max<int64_t>(1, std::llround(double(p.disc.hidden) * p.gen_fraction));
  c.gen.hidden = gh;
  c.gen.layers = p.disc.layers;
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
};

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
    } else if (std::strcmp(f, "--seed") == 0) {
      if (!need(0, &v)) return false;
      a->seed = uint64_t(v);
    } else {
      std::fprintf(stderr, "electra_bench step: unknown argument '%s'\n", f);
      return false;
    }
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

  const electra::ModelConfig mc = preset_config(*ps);
  std::unique_ptr<electra::ElectraModel> model;
  electra::Status st = electra::ElectraModel::create(mc, &model);
  if (!st.ok()) {
    std::fprintf(stderr, "electra_bench step: create: %s: %s\n", st.code_name(), st.message().c_str());
    return 1;
  }
  model->init_weights(a.seed);

  electra::TrainConfig tc;  // mask 0.15, lambda 50, AdamW eps 1e-6 wd 0.01, clip 1.0
  tc.batch = a.batch;
  tc.seq_len = a.seq;
  tc.warmup_steps = 0;  // full learning rate from step 0, so the weights really move
  tc.seed = a.seed;
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
  auto run_step = [&]() -> double {
    const auto t0 = Clock::now();
    electra::Status s = model->train_step(tc, batch, step, &m);
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!s.ok()) {
      std::fprintf(stderr, "electra_bench step: train_step %lld: %s: %s\n", (long long)step, s.code_name(),
                   s.message().c_str());
      std::exit(1);
    }
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
  for (int i = 0; i < steps; ++i) ts.push_back(run_step());
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

  if (a.json) {
    std::printf(
        "{\"mode\": \"step\", \"impl\": \"electra-native\", \"preset\": \"%s\", \"batch\": %lld, "
        "\"seq\": %lld, \"threads\": %d, \"kernel\": \"%s\", \"params\": %lld, \"warmup\": %d, "
        "\"steps\": %d, \"median_ms\": %.2f, \"min_ms\": %.2f, \"max_ms\": %.2f, \"mean_ms\": %.2f, "
        "\"ms_per_step\": %.2f, \"tokens_per_s\": %.1f, \"peak_rss_mb\": %.1f, \"loss\": %.4f, "
        "\"gen_loss\": %.4f, \"disc_loss\": %.4f, \"masked\": %lld, \"step_ms\": [",
        ps->name, (long long)a.batch, (long long)a.seq, threads, electra::cpu::sgemm_kernel_name(), params,
        a.warmup, steps, med * 1e3, sorted.front() * 1e3, sorted.back() * 1e3, mean * 1e3, med * 1e3, tps, rss,
        m.loss, m.gen_loss, m.disc_loss, (long long)m.masked);
    for (size_t i = 0; i < ts.size(); ++i) std::printf("%s%.2f", i ? ", " : "", ts[i] * 1e3);
    std::printf("]}\n");
  } else {
    std::printf(
        "ELECTRA training step (electra-native, CPU): preset %s (%lld params), batch %lld x seq %lld, "
        "%d thread(s), kernel %s\n",
        ps->name, params, (long long)a.batch, (long long)a.seq, threads, electra::cpu::sgemm_kernel_name());
    std::printf("%d warm-up + %d timed steps; last loss %.4f (gen %.4f, disc %.4f), %lld masked\n", a.warmup,
                steps, m.loss, m.gen_loss, m.disc_loss, (long long)m.masked);
    std::printf("%12s %10s %10s %10s %12s %14s\n", "tokens/s", "ms/step", "min ms", "max ms", "tokens/step",
                "peak RSS MB");
    std::printf("%12.1f %10.1f %10.1f %10.1f %12lld %14.1f\n", tps, med * 1e3, sorted.front() * 1e3,
                sorted.back() * 1e3, (long long)N, rss);
  }
  return 0;
}
