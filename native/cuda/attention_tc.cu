// Attention on tensor cores for the bf16 precision path (flash-style: P is
// recomputed, never stored). Same semantics as attention.cu's fp32 kernels and
// the CPU oracle (core/cpu/attention.cpp): masked keys get probability exactly
// 0, a fully padded sequence gets zero output, dropout keeps element idx =
// (bh*S + i)*S + j iff philox_uniform(seed, offset, idx) >= p and scales it
// by drop_scale (the CPU's mask, bit for bit); the backward writes dq, dk, dv.
// Numerics: q, k, v, dO, P and dS are rounded to bf16 (RNE) as matrix-product
// inputs, with fp32 accumulation (nvcuda::wmma 16x16x16, i.e. HMMA); the
// softmax, its statistics and every elementwise step are fp32.
//
// Saved state: instead of probs[B,NH,S,S], the forward writes one float per
// query row, lse[bh*S + i] = max_j s_ij + log(sum_j exp(s_ij - max)) over the
// real keys (0 for a fully padded sequence), into the first B*NH*S floats of
// the caller's probs buffer. P_ij = exp(s_ij - lse_i) is recomputed from it,
// identically in the forward's second pass and in both backward roles.
//
// FORWARD attn_fwd_tc_kernel<HDP>: grid (B*NH, ceil(S/64)), 128 threads; warp
// w owns query rows i0 + 16w .. +15. Shared (dynamic, opted in): the whole K
// and V of the (batch, head) as bf16 [Sp][HDP+8] (Sp = S rounded up to 16,
// zero rows past S; the 8-element pad staggers banks), the Q tile, the key
// mask, and per warp an fp32 score tile [16][64+4] and a bf16 P tile. Keys go
// in chunks of 64: two passes over the chunks (scores on tensor cores both
// times, as the accumulator's lane layout is opaque and cannot be rescaled
// per row in registers): pass 1 keeps a running (max, sum) per row (lane
// r + 16*half holds row r's columns [32 half, 32 half + 32) of each chunk);
// pass 2 forms Pd = P * dropout factor in bf16 and accumulates O = Pd V in
// wmma accumulators, written once at the end.
//
// BACKWARD attn_bwd_tc_kernel<HDP>, one launch, 64 threads per block, with
// D_i = dO_i . O_i (= sum_j Pd_ij dP_ij; O is the forward's output),
// dP = dO V^T, dS = P * (dP * f - D). Grid (B*NH, nqb + ceil(S/32)); a block
// takes one of two roles (block-uniform, on blockIdx.y):
//  - dq blocks (nqb = ceil(S/32), or 0 when dq is nullptr): the forward's
//    layout with 2 warps, 32 query rows (whole K and V in shared memory);
//    per key chunk they recompute S and dP, form dS and accumulate
//    dQ += dS K in wmma accumulators; dq = scale * dQ written at the end.
//  - dk/dv blocks (none when both are nullptr): warp w owns keys
//    j0 + 16w .. +15 and holds dK, dV for them in wmma accumulators while the
//    block walks the query tiles (64 rows) in order: S^T = K Q^T,
//    dP^T = V dO^T, then dV += Pd^T dO and dK += dS^T Q; dk = scale * dK and
//    dv = dV written at the end.
// Every output element is written by exactly one thread of one block, with a
// fixed summation order: no atomics, deterministic (a block with no real key
// in its range, whose every P is 0, writes zeros). The split over query and
// key tiles gives B*NH*2*ceil(S/32) blocks: 1,024 for the 1-head generator at
// 128 x 128 (128 before, one per (batch, head)); the two roles write
// disjoint outputs, so one launch serves both (one launch fewer per layer
// than two kernels). D is recomputed from dO and O by the same function in
// both roles (same bits); rows past S and padded keys get P = 0, so they add
// nothing.
//
// Limits: hd <= 128 (padded to HDP = 16, 32, 64 or 128 with zero columns),
// S <= 512, and the kernels' shared memory must fit the device's opt-in
// per-block limit (cudaDevAttrMaxSharedMemoryPerBlockOptin). When it does not
// (at hd <= 64, the forward needs about 292 * S + 36 KB: S > 224 on sm_86/89
// with 99 KB, S > 448 on sm_80 with 163 KB, never on sm_90 with 227 KB; at
// hd = 128, S > 304 on sm_90), attention_tc_fits() is false and the bf16
// entry points run the fp32 SIMT kernels of attention.cu instead (full probs
// saved in the buffer), the same decision in the forward and the backward (it
// depends only on S, hd and the device).
//
// Tensor cores are used through nvcuda::wmma (bf16 16x16x16, fp32
// accumulate), which the emulator models (native/tests/emu/include/mma.h);
// fragments are loaded from shared memory. An mma.sync/ldmatrix version
// (not emulated yet when this was written) would let the softmax run on the
// accumulator registers directly (a known lane layout) instead of a round
// trip through shared memory per chunk, and cp.async would overlap the K/V
// staging with the first chunk.
#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/philox.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

using namespace nvcuda;
using bf16 = __nv_bfloat16;

constexpr int kRowsPerWarp = 16;   // one wmma tile of rows (queries or keys) per warp
constexpr int kFwdWarps = 4;       // forward: 64 query rows per block
constexpr int kQTile = kFwdWarps * kRowsPerWarp;
constexpr int kKvWarps = 2;        // backward: 32 query rows (dq) or 32 keys (dkv) per block
constexpr int kKTile = kKvWarps * kRowsPerWarp;
constexpr int kDqRows = kKTile;
constexpr int kBwdQTile = 64;      // dkv: query rows per step
constexpr int kChunk = 64;         // keys per chunk (forward, dq)
constexpr int kPld = kChunk + 8;   // bf16 P / dS tile row stride (wmma: multiple of 8)
// __launch_bounds__(threads, 1): without a minimum, ptxas 13 capped some
// instantiations at 96 registers and spilled; with it they use 126-180 (252
// for the backward at HDP = 128) and spill nothing (sm_90, -Xptxas -v).
constexpr int kMaxS = 512;
constexpr int kMaxHd = 128;
constexpr int64_t kDefaultSmem = 48 * 1024;
constexpr int64_t kAlign = 128;

