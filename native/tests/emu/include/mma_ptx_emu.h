// Emulated sm_80+ PTX primitives behind native/cuda/mma_ptx.h: cp.async
// (deferred: see emu.cpp), ldmatrix and the bf16 m16n8k16 mma.sync.
// ldmatrix and mma are warp collectives with the PTX ISA's lane layouts:
// every lane of the warp must arrive (divergence aborts, as for wmma), each
// lane publishes its operand (a row address, or its fragment registers) in
// the warp's exchange slots, and after the warp barrier gathers what its own
// destination registers hold on hardware. Like the wmma emulation they are
// convergence points, not memory fences.
// mma products are exact (bf16 * bf16 fits fp32) and are accumulated onto the
// fp32 C element with fmaf in k order; a tensor core's order and internal
// precision are unspecified, so results can differ from a GPU's in the last bits.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"

namespace emu {

inline float bf16_bits_to_float(uint32_t b16) {
  const uint32_t u = b16 << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ldmatrix.sync.aligned.m8n8.x{num}[.trans].shared.b16: lanes 8i..8i+7 give
// the row addresses of matrix i; register i of lane l gets row l/4, columns
// 2(l%4), 2(l%4)+1 of matrix i (.trans: column l/4, rows 2(l%4), 2(l%4)+1).
inline void ldmatrix(uint32_t* r, int num, const void* row, bool trans) {
  if (num != 1 && num != 2 && num != 4) fault("ldmatrix .x%d is not a PTX shape", num);
  if (reinterpret_cast<uintptr_t>(row) % 16 != 0) fault("ldmatrix: row address %p not 16-byte aligned", row);
  const int lane = lane_id();
  std::memcpy(warp_xchg(lane), &row, sizeof(row));
  warp_barrier();
  auto addr = [](int l) {
    const unsigned char* p;
    std::memcpy(&p, warp_xchg(l), sizeof(p));
    return p;
  };
  for (int i = 0; i < num; ++i) {
    if (!trans) {
      std::memcpy(&r[i], addr(8 * i + lane / 4) + 4 * (lane % 4), 4);
    } else {
      uint16_t lo, hi;
      std::memcpy(&lo, addr(8 * i + 2 * (lane % 4)) + 2 * (lane / 4), 2);
      std::memcpy(&hi, addr(8 * i + 2 * (lane % 4) + 1) + 2 * (lane / 4), 2);
      r[i] = uint32_t(lo) | (uint32_t(hi) << 16);
    }
  }
  warp_barrier();  // the slots are reused by the next collective
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, D = A @ B + D.
// g = lane/4, t = lane%4. A element (r, k) is in lane (r%8)*4 + (k%8)/2,
// register r/8 + 2*(k/8), half k%2; B element (k, n) in lane n*4 + (k%8)/2,
// register k/8, half k%2; D register q of lane l is (g + 8*(q/2), 2t + q%2).
inline void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  const int lane = lane_id();
  uint32_t mine[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  std::memcpy(warp_xchg(lane), mine, sizeof(mine));
  warp_barrier();
  auto reg = [](int l, int i) {
    uint32_t v;
    std::memcpy(&v, static_cast<const char*>(warp_xchg(l)) + 4 * i, 4);
    return v;
  };
  auto elem_a = [&](int r, int k) {
    const uint32_t v = reg((r % 8) * 4 + (k % 8) / 2, r / 8 + 2 * (k / 8));
    return bf16_bits_to_float(k % 2 ? v >> 16 : v & 0xffffu);
  };
  auto elem_b = [&](int k, int n) {
    const uint32_t v = reg(n * 4 + (k % 8) / 2, 4 + k / 8);
    return bf16_bits_to_float(k % 2 ? v >> 16 : v & 0xffffu);
  };
  const int g = lane / 4, t = lane % 4;
  float out[4];
  for (int q = 0; q < 4; ++q) {
    const int r = g + 8 * (q / 2), n = 2 * t + q % 2;
    float acc = d[q];
    for (int k = 0; k < 16; ++k) acc = std::fmaf(elem_a(r, k), elem_b(k, n), acc);
    out[q] = acc;
  }
  warp_barrier();  // every lane has read the slots
  for (int q = 0; q < 4; ++q) d[q] = out[q];
}

}  // namespace emu
