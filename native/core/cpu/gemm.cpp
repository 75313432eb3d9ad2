// sgemm: a BLIS/GotoBLAS-style single-precision GEMM.
//
//   C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C[M,N]      (row-major)
//
// Structure (per thread, on its own rectangle of C):
//   for jc in N step NC            B block   (KC x NC, packed, lives in L2/L3)
//     for pc in K step KC
//       pack op(B)[pc:+KC, jc:+NC] into NR-wide column panels
//       for ic in M step MC        A block   (MC x KC, packed, lives in L2)
//         pack op(A)[ic:+MC, pc:+KC] into MR-tall row panels
//         for jr in NC step NR       (B micro-panel KC x NR stays in L1)
//           for ir in MC step MR
//             micro-kernel: MR x NR tile of C += A-panel @ B-panel (registers)
//
// Packing pads the panels with zeros, so the micro-kernel always runs full
// MR x NR tiles; edge tiles go through a small stack buffer and only the
// valid part is merged into C. alpha/beta are applied when a tile is stored
// (beta only on the first K block; later K blocks accumulate), and beta == 0
// never reads C.
//
// Micro-kernels, one per SIMD level (simd_level.h decides which runs;
// block sizes MC x KC x NC chosen per kernel, see make_kernel):
//   AVX-512F  : 8 x 32 (16 zmm accumulators, 2 B vectors, broadcast A),
//               MC 96, KC 512, NC 2048
//   AVX2+FMA  : 6 x 16 (12 ymm accumulators, k loop in inline assembly),
//               MC 144, KC 256, NC 4080
//   portable  : 4 x 16 plain C++ (SSE2 auto-vectorised on x86-64; any other
//               architecture), MC 128, KC 256, NC 4096.
// Only the kernel (and AVX transpose-packing) functions carry target
// attributes, so the library itself builds for baseline x86-64 and runs
// anywhere. K is split into equal blocks of at most KC (multiple of 8).
//
// Threading: C is cut into a tm x tn grid of rectangles (aligned to MR/NR;
// one per thread, two per thread for big GEMMs) that the threads claim from
// an atomic counter inside one parallel_for. Every task packs its own A and
// B blocks, so there are no barriers; the duplicated packing is O(1/M + 1/N)
// of the work. A small C with a long K (M*N*(T-1) <= 1M floats, K >= 8 *
// max(M,N)) is split along K instead, into per-thread partial sums.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../thread_pool.h"
#include "ops.h"

#include "simd_level.h"

#if ELECTRA_X86_SIMD
#define ELECTRA_GEMM_X86 1
#include <immintrin.h>
#else
#define ELECTRA_GEMM_X86 0
#endif

namespace electra {
namespace cpu {
namespace {

// Kernel signature: full MR x NR tile of C (row stride ldc) from packed
// panels a (kc x MR, k-major) and b (kc x NR, k-major).
//   C = alpha * acc + beta * C   (beta == 0: C is not read)
using KernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                          float alpha, float beta);

struct Kernel {
  int mr, nr;
  int64_t mc, kc, nc;  // cache block sizes (mc % mr == 0, nc % nr == 0)
  KernelFn fn;
  const char* name;
  bool avx;  // packing may use AVX2 transposes
};

// ------------------------------------------------------------------ kernels

template <int MR, int NR>
void kernel_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                    float alpha, float beta) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i) {
      const float ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += NR;
  }
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    if (beta == 0.f) {
      for (int j = 0; j < NR; ++j) ci[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < NR; ++j) ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
  }
}

#if ELECTRA_GEMM_X86

#define ELECTRA_AVX2 __attribute__((target("avx2,fma")))
#define ELECTRA_AVX512 __attribute__((target("avx512f,avx2,fma")))

