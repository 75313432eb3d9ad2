#include "simd_level.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace electra {
namespace cpu {
namespace {

SimdLevel detect() {
#if ELECTRA_X86_SIMD
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f")) return SimdLevel::kAvx512;
  if (avx2) return SimdLevel::kAvx2;
#endif
  return SimdLevel::kGeneric;
}

// -1: not chosen yet (the environment is read on first use).
std::atomic<int> g_level{-1};

int initial_level() {
  const SimdLevel best = cpu_simd_level();
  const char* env = std::getenv("ELECTRA_SIMD");
  if (env == nullptr || *env == 0) return static_cast<int>(best);
  SimdLevel want;
  if (!parse_simd_level(env, &want)) {
    std::fprintf(stderr, "electra-native: ignoring ELECTRA_SIMD=%s (use generic, avx2 or avx512)\n", env);
    return static_cast<int>(best);
  }
  if (static_cast<int>(want) > static_cast<int>(best)) {
    std::fprintf(stderr, "electra-native: ignoring ELECTRA_SIMD=%s: this CPU/build runs at most %s\n", env,
                 simd_level_name(best));
    return static_cast<int>(best);
  }
  return static_cast<int>(want);
}

}  // namespace

SimdLevel cpu_simd_level() {
  static const SimdLevel best = detect();
  return best;
}

SimdLevel simd_level() {
  int l = g_level.load(std::memory_order_acquire);
  if (l < 0) {
    int expected = -1;
    g_level.compare_exchange_strong(expected, initial_level(), std::memory_order_acq_rel);
    l = g_level.load(std::memory_order_acquire);
  }
  return static_cast<SimdLevel>(l);
}

Status set_simd_level(SimdLevel level) {
  if (static_cast<int>(level) > static_cast<int>(cpu_simd_level()))
    return InvalidArgument(std::string("SIMD level '") + simd_level_name(level) +
                           "' is not supported here (this CPU/build runs at most '" +
                           simd_level_name(cpu_simd_level()) + "')");
  g_level.store(static_cast<int>(level), std::memory_order_release);
  return Status::Ok();
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kGeneric: return "generic";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "generic";
}

bool parse_simd_level(const char* name, SimdLevel* out) {
  for (SimdLevel l : {SimdLevel::kGeneric, SimdLevel::kAvx2, SimdLevel::kAvx512})
    if (std::strcmp(name, simd_level_name(l)) == 0) {
      *out = l;
      return true;
    }
  return false;
}

}  // namespace cpu
}  // namespace electra
