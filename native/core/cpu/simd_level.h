// Which SIMD code path the CPU backend runs: one switch for every op (GEMM
// micro-kernel, GELU, Philox, Gumbel sampling, softmax, LayerNorm, losses,
// AdamW, norms), so that a test run or a benchmark can force any path the
// CPU supports and every path is exercised on every machine.
//
//   generic  plain C++ (auto-vectorised for the build's baseline target; the
//            only path on non-x86 builds or with ELECTRA_PORTABLE)
//   avx2     AVX2 + FMA (Haswell and later, AMD Zen 1 and later)
//   avx512   AVX-512F + AVX2 + FMA (Skylake-SP and later, AMD Zen 4 and later)
//
// The level in use is the best one the CPU and the build support, lowered by
// ELECTRA_SIMD=generic|avx2|avx512 in the environment (read once), or by
// set_simd_level(). Asking for a level the CPU lacks is an error from
// set_simd_level(); from the environment it is ignored with a warning on
// stderr, since a shared setting may travel to a smaller machine.
#pragma once

#include "../status.h"

// 1 when the x86 SIMD kernels are compiled in. ELECTRA_PORTABLE (CMake
// -DELECTRA_PORTABLE=ON) compiles them out on x86-64 too, as a build for
// aarch64 would: CI builds and tests that configuration so a non-x86 build is
// not broken by construction.
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(ELECTRA_PORTABLE)
#define ELECTRA_X86_SIMD 1
#else
#define ELECTRA_X86_SIMD 0
#endif

namespace electra {
namespace cpu {

enum class SimdLevel : int { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

// The best level this CPU and this build can run.
SimdLevel cpu_simd_level();
// The level the ops use now.
SimdLevel simd_level();
// Forces `level` for every later op call (not while an op runs).
// ERR_INVALID_ARGUMENT when the CPU or the build cannot run it.
Status set_simd_level(SimdLevel level);

const char* simd_level_name(SimdLevel level);  // "generic", "avx2", "avx512"
// false when `name` is none of those three.
bool parse_simd_level(const char* name, SimdLevel* out);

}  // namespace cpu
}  // namespace electra