// 6 x 16: 12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm
// registers; per k, 12 FMAs (6 cycles on two FMA pipes) against 8 loads.
// The k loop is inline assembly because GCC cannot be made to keep this
// register allocation: with an indexed __m256 acc[6][2] it stores all 12
// accumulators to the stack on every k step (store-bound at about half the
// FMA rate), and with named variables it hoists loads and spills two
// accumulators per four k steps.
ELECTRA_AVX2 void kernel_avx2_6x16(int64_t kc, const float* a, const float* b, float* c,
                                   int64_t ldc, float alpha, float beta) {
  // C is touched only after the k loop; start its lines on their way now
  // (each 16-float row may straddle two lines).
  for (int i = 0; i < 6; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // ymm13/14 hold the B row, ymm15 the broadcast A value. The A panel comes
  // from L2 (the B panel stays in L1), so it is prefetched ~16 k steps ahead.
#define ELECTRA_K_STEP(u)                                    \
  "vmovaps " #u "*64(%[b]), %%ymm13\n\t"                     \
  "vmovaps " #u "*64+32(%[b]), %%ymm14\n\t"                  \
  "vbroadcastss " #u "*24+0(%[a]), %%ymm15\n\t"              \
  "vfmadd231ps %%ymm13, %%ymm15, %[c00]\n\t"                 \
  "vfmadd231ps %%ymm14, %%ymm15, %[c01]\n\t"                 \
  "vbroadcastss " #u "*24+4(%[a]), %%ymm15\n\t"              \
  "vfmadd231ps %%ymm13, %%ymm15, %[c10]\n\t"                 \
  "vfmadd231ps %%ymm14, %%ymm15, %[c11]\n\t"                 \
  "vbroadcastss " #u "*24+8(%[a]), %%ymm15\n\t"              \
  "vfmadd231ps %%ymm13, %%ymm15, %[c20]\n\t"                 \
  "vfmadd231ps %%ymm14, %%ymm15, %[c21]\n\t"                 \
  "vbroadcastss " #u "*24+12(%[a]), %%ymm15\n\t"             \
  "vfmadd231ps %%ymm13, %%ymm15, %[c30]\n\t"                 \
  "vfmadd231ps %%ymm14, %%ymm15, %[c31]\n\t"                 \
  "vbroadcastss " #u "*24+16(%[a]), %%ymm15\n\t"             \
  "vfmadd231ps %%ymm13, %%ymm15, %[c40]\n\t"                 \
  "vfmadd231ps %%ymm14, %%ymm15, %[c41]\n\t"                 \
  "vbroadcastss " #u "*24+20(%[a]), %%ymm15\n\t"             \
  "vfmadd231ps %%ymm13, %%ymm15, %[c50]\n\t"                 \
  "vfmadd231ps %%ymm14, %%ymm15, %[c51]\n\t"
  int64_t k4 = kc / 4;
  if (k4 > 0) {
    __asm__ volatile(
        ".p2align 5\n\t"
        "1:\n\t"
        "prefetcht0 384(%[a])\n\t"
        ELECTRA_K_STEP(0)
        ELECTRA_K_STEP(1)
        "prefetcht0 448(%[a])\n\t"
        ELECTRA_K_STEP(2)
        ELECTRA_K_STEP(3)
        "addq $96, %[a]\n\t"
        "addq $256, %[b]\n\t"
        "decq %[n]\n\t"
        "jnz 1b\n\t"
        : [a] "+r"(a), [b] "+r"(b), [n] "+r"(k4), [c00] "+x"(c00), [c01] "+x"(c01),
          [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30),
          [c31] "+x"(c31), [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)
        :
        : "xmm13", "xmm14", "xmm15", "memory", "cc");
  }
  for (int64_t k = kc / 4 * 4; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00);
    c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10);
    c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20);
    c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30);
    c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40);
    c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50);
    c51 = _mm256_fmadd_ps(ai, b1, c51);
    a += 6;
    b += 16;
  }
