// Multi-head self-attention core on the GPU, fp32 SIMT kernels: the fp32
// precision path and the parity reference for the bf16 path, and that path's
// fallback when its tensor-core kernels do not fit the device's shared memory
// (the bf16 path itself, flash-style on tensor cores with P recomputed, is
// attention_tc.cu). Exactly the semantics of
// cpu::attention_forward / attention_backward_write (core/cpu/attention.cpp, whose
// header comment is the specification):
//   probs = softmax(q k^T / sqrt(hd)) over the unmasked keys (saved, BEFORE
//           dropout, in [B,NH,S,S]); a masked key gets probability exactly 0;
//           a fully padded sequence gets zero probs rows and zero outputs
//   out   = dropout(probs) @ v, keep(idx) = philox_uniform(seed, offset, idx)
//           >= p with idx the flat index into probs, kept values multiplied by
//           scale = 1/(1-p) (one float, computed on the host as the CPU does)
//   dq, dk, dv are WRITTEN (each head's columns of every row); any may be nullptr.
// q/k/v/dq/dk/dv have row stride ld; out/dout have row stride NH*hd; head h
// uses columns [h*hd, (h+1)*hd). Limits: S <= 512, hd <= 128 (kMaxS, kMaxHd;
// larger shapes return kInvalidArgument). dq/dk/dv must not overlap each
// other (they may be column slices of one fused dQKV buffer).
//
// Threads: 256 per block (8 warps). Register tiles use one fixed mapping:
// query (or key) row ii = warp + 8 * r, head column d = lane + 32 * c
// (c < 4 covers hd <= 128), so a warp owns whole rows and the lanes of a
// warp walk consecutive columns (coalesced global access, conflict-free
// shared access). K and V are staged through shared memory in tiles of 32
// keys (one key per lane in the q.k dot products) with an odd row stride
// (hd | 1), so lane-strided reads of a staged row hit 32 distinct banks.
//
// FORWARD (attn_fwd_kernel): grid (B*NH, ceil(S/32)); one block per
// (batch, head, tile of 32 query rows). Shared: the Q tile [32][hd], one K/V
// tile [32][hd|1], the score rows [32][S] and the key mask [S]; at most
// 100480 bytes (S = 512, hd = 128), dynamic, opted in above 48 KB.
//   1. scores: for each K tile, lane j computes q_i . k_j for the warp's 4
//      rows; masked keys are stored as -inf (never read as such: step 2
//      tests the mask explicitly, as the CPU does).
//   2. fused masked softmax, one warp per row, in shared memory: warp max
//      over the real keys, e = expf(s - max) (0 for a masked key), double
//      sum, inv = float(1/sum), P = e * inv written to probs; then the
//      dropout factor is applied in place (one Philox block per 4 elements).
//   3. out = Pd V over V tiles, a 4x4 register tile per thread.
//
// BACKWARD (attn_bwd_kernel<TQ>): grid (B*NH); one block per (batch, head),
// looping over query tiles of TQ rows (TQ = 32 when its shared memory fits
// in 96 KB, else 16: the choice depends only on S and hd, never on the GPU,
// so results are identical on every device). Per query tile:
//   Pd = P * dropout factor (mask recomputed from Philox)     [TQ][S] shared
//   dP = dO V^T (over V tiles)                                [TQ][S] shared
//   dS = P * (dP * f - rowsum),  rowsum_i = sum_j dP_ij Pd_ij (double), in
//        place over dP, exactly the CPU's element arithmetic
//   dq[i]   = scale * sum_j dS_ij k_j       (register tile, written once)
//   dk[j]  += scale * sum_{i in tile} dS_ij q_i   for every key j
//   dv[j]  += sum_{i in tile} Pd_ij dO_i          for every key j
// dk/dv are written by the first query tile, then read-modify-written in
// global memory once per later query tile by the thread that owns (j, d), in
// query-tile order: no atomics, a fixed summation order, deterministic
// (the first tile's write is the add to 0 it replaces). (The CPU adds scale * the full column sum
// once; here the partial sums of the query tiles are added one after the
// other, which differs only in rounding.) Shared: 2*TQ*S + 2*TQ*hd + 32*(hd|1)
// floats, at most 98432 bytes (TQ = 16, S = 512, hd = 128).
// Padded keys need no mask in the backward: their saved probabilities are
// exactly 0, so every term vanishes (as on the CPU). The backward's
// parallelism is B*NH blocks (512 for ELECTRA-Small's discriminator at B=128,
// only B for the NH=1 generator): no scratch buffer is available to split a
// (batch, head) across blocks deterministically.
// Kernels needing more than 48 KB of dynamic shared memory are opted in with
// cudaFuncSetAttribute, once per kernel and device (opt_in_smem_once; the
// value set is the kernel's fixed maximum, so concurrent callers agree).
//
// The flash-style version (running statistics instead of saved probs, P
// recomputed in the backward from a per-row log-sum-exp, tensor cores, a
// backward split over key tiles) is attention_tc.cu, used by the bf16
// precision path. These kernels stay as they are because the fp32 path must
// match the CPU to ~1e-5, which the bf16 products cannot.
#include <cmath>
#include <string>

