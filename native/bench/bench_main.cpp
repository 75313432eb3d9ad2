// electra_bench: the native benchmark program (no Node).
//   electra_bench gemm [--threads N] [--json]
//   electra_bench step [--preset tiny|small|base|large] [--batch 16] [--seq 128]
//                      [--steps N] [--warmup 2] [--threads N] [--seed S]
//                      [--backend cpu|cuda] [--device N] [--precision fp32|bf16] [--json]
//                                                                        (bench_step.cpp)
// Each mode is one function taking its own arguments; main() only dispatches
// on argv[1]. Add a mode by writing `int mode_xxx(int argc, char** argv)` and
// listing it in kModes.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu/gemm_timing.h"
#include "core/cpu/ops.h"
#include "core/thread_pool.h"

namespace electra {
namespace cpu {
const char* sgemm_kernel_name();  // gemm.cpp: the micro-kernel in use
}  // namespace cpu
}  // namespace electra

// bench_step.cpp: the whole training step (ElectraModel::train_step).
int electra_bench_mode_step(int argc, char** argv);

namespace {

// Common flags: --threads N, --json. Returns false (after a message) on a bad flag.
struct CommonArgs {
  int threads = 0;  // 0: the pool's default
  bool json = false;
};
bool parse_common(int argc, char** argv, const char* mode, CommonArgs* a) {
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      a->json = true;
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      a->threads = std::atoi(argv[++i]);
      if (a->threads <= 0) {
        std::fprintf(stderr, "electra_bench %s: --threads needs a positive integer\n", mode);
        return false;
      }
    } else {
      std::fprintf(stderr, "electra_bench %s: unknown argument '%s'\n", mode, argv[i]);
      return false;
    }
  }
  return true;
}

// ------------------------------------------------------------------- gemm

struct GemmShape {
  const char* name;
  bool ta, tb;
  int64_t M, N, K;
};

int mode_gemm(int argc, char** argv) {
  CommonArgs args;
  if (!parse_common(argc, argv, "gemm", &args)) return 2;
  if (args.threads > 0) electra::set_num_threads(args.threads);

  // ELECTRA-Small FFN at batch 16 x seq 128 (2048 rows, hidden 256, ffn 1024)
  // as linear_forward / linear_backward call sgemm, the generator's vocab
  // projection at 307 gathered rows, and a large square as the practical peak.
  const std::vector<GemmShape> shapes = {
      {"square 2048^3 (peak)", false, false, 2048, 2048, 2048},
      {"ffn_in fwd   NT", false, true, 2048, 1024, 256},
      {"ffn_in dX    NN", false, false, 2048, 256, 1024},
      {"ffn_in dW    TN", true, false, 1024, 256, 2048},
      {"ffn_out fwd  NT", false, true, 2048, 256, 1024},
      {"ffn_out dX   NN", false, false, 2048, 1024, 256},
      {"ffn_out dW   TN", true, false, 256, 1024, 2048},
      {"vocab fwd    NT", false, true, 307, 30522, 128},
      {"vocab dX     NN", false, false, 307, 128, 30522},
      {"vocab dW     TN", true, false, 30522, 128, 307},
  };

  struct Row {
    const GemmShape* s;
    double sec, gflops;
  };
  std::vector<Row> rows;
  for (const auto& s : shapes) {
    const double sec = electra::cpu::time_sgemm(s.ta, s.tb, s.M, s.N, s.K).median_s;
    rows.push_back({&s, sec, 2.0 * double(s.M) * double(s.N) * double(s.K) / sec * 1e-9});
  }
  const double peak = rows[0].gflops;

  if (args.json) {
    std::printf("[\n");
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::printf(
          "  {\"name\": \"%s\", \"transA\": %s, \"transB\": %s, \"M\": %lld, \"N\": %lld, "
          "\"K\": %lld, \"threads\": %d, \"kernel\": \"%s\", \"median_ms\": %.4f, "
          "\"gflops\": %.2f, \"pct_of_peak\": %.1f}%s\n",
          r.s->name, r.s->ta ? "true" : "false", r.s->tb ? "true" : "false", (long long)r.s->M,
          (long long)r.s->N, (long long)r.s->K, electra::num_threads(),
          electra::cpu::sgemm_kernel_name(), r.sec * 1e3, r.gflops, 100.0 * r.gflops / peak,
          i + 1 < rows.size() ? "," : "");
    }
    std::printf("]\n");
  } else {
    std::printf("sgemm, %d thread(s), kernel %s; median of >= 0.5 s per shape\n",
                electra::num_threads(), electra::cpu::sgemm_kernel_name());
    std::printf("%-22s %6s %6s %6s %10s %9s %8s\n", "shape", "M", "N", "K", "ms", "GFLOP/s",
                "% peak");
    for (const auto& r : rows)
      std::printf("%-22s %6lld %6lld %6lld %10.3f %9.1f %7.1f%%\n", r.s->name, (long long)r.s->M,
                  (long long)r.s->N, (long long)r.s->K, r.sec * 1e3, r.gflops,
                  100.0 * r.gflops / peak);
  }
  return 0;
}

struct Mode {
  const char* name;
  int (*fn)(int argc, char** argv);
  const char* help;
};
const Mode kModes[] = {
    {"gemm", mode_gemm, "gemm [--threads N] [--json]   sgemm GFLOP/s at the model's shapes"},
    {"step", electra_bench_mode_step,
     "step [--preset tiny|small|base|large] [--batch 16] [--seq 128] [--steps N] [--warmup 2]\n"
     "       [--threads N] [--seed S] [--backend cpu|cuda] [--device N] [--precision fp32|bf16]\n"
     "       [--masking reference|exact] [--json]\n"
     "       ELECTRA training step tokens/s, ms/step, peak RSS (CPU) / peak device memory (CUDA)"},
};

void usage() {
  std::fprintf(stderr, "usage: electra_bench <mode> [options]\nmodes:\n");
  for (const auto& m : kModes) std::fprintf(stderr, "  %s\n", m.help);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  for (const auto& m : kModes)
    if (std::strcmp(argv[1], m.name) == 0) return m.fn(argc, argv);
  std::fprintf(stderr, "electra_bench: unknown mode '%s'\n", argv[1]);
  usage();
  return 2;
}