#undef ELECTRA_K_STEP
  const __m256 va = _mm256_set1_ps(alpha);
  __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (beta == 0.f) {
    for (int i = 0; i < 6; ++i)
      for (int v = 0; v < 2; ++v) _mm256_storeu_ps(c + i * ldc + 8 * v, _mm256_mul_ps(va, acc[i][v]));
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
    for (int i = 0; i < 6; ++i)
      for (int v = 0; v < 2; ++v) {
        float* p = c + i * ldc + 8 * v;
        _mm256_storeu_ps(p, _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), _mm256_mul_ps(va, acc[i][v])));
      }
  }
}

template <int MR>
ELECTRA_AVX512 void kernel_avx512(int64_t kc, const float* a, const float* b, float* c,
                                  int64_t ldc, float alpha, float beta) {
  constexpr int NV = 2;  // NR = 32
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_load_ps(b);
    __m512 b1 = _mm512_load_ps(b + 16);
    for (int i = 0; i < MR; ++i) {
      __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += 16 * NV;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.f) {
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + i * ldc + 16 * v, _mm512_mul_ps(va, acc[i][v]));
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) {
        float* p = c + i * ldc + 16 * v;
        _mm512_storeu_ps(p, _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), _mm512_mul_ps(va, acc[i][v])));
      }
  }
}

#endif  // ELECTRA_GEMM_X86

Kernel make_kernel(SimdLevel level) {
#if ELECTRA_GEMM_X86
  if (level == SimdLevel::kAvx512) return Kernel{8, 32, 96, 512, 2048, kernel_avx512<8>, "avx512-8x32", true};
  if (level == SimdLevel::kAvx2) return Kernel{6, 16, 144, 256, 4080, kernel_avx2_6x16, "avx2-6x16", true};
#endif
  (void)level;
  return Kernel{4, 16, 128, 256, 4096, kernel_generic<4, 16>, "generic-4x16", false};
}

// The kernel in use: the one for simd_level() (simd_level.h: the best the CPU
// supports, or the level forced by ELECTRA_SIMD / set_simd_level), unless a
// test forced one through sgemm_set_kernel.
const Kernel g_level_kernels[3] = {make_kernel(SimdLevel::kGeneric), make_kernel(SimdLevel::kAvx2),
                                   make_kernel(SimdLevel::kAvx512)};
std::atomic<const Kernel*> g_forced{nullptr};

const Kernel& pick_kernel() {
  const Kernel* k = g_forced.load(std::memory_order_acquire);
  return k ? *k : g_level_kernels[static_cast<int>(simd_level())];
}

// ------------------------------------------------------------------ packing

#if ELECTRA_GEMM_X86
// dst[k*dst_ld + r] = src[r*ld + k] for r < 8, k < kc: 8 strided rows
// transposed into k-major groups of 8, via 8x8 AVX register transposes.
ELECTRA_AVX2 void transpose8_avx(const float* src, int64_t ld, int64_t kc, float* dst,
                                 int64_t dst_ld) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 r0 = _mm256_loadu_ps(src + 0 * ld + k), r1 = _mm256_loadu_ps(src + 1 * ld + k);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ld + k), r3 = _mm256_loadu_ps(src + 3 * ld + k);
    __m256 r4 = _mm256_loadu_ps(src + 4 * ld + k), r5 = _mm256_loadu_ps(src + 5 * ld + k);
    __m256 r6 = _mm256_loadu_ps(src + 6 * ld + k), r7 = _mm256_loadu_ps(src + 7 * ld + k);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    float* d = dst + k * dst_ld;
    _mm256_storeu_ps(d + 0 * dst_ld, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + 1 * dst_ld, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * dst_ld, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * dst_ld, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * dst_ld, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * dst_ld, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * dst_ld, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * dst_ld, _mm256_permute2f128_ps(u3, u7, 0x31));
  }
  for (; k < kc; ++k)
    for (int r = 0; r < 8; ++r) dst[k * dst_ld + r] = src[r * ld + k];
}