#include "core/philox.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kTK = 32;                 // keys per staged K/V tile (one per lane)
constexpr int kMaxHd = 128;
constexpr int kMaxCols = kMaxHd / 32;   // head columns per lane: d = lane + 32 c
constexpr int kMaxS = 512;
constexpr int kFwdTQ = 32;              // query rows per forward block
constexpr int kFwdRows = kFwdTQ / kWarps;  // rows per warp: ii = warp + kWarps r
constexpr int kBwdKeys = 2;             // keys per warp in one dK/dV step
// Register caps via __launch_bounds__ minimum blocks per SM (checked with
// -Xptxas -v for sm_80/86/89/90: no spills): forward 4 blocks (64 registers),
// backward 3 (TQ = 32, 80 registers) or 2 (TQ = 16). Without an explicit
// minimum, ptxas 13 capped the forward at 64 registers AND spilled on sm_90.
constexpr int kFwdMinBlocks = 4;
constexpr int64_t kStaticSmemLimit = 48 * 1024;
constexpr int64_t kBwdTQ32Limit = 96 * 1024;  // TQ = 32 backward when it fits here

__host__ __device__ constexpr int64_t kv_stride(int64_t hd) { return hd | 1; }  // odd: conflict-free
constexpr int64_t fwd_smem_bytes(int64_t S, int64_t hd) {
  return 4 * (kFwdTQ * hd + kTK * kv_stride(hd) + kFwdTQ * S + S);
}
constexpr int64_t bwd_smem_bytes(int64_t TQ, int64_t S, int64_t hd) {
  return 4 * (2 * TQ * S + 2 * TQ * hd + kTK * kv_stride(hd));
}
// The most dynamic shared memory each kernel can ask for (S = 512, hd = 128).
// All are below the smallest opt-in limit of the targeted GPUs (sm_86/89:
// 99 KB = 101376 bytes).
constexpr int64_t kFwdMaxSmem = fwd_smem_bytes(kMaxS, kMaxHd);        // 100480
constexpr int64_t kBwd16MaxSmem = bwd_smem_bytes(16, kMaxS, kMaxHd);  // 98432
constexpr int64_t kBwd32MaxSmem = kBwdTQ32Limit;
static_assert(kFwdMaxSmem <= 101376, "forward shared memory exceeds sm_86/89 opt-in limit");
static_assert(kBwd16MaxSmem <= 101376, "backward shared memory exceeds sm_86/89 opt-in limit");
static_assert(kFwdTQ % kWarps == 0, "rows per warp");

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, m));
  return x;
}
// Butterfly sum: every lane ends with the same value (a + b == b + a).
__device__ __forceinline__ double warp_sum(double x) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) x += __shfl_xor_sync(0xffffffffu, x, m);
  return x;
}