static_assert(kBwdQTile == kChunk, "the dk/dv blocks' score tiles use the chunk strides");
static_assert(kKvWarps * 32 == kBwdQTile, "one dkv thread per query row of a tile (D, lse)");

// Strides for a padded head dimension HDP.
template <int HDP>
struct Tc {
  static constexpr int ld = HDP + 8;  // bf16 Q/K/V/dO rows (multiple of 8, staggered banks)
  static constexpr int wld = (HDP + 4 > kChunk + 4) ? HDP + 4 : kChunk + 4;  // fp32 warp tile rows
  static constexpr int wtile = kRowsPerWarp * wld;  // floats of one fp32 warp tile
  static constexpr int ptile = kRowsPerWarp * kPld;  // bf16 elements of one P / dS tile
  static constexpr int nf = HDP / 16;                // head-dimension fragments
};

__host__ __device__ constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Shared-memory layouts: byte offsets of each region from a 128-byte aligned
// base (every region and every fragment pointer is 32-byte aligned, as wmma
// requires). Identical on host (sizes) and device.
struct FwdLayout {
  int64_t k, v, q, dout, real, w, w2, pt, total;
};
template <int HDP>
__host__ __device__ FwdLayout fwd_layout(int S, bool backward, int warps) {
  const int64_t Sp = round_up(S, 16);
  const int64_t rows = int64_t(warps) * kRowsPerWarp;
  FwdLayout L;
  L.k = 0;
  L.v = L.k + Sp * Tc<HDP>::ld * 2;
  L.q = L.v + Sp * Tc<HDP>::ld * 2;
  L.dout = L.q + rows * Tc<HDP>::ld * 2;
  L.real = L.dout + (backward ? rows * Tc<HDP>::ld * 2 : 0);
  L.w = L.real + round_up(Sp * 4, kAlign);
  L.w2 = L.w + int64_t(warps) * Tc<HDP>::wtile * 4;
  L.pt = L.w2 + (backward ? int64_t(warps) * Tc<HDP>::wtile * 4 : 0);
  L.total = L.pt + int64_t(warps) * Tc<HDP>::ptile * 2;
  return L;
}
struct KvLayout {
  int64_t k, v, q, dout, lse, d, real, w, w2, pd, ds, total;
};
template <int HDP>
__host__ __device__ KvLayout kv_layout() {
  KvLayout L;
  L.k = 0;
  L.v = L.k + kKTile * Tc<HDP>::ld * 2;
  L.q = L.v + kKTile * Tc<HDP>::ld * 2;
  L.dout = L.q + kBwdQTile * Tc<HDP>::ld * 2;
  L.lse = L.dout + kBwdQTile * Tc<HDP>::ld * 2;
  L.d = L.lse + round_up(kBwdQTile * 4, kAlign);
  L.real = L.d + round_up(kBwdQTile * 4, kAlign);
  L.w = L.real + round_up(kKTile * 4, kAlign);
  L.w2 = L.w + int64_t(kKvWarps) * Tc<HDP>::wtile * 4;
  L.pd = L.w2 + int64_t(kKvWarps) * Tc<HDP>::wtile * 4;
  L.ds = L.pd + int64_t(kKvWarps) * Tc<HDP>::ptile * 2;
  L.total = L.ds + int64_t(kKvWarps) * Tc<HDP>::ptile * 2;
  return L;
}
// Launch size: the layout plus slack to align the dynamic base to 128 bytes.
template <int HDP>
int64_t fwd_smem(int S) { return fwd_layout<HDP>(S, false, kFwdWarps).total + kAlign; }
// The backward kernel's blocks take either role; it asks for the larger need.
template <int HDP>
int64_t bwd_smem(int S, bool has_dq, bool has_dkv) {
  return std::max(has_dq ? fwd_layout<HDP>(S, true, kKvWarps).total : 0,
                  has_dkv ? kv_layout<HDP>().total : 0) + kAlign;
}

// The dynamic shared memory base rounded up to 128 bytes (the launch asks
// for kAlign bytes more than the layout).
__device__ __forceinline__ unsigned char* aligned_smem(float* raw) {
  return reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(raw) + kAlign - 1) &
                                          ~uintptr_t(kAlign - 1));
}

// q, k or v as the caller stores them: fp32, or bf16 bits (b16) that are
// the round-to-nearest-even bf16 of the fp32 values (what the GEMM that makes
// them writes with c_bf16). The kernels round fp32 inputs to bf16 when they
// load them, so both forms give the same tiles, the same bits.
struct QkvPtr {
  const void* p;
  bool b16;
  // The element i places further on.
  __device__ __forceinline__ QkvPtr operator+(int64_t i) const {
    return {b16 ? static_cast<const void*>(static_cast<const uint16_t*>(p) + i)
                : static_cast<const void*>(static_cast<const float*>(p) + i),
            b16};
  }
  __device__ __forceinline__ bf16 at(int64_t i) const {
    return b16 ? __ushort_as_bfloat16(static_cast<const uint16_t*>(p)[i])
               : __float2bfloat16_rn(static_cast<const float*>(p)[i]);
  }
};

// dst[r * ld + d] = bf16(src[(row0 + r) * sld + d]) for r < rows, d < HDP;
// zero past S or hd. All threads of the block take part.
template <int HDP>
__device__ __forceinline__ void load_bf16(bf16* dst, QkvPtr src, int64_t sld, int row0,
                                          int rows, int S, int hd, int nthreads) {
  for (int e = threadIdx.x; e < rows * HDP; e += nthreads) {
    const int r = e / HDP, d = e - r * HDP;
    const int row = row0 + r;
    dst[r * Tc<HDP>::ld + d] = row < S && d < hd ? src.at(int64_t(row) * sld + d) : __float2bfloat16_rn(0.0f);
  }
}
template <int HDP>
__device__ __forceinline__ void load_bf16(bf16* dst, const float* src, int64_t sld, int row0,
                                          int rows, int S, int hd, int nthreads) {
  load_bf16<HDP>(dst, QkvPtr{src, false}, sld, row0, rows, S, hd, nthreads);
}