// dst[k*6 + r] = src[r*ld + k] for r < 6, k < kc: the AVX2 kernel's A panel
// (MR = 6), which every NN/NT GEMM packs from row-major activations; done one
// float at a time it was ~15% of a narrow-N GEMM. 8x8 transposes with rows 6
// and 7 repeating row 5; each k's 8 lanes are stored whole (lanes 6-7 spill
// into the next k's slots, which the next store overwrites) except the last
// of each group of 8, which stores exactly 6 floats.
ELECTRA_AVX2 void transpose6_avx(const float* src, int64_t ld, int64_t kc, float* dst) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 r0 = _mm256_loadu_ps(src + 0 * ld + k), r1 = _mm256_loadu_ps(src + 1 * ld + k);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ld + k), r3 = _mm256_loadu_ps(src + 3 * ld + k);
    __m256 r4 = _mm256_loadu_ps(src + 4 * ld + k), r5 = _mm256_loadu_ps(src + 5 * ld + k);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t4, 0x44), u5 = _mm256_shuffle_ps(t4, t4, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t5, 0x44), u7 = _mm256_shuffle_ps(t5, t5, 0xEE);
    float* d = dst + k * 6;
    _mm256_storeu_ps(d + 0, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + 6, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 12, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 18, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 24, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 30, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 36, _mm256_permute2f128_ps(u2, u6, 0x31));
    const __m256 last = _mm256_permute2f128_ps(u3, u7, 0x31);
    _mm_storeu_ps(d + 42, _mm256_castps256_ps128(last));
    _mm_storel_pi(reinterpret_cast<__m64*>(d + 46), _mm256_extractf128_ps(last, 1));
  }
  for (; k < kc; ++k)
    for (int r = 0; r < 6; ++r) dst[k * 6 + r] = src[r * ld + k];
}
#endif

// dst[k*dst_ld + r] = src[r*ld + k] for r < rows (<= dst_ld), k < kc;
// entries rows..pad-1 of each group are zeroed.
void transpose_rows(const float* src, int64_t ld, int rows, int pad, int64_t kc, float* dst,
                    int64_t dst_ld, bool avx) {
  int r0 = 0;
#if ELECTRA_GEMM_X86
  if (avx && rows == 6 && pad == 6 && dst_ld == 6) return transpose6_avx(src, ld, kc, dst);
  if (avx)
    for (; r0 + 8 <= rows; r0 += 8) transpose8_avx(src + r0 * ld, ld, kc, dst + r0, dst_ld);
#else
  (void)avx;
#endif
  if (r0 == rows && rows == pad) return;
  for (int64_t k = 0; k < kc; ++k) {
    float* d = dst + k * dst_ld;
    for (int r = r0; r < rows; ++r) d[r] = src[r * ld + k];
    for (int r = rows; r < pad; ++r) d[r] = 0.f;
  }
}

// Panels of width W from row-major data: panel p gets
// dst[p*kc*W + k*W + j] = src[k*ld + p*W + j] for j < min(W, cols - p*W),
// zero-padded to W. Goes k-outer over up to ~256 columns at a time: one
// panel at a time would read W floats from each of kc rows (a new page per
// row when ld is large: an L1 TLB miss per 24 or 64 bytes).
template <int W>
void copy_panels(const float* src, int64_t ld, int64_t cols, int64_t kc, float* dst) {
  constexpr int64_t kChunk = std::max(1, 256 / W);  // panels per sweep over k
  const int64_t full = cols / W;
  for (int64_t p0 = 0; p0 < full; p0 += kChunk) {
    const int64_t p1 = std::min(full, p0 + kChunk);
    for (int64_t k = 0; k < kc; ++k) {
      const float* s = src + k * ld + p0 * W;
      float* d = dst + p0 * kc * W + k * W;
      for (int64_t p = p0; p < p1; ++p, s += W, d += kc * W) std::memcpy(d, s, W * sizeof(float));
    }
  }
  const int n = static_cast<int>(cols - full * W);
  if (n > 0) {
    const float* s = src + full * W;
    float* d = dst + full * kc * W;
    for (int64_t k = 0; k < kc; ++k, s += ld, d += W) {
      for (int j = 0; j < n; ++j) d[j] = s[j];
      for (int j = n; j < W; ++j) d[j] = 0.f;
    }
  }
}

