// The native test program: runs every registered TEST, or those whose name
// contains one of the arguments. Prints one line per test and the closing
// line "N passed, N failed". Exit status 1 when anything failed.
#include <chrono>
#include <cstring>
#include <string>

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
}  // namespace etest

int main(int argc, char** argv) {
  std::vector<std::string> filters;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list") == 0) {
      for (auto& t : etest::registry()) std::printf("%s\n", t.name);
      return 0;
    }
    filters.push_back(argv[i]);
  }
  int passed = 0, failed = 0;
  for (auto& t : etest::registry()) {
    if (!filters.empty()) {
      bool hit = false;
      for (auto& f : filters) hit |= std::string(t.name).find(f) != std::string::npos;
      if (!hit) continue;
    }
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
