// The native test program: runs every registered TEST, or those whose name
// contains one of the arguments. Prints one line per test and the closing
// line "N passed, N failed, N skipped". A test that called etest::skip() and
// failed nothing counts as skipped, never as passed. Exit status 1 when
// anything failed.
#include <chrono>
#include <cstring>
#include <string>

#include "core/cpu/simd_level.h"
#include "core/device.h"
#include "test_util.h"

namespace etest {
std::vector<TestCase>& registry() {
  static std::vector<TestCase> r;
  return r;
}
static int g_failures = 0;
void report_failure(const char* file, int line, const std::string& msg) {
  ++g_failures;
  if (g_failures <= 20) std::fprintf(stderr, "    %s:%d: %s\n", file, line, msg.c_str());
}
int current_failures() { return g_failures; }
static int g_skips = 0;
void skip(const std::string& why) {
  ++g_skips;
  std::printf("    SKIP: %s\n", why.c_str());
}
int current_skips() { return g_skips; }
bool& require_device() {
  static bool r = false;
  return r;
}
bool gpu_or_skip() {
  electra::DeviceInfo info;
  electra::Status st = electra::cuda_device_count(&info);
  CHECK(st.ok()) << st.code_name() << ": " << st.message();
  if (!st.ok()) return false;
  if (info.count > 0) return true;
  if (require_device())
    CHECK(false) << "--backend cuda: no usable CUDA device (" << info.reason << ")";
  else
    skip("no CUDA device (" + info.reason + ")");
  return false;
}
}  // namespace etest

// Usage: electra_tests [--backend cpu|cuda] [--simd generic|avx2|avx512]
//                     [--simd-levels] [--list] [NAME-SUBSTRING...]
//   --backend cuda: only the CUDA-vs-CPU tests (names starting "cuda_"), and
//   no GPU is a failure rather than a skip. --backend cpu: all other tests.
//   --simd: run every op at that SIMD level (as ELECTRA_SIMD does); a level
//   this CPU or build cannot run is an error (exit 2), not a silent fallback.
//   --simd-levels: print the levels this CPU and build can run, one a line.
int main(int argc, char** argv) {
  using electra::cpu::SimdLevel;
  std::vector<std::string> filters;
  std::string backend;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list") == 0) {
      list = true;
    } else if (std::strcmp(argv[i], "--simd-levels") == 0) {
      for (SimdLevel l : {SimdLevel::kGeneric, SimdLevel::kAvx2, SimdLevel::kAvx512})
        if (static_cast<int>(l) <= static_cast<int>(electra::cpu::cpu_simd_level()))
          std::printf("%s\n", electra::cpu::simd_level_name(l));
      return 0;
    } else if (std::strcmp(argv[i], "--simd") == 0) {
      SimdLevel level;
      if (i + 1 >= argc || !electra::cpu::parse_simd_level(argv[i + 1], &level)) {
        std::fprintf(stderr, "electra_tests: --simd needs 'generic', 'avx2' or 'avx512'\n");
        return 2;
      }
      const electra::Status st = electra::cpu::set_simd_level(level);
      if (!st.ok()) {
        std::fprintf(stderr, "electra_tests: --simd %s: %s\n", argv[i + 1], st.message().c_str());
        return 2;
      }
      ++i;
    } else if (std::strcmp(argv[i], "--backend") == 0) {
      if (i + 1 >= argc || (std::strcmp(argv[i + 1], "cpu") != 0 && std::strcmp(argv[i + 1], "cuda") != 0)) {
        std::fprintf(stderr, "electra_tests: --backend needs 'cpu' or 'cuda'\n");
        return 2;
      }
      backend = argv[++i];
    } else {
      filters.push_back(argv[i]);
    }
  }
  etest::require_device() = backend == "cuda";
  auto selected = [&](const char* name) {
    const bool is_cuda = std::strncmp(name, "cuda_", 5) == 0;
    if (backend == "cuda" && !is_cuda) return false;
    if (backend == "cpu" && is_cuda) return false;
    if (filters.empty()) return true;
    for (auto& f : filters)
      if (std::string(name).find(f) != std::string::npos) return true;
    return false;
  };
  if (list) {
    for (auto& t : etest::registry())
      if (selected(t.name)) std::printf("%s\n", t.name);
    return 0;
  }
  std::printf("simd level: %s (this CPU/build: up to %s)\n",
              electra::cpu::simd_level_name(electra::cpu::simd_level()),
              electra::cpu::simd_level_name(electra::cpu::cpu_simd_level()));
  int passed = 0, failed = 0, skipped = 0;
  for (auto& t : etest::registry()) {
    if (!selected(t.name)) continue;
    const int before = etest::current_failures(), skips_before = etest::current_skips();
    auto t0 = std::chrono::steady_clock::now();
    t.fn();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const bool ok = etest::current_failures() == before;
    const bool skip = ok && etest::current_skips() != skips_before;
    std::printf("%s %s (%.0f ms)\n", !ok ? "FAIL" : skip ? "SKIP" : "PASS", t.name, ms);
    std::fflush(stdout);
    (!ok ? failed : skip ? skipped : passed)++;
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}