// dst[jj * dst_ld + d] = src[(row0 + jj) * ld + d] for jj < rows, d < hd;
// rows at or past S are filled with 0. All threads of the block take part.
__device__ __forceinline__ void load_tile(float* dst, int dst_ld, const float* src, int64_t ld,
                                          int row0, int rows, int S, int hd) {
  for (int e = threadIdx.x; e < rows * hd; e += kThreads) {
    const int jj = e / hd, d = e - jj * hd;
    const int r = row0 + jj;
    dst[jj * dst_ld + d] = r < S ? src[int64_t(r) * ld + d] : 0.0f;
  }
}

// Dropout of one row of S probabilities in shared memory, by one warp:
// row[j] = row[j] * (keep(base + j) ? scale : 0), keep(idx) =
// philox_uniform(seed, offset, idx) >= p -- the CPU's expression. Each lane
// computes whole Philox blocks (4 consecutive flat indices) and uses the
// words that fall inside the row.
__device__ __forceinline__ void dropout_row(float* row, int S, uint64_t base, float p, float scale,
                                            uint64_t seed, uint64_t offset, int lane) {
  const uint64_t first = base >> 2, last = (base + uint64_t(S) - 1) >> 2;
  for (uint64_t blk = first + uint64_t(lane); blk <= last; blk += 32) {
    const PhiloxOut o = philox_block(seed, offset, blk);
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint64_t idx = blk * 4 + uint64_t(w);
      if (idx < base || idx >= base + uint64_t(S)) continue;
      const int j = int(idx - base);
      row[j] = __fmul_rn(row[j], philox_to_uniform(o.x[w]) >= p ? scale : 0.0f);
    }
  }
}