// D_i = dO_i . O_i in a fixed order (both backward kernels call this, so
// their D agree bit for bit), with dO rounded to bf16 as in dP = dO V^T: the
// two terms of dS = P (dP f - D) then carry the same rounding of dO, and for
// a single real key (P = 1, O = V) they cancel as they do exactly.
__device__ __forceinline__ float row_delta(const float* dout_row, const float* out_row, int hd) {
  float s = 0.0f;
  for (int d = 0; d < hd; ++d) s = fmaf(__bfloat162float(__float2bfloat16_rn(dout_row[d])), out_row[d], s);
  return s;
}

// Dropout factor of flat element idx (1 when p == 0); `blk`/`words` cache the
// Philox block last computed by this thread (4 consecutive elements share one).
__device__ __forceinline__ float drop_factor(uint64_t idx, float p, float drop_scale,
                                             uint64_t seed, uint64_t offset, uint64_t* blk,
                                             PhiloxOut* words) {
  if (p <= 0.0f) return 1.0f;
  if ((idx >> 2) != *blk) {
    *blk = idx >> 2;
    *words = philox_block(seed, offset, *blk);
  }
  const unsigned w = unsigned(idx & 3);  // selects, not an indexed load: words stay in registers
  const uint32_t x = w == 0 ? words->x[0] : w == 1 ? words->x[1] : w == 2 ? words->x[2] : words->x[3];
  return philox_to_uniform(x) >= p ? drop_scale : 0.0f;
}

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragBr = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBc = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// out[16][16 f] (fp32, row stride wld) = A[16][HDP] . B^T for nfr fragments
// of 16 rows of B, where A and B are bf16 row-major with stride ld (B^T read
// col-major): scores S = Q K^T, dP = dO V^T, and their transposes.
template <int HDP>
__device__ __forceinline__ void tile_abt(float* out, int wld, const bf16* a, const bf16* b, int nfr) {
  for (int f = 0; f < nfr; ++f) {
    FragC c;
    wmma::fill_fragment(c, 0.0f);
#pragma unroll
    for (int kk = 0; kk < Tc<HDP>::nf; ++kk) {
      FragA fa;
      FragBc fb;
      wmma::load_matrix_sync(fa, a + 16 * kk, Tc<HDP>::ld);
      wmma::load_matrix_sync(fb, b + f * 16 * Tc<HDP>::ld + 16 * kk, Tc<HDP>::ld);
      wmma::mma_sync(c, fa, fb, c);
    }
    wmma::store_matrix_sync(out + 16 * f, c, wld, wmma::mem_row_major);
  }
}

// acc[f] += A[16][16 nk] . B[16 nk][HDP]: A bf16 row-major (stride kPld), B
// bf16 row-major (stride ld).
template <int HDP>
__device__ __forceinline__ void tile_ab_acc(FragC* acc, const bf16* a, const bf16* b, int nk) {
  for (int kk = 0; kk < nk; ++kk) {
    FragA fa;
    wmma::load_matrix_sync(fa, a + 16 * kk, kPld);
#pragma unroll
    for (int f = 0; f < Tc<HDP>::nf; ++f) {
      FragBr fb;
      wmma::load_matrix_sync(fb, b + 16 * kk * Tc<HDP>::ld + 16 * f, Tc<HDP>::ld);
      wmma::mma_sync(acc[f], fa, fb, acc[f]);
    }
  }
}

// Key mask of keys [j0, j0 + n) into real[] (0 past S); returns whether any
// key of the whole block range is real (block-uniform). All threads take part.
__device__ __forceinline__ int load_real(int* real, const int32_t* mask, int64_t b, int S, int j0,
                                         int n, int nthreads) {
  int any = 0;
  for (int t = threadIdx.x; t < n; t += nthreads) {
    const int j = j0 + t;
    const int r = j < S && (mask == nullptr || mask[b * S + j] != 0);
    real[t] = r;
    any |= r;
  }
  return __syncthreads_or(any);
}

