// Device primitives of the sm_80+ tensor-core pipeline, as inline PTX:
// 16-byte (or 8-, 4-byte) cp.async (global -> shared, zero-filling past src_bytes) with its
// commit/wait groups, ldmatrix .x4 (and .trans), and the bf16 m16n8k16
// mma.sync with fp32 accumulators. Under the CUDA emulator
// (native/tests/emu, which defines ELECTRA_CUDA_EMULATOR) the same calls go to
// its warp-collective implementations, which follow the PTX ISA's lane layouts
// and make cp.async land only at the matching wait (see the emulator README).
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16", bf16):
// g = lane / 4, t = lane % 4; each .b32 register packs two bf16, the lower
// column (or k) index in the low half.
//   A 16x16 (row):  a0 (g, 2t..2t+1)  a1 (g+8, 2t..)  a2 (g, 2t+8..)  a3 (g+8, 2t+8..)
//   B 16x8 (col):   b0 (k 2t..2t+1, n g)  b1 (k 2t+8..2t+9, n g)
//   C/D 16x8 f32:   c0,c1 (g, 2t..2t+1)  c2,c3 (g+8, 2t..2t+1)
// ldmatrix .x4: lanes 8i..8i+7 give the 16-byte row addresses of 8x8 matrix
// i, and register i of lane l holds row l/4, columns 2(l%4)..+1 of matrix i
// (.trans: column l/4, rows 2(l%4)..+1), which is exactly an A or B register.
#pragma once
#include <cstdint>

#ifdef ELECTRA_CUDA_EMULATOR
#include "mma_ptx_emu.h"
#endif

namespace electra {
namespace cuda {
namespace ptx {

#ifndef ELECTRA_CUDA_EMULATOR
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#endif

// Copies 16 bytes from global src to shared dst (both 16-byte aligned),
// asynchronously: the first src_bytes (0..16) are read, the rest of the 16
// are zero-filled (src_bytes 0 reads nothing; src must still be a valid
// address). Visible to this thread after a cp_async_wait covering its group,
// to other threads after that and a barrier.
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, int src_bytes) {
#ifdef ELECTRA_CUDA_EMULATOR
  emu::cp_async(dst, src, 16, src_bytes);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)),
               "l"(__cvta_generic_to_global(src)), "r"(src_bytes)
               : "memory");
#endif
}

// As cp_async_16 for copies of kBytes = 4, 8 or 16 (dst and src kBytes-aligned;
// src_bytes 0..kBytes). 16 bypasses L1 (.cg); 4 and 8 exist only as .ca.
template <int kBytes>
__device__ __forceinline__ void cp_async(void* dst, const void* src, int src_bytes) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "cp.async copies 4, 8 or 16 bytes");
  if constexpr (kBytes == 16) {
    cp_async_16(dst, src, src_bytes);
  } else {
#ifdef ELECTRA_CUDA_EMULATOR
    emu::cp_async(dst, src, kBytes, src_bytes);
#else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(smem_u32(dst)),
                 "l"(__cvta_generic_to_global(src)), "n"(kBytes), "r"(src_bytes)
                 : "memory");
#endif
  }
}

// Closes this thread's current group of cp.async copies.
__device__ __forceinline__ void cp_async_commit() {
#ifdef ELECTRA_CUDA_EMULATOR
  emu::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most kPending of this thread's committed groups are still in
// flight (the newest ones).
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#ifdef ELECTRA_CUDA_EMULATOR
  emu::cp_async_wait(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

// Four 8x8 b16 matrices from shared memory (warp collective: every lane).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
#ifdef ELECTRA_CUDA_EMULATOR
  emu::ldmatrix(r, 4, row, false);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(row)));
#endif
}

// As ldmatrix_x4, each matrix transposed.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
#ifdef ELECTRA_CUDA_EMULATOR
  emu::ldmatrix(r, 4, row, true);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(row)));
#endif
}

// d += a (16x16 bf16, row) @ b (16x8 bf16, col), fp32 accumulation (warp
// collective: every lane).
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4],
                                               const uint32_t (&b)[2]) {
#ifdef ELECTRA_CUDA_EMULATOR
  emu::mma_bf16_16816(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

}  // namespace ptx
}  // namespace cuda
}  // namespace electra