__global__ void __launch_bounds__(kThreads, kFwdMinBlocks)
    attn_fwd_kernel(float* __restrict__ out, float* __restrict__ probs,
                    const float* __restrict__ q, const float* __restrict__ k,
                    const float* __restrict__ v, int64_t ld, const int32_t* __restrict__ mask,
                    int S, int NH, int hd, float scale, float p, float drop_scale,
                    uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base) {
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  extern __shared__ float smem[];
  const int kvs = int(kv_stride(hd));
  float* sq = smem;                  // [kFwdTQ][hd]   the query tile
  float* skv = sq + kFwdTQ * hd;     // [kTK][kvs]     one K or V tile
  float* sp = skv + kTK * kvs;       // [kFwdTQ][S]    scores, then P, then Pd
  int* sreal = reinterpret_cast<int*>(sp + kFwdTQ * S);  // [S] key is real

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / NH, h = bh % NH;
  const int i0 = int(blockIdx.y) * kFwdTQ;
  const int tq = min(kFwdTQ, S - i0);
  const int64_t ldo = int64_t(NH) * hd;
  const float* qb = q + b * S * ld + h * hd;
  const float* kb = k + b * S * ld + h * hd;
  const float* vb = v + b * S * ld + h * hd;
  float* ob = out + b * S * ldo + h * hd;
  float* pb = probs + (bh * S + i0) * S;  // probs row i0 of this (b, h)

  int any = 0;
  for (int j = tid; j < S; j += kThreads) {
    const int r = mask == nullptr || mask[b * S + j] != 0;
    sreal[j] = r;
    any |= r;
  }
  if (!__syncthreads_or(any)) {  // fully padded sequence: zero probs and output
    for (int e = tid; e < tq * S; e += kThreads) pb[e] = 0.0f;  // rows i0.. are contiguous
    for (int e = tid; e < tq * hd; e += kThreads) {
      const int ii = e / hd, d = e - ii * hd;
      ob[int64_t(i0 + ii) * ldo + d] = 0.0f;
    }
    return;  // block-uniform
  }
  load_tile(sq, hd, qb, ld, i0, kFwdTQ, S, hd);

  // 1. Scores of this block's rows against every key, one K tile at a time.
  for (int j0 = 0; j0 < S; j0 += kTK) {
    __syncthreads();  // sq is staged; the previous K tile is consumed
    load_tile(skv, kvs, kb, ld, j0, kTK, S, hd);
    __syncthreads();
    const int j = j0 + lane;
    if (j < S) {
      float acc[kFwdRows];
#pragma unroll
      for (int r = 0; r < kFwdRows; ++r) acc[r] = 0.0f;
      const float* kr = skv + lane * kvs;
      for (int d = 0; d < hd; ++d) {
        const float kd = kr[d];
#pragma unroll
        for (int r = 0; r < kFwdRows; ++r) acc[r] = fmaf(sq[(warp + kWarps * r) * hd + d], kd, acc[r]);
      }
      const bool real = sreal[j] != 0;
#pragma unroll
      for (int r = 0; r < kFwdRows; ++r)
        sp[(warp + kWarps * r) * S + j] = real ? acc[r] * scale : -INFINITY;
    }
  }
  __syncthreads();

  // 2. Masked softmax of each row (one warp per row), probs saved, then dropout.
#pragma unroll
  for (int r = 0; r < kFwdRows; ++r) {
    const int ii = warp + kWarps * r;
    if (ii >= tq) break;  // warp-uniform
    float* row = sp + ii * S;
    float mx = -INFINITY;
    for (int j = lane; j < S; j += 32)
      if (sreal[j]) mx = fmaxf(mx, row[j]);
    mx = warp_max(mx);
    double sum = 0.0;
    for (int j = lane; j < S; j += 32) {
      const float e = sreal[j] ? expf(row[j] - mx) : 0.0f;
      row[j] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    const float inv = float(1.0 / sum);
    float* prow = pb + int64_t(ii) * S;
    for (int j = lane; j < S; j += 32) {
      const float pv = __fmul_rn(row[j], inv);
      row[j] = pv;
      prow[j] = pv;
    }
    if (p > 0.0f) {
      __syncwarp();  // dropout_row's lanes touch other lanes' elements
      dropout_row(row, S, uint64_t(bh * S + i0 + ii) * uint64_t(S), p, drop_scale, seed, offset,
                  lane);
    }
  }

  // 3. out = Pd V, one V tile at a time; thread tile: rows warp + 8 r, columns lane + 32 c.
  float acc[kFwdRows][kMaxCols];
#pragma unroll
  for (int r = 0; r < kFwdRows; ++r)
#pragma unroll
    for (int c = 0; c < kMaxCols; ++c) acc[r][c] = 0.0f;
  for (int j0 = 0; j0 < S; j0 += kTK) {
    __syncthreads();  // softmax done (first tile) / previous V tile consumed
    load_tile(skv, kvs, vb, ld, j0, kTK, S, hd);
    __syncthreads();
    const int jn = min(kTK, S - j0);
    for (int jj = 0; jj < jn; ++jj) {
      float pv[kFwdRows];
#pragma unroll
      for (int r = 0; r < kFwdRows; ++r) pv[r] = sp[(warp + kWarps * r) * S + j0 + jj];
#pragma unroll
      for (int c = 0; c < kMaxCols; ++c) {
        if (32 * c >= hd) break;  // uniform
        const int d = lane + 32 * c;
        const float vv = d < hd ? skv[jj * kvs + d] : 0.0f;
#pragma unroll
        for (int r = 0; r < kFwdRows; ++r) acc[r][c] = fmaf(pv[r], vv, acc[r][c]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kFwdRows; ++r) {
    const int ii = warp + kWarps * r;
    if (ii >= tq) break;
#pragma unroll
    for (int c = 0; c < kMaxCols; ++c) {
      const int d = lane + 32 * c;
      if (d < hd) ob[int64_t(i0 + ii) * ldo + d] = acc[r][c];
    }
  }
}

template <int TQ>
__global__ void __launch_bounds__(kThreads, TQ == 32 ? 3 : 2)
    attn_bwd_kernel(float* dq, float* dk, float* dv, const float* __restrict__ dout,
                    const float* __restrict__ probs, const float* __restrict__ q,
                    const float* __restrict__ k, const float* __restrict__ v, int64_t ld, int S,
                    int NH, int hd, float scale, float p, float drop_scale, uint64_t seed,
                    uint64_t offset, const uint64_t* __restrict__ offset_base) {
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  constexpr int kRows = TQ / kWarps;  // query rows per warp: ii = warp + kWarps r
  static_assert(TQ % kWarps == 0, "rows per warp");
  extern __shared__ float smem[];
  const int kvs = int(kv_stride(hd));
  float* sds = smem;             // [TQ][S]   dP, then dS
  float* spd = sds + TQ * S;     // [TQ][S]   Pd = P * dropout factor
  float* sdo = spd + TQ * S;     // [TQ][hd]  dO tile
  float* sq = sdo + TQ * hd;     // [TQ][hd]  Q tile (for dk)
  float* skv = sq + TQ * hd;     // [kTK][kvs] one V or K tile

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / NH, h = bh % NH;
  const int64_t ldo = int64_t(NH) * hd;
  const int64_t col = b * S * ld + h * hd;
  const float* qb = q + col;
  const float* kb = k + col;
  const float* vb = v + col;
  const float* dob = dout + b * S * ldo + h * hd;
  const float* pbh = probs + bh * S * S;
  const bool has_dk = dk != nullptr, has_dv = dv != nullptr;
  const bool need_ds = dq != nullptr || has_dk;

  for (int i0 = 0; i0 < S; i0 += TQ) {
    const int tq = min(TQ, S - i0);
    __syncthreads();  // every shared array of the previous query tile is consumed
    load_tile(sdo, hd, dob, ldo, i0, TQ, S, hd);
    if (has_dk) load_tile(sq, hd, qb, ld, i0, TQ, S, hd);

    // Pd rows (one warp per row), from the saved probabilities.
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int ii = warp + kWarps * r;
      if (ii >= tq) break;  // warp-uniform
      const float* prow = pbh + int64_t(i0 + ii) * S;
      float* a = spd + ii * S;
      for (int j = lane; j < S; j += 32) a[j] = prow[j];
      if (p > 0.0f) {
        __syncwarp();
        dropout_row(a, S, uint64_t(bh * S + i0 + ii) * uint64_t(S), p, drop_scale, seed, offset,
                    lane);
      }
    }

    if (need_ds) {
      // dP = dO V^T for this tile's rows, one V tile at a time (lane = key).
      for (int j0 = 0; j0 < S; j0 += kTK) {
        __syncthreads();  // sdo staged / previous V tile consumed
        load_tile(skv, kvs, vb, ld, j0, kTK, S, hd);
        __syncthreads();
        const int j = j0 + lane;
        if (j < S) {
          float acc[kRows];
#pragma unroll
          for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;
          const float* vr = skv + lane * kvs;
          for (int d = 0; d < hd; ++d) {
            const float vd = vr[d];
#pragma unroll
            for (int r = 0; r < kRows; ++r) acc[r] = fmaf(sdo[(warp + kWarps * r) * hd + d], vd, acc[r]);
          }
#pragma unroll
          for (int r = 0; r < kRows; ++r) sds[(warp + kWarps * r) * S + j] = acc[r];
        }
      }
      __syncthreads();
      // dS = r - P * rowsum with r = dP * Pd (the CPU's element arithmetic).
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        const int ii = warp + kWarps * r;
        if (ii >= tq) break;
        float* ds = sds + ii * S;
        const float* a = spd + ii * S;
        const float* prow = pbh + int64_t(i0 + ii) * S;
        double sum = 0.0;
        for (int j = lane; j < S; j += 32) {
          const float rr = __fmul_rn(ds[j], a[j]);
          ds[j] = rr;
          sum += rr;
        }
        const float rs = float(warp_sum(sum));
        for (int j = lane; j < S; j += 32) ds[j] = __fsub_rn(ds[j], __fmul_rn(prow[j], rs));
      }

      // dq[i] = scale * dS K, one K tile at a time; written once per row.
      if (dq != nullptr) {
        float acc[kRows][kMaxCols];
#pragma unroll
        for (int r = 0; r < kRows; ++r)
#pragma unroll
          for (int c = 0; c < kMaxCols; ++c) acc[r][c] = 0.0f;
        for (int j0 = 0; j0 < S; j0 += kTK) {
          __syncthreads();  // dS rows done / previous K tile consumed
          load_tile(skv, kvs, kb, ld, j0, kTK, S, hd);
          __syncthreads();
          const int jn = min(kTK, S - j0);
          for (int jj = 0; jj < jn; ++jj) {
            float dsv[kRows];
#pragma unroll
            for (int r = 0; r < kRows; ++r) dsv[r] = sds[(warp + kWarps * r) * S + j0 + jj];
#pragma unroll
            for (int c = 0; c < kMaxCols; ++c) {
              if (32 * c >= hd) break;
              const int d = lane + 32 * c;
              const float kv = d < hd ? skv[jj * kvs + d] : 0.0f;
#pragma unroll
              for (int r = 0; r < kRows; ++r) acc[r][c] = fmaf(dsv[r], kv, acc[r][c]);
            }
          }
        }
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int ii = warp + kWarps * r;
          if (ii >= tq) break;
#pragma unroll
          for (int c = 0; c < kMaxCols; ++c) {
            const int d = lane + 32 * c;
            if (d < hd) {
              dq[col + int64_t(i0 + ii) * ld + d] = scale * acc[r][c];
            }
          }
        }
      }
    }

    // dk[j] += scale * sum_i dS_ij q_i and dv[j] += sum_i Pd_ij dO_i over
    // this tile's rows (the first tile writes), for every key j; thread tile:
    // keys jb + warp + 8 kr, columns lane + 32 c. The owner of (j, d) is the
    // same in every query tile, so the read-modify-writes are ordered.
    if (has_dk || has_dv) {
      __syncthreads();  // dS and Pd rows visible to every warp
      for (int jb = 0; jb < S; jb += kWarps * kBwdKeys) {
        float ak[kBwdKeys][kMaxCols], av[kBwdKeys][kMaxCols];
#pragma unroll
        for (int kr = 0; kr < kBwdKeys; ++kr)
#pragma unroll
          for (int c = 0; c < kMaxCols; ++c) ak[kr][c] = av[kr][c] = 0.0f;
        for (int ii = 0; ii < tq; ++ii) {
          float dsv[kBwdKeys], pdv[kBwdKeys];
#pragma unroll
          for (int kr = 0; kr < kBwdKeys; ++kr) {
            const int j = jb + warp + kWarps * kr;
            const bool ok = j < S;
            dsv[kr] = ok && has_dk ? sds[ii * S + j] : 0.0f;
            pdv[kr] = ok && has_dv ? spd[ii * S + j] : 0.0f;
          }
#pragma unroll
          for (int c = 0; c < kMaxCols; ++c) {
            if (32 * c >= hd) break;
            const int d = lane + 32 * c;
            const bool ok = d < hd;
            const float qv = ok && has_dk ? sq[ii * hd + d] : 0.0f;
            const float dov = ok && has_dv ? sdo[ii * hd + d] : 0.0f;
#pragma unroll
            for (int kr = 0; kr < kBwdKeys; ++kr) {
              ak[kr][c] = fmaf(dsv[kr], qv, ak[kr][c]);
              av[kr][c] = fmaf(pdv[kr], dov, av[kr][c]);
            }
          }
        }
#pragma unroll
        for (int kr = 0; kr < kBwdKeys; ++kr) {
          const int j = jb + warp + kWarps * kr;
          if (j >= S) continue;
#pragma unroll
          for (int c = 0; c < kMaxCols; ++c) {
            const int d = lane + 32 * c;
            if (d >= hd) continue;
            const int64_t e = col + int64_t(j) * ld + d;
            if (has_dk) dk[e] = i0 == 0 ? scale * ak[kr][c] : dk[e] + scale * ak[kr][c];
            if (has_dv) dv[e] = i0 == 0 ? av[kr][c] : dv[e] + av[kr][c];
          }
        }
      }
    }
  }
}

// Opts a kernel in to `max_bytes` of dynamic shared memory when `bytes` is
// above the 48 KB default. The attribute is set to the kernel's fixed maximum
// (never to the per-call size), so concurrent callers all set the same value.
template <class Kernel>
Status allow_smem(Kernel kernel, int64_t bytes, int64_t max_bytes, const char* what) {
  if (bytes <= kStaticSmemLimit) return Status::Ok();
  return cuda_status(opt_in_smem_once(kernel, int(max_bytes)), what);
}

Status check_shape(int64_t B, int64_t S, int64_t NH, int64_t hd, const char* op) {
  if (S > kMaxS || hd > kMaxHd)
    return InvalidArgument(std::string(op) + ": S must be <= 512 and head_dim <= 128 (got S=" +
                           std::to_string(S) + ", head_dim=" + std::to_string(hd) + ")");
  if (B * NH > 0x7fffffff) return InvalidArgument(std::string(op) + ": B*NH exceeds the grid");
  return Status::Ok();
}

}  // namespace