template <int HDP>
__global__ void __launch_bounds__(kFwdWarps * 32, 1)
    attn_fwd_tc_kernel(float* __restrict__ out, float* __restrict__ lse, const void* __restrict__ q_in,
                       const void* __restrict__ k_in, const void* __restrict__ v_in, int64_t ld,
                       const int32_t* __restrict__ mask,
                       int S, int NH, int hd, float scale, float p, float drop_scale,
                       uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base, int qkv16) {
  const QkvPtr q{q_in, qkv16 != 0}, k{k_in, qkv16 != 0}, v{v_in, qkv16 != 0};
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  extern __shared__ float smem_raw[];
  unsigned char* base = aligned_smem(smem_raw);
  constexpr int LD = Tc<HDP>::ld, WLD = Tc<HDP>::wld;
  const FwdLayout L = fwd_layout<HDP>(S, false, kFwdWarps);
  bf16* sk = reinterpret_cast<bf16*>(base + L.k);    // [Sp][LD]
  bf16* sv = reinterpret_cast<bf16*>(base + L.v);    // [Sp][LD]
  bf16* sq = reinterpret_cast<bf16*>(base + L.q);    // [64][LD]
  int* sreal = reinterpret_cast<int*>(base + L.real);  // [Sp]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  float* sw = reinterpret_cast<float*>(base + L.w) + warp * Tc<HDP>::wtile;  // [16][WLD]
  bf16* sp = reinterpret_cast<bf16*>(base + L.pt) + warp * Tc<HDP>::ptile;   // [16][kPld]

  const int Sp = int(round_up(S, 16));
  const int64_t bh = blockIdx.x, b = bh / NH, h = bh % NH;
  const int i0 = int(blockIdx.y) * kQTile;
  const int64_t ldo = int64_t(NH) * hd;
  const int64_t col = b * S * ld + h * hd;
  float* ob = out + b * S * ldo + h * hd;
  constexpr int kThreads = kFwdWarps * 32;

  if (!load_real(sreal, mask, b, S, 0, Sp, kThreads)) {  // fully padded sequence
    for (int e = tid; e < kQTile * hd; e += kThreads) {
      const int i = i0 + e / hd, d = e % hd;
      if (i < S) ob[int64_t(i) * ldo + d] = 0.0f;
    }
    for (int t = tid; t < kQTile; t += kThreads)
      if (i0 + t < S) lse[bh * S + i0 + t] = 0.0f;
    return;  // block-uniform
  }
  load_bf16<HDP>(sk, k + col, ld, 0, Sp, S, hd, kThreads);
  load_bf16<HDP>(sv, v + col, ld, 0, Sp, S, hd, kThreads);
  load_bf16<HDP>(sq, q + col, ld, i0, kQTile, S, hd, kThreads);
  __syncthreads();  // the last block-wide barrier: warps are independent below
  const int w0 = i0 + warp * kRowsPerWarp;  // this warp's first query row
  if (w0 >= S) return;                      // warp-uniform: no rows
  const bf16* sqw = sq + warp * kRowsPerWarp * LD;
  const int r = lane & 15, half = lane >> 4;  // elementwise: row r, columns [32 half, 32 half + 32)
  const int i = w0 + r;

  // Pass 1: running max and sum of exp over the real keys, per (row, half).
  float m = -INFINITY, l = 0.0f;
  for (int j0 = 0; j0 < Sp; j0 += kChunk) {
    const int nfr = min(kChunk, Sp - j0) / 16;
    tile_abt<HDP>(sw, WLD, sqw, sk + j0 * LD, nfr);
    __syncwarp();  // the score tile is visible to every lane
    const int c0 = half * 32, c1 = min(c0 + 32, nfr * 16);
    float cm = -INFINITY;
    for (int c = c0; c < c1; ++c)
      if (sreal[j0 + c]) cm = fmaxf(cm, sw[r * WLD + c] * scale);
    if (cm > -INFINITY) {
      if (cm > m) {
        l = m == -INFINITY ? 0.0f : l * expf(m - cm);
        m = cm;
      }
      for (int c = c0; c < c1; ++c)
        if (sreal[j0 + c]) l += expf(sw[r * WLD + c] * scale - m);
    }
    __syncwarp();  // reads done before the next chunk's scores overwrite the tile
  }
  const float m2 = __shfl_xor_sync(0xffffffffu, m, 16);
  const float l2 = __shfl_xor_sync(0xffffffffu, l, 16);
  const float M = fmaxf(m, m2);
  // a + b == b + a: both halves get the same bits.
  const float sum = (m == -INFINITY ? 0.0f : l * expf(m - M)) + (m2 == -INFINITY ? 0.0f : l2 * expf(m2 - M));
  const float row_lse = M == -INFINITY ? 0.0f : M + logf(sum);

  // Pass 2: Pd = exp(s - lse) * dropout factor (bf16), O += Pd V.
  FragC acc[Tc<HDP>::nf];
#pragma unroll
  for (int f = 0; f < Tc<HDP>::nf; ++f) wmma::fill_fragment(acc[f], 0.0f);
  const uint64_t row_base = (uint64_t(bh) * uint64_t(S) + uint64_t(i)) * uint64_t(S);
  uint64_t blk = ~uint64_t(0);
  PhiloxOut words;
  for (int j0 = 0; j0 < Sp; j0 += kChunk) {
    const int nfr = min(kChunk, Sp - j0) / 16;
    tile_abt<HDP>(sw, WLD, sqw, sk + j0 * LD, nfr);
    __syncwarp();
    const int c0 = half * 32, c1 = min(c0 + 32, nfr * 16);
    for (int c = c0; c < c1; ++c) {
      const int j = j0 + c;
      float pv = 0.0f;
      if (sreal[j] && i < S) {
        pv = expf(sw[r * WLD + c] * scale - row_lse);
        pv = __fmul_rn(pv, drop_factor(row_base + uint64_t(j), p, drop_scale, seed, offset, &blk, &words));
      }
      sp[r * kPld + c] = __float2bfloat16_rn(pv);
    }
    __syncwarp();  // the P tile is visible to every lane
    tile_ab_acc<HDP>(acc, sp, sv + j0 * LD, nfr);
    __syncwarp();  // P and score tiles consumed before the next chunk
  }
#pragma unroll
  for (int f = 0; f < Tc<HDP>::nf; ++f) wmma::store_matrix_sync(sw + 16 * f, acc[f], WLD, wmma::mem_row_major);
  __syncwarp();
  for (int e = lane; e < kRowsPerWarp * hd; e += 32) {
    const int rr = e / hd, d = e % hd;
    if (w0 + rr < S) ob[int64_t(w0 + rr) * ldo + d] = sw[rr * WLD + d];
  }
  if (half == 0 && i < S) lse[bh * S + i] = row_lse;
}

// g[col + (r0 + rr) * ld + d] = mul * acc (rows r0 + rr < S, d < hd), staged
// through the warp's fp32 tile `sw`; one thread per element.
template <int HDP>
__device__ __forceinline__ void write_rows(float* g, const FragC* acc, float mul, float* sw, int64_t col,
                                         int64_t ld, int r0, int S, int hd, int lane) {
  constexpr int WLD = Tc<HDP>::wld;
#pragma unroll
  for (int f = 0; f < Tc<HDP>::nf; ++f) wmma::store_matrix_sync(sw + 16 * f, acc[f], WLD, wmma::mem_row_major);
  __syncwarp();
  for (int e = lane; e < kRowsPerWarp * hd; e += 32) {
    const int rr = e / hd, d = e % hd;
    if (r0 + rr < S) {
      g[col + int64_t(r0 + rr) * ld + d] = mul * sw[rr * WLD + d];
    }
  }
  __syncwarp();  // staged values are read before the tile is reused
}

