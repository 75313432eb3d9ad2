// The native test program: runs every registered TEST, or those whose name
// contains one of the arguments. Prints one line per test and the closing
// line "N passed, N failed". Exit status 1 when anything failed.
#include <chrono>
#include <cstring>
#include <string>

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
    std::printf("    SKIP: no CUDA device (%s)\n", info.reason.c_str());
  return false;
}
}  // namespace etest

// Usage: electra_tests [--backend cpu|cuda] [--list] [NAME-SUBSTRING...]
//   --backend cuda: only the CUDA-vs-CPU tests (names starting "cuda_"), and
//   no GPU is a failure rather than a skip. --backend cpu: all other tests.
int main(int argc, char** argv) {
  std::vector<std::string> filters;
  std::string backend;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list") == 0) {
      list = true;
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
  int passed = 0, failed = 0;
  for (auto& t : etest::registry()) {
    if (!selected(t.name)) continue;
    int before = etest::current_failures();
    auto t0 = std::chrono::steady_clock::now();
    t.fn();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    bool ok = etest::current_failures() == before;
    std::printf("%s %s (%.0f ms)\n", ok ? "PASS" : "FAIL", t.name, ms);
    std::fflush(stdout);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