void copy_panels_any(const float* src, int64_t ld, int64_t cols, int w, int64_t kc, float* dst) {
  switch (w) {
    case 4: return copy_panels<4>(src, ld, cols, kc, dst);
    case 6: return copy_panels<6>(src, ld, cols, kc, dst);
    case 8: return copy_panels<8>(src, ld, cols, kc, dst);
    case 16: return copy_panels<16>(src, ld, cols, kc, dst);
    case 32: return copy_panels<32>(src, ld, cols, kc, dst);
    default:
      for (int64_t j0 = 0; j0 < cols; j0 += w, dst += kc * w) {
        const int n = static_cast<int>(std::min<int64_t>(w, cols - j0));
        for (int64_t k = 0; k < kc; ++k) {
          for (int j = 0; j < n; ++j) dst[k * w + j] = src[k * ld + j0 + j];
          for (int j = n; j < w; ++j) dst[k * w + j] = 0.f;
        }
      }
  }
}

// op(A)[i][k] for rows [0,mc) x cols [0,kc) of the block starting at A0
// (already offset to (ic, pc)). Output: ceil(mc/MR) panels of kc x MR.
void pack_a(bool trans, const float* A0, int64_t lda, int64_t mc, int64_t kc, int mr, bool avx,
            float* dst) {
  // op(A)[i][k] = A0[k*lda + i]: runs of MR contiguous floats per k.
  if (trans) return copy_panels_any(A0, lda, mc, mr, kc, dst);
  // op(A)[i][k] = A0[i*lda + k]: transpose MR rows into k-major groups.
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int m = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    transpose_rows(A0 + i0 * lda, lda, m, mr, kc, dst, mr, avx);
    dst += kc * mr;
  }
}

// op(B)[k][j] for rows [0,kc) x cols [0,nc) of the block at B0.
// Output: ceil(nc/NR) panels of kc x NR.
void pack_b(bool trans, const float* B0, int64_t ldb, int64_t kc, int64_t nc, int nr, bool avx,
            float* dst) {
  // op(B)[k][j] = B0[k*ldb + j]: runs of NR contiguous floats per k.
  if (!trans) return copy_panels_any(B0, ldb, nc, nr, kc, dst);
  // op(B)[k][j] = B0[j*ldb + k]: transpose NR stored rows.
  for (int64_t j0 = 0; j0 < nc; j0 += nr) {
    const int n = static_cast<int>(std::min<int64_t>(nr, nc - j0));
    transpose_rows(B0 + j0 * ldb, ldb, n, nr, kc, dst, nr, avx);
    dst += kc * nr;
  }
}

// ------------------------------------------------------------ scratch space

struct AlignedBuf {
  float* p = nullptr;
  size_t n = 0;
  ~AlignedBuf() { std::free(p); }
  float* get(size_t want) {
    if (want > n) {
      std::free(p);
      size_t bytes = ((want * sizeof(float)) + 63) / 64 * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      n = want;
    }
    return p;
  }
};

// Per-thread packing buffers (MC x KC for A, KC x NC for B), reused across calls.
thread_local AlignedBuf t_apack, t_bpack;
// The calling thread's partial-C buffers for the K split (see sgemm).
thread_local AlignedBuf t_kpart;

// -------------------------------------------------------- serial sub-GEMM

struct Problem {
  bool ta, tb;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
};