// g[col + (r0 + rr) * ld + d] = 0 for rows r0 + rr < S, rr < kKTile, d < hd:
// what write_rows would write when every P of the block's rows (or keys) is 0
// (the written contract leaves no gradient element unset). All threads of the
// block take part.
__device__ __forceinline__ void zero_rows(float* g, int64_t col, int64_t ld, int r0, int S, int hd,
                                          int nthreads) {
  for (int e = threadIdx.x; e < kKTile * hd; e += nthreads) {
    const int rr = e / hd, d = e % hd;
    if (r0 + rr < S) g[col + int64_t(r0 + rr) * ld + d] = 0.0f;
  }
}

// A dq block: query rows qblk * 32 .. +31 (warp w: 16 of them).
template <int HDP>
__device__ __forceinline__ void dq_block(unsigned char* base, int qblk, float* dq, const float* __restrict__ dout,
                                         const float* __restrict__ out, const float* __restrict__ lse,
                                         QkvPtr q, QkvPtr k, QkvPtr v, int64_t ld,
                                         const int32_t* __restrict__ mask, int S, int NH, int hd, float scale,
                                         float p, float drop_scale, uint64_t seed, uint64_t offset) {
  constexpr int LD = Tc<HDP>::ld, WLD = Tc<HDP>::wld;
  const FwdLayout L = fwd_layout<HDP>(S, true, kKvWarps);
  bf16* sk = reinterpret_cast<bf16*>(base + L.k);
  bf16* sv = reinterpret_cast<bf16*>(base + L.v);
  bf16* sq = reinterpret_cast<bf16*>(base + L.q);
  bf16* sdo = reinterpret_cast<bf16*>(base + L.dout);
  int* sreal = reinterpret_cast<int*>(base + L.real);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  float* sw = reinterpret_cast<float*>(base + L.w) + warp * Tc<HDP>::wtile;    // scores S
  float* sw2 = reinterpret_cast<float*>(base + L.w2) + warp * Tc<HDP>::wtile;  // dP
  bf16* sds = reinterpret_cast<bf16*>(base + L.pt) + warp * Tc<HDP>::ptile;    // dS
  constexpr int kThreads = kKvWarps * 32;

  const int Sp = int(round_up(S, 16));
  const int64_t bh = blockIdx.x, b = bh / NH, h = bh % NH;
  const int i0 = qblk * kDqRows;
  const int64_t ldo = int64_t(NH) * hd;
  const int64_t col = b * S * ld + h * hd;
  const float* dob = dout + b * S * ldo + h * hd;
  const float* obh = out + b * S * ldo + h * hd;

  if (!load_real(sreal, mask, b, S, 0, Sp, kThreads)) {  // fully padded: every P is 0
    zero_rows(dq, col, ld, i0, S, hd, kThreads);
    return;
  }
  load_bf16<HDP>(sk, k + col, ld, 0, Sp, S, hd, kThreads);
  load_bf16<HDP>(sv, v + col, ld, 0, Sp, S, hd, kThreads);
  load_bf16<HDP>(sq, q + col, ld, i0, kDqRows, S, hd, kThreads);
  load_bf16<HDP>(sdo, dob, ldo, i0, kDqRows, S, hd, kThreads);
  __syncthreads();  // the last block-wide barrier
  const int w0 = i0 + warp * kRowsPerWarp;
  if (w0 >= S) return;
  const bf16* sqw = sq + warp * kRowsPerWarp * LD;
  const bf16* sdow = sdo + warp * kRowsPerWarp * LD;
  const int r = lane & 15, half = lane >> 4;
  const int i = w0 + r;
  const float row_lse = i < S ? lse[bh * S + i] : 0.0f;
  const float row_d = i < S ? row_delta(dob + int64_t(i) * ldo, obh + int64_t(i) * ldo, hd) : 0.0f;
  const uint64_t row_base = (uint64_t(bh) * uint64_t(S) + uint64_t(i)) * uint64_t(S);
  uint64_t blk = ~uint64_t(0);
  PhiloxOut words;

  FragC acc[Tc<HDP>::nf];
#pragma unroll
  for (int f = 0; f < Tc<HDP>::nf; ++f) wmma::fill_fragment(acc[f], 0.0f);
  for (int j0 = 0; j0 < Sp; j0 += kChunk) {
    const int nfr = min(kChunk, Sp - j0) / 16;
    tile_abt<HDP>(sw, WLD, sqw, sk + j0 * LD, nfr);
    tile_abt<HDP>(sw2, WLD, sdow, sv + j0 * LD, nfr);
    __syncwarp();
    const int c0 = half * 32, c1 = min(c0 + 32, nfr * 16);
    for (int c = c0; c < c1; ++c) {
      const int j = j0 + c;
      float ds = 0.0f;
      if (sreal[j] && i < S) {
        const float pv = expf(sw[r * WLD + c] * scale - row_lse);
        const float f = drop_factor(row_base + uint64_t(j), p, drop_scale, seed, offset, &blk, &words);
        ds = pv * (sw2[r * WLD + c] * f - row_d);
      }
      sds[r * kPld + c] = __float2bfloat16_rn(ds);
    }
    __syncwarp();
    tile_ab_acc<HDP>(acc, sds, sk + j0 * LD, nfr);
    __syncwarp();
  }
  write_rows<HDP>(dq, acc, scale, sw, col, ld, w0, S, hd, lane);
}

