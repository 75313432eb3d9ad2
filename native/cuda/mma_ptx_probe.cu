// One-warp probe kernels of mma_ptx.h's primitives (see mma_ptx_probe.h).
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_util.h"
#include "cuda/mma_ptx.h"
#include "cuda/mma_ptx_probe.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kProbeLd = 24;  // padded bf16 row: 48 bytes, 16-byte aligned rows

__global__ void __launch_bounds__(32) probe_ldmatrix_kernel(const uint16_t* __restrict__ tile, int trans,
                                                            uint32_t* __restrict__ out) {
  __shared__ __align__(16) uint16_t s[16 * kProbeLd];
  const int lane = threadIdx.x;
  for (int e = lane; e < 256; e += 32) s[(e / 16) * kProbeLd + e % 16] = tile[e];
  __syncthreads();
  const int i = lane / 8, r = lane % 8;
  const uint16_t* row = s + (8 * (i % 2) + r) * kProbeLd + 8 * (i / 2);
  uint32_t v[4];
  if (trans) ptx::ldmatrix_x4_trans(v, row);
  else       ptx::ldmatrix_x4(v, row);
  for (int k = 0; k < 4; ++k) out[lane * 4 + k] = v[k];
}

__device__ __forceinline__ uint32_t pack2(uint16_t lo, uint16_t hi) {
  return uint32_t(lo) | (uint32_t(hi) << 16);
}

__global__ void __launch_bounds__(32) probe_mma_kernel(const uint16_t* __restrict__ a,
                                                       const uint16_t* __restrict__ b,
                                                       const float* __restrict__ c, float* __restrict__ d) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  uint32_t fa[4], fb[2];
  // a0 (g, 2t) a1 (g+8, 2t) a2 (g, 2t+8) a3 (g+8, 2t+8), two columns each.
  for (int i = 0; i < 4; ++i) {
    const int r = g + 8 * (i % 2), k = 2 * t + 8 * (i / 2);
    fa[i] = pack2(a[r * 16 + k], a[r * 16 + k + 1]);
  }
  // b0 (k 2t, 2t+1; n g), b1 (k 2t+8, 2t+9; n g). b is [k][n].
  for (int i = 0; i < 2; ++i) {
    const int k = 2 * t + 8 * i;
    fb[i] = pack2(b[k * 8 + g], b[(k + 1) * 8 + g]);
  }
  float acc[4];
  for (int q = 0; q < 4; ++q) acc[q] = c[(g + 8 * (q / 2)) * 8 + 2 * t + q % 2];
  ptx::mma_bf16_16816(acc, fa, fb);
  for (int q = 0; q < 4; ++q) d[(g + 8 * (q / 2)) * 8 + 2 * t + q % 2] = acc[q];
}

__global__ void __launch_bounds__(32) probe_cp_async_kernel(const float* __restrict__ src,
                                                            const int* __restrict__ src_bytes, int mode,
                                                            float* __restrict__ out) {
  __shared__ __align__(16) float s[3 * 32 * 4];
  const int lane = threadIdx.x;
  for (int g = 0; g < 3; ++g) {
    const int chunk = g * 32 + lane;
    ptx::cp_async_16(s + 4 * chunk, src + 4 * chunk, src_bytes[chunk]);
    ptx::cp_async_commit();
  }
  if (mode == 0) ptx::cp_async_wait<0>();
  if (mode == 1) ptx::cp_async_wait<1>();
  __syncthreads();
  for (int e = lane; e < 3 * 32 * 4; e += 32) out[e] = s[e];
  __syncthreads();  // everyone has read before the rest may land
  ptx::cp_async_wait<0>();
}

}  // namespace

Status probe_ldmatrix_x4(const uint16_t* tile, bool trans, uint32_t* out) {
  probe_ldmatrix_kernel<<<1, 32>>>(tile, trans ? 1 : 0, out);
  return launch_status("probe_ldmatrix_x4 launch");
}

Status probe_mma_bf16_16816(const uint16_t* a, const uint16_t* b, const float* c, float* d) {
  probe_mma_kernel<<<1, 32>>>(a, b, c, d);
  return launch_status("probe_mma_bf16_16816 launch");
}

Status probe_cp_async(const float* src, const int* src_bytes, int mode, float* out) {
  probe_cp_async_kernel<<<1, 32>>>(src, src_bytes, mode, out);
  return launch_status("probe_cp_async launch");
}

}  // namespace cuda
}  // namespace electra