// Computes the rectangle rows [m0,m1) x cols [n0,n1) of C on this thread.
void gemm_block(const Problem& p, const Kernel& ker, int64_t m0, int64_t m1, int64_t n0,
                int64_t n1) {
  const int mr = ker.mr, nr = ker.nr;
  const int64_t MC = ker.mc, NC = ker.nc;
  // K blocks of equal size (multiple of 8, at most ker.kc): 307 -> 160 + 147.
  const int64_t nkb = (p.K + ker.kc - 1) / ker.kc;
  const int64_t KC = std::min(ker.kc, ((p.K + nkb - 1) / nkb + 7) / 8 * 8);
  const int64_t kc_max = std::min(KC, p.K);
  float* apack = t_apack.get(static_cast<size_t>(std::min(MC, (m1 - m0 + mr - 1) / mr * mr) * kc_max));
  float* bpack = t_bpack.get(static_cast<size_t>(std::min(NC, (n1 - n0 + nr - 1) / nr * nr) * kc_max));
  alignas(64) float tile[16 * 64];  // edge tiles (mr*nr <= 1024)

  for (int64_t jc = n0; jc < n1; jc += NC) {
    const int64_t nc = std::min(NC, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const float beta = pc == 0 ? p.beta : 1.f;
      const float* B0 = p.tb ? p.B + jc * p.ldb + pc : p.B + pc * p.ldb + jc;
      pack_b(p.tb, B0, p.ldb, kc, nc, nr, ker.avx, bpack);
      for (int64_t ic = m0; ic < m1; ic += MC) {
        const int64_t mc = std::min(MC, m1 - ic);
        const float* A0 = p.ta ? p.A + pc * p.lda + ic : p.A + ic * p.lda + pc;
        pack_a(p.ta, A0, p.lda, mc, kc, mr, ker.avx, apack);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int n = static_cast<int>(std::min<int64_t>(nr, nc - jr));
          const float* bp = bpack + (jr / nr) * kc * nr;
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int m = static_cast<int>(std::min<int64_t>(mr, mc - ir));
            const float* ap = apack + (ir / mr) * kc * mr;
            float* c = p.C + (ic + ir) * p.ldc + jc + jr;
            if (m == mr && n == nr) {
              ker.fn(kc, ap, bp, c, p.ldc, p.alpha, beta);
            } else {
              ker.fn(kc, ap, bp, tile, nr, 1.f, 0.f);
              for (int i = 0; i < m; ++i) {
                float* ci = c + i * p.ldc;
                const float* ti = tile + i * nr;
                if (beta == 0.f) {
                  for (int j = 0; j < n; ++j) ci[j] = p.alpha * ti[j];
                } else {
                  for (int j = 0; j < n; ++j) ci[j] = p.alpha * ti[j] + beta * ci[j];
                }
              }
            }
          }
        }
      }
    }
  }
}