// A dk/dv block: keys kblk * 32 .. +31 (warp w: 16 of them), every query.
template <int HDP>
__device__ __forceinline__ void dkv_block(unsigned char* base, int kblk, float* dk, float* dv,
                                          const float* __restrict__ dout, const float* __restrict__ out,
                                          const float* __restrict__ lse, QkvPtr q, QkvPtr k, QkvPtr v, int64_t ld,
                                          const int32_t* __restrict__ mask, int S, int NH, int hd, float scale,
                                          float p, float drop_scale, uint64_t seed, uint64_t offset) {
  constexpr int LD = Tc<HDP>::ld, WLD = Tc<HDP>::wld;
  constexpr int kThreads = kKvWarps * 32;
  const KvLayout L = kv_layout<HDP>();
  bf16* sk = reinterpret_cast<bf16*>(base + L.k);     // [32][LD] this block's keys
  bf16* sv = reinterpret_cast<bf16*>(base + L.v);     // [32][LD]
  bf16* sq = reinterpret_cast<bf16*>(base + L.q);     // [64][LD] query tile
  bf16* sdo = reinterpret_cast<bf16*>(base + L.dout); // [64][LD]
  float* slse = reinterpret_cast<float*>(base + L.lse);  // [64]
  float* sd = reinterpret_cast<float*>(base + L.d);      // [64]
  int* sreal = reinterpret_cast<int*>(base + L.real);    // [32]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  float* sw = reinterpret_cast<float*>(base + L.w) + warp * Tc<HDP>::wtile;    // S^T [16 keys][64 queries]
  float* sw2 = reinterpret_cast<float*>(base + L.w2) + warp * Tc<HDP>::wtile;  // dP^T
  bf16* spd = reinterpret_cast<bf16*>(base + L.pd) + warp * Tc<HDP>::ptile;    // Pd^T
  bf16* sds = reinterpret_cast<bf16*>(base + L.ds) + warp * Tc<HDP>::ptile;    // dS^T

  const int Sp = int(round_up(S, 16));
  const int64_t bh = blockIdx.x, b = bh / NH, h = bh % NH;
  const int j0 = kblk * kKTile;
  const int64_t ldo = int64_t(NH) * hd;
  const int64_t col = b * S * ld + h * hd;
  const float* dob = dout + b * S * ldo + h * hd;
  const float* obh = out + b * S * ldo + h * hd;
  const bool has_dk = dk != nullptr, has_dv = dv != nullptr;

  if (!load_real(sreal, mask, b, S, j0, kKTile, kThreads)) {  // no real key here: every P is 0
    if (has_dk) zero_rows(dk, col, ld, j0, S, hd, kThreads);
    if (has_dv) zero_rows(dv, col, ld, j0, S, hd, kThreads);
    return;
  }
  load_bf16<HDP>(sk, k + col, ld, j0, kKTile, S, hd, kThreads);
  load_bf16<HDP>(sv, v + col, ld, j0, kKTile, S, hd, kThreads);
  const int wj = j0 + warp * kRowsPerWarp;  // this warp's first key
  const bool active = wj < S;               // warp-uniform
  const bf16* skw = sk + warp * kRowsPerWarp * LD;
  const bf16* svw = sv + warp * kRowsPerWarp * LD;
  const int* srw = sreal + warp * kRowsPerWarp;

  FragC ak[Tc<HDP>::nf], av[Tc<HDP>::nf];
#pragma unroll
  for (int f = 0; f < Tc<HDP>::nf; ++f) {
    wmma::fill_fragment(ak[f], 0.0f);
    wmma::fill_fragment(av[f], 0.0f);
  }
  uint64_t blk = ~uint64_t(0);
  PhiloxOut words;
  for (int i0 = 0; i0 < S; i0 += kBwdQTile) {
    __syncthreads();  // the previous query tile is consumed (and sk/sv/sreal staged)
    load_bf16<HDP>(sq, q + col, ld, i0, kBwdQTile, S, hd, kThreads);
    load_bf16<HDP>(sdo, dob, ldo, i0, kBwdQTile, S, hd, kThreads);
    {
      const int i = i0 + tid;  // one thread per query row of the tile
      slse[tid] = i < S ? lse[bh * S + i] : 0.0f;
      sd[tid] = i < S ? row_delta(dob + int64_t(i) * ldo, obh + int64_t(i) * ldo, hd) : 0.0f;
    }
    __syncthreads();
    if (!active) continue;  // warp-uniform; the barrier at the loop top is still reached
    const int nq = min(kBwdQTile, Sp - i0) / 16;  // query fragments in this tile
    tile_abt<HDP>(sw, WLD, skw, sq, nq);
    tile_abt<HDP>(sw2, WLD, svw, sdo, nq);
    __syncwarp();
    // Lane: query columns lane and lane + 32, the warp's 16 keys in order (so
    // the 4 keys of a Philox block are consecutive for the thread).
    for (int qc = lane; qc < nq * 16; qc += 32) {
      const int i = i0 + qc;
      const uint64_t row_base = (uint64_t(bh) * uint64_t(S) + uint64_t(i)) * uint64_t(S);
      for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        const int j = wj + rr;
        float pd = 0.0f, ds = 0.0f;
        if (srw[rr] && i < S) {
          const float pv = expf(sw[rr * WLD + qc] * scale - slse[qc]);
          const float f = drop_factor(row_base + uint64_t(j), p, drop_scale, seed, offset, &blk, &words);
          pd = __fmul_rn(pv, f);
          ds = pv * (sw2[rr * WLD + qc] * f - sd[qc]);
        }
        spd[rr * kPld + qc] = __float2bfloat16_rn(pd);
        sds[rr * kPld + qc] = __float2bfloat16_rn(ds);
      }
    }
    __syncwarp();
    if (has_dv) tile_ab_acc<HDP>(av, spd, sdo, nq);
    if (has_dk) tile_ab_acc<HDP>(ak, sds, sq, nq);
  }
  if (!active) return;
  __syncwarp();  // the last tile's reads of sw are done before it stages results
  if (has_dk) write_rows<HDP>(dk, ak, scale, sw, col, ld, wj, S, hd, lane);
  if (has_dv) write_rows<HDP>(dv, av, 1.0f, sw, col, ld, wj, S, hd, lane);
}