Status attention_forward(float* out, float* probs, const float* q, const float* k, const float* v,
                         int64_t ld, const int32_t* mask, int64_t B, int64_t S, int64_t NH,
                         int64_t hd, float p, uint64_t seed, uint64_t offset,
                         cudaStream_t stream, const uint64_t* offset_base) {
  if (B <= 0 || S <= 0 || NH <= 0 || hd <= 0) return Status::Ok();
  ELECTRA_RETURN_IF_ERROR(check_shape(B, S, NH, hd, "cuda::attention_forward"));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));  // as the CPU
  const float drop_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  const int64_t smem = fwd_smem_bytes(S, hd);
  ELECTRA_RETURN_IF_ERROR(
      allow_smem(attn_fwd_kernel, smem, kFwdMaxSmem, "cudaFuncSetAttribute(attn_fwd_kernel)"));
  const dim3 grid(unsigned(B * NH), unsigned((S + kFwdTQ - 1) / kFwdTQ));
  attn_fwd_kernel<<<grid, kThreads, size_t(smem), stream>>>(out, probs, q, k, v, ld, mask, int(S),
                                                            int(NH), int(hd), scale, p, drop_scale,
                                                            seed, offset, offset_base);
  CUDA_LAUNCH_CHECK("attn_fwd_kernel");
  return Status::Ok();
}