// C = beta * C (beta == 0 writes zeros, ignoring NaNs in C).
void scale_c(float* C, int64_t ldc, int64_t M, int64_t N, float beta) {
  if (beta == 1.f) return;
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.f) {
      std::memset(c, 0, static_cast<size_t>(N) * sizeof(float));
    } else {
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

}  // namespace

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {
    scale_c(C, ldc, M, N, beta);
    return;
  }
  const Kernel& ker = pick_kernel();
  const Problem p{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};

  // Threads: about one per 2 MFLOP of work (tiny GEMMs stay serial). C is cut
  // into P rectangles (tasks, aligned to MR/NR) that the T threads claim from
  // an atomic counter. P = T, or 2T for big GEMMs so that a thread that is
  // slowed down (a busy machine, an uneven edge) hands work to the others;
  // the tm x tn grid with tm * tn = P minimises the largest task, counted as
  // its padded area plus a packing cost per row and column.
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int T = std::max(1, std::min(num_threads(), static_cast<int>(flops / 2e6)));

  // Small C, long K (e.g. the vocab projection's dX: 307 x 128 x 30522):
  // cutting C would make every thread re-stream all of B (or A) for a few
  // rows, so split K instead. Thread t computes its K slice into a private
  // partial C (thread 0 straight into C with the caller's beta), then the
  // partials are summed into C. Scratch: (T-1) * M * N floats, used only
  // while that is at most 1M floats.
  if (T > 1 && K >= 8 * std::max(M, N) && double(M) * double(N) * (T - 1) <= double(1 << 20)) {
    const int64_t MN = M * N;
    float* part = t_kpart.get(static_cast<size_t>(MN * (T - 1)));
    const int64_t uk = (K + 7) / 8;  // K slices in multiples of 8
    parallel_for(T, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t k0 = std::min(K, uk * t / T * 8), k1 = std::min(K, uk * (t + 1) / T * 8);
        Problem q = p;
        q.K = k1 - k0;
        q.A = transA ? A + k0 * lda : A + k0;
        q.B = transB ? B + k0 : B + k0 * ldb;
        if (t > 0) {
          q.C = part + (t - 1) * MN;
          q.ldc = N;
          q.beta = 0.f;
        }
        if (q.K > 0) {
          gemm_block(q, ker, 0, M, 0, N);
        } else {
          scale_c(q.C, q.ldc, M, N, q.beta);
        }
      }
    });
    parallel_for(M, std::max<int64_t>(1, 16384 / N), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* __restrict c = C + r * ldc;
        for (int t = 1; t < T; ++t) {
          const float* __restrict q = part + (t - 1) * MN + r * N;
          for (int64_t j = 0; j < N; ++j) c[j] += q[j];
        }
      }
    });
    return;
  }

  const int P = (T > 1 && flops >= 5e8) ? 2 * T : T;
  const int64_t um = (M + ker.mr - 1) / ker.mr, un = (N + ker.nr - 1) / ker.nr;
  int tm = 1, tn = 1;
  double best_cost = -1;
  for (int cm = 1; cm <= P; ++cm) {
    if (P % cm != 0) continue;
    const int cn = P / cm;
    if (cm > um || cn > un) continue;
    const double rm = double((um + cm - 1) / cm * ker.mr);
    const double rn = double((un + cn - 1) / cn * ker.nr);
    const double cost = rm * rn + 16.0 * (rm + rn);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      tm = cm;
      tn = cn;
    }
  }
  const int64_t ntasks = int64_t(tm) * tn;
  auto task = [&](int64_t t) {
    const int64_t bi = t / tn, bj = t % tn;
    const int64_t m0 = std::min(M, um * bi / tm * ker.mr);
    const int64_t m1 = std::min(M, um * (bi + 1) / tm * ker.mr);
    const int64_t n0 = std::min(N, un * bj / tn * ker.nr);
    const int64_t n1 = std::min(N, un * (bj + 1) / tn * ker.nr);
    if (m0 < m1 && n0 < n1) gemm_block(p, ker, m0, m1, n0, n1);
  };
  if (ntasks == 1 || T == 1) {
    for (int64_t t = 0; t < ntasks; ++t) task(t);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(T, ntasks), 1, [&](int64_t, int64_t) {
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < ntasks;) task(t);
  });
}

// Testing/benchmark hook (not part of ops.h): switches the micro-kernel for
// subsequent calls ("avx512", "avx2", "generic", or nullptr/"" to follow
// simd_level() again). Returns the kernel's name, or nullptr (and changes nothing)
// when this CPU or build cannot run it. Not safe to call while an sgemm runs.
const char* sgemm_set_kernel(const char* name) {
  if (name == nullptr || *name == 0) {
    g_forced.store(nullptr, std::memory_order_release);
    return pick_kernel().name;
  }
  SimdLevel level;
  if (!parse_simd_level(name, &level) || static_cast<int>(level) > static_cast<int>(cpu_simd_level()))
    return nullptr;
  g_forced.store(&g_level_kernels[static_cast<int>(level)], std::memory_order_release);
  return g_level_kernels[static_cast<int>(level)].name;
}

const char* sgemm_kernel_name() { return pick_kernel().name; }

}  // namespace cpu
}  // namespace electra