// The whole backward in one launch: grid (B*NH, nqb + ceil(S/32)); blocks
// y < nqb are dq blocks (nqb = 0 when dq is nullptr), the rest dk/dv blocks
// (none when both are nullptr). The roles write disjoint outputs.
template <int HDP>
__global__ void __launch_bounds__(kKvWarps * 32, 1)
    attn_bwd_tc_kernel(float* dq, float* dk, float* dv, const float* __restrict__ dout,
                       const float* __restrict__ out, const float* __restrict__ lse, const void* __restrict__ q_in,
                       const void* __restrict__ k_in, const void* __restrict__ v_in, int64_t ld,
                       const int32_t* __restrict__ mask, int S, int NH, int hd, float scale, float p,
                       float drop_scale, uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base,
                       int nqb, int qkv16) {
  const QkvPtr q{q_in, qkv16 != 0}, k{k_in, qkv16 != 0}, v{v_in, qkv16 != 0};
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  extern __shared__ float smem_raw[];
  unsigned char* base = aligned_smem(smem_raw);
  const int y = int(blockIdx.y);
  if (y < nqb)  // block-uniform
    dq_block<HDP>(base, y, dq, dout, out, lse, q, k, v, ld, mask, S, NH, hd, scale, p, drop_scale, seed, offset);
  else
    dkv_block<HDP>(base, y - nqb, dk, dv, dout, out, lse, q, k, v, ld, mask, S, NH, hd, scale, p, drop_scale, seed,
                   offset);
}

int head_pad(int64_t hd) { return hd <= 16 ? 16 : hd <= 32 ? 32 : hd <= 64 ? 64 : 128; }

template <int HDP>
int64_t max_smem(int S) {
  return std::max(fwd_smem<HDP>(S), bwd_smem<HDP>(S, true, true));
}
int64_t tc_smem(int64_t S, int64_t hd) {
  switch (head_pad(hd)) {
    case 16: return max_smem<16>(int(S));
    case 32: return max_smem<32>(int(S));
    case 64: return max_smem<64>(int(S));
    default: return max_smem<128>(int(S));
  }
}

Status optin_limit(int64_t* bytes) {
  int dev = 0, v = 0;
  CUDA_TRY(cudaGetDevice(&dev));
  CUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  *bytes = v;
  return Status::Ok();
}

// Opts a kernel in to the device's whole per-block limit when it needs more
// than the default (every caller sets the same value).
template <class Kernel>
Status allow(Kernel kernel, int64_t bytes, int64_t limit, const char* what) {
  if (bytes <= kDefaultSmem) return Status::Ok();
  return cuda_status(opt_in_smem_once(kernel, int(limit)), what);
}

template <int HDP>
Status launch_fwd(float* out, float* lse, QkvPtr q, QkvPtr k, QkvPtr v, int64_t ld,
                  const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd, float scale, float p,
                  float drop_scale, uint64_t seed, uint64_t offset, const uint64_t* offset_base, int64_t limit, cudaStream_t stream) {
  const int64_t smem = fwd_smem<HDP>(int(S));
  ELECTRA_RETURN_IF_ERROR(allow(attn_fwd_tc_kernel<HDP>, smem, limit, "cudaFuncSetAttribute(attn_fwd_tc_kernel)"));
  const dim3 grid(unsigned(B * NH), unsigned((S + kQTile - 1) / kQTile));
  attn_fwd_tc_kernel<HDP><<<grid, kFwdWarps * 32, size_t(smem), stream>>>(
      out, lse, q.p, k.p, v.p, ld, mask, int(S), int(NH), int(hd), scale, p, drop_scale, seed, offset, offset_base,
      int(q.b16));
  CUDA_LAUNCH_CHECK("attn_fwd_tc_kernel");
  return Status::Ok();
}

template <int HDP>
Status launch_bwd(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                  QkvPtr q, QkvPtr k, QkvPtr v, int64_t ld, const int32_t* mask, int64_t B,
                  int64_t S, int64_t NH, int64_t hd, float scale, float p, float drop_scale, uint64_t seed,
                  uint64_t offset, const uint64_t* offset_base, int64_t limit, cudaStream_t stream) {
  const bool has_dkv = dk != nullptr || dv != nullptr;
  const int64_t tiles = (S + kKTile - 1) / kKTile;  // 32 rows (dq) or 32 keys (dkv) per block
  const int nqb = dq != nullptr ? int(tiles) : 0;
  const int64_t smem = bwd_smem<HDP>(int(S), dq != nullptr, has_dkv);
  ELECTRA_RETURN_IF_ERROR(allow(attn_bwd_tc_kernel<HDP>, smem, limit, "cudaFuncSetAttribute(attn_bwd_tc_kernel)"));
  const dim3 grid(unsigned(B * NH), unsigned(nqb + (has_dkv ? tiles : 0)));
  attn_bwd_tc_kernel<HDP><<<grid, kKvWarps * 32, size_t(smem), stream>>>(
      dq, dk, dv, dout, out, lse, q.p, k.p, v.p, ld, mask, int(S), int(NH), int(hd), scale, p, drop_scale, seed, offset,
      offset_base, nqb, int(q.b16));
  CUDA_LAUNCH_CHECK("attn_bwd_tc_kernel");
  return Status::Ok();
}

Status check_tc_shape(int64_t B, int64_t S, int64_t NH, int64_t hd, const char* op) {
  if (S > kMaxS || hd > kMaxHd)
    return InvalidArgument(std::string(op) + ": S must be <= 512 and head_dim <= 128 (got S=" +
                           std::to_string(S) + ", head_dim=" + std::to_string(hd) + ")");
  if (B * NH > 0x7fffffff) return InvalidArgument(std::string(op) + ": B*NH exceeds the grid");
  return Status::Ok();
}

}  // namespace