Status attention_backward_write(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                                const float* q, const float* k, const float* v, int64_t ld,
                                const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                                float p, uint64_t seed, uint64_t offset, cudaStream_t stream,
                                const uint64_t* offset_base) {
  (void)mask;  // padded keys have probability exactly 0: nothing to mask (as the CPU)
  if (!dq && !dk && !dv) return Status::Ok();
  if (B <= 0 || S <= 0 || NH <= 0 || hd <= 0) return Status::Ok();
  ELECTRA_RETURN_IF_ERROR(check_shape(B, S, NH, hd, "cuda::attention_backward_write"));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float drop_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  const unsigned grid = unsigned(B * NH);
  const int64_t smem32 = bwd_smem_bytes(32, S, hd);
  if (smem32 <= kBwdTQ32Limit) {
    ELECTRA_RETURN_IF_ERROR(allow_smem(attn_bwd_kernel<32>, smem32, kBwd32MaxSmem,
                                       "cudaFuncSetAttribute(attn_bwd_kernel<32>)"));
    attn_bwd_kernel<32><<<grid, kThreads, size_t(smem32), stream>>>(
        dq, dk, dv, dout, probs, q, k, v, ld, int(S), int(NH), int(hd), scale, p, drop_scale, seed,
        offset, offset_base);
    CUDA_LAUNCH_CHECK("attn_bwd_kernel<32>");
  } else {
    const int64_t smem16 = bwd_smem_bytes(16, S, hd);
    ELECTRA_RETURN_IF_ERROR(allow_smem(attn_bwd_kernel<16>, smem16, kBwd16MaxSmem,
                                       "cudaFuncSetAttribute(attn_bwd_kernel<16>)"));
    attn_bwd_kernel<16><<<grid, kThreads, size_t(smem16), stream>>>(
        dq, dk, dv, dout, probs, q, k, v, ld, int(S), int(NH), int(hd), scale, p, drop_scale, seed,
        offset, offset_base);
    CUDA_LAUNCH_CHECK("attn_bwd_kernel<16>");
  }
  return Status::Ok();
}

}  // namespace cuda
}  // namespace electra