Status attention_tc_fits(int64_t S, int64_t hd, bool* fits) {
  *fits = false;
  if (S <= 0 || hd <= 0 || S > kMaxS || hd > kMaxHd) return Status::Ok();
  int64_t limit = 0;
  ELECTRA_RETURN_IF_ERROR(optin_limit(&limit));
  *fits = tc_smem(S, hd) <= limit;
  return Status::Ok();
}

namespace {
// Whether the tensor-core kernels take this call (*tc), after the shape
// checks both directions share; bf16 q, k, v where they do not (the fp32
// fallback reads fp32) are an InvalidArgument.
Status take_tc(QkvPtr q, int64_t B, int64_t S, int64_t NH, int64_t hd, const char* op, bool* tc) {
  ELECTRA_RETURN_IF_ERROR(check_tc_shape(B, S, NH, hd, op));
  ELECTRA_RETURN_IF_ERROR(attention_tc_fits(S, hd, tc));
  if (!*tc && q.b16)
    return InvalidArgument(std::string(op) + ": bf16 q, k, v need the tensor-core kernels, which do not fit this "
                           "device at S=" + std::to_string(S) + ", head_dim=" + std::to_string(hd) +
                           " (attention_tc_fits)");
  return Status::Ok();
}

Status forward_tc(float* out, float* probs, QkvPtr q, QkvPtr k, QkvPtr v, int64_t ld, const int32_t* mask, int64_t B,
                  int64_t S, int64_t NH, int64_t hd, float p, uint64_t seed, uint64_t offset, cudaStream_t stream,
                  const uint64_t* offset_base, const char* op) {
  if (B <= 0 || S <= 0 || NH <= 0 || hd <= 0) return Status::Ok();
  bool tc = false;
  ELECTRA_RETURN_IF_ERROR(take_tc(q, B, S, NH, hd, op, &tc));
  if (!tc)
    return attention_forward(out, probs, static_cast<const float*>(q.p), static_cast<const float*>(k.p),
                             static_cast<const float*>(v.p), ld, mask, B, S, NH, hd, p, seed, offset, stream,
                             offset_base);
  int64_t limit = 0;
  ELECTRA_RETURN_IF_ERROR(optin_limit(&limit));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));  // as the CPU
  const float drop_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  switch (head_pad(hd)) {
    case 16: return launch_fwd<16>(out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
    case 32: return launch_fwd<32>(out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
    case 64: return launch_fwd<64>(out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
    default: return launch_fwd<128>(out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
  }
}

Status backward_tc(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* probs, QkvPtr q,
                   QkvPtr k, QkvPtr v, int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                   int64_t hd, float p, uint64_t seed, uint64_t offset, cudaStream_t stream,
                   const uint64_t* offset_base, const char* op) {
  if (!dq && !dk && !dv) return Status::Ok();
  if (B <= 0 || S <= 0 || NH <= 0 || hd <= 0) return Status::Ok();
  bool tc = false;
  ELECTRA_RETURN_IF_ERROR(take_tc(q, B, S, NH, hd, op, &tc));
  if (!tc)
    return attention_backward_write(dq, dk, dv, dout, probs, static_cast<const float*>(q.p),
                                    static_cast<const float*>(k.p), static_cast<const float*>(v.p), ld, mask, B, S,
                                    NH, hd, p, seed, offset, stream, offset_base);
  int64_t limit = 0;
  ELECTRA_RETURN_IF_ERROR(optin_limit(&limit));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float drop_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  switch (head_pad(hd)) {
    case 16: return launch_bwd<16>(dq, dk, dv, dout, out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
    case 32: return launch_bwd<32>(dq, dk, dv, dout, out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
    case 64: return launch_bwd<64>(dq, dk, dv, dout, out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
    default: return launch_bwd<128>(dq, dk, dv, dout, out, probs, q, k, v, ld, mask, B, S, NH, hd, scale, p, drop_scale, seed, offset, offset_base, limit, stream);
  }
}
}  // namespace

Status attention_forward_bf16(float* out, float* probs, const float* q, const float* k, const float* v,
                              int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                              float p, uint64_t seed, uint64_t offset, cudaStream_t stream, const uint64_t* offset_base) {
  return forward_tc(out, probs, {q, false}, {k, false}, {v, false}, ld, mask, B, S, NH, hd, p, seed, offset, stream,
                    offset_base, "cuda::attention_forward_bf16");
}
Status attention_forward_bf16(float* out, float* probs, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                              int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                              float p, uint64_t seed, uint64_t offset, cudaStream_t stream, const uint64_t* offset_base) {
  return forward_tc(out, probs, {q, true}, {k, true}, {v, true}, ld, mask, B, S, NH, hd, p, seed, offset, stream,
                    offset_base, "cuda::attention_forward_bf16");
}

Status attention_backward_write_bf16(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                     const float* probs, const float* q, const float* k, const float* v,
                                     int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                                     int64_t hd, float p, uint64_t seed, uint64_t offset, cudaStream_t stream,
                                     const uint64_t* offset_base) {
  return backward_tc(dq, dk, dv, dout, out, probs, {q, false}, {k, false}, {v, false}, ld, mask, B, S, NH, hd, p,
                     seed, offset, stream, offset_base, "cuda::attention_backward_write_bf16");
}
Status attention_backward_write_bf16(float* dq, float* dk, float* dv, const float* dout, const float* out,
                                     const float* probs, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                                     int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                                     int64_t hd, float p, uint64_t seed, uint64_t offset, cudaStream_t stream,
                                     const uint64_t* offset_base) {
  return backward_tc(dq, dk, dv, dout, out, probs, {q, true}, {k, true}, {v, true}, ld, mask, B, S, NH, hd, p,
                     seed, offset, stream, offset_base, "cuda::attention_backward_write_bf16");
}

}  // namespace cuda
}  // namespace electra
