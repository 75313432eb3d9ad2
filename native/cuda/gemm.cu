// CUDA GEMM (see gemm_cuda.h), two kernels sharing one fused epilogue
// (v = alpha*acc + beta*C + bias[n], then optional exact GELU) and one split-K
// contract (SplitK: per-split partials, fused op(A) row sums, a fixed-order
// sum by the last block of each output tile, splitk_finish_tile):
//  - gemm_bf16_mma_kernel, the bf16 path: cp.async (4 stages) of the fp32
//    tiles, a per-tile conversion to bf16 in shared memory, ldmatrix (.trans
//    for the k-major layouts) and mma.sync m16n8k16 (device primitives in
//    mma_ptx.h); 128x128x16 block tile (64x128 for small grids), 8 warps,
//    <= 128 registers for two blocks per SM. 16-byte copies when the
//    operands are 16-byte aligned with leading dimensions that are multiples
//    of 4 floats, else 8- or 4-byte copies (any float pointer and stride).
//    Operands stored as bf16 (kOps) are copied straight into the bf16 tiles
//    (a 5-slot ring, no conversion); a bf16 result (Epilogue::c16) is the
//    RNE of the fp32 one;
//  - sgemm_f32_kernel, the fp32 SIMT parity path.
// With GemmOptions::layernorm, the last block of each row block of C (a
// per-row-block counter, the split-K finish's pattern) also runs the
// dropout + residual + LayerNorm over those rows (layernorm_finish_rows).
// gemm_grouped runs up to four same-shape GEMMs (Q, K, V forward; the Q, K,
// V and attention-output weight gradients) in one mma launch (blockIdx.z =
// group x split, GroupPtrs by value); gemm_grouped_swapped runs two of
// transposed shapes (the FFN's [H,F] and [F,H] weight gradients) in the same
// launch, group 1 taking its shape, strides and tile (the transposed grid's)
// at block start (SplitK::swap1).
// gemm_segmented runs one GEMM whose K is up to three (A, B) segments (the
// Q/K/V input gradient dq @ Wq + dk @ Wk + dv @ Wv) in the same kernels: the
// segments sit in GroupPtrs' slots, and load_stage moves both tile sources to
// the next segment's operands at its first k-tile (a compare per k-tile; no
// other instantiations).
//
// Both are templated on (transA, transB) so each of the four layouts reads
// global memory along its contiguous dimension (coalesced), and both zero-pad
// the out-of-range parts of edge tiles (the mma kernel through cp.async's
// zero-fill), so any M, N, K (1, 7, 129, 30522, ...) and any lda/ldb/ldc >=
// the row length work.
//
// Written and compiled without a GPU at hand; see the test files
// (native/tests/test_cuda_gemm.cpp, test_cuda_mma_ptx.cpp) for what checks it
// on one, and the CUDA emulator (native/tests/emu) for what runs it in CI.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda/cuda_util.h"
#include "cuda/gelu_math.h"
#include "cuda/gemm_cuda.h"
#include "cuda/layernorm_row.h"
#include "cuda/mma_ptx.h"

namespace electra {
namespace cuda {
namespace {

// ------------------------------------------------------------ status helpers
// As cuda_util.h's cuda_status, but "no GPU / no driver" is kNoDevice (what
// device.h's callers expect) rather than kDeviceError.
Status gemm_cuda_status(const char* what, cudaError_t e) {
  const std::string msg = std::string("cuda::gemm: ") + cuda_error_text(what, e);
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
      e == cudaErrorInitializationError || e == cudaErrorSystemDriverMismatch)
    return Status(StatusCode::kNoDevice, msg);
  if (e == cudaErrorMemoryAllocation) return OutOfMemory(msg);
  return Status(StatusCode::kDeviceError, msg);
}

// ------------------------------------------------------------------ epilogue
struct Epilogue {
  float alpha;
  float beta;         // 0: C is not read
  const float* bias;  // [N] or nullptr
  bool gelu;
  const float* gelu_grad_input;  // [M, ld_gelu_grad] GELU input x, or nullptr: v *= gelu'(x)
  int64_t ld_gelu_grad;
  float* gelu_pre;  // with gelu: [M, ld_gelu_pre] <- v, the GELU's input (a second output), or nullptr
  int64_t ld_gelu_pre;
  // Non-null: the result is written as bf16 bits (RNE) instead of fp32, beta == 0. Each
  // group's output is then its C pointer (GroupPtrs::C, the kernel's C), which holds
  // uint16_t [M, ldc]; this is group 0's.
  uint16_t* c16;
};

__device__ __forceinline__ uint16_t bf16_bits(float v) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }

// The GELU formulas are gelu_math.h's, as gelu.cu's passes: the fused
// epilogue gives the bits of the separate pass.
__device__ __forceinline__ float apply_epilogue(const Epilogue& ep, float acc, const float* c,
                                                int64_t m, int64_t n) {
  float v = ep.alpha * acc;
  if (ep.beta != 0.f) v = fmaf(ep.beta, *c, v);
  if (ep.bias != nullptr) v += ep.bias[n];
  if (ep.gelu) {
    if (ep.gelu_pre != nullptr) ep.gelu_pre[m * ep.ld_gelu_pre + n] = v;
    v = gelu_of(v);
  }
  if (ep.gelu_grad_input != nullptr) v *= gelu_grad_of(ep.gelu_grad_input[m * ep.ld_gelu_grad + n]);
  return v;
}

// Split-K: blockIdx.z takes K range [z*kchunk, (z+1)*kchunk) and writes its
// raw partial product to C + z*c_split_stride (a workspace; the epilogue is
// the identity then). row_sum (transA only): the blocks of the first column
// tile also write sum_k op(A)[m,k] over their K range to row_sum[z*M + m],
// which is the bias gradient of a weight-gradient GEMM (op(A) = dout^T).
// Without split-K: gridDim.z = 1, kchunk = K, c_split_stride = 0, row_sum null.
// Grouped (bf16 kernel only): blockIdx.z = group * splits + split, so the
// partials and row sums of group g, split z sit at index g*splits + z as
// above (the workspace holds all groups' partials, group-major).
// The finish (launches that write partials): the last block of an output
// tile to arrive sums the tile's partials in split order and applies `ep` to
// `out` (see splitk_finish_tile).
constexpr int kMaxGroups = 4;
// Segmented (bf16 kernel only; see gemm_segmented): seg_k > 0 is the depth of
// each of the K segments, whose operands are group slots 0, 1, 2 of GroupPtrs
// (load_stage's segment compares know three).
constexpr int kMaxSegments = 3;
// Grouped GEMM: up to kMaxGroups GEMMs of one shape and layout in one launch,
// each with its own operands, output and bias (passed by value; a group is
// selected by compare-and-select, not a dynamic index into the parameters).
// Ungrouped launches carry group 0 = their own pointers.
struct GroupPtrs {
  const float* A[kMaxGroups];
  const float* B[kMaxGroups];
  float* C[kMaxGroups];           // the outputs, or the workspace (all groups) when split
  const float* bias[kMaxGroups];  // the epilogue's bias (nullptr when split)
  float* dbias[kMaxGroups];       // the fused bias gradient (a_row_sum) or nullptr
};
template <typename P>
__device__ __forceinline__ P pick(P const (&p)[kMaxGroups], int g) {
  return g == 0 ? p[0] : g == 1 ? p[1] : g == 2 ? p[2] : p[3];
}
// The group of split block z (z = group * splits + split): compares, no
// division (registers).
__device__ __forceinline__ int group_of(int z, int splits) {
  return z >= 3 * splits ? 3 : z >= 2 * splits ? 2 : z >= splits ? 1 : 0;
}
// The layernorm row finish (GemmLayerNormFinish, with C as `a` and the
// row-block counters; counters == nullptr: none).
struct RowFinish {
  unsigned* counters;  // per row block (blockIdx.y): arrived column tiles; 0 before and after
  const float* a;      // the final C, [M, N] (ldc == N)
  float* res;
  float* out;
  float* mean;
  float* rstd;
  const float* x;
  const float* gamma;
  const float* beta;
  float eps, p, scale;
  uint64_t seed, offset;
  const uint64_t* offset_base;  // nullptr, or device memory added to offset at run time
};
struct SplitK {
  int64_t kchunk;
  int64_t c_split_stride;
  double* row_sum;
  int splits;  // split-K chunks per group (gridDim.z / groups)
  // The finish of a launch that writes partials:
  const float* partial;  // the workspace: [groups * splits][M][N]
  unsigned* counters;    // per output tile (group-major, then y, x): arrived blocks; 0 before and after.
                         // nullptr when splits == 1 (each tile's only block is its last)
  GroupPtrs out;         // the real outputs, biases and bias gradients
  Epilogue ep;           // the real epilogue
  int64_t ldc;
  int64_t seg_k;  // 0: not segmented
  // A swapped pair (gemm_grouped_swapped; transA, !transB, lda = M, ldb =
  // ldc = N): group 1 is N x M, its strides swapped likewise; its block
  // (x, y) takes the tile (row x, column y) of the same 128 x 128 grid.
  bool swap1;
  RowFinish rf;
};

// Sum of a thread's freshly loaded A elements, in fp32 within the tile (few
// terms), accumulated across tiles in double by the caller.
template <int kItems>
__device__ __forceinline__ double tile_sum(const float (&r)[kItems]) {
  float t = 0.f;
#pragma unroll
  for (int i = 0; i < kItems; ++i) t += r[i];
  return double(t);
}

// The finish of split-K, called by every thread of a block after it wrote
// its partial product (and row sums) of output tile (g, blockIdx.y,
// blockIdx.x), which is bm x bn from (m0, n0). The block counts itself in on
// the tile's counter (its writes fenced before, device scope); the last of
// the tile's `splits` blocks to arrive (whichever it is) resets the counter
// and computes C[m,n] = epilogue(sum_z partial[z][m][n]), z in order from
// 0 (so the bits do not depend on the arrival order), and, when `rows`
// (first column tile, row sums), dbias[m] = float(dbias[m] + sum_z
// row_sum[z][m]) for the tile's rows. One function for both kernels: the
// epilogue's one place after the split. Returns (block-uniform) whether this
// block finished the tile.
__device__ __forceinline__ bool splitk_finish_tile(const SplitK& sk, int M, int N, int g, int64_t m0,
                                                   int64_t n0, int bm, int bn, bool rows) {
  if (sk.counters != nullptr) {
    unsigned* const count = sk.counters + (unsigned(g) * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    if (!last_block_to_arrive(count, unsigned(sk.splits))) return false;
  } else {
    __threadfence();
    __syncthreads();
  }
  const int64_t MN = int64_t(M) * N;
  const float* const pg = sk.partial + int64_t(g) * sk.splits * MN;
  float* const C = pick(sk.out.C, g);
  Epilogue ep = sk.ep;
  ep.bias = pick(sk.out.bias, g);
  for (int i = int(threadIdx.x); i < bm * bn; i += int(blockDim.x)) {
    const int64_t m = m0 + i / bn, n = n0 + i % bn;
    if (m >= M || n >= N) continue;
    const int64_t at = m * N + n;
    float acc = 0.f;
    for (int z = 0; z < sk.splits; ++z) acc += __ldcg(pg + int64_t(z) * MN + at);
    if (ep.c16 != nullptr) {  // (beta == 0: C is not read; C holds this group's bf16 output)
      reinterpret_cast<uint16_t*>(C)[m * sk.ldc + n] = bf16_bits(apply_epilogue(ep, acc, nullptr, m, n));
      continue;
    }
    float* c = C + m * (sk.swap1 ? int64_t(N) : sk.ldc) + n;  // (a swapped pair's C is tight)
    *c = apply_epilogue(ep, acc, c, m, n);
  }
  if (rows) {
    const double* const rg = sk.row_sum + int64_t(g) * sk.splits * M;
    float* const dbias = pick(sk.out.dbias, g);
    for (int r = int(threadIdx.x); r < bm && m0 + r < M; r += int(blockDim.x)) {
      const int64_t m = m0 + r;
      double t = double(dbias[m]);
      for (int z = 0; z < sk.splits; ++z) t += __ldcg(rg + int64_t(z) * M + m);
      dbias[m] = float(t);
    }
  }
  return true;
}

// The layernorm row finish, called by every thread of a block whose output
// tile (blockIdx.y, blockIdx.x) of rows [m0, m0 + bm) is final in C: the
// block counts itself in on the row block's counter (its C writes fenced
// before, device scope), and the last of the gridDim.x column tiles to
// arrive resets the counter and runs layernorm_fwd_warp_row over the row
// block, warp per row, reading C back through L2. The rows' values do not
// depend on which block is last: the same bits as the separate kernel, whose
// NV = 32 * ceil(C / 32) rounded up to a power of two; a larger NV gives the
// same bits (the lanes' columns past C take no part in any sum), so two
// widths cover C <= 1024 here. Inlined: a call costs the mma kernels
// spills (the ABI's saved registers and a local copy of the parameters); the
// finish runs after the accumulators are dead.
__device__ __forceinline__ void layernorm_finish_rows(const RowFinish& rf, int M, int N, int64_t m0, int bm) {
  if (!last_block_to_arrive(rf.counters + blockIdx.y, gridDim.x)) return;
  const int lane = int(threadIdx.x) & 31;
  const uint64_t offset = rf.offset + (rf.offset_base != nullptr ? *rf.offset_base : 0);  // graph replays
  const int64_t end = min(int64_t(M), m0 + bm);
#pragma unroll 1
  for (int64_t r = m0 + (threadIdx.x >> 5); r < end; r += blockDim.x >> 5) {
#define ELECTRA_LN_ROW(NV)                                                                                     \
  layernorm_fwd_warp_row<NV>(rf.out, rf.mean, rf.rstd, rf.res, rf.a, rf.x, rf.gamma, rf.beta, r, N, rf.eps, rf.p, \
                             rf.scale, rf.seed, offset, lane)
    if (N <= 256) ELECTRA_LN_ROW(8);
    else ELECTRA_LN_ROW(32);
#undef ELECTRA_LN_ROW
  }
}

// Loads one tile of a STORED row-major matrix X (rows [sr0, sr0+tile rows),
// columns [sc0, sc0+kW)) into registers, zero outside [0,SR) x [0,SC).
// Thread t owns stored column sc0 + t%kW (contiguous across a warp:
// coalesced) and rows sr0 + t/kW + kP*i, kP = kThreads/kW rows per pass, so
// each thread needs one base pointer and one row step.
template <int kThreads, int kW, int kItems>
__device__ __forceinline__ void load_stored(float (&r)[kItems], const float* __restrict__ X,
                                            int64_t ld, int64_t sr0, int64_t sc0, int64_t SR,
                                            int64_t SC, int tid) {
  constexpr int kP = kThreads / kW;
  const int c = tid % kW, rr = tid / kW;
  const bool col_ok = sc0 + c < SC;
  const int64_t row = sr0 + rr;
  const float* p = X + row * ld + sc0 + c;
  const int64_t step = int64_t(kP) * ld;
#pragma unroll
  for (int i = 0; i < kItems; ++i)
    r[i] = (col_ok && row + int64_t(kP) * i < SR) ? __ldg(p + i * step) : 0.f;
}

// ---------------------------------------------------------- fp32 SIMT kernel
// Block tile 64x64x16, 256 threads, 4x4 outputs per thread at rows ty+16i,
// columns tx+16j (strided, so shared-memory reads of B and the global stores
// of C are contiguous across tx).
constexpr int kF32BM = 64, kF32BN = 64, kF32BK = 16, kF32Threads = 256;

template <bool kTA, bool kTB>
__global__ void __launch_bounds__(kF32Threads)
    sgemm_f32_kernel(int M, int N, int K, int partials, const float* __restrict__ A, int64_t lda,
                     const float* __restrict__ B, int64_t ldb, float* C, int64_t ldc,
                     Epilogue ep, SplitK sk) {
  __shared__ float As[kF32BK][kF32BM + 4];  // As[k][m] = op(A)(m0+m, k0+k)
  __shared__ float Bs[kF32BK][kF32BN + 4];  // Bs[k][n] = op(B)(k0+k, n0+n)
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * kF32BM;
  const int64_t n0 = int64_t(blockIdx.x) * kF32BN;

  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

  // This block's share of K (split-K: blockIdx.z; otherwise all of it).
  const int64_t kb = int64_t(blockIdx.z) * sk.kchunk;
  const int64_t ke = min(int64_t(K), kb + sk.kchunk);
  const bool row_sums = kTA && sk.row_sum != nullptr && blockIdx.x == 0;
  double rs = 0.0;
  for (int64_t k0 = kb; k0 < ke; k0 += kF32BK) {
    // A tile (64 x 16) and B tile (16 x 64), 4 elements each per thread,
    // read along the stored matrix's contiguous dimension.
    float ra[4], rb[4];
    if (kTA) load_stored<kF32Threads, kF32BM>(ra, A, lda, k0, m0, ke, M, tid);  // A^T [K,M]
    else     load_stored<kF32Threads, kF32BK>(ra, A, lda, m0, k0, M, ke, tid);  // A [M,K]
    if (kTB) load_stored<kF32Threads, kF32BK>(rb, B, ldb, n0, k0, N, ke, tid);  // B^T [N,K]
    else     load_stored<kF32Threads, kF32BN>(rb, B, ldb, k0, n0, ke, N, tid);  // B [K,N]
    if (row_sums) rs += tile_sum(ra);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if (kTA) As[tid / kF32BM + (kF32Threads / kF32BM) * i][tid % kF32BM] = ra[i];
      else     As[tid % kF32BK][tid / kF32BK + (kF32Threads / kF32BK) * i] = ra[i];
      if (kTB) Bs[tid % kF32BK][tid / kF32BK + (kF32Threads / kF32BK) * i] = rb[i];
      else     Bs[tid / kF32BN + (kF32Threads / kF32BN) * i][tid % kF32BN] = rb[i];
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kF32BK; ++k) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  if (kTA && sk.row_sum != nullptr && blockIdx.x == 0) {
    // Each thread's A elements all sit in one row of op(A) (stored column
    // m0 + tid % 64): the 4 row lanes' sums meet in shared memory, added in lane order.
    __shared__ double rsh[kF32Threads];
    rsh[tid] = rs;
    __syncthreads();
    if (tid < kF32BM && m0 + tid < M) {
      double t = 0.0;
      for (int l = 0; l < kF32Threads / kF32BM; ++l) t += rsh[l * kF32BM + tid];
      sk.row_sum[int64_t(blockIdx.z) * M + m0 + tid] = t;
    }
  }
  C += int64_t(blockIdx.z) * sk.c_split_stride;

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t gm = m0 + ty + 16 * i;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t gn = n0 + tx + 16 * j;
      if (gn >= N) continue;
      float* c = C + gm * ldc + gn;
      *c = apply_epilogue(ep, acc[i][j], c, gm, gn);
    }
  }
  bool final_tile = true;
  if (partials != 0)
    final_tile =
        splitk_finish_tile(sk, M, N, 0, m0, n0, kF32BM, kF32BN, kTA && sk.row_sum != nullptr && blockIdx.x == 0);
  if (sk.rf.counters != nullptr && final_tile) layernorm_finish_rows(sk.rf, M, N, m0, kF32BM);
}

// The bf16 tensor-core kernel's launch grid: 128 x 128 output tiles (the
// 64-row variant halves the first), split-K along z.
constexpr int kBM = 128, kBN = 128;

// ------------------------------------------- bf16 cp.async + mma.sync kernel
// Block tile kBMt x 128 x 16 (kBMt = 128, or 64 for a GEMM whose 128-row
// grid would leave SMs idle and cannot split K), 256 threads = 8 warps in a
// 2 (M) x 4 (N) grid; each warp owns a kBMt/2 x 32 sub-tile = kBMt/32 (m16)
// x 4 (n8) mma.sync accumulators (64 or 32 fp32 registers per lane).
//
// Pipeline, per k-tile t of the block's K range:
//  1. cp.async (16 bytes, zero-filling what lies outside the matrix or the
//     split's K range) copies the fp32 A and B tiles into a kMmaStages-deep
//     ring in shared memory, kMmaStages - 1 tiles ahead of the multiply.
//  2. Each thread converts the chunks IT copied (so it needs only its own
//     cp.async wait, no barrier) to bf16, round-to-nearest-even
//     (__float2bfloat16_rn), into one of two bf16 tiles that keep the stored layout: A as
//     [m][k] (or [k][m] when transA), B as [n][k] (or [k][n] when !transB).
//  3. After the one barrier of the iteration, every warp multiplies the tile
//     converted in the previous iteration: ldmatrix .x4 (.trans for the
//     [k][m] / [k][n] layouts) into mma.sync m16n8k16.
// The fp32 ring is private per thread in effect (a thread reads back only its
// own chunks), so it is laid out chunk by chunk, unpadded and conflict-free.
// The bf16 rows are padded by 16 bytes, so ldmatrix's 8 row reads hit 8
// distinct bank quads. Shared memory at kBMt = 128: 64 KB ring + 24 KB tiles
// = 88 KB (dynamic; within the 99 KB opt-in limit of sm_86/89, two blocks
// per SM on sm_80/90).
// kVec = 4 needs 16-byte aligned A and B and lda, ldb multiples of 4 floats
// (every chunk a 16-byte aligned copy); other operands take kVec = 2 or 1:
// the same pipeline with 8- or 4-byte copies (2 or 4 times the cp.async
// instructions; the LM head's vocabulary-wide rows, 30522 floats, are even).
constexpr int kMmaBN = 128, kMmaBK = 16, kMmaStages = 4, kMmaThreads = 256;
constexpr int kLdK = kMmaBK + 8;  // bf16 [mn][k] rows: 24 (48 B)

// Operands stored as bf16 in global memory (kOps, a bit mask): cp.async
// copies them straight into bf16 tiles of the layout the conversion writes,
// in a ring of kMma16Stages (one more than the fp32 ring: the multiply lags
// the copies by one tile, so the slot refilled at iteration t must be the one
// multiplied at t - 1, before that iteration's barrier).
constexpr int kOpsA16 = 1, kOpsB16 = 2;
// A swapped pair (transA, !transB) whose group 0 has B in bf16 and group 1 in
// fp32 (the FFN's weight gradients with a bf16 GELU output): one launch, the
// B loader's geometry chosen per block (BSrcMix), group 0's bf16 ring in the
// fp32 ring's B stages.
constexpr int kOpsMixB0 = 4;
constexpr int kMma16Stages = kMmaStages + 1;

// kVec: floats per cp.async of an fp32 operand (4, 2 or 1: 16-, 8- or 4-byte
// copies, as the operands' alignment allows). kOps: which operands are bf16
// in global memory (kBMt = 128 and kVec = 4 then: one 16-byte chunk of 8
// bf16 per thread and tile).
template <int kBMt, int kVec, int kOps = 0>
struct MmaTile {
  static constexpr bool kA16 = (kOps & kOpsA16) != 0, kB16 = (kOps & kOpsB16) != 0;
  static constexpr bool kMixB = (kOps & kOpsMixB0) != 0;
  static constexpr int kAChunks = kBMt * kMmaBK / kVec / kMmaThreads;    // copies per thread: 2 or 1 (kVec 4)
  static constexpr int kBChunks = kMmaBN * kMmaBK / kVec / kMmaThreads;  // 2 (kVec 4)
  // The fp32 ring holds the fp32 operands only: A (unless bf16), then B.
  static constexpr int kStageFloats = (kA16 ? 0 : kBMt * kMmaBK) + (kB16 ? 0 : kMmaBN * kMmaBK);
  static constexpr int kBStageOff = kA16 ? 0 : kBMt * kMmaBK;
  // Where the stages sit: [stage][A, B], or with kMixB [A stages][B stages]
  // (the B stages then double as group 0's bf16 ring).
  static constexpr int kAStageStride = kMixB ? kBMt * kMmaBK : kStageFloats;
  static constexpr int kBRingOff = kMixB ? kMmaStages * kBMt * kMmaBK : kBStageOff;
  static constexpr int kBStageStride = kMixB ? kMmaBN * kMmaBK : kStageFloats;
  static constexpr int kLdMA = kBMt + 8, kLdMB = kMmaBN + 8;           // bf16 [k][mn] rows
  static constexpr int kATile = kBMt * kLdK > kMmaBK * kLdMA ? kBMt * kLdK : kMmaBK * kLdMA;
  static constexpr int kBTile = kMmaBN * kLdK > kMmaBK * kLdMB ? kMmaBN * kLdK : kMmaBK * kLdMB;
  // bf16 elements of one converted tile pair (fp32 operands) and of one slot
  // of the bf16 ring (bf16 operands); each A (if any) then B.
  static constexpr int kConvTile = (kA16 ? 0 : kATile) + (kB16 ? 0 : kBTile);
  static constexpr int k16Tile = (kA16 ? kATile : 0) + (kB16 ? kBTile : 0);
  static constexpr int kMI = kBMt / 32;                                // m16 tiles per warp
  static constexpr size_t kSmemBytes = size_t(kMmaStages) * kStageFloats * sizeof(float) +
                                       (2 * size_t(kConvTile) + size_t(kMma16Stages) * k16Tile) *
                                           sizeof(__nv_bfloat16);
  static_assert(kAChunks * kMmaThreads * kVec == kBMt * kMmaBK, "whole chunks per thread");
  static_assert(kATile % 8 == 0 && kBTile % 8 == 0, "16-byte aligned tiles");
  static_assert(kOps == 0 || (kBMt == 128 && kVec == 4), "bf16 operands: one 8-element chunk per thread and tile");
  static_assert(!kMixB || (!kA16 && !kB16), "kOpsMixB0 alone");
  static_assert(!kMixB || kMma16Stages * kBTile * sizeof(__nv_bfloat16) <= kMmaStages * kMmaBN * kMmaBK * sizeof(float),
                "group 0's bf16 B ring fits the fp32 B stages");
};
static_assert(kMmaBN == kBN, "the launch grid's columns are the kernel's");

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  return uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(lo))) |
         (uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(hi))) << 16);
}
// kVec floats from shared memory (kVec*4-byte aligned), and kVec bf16
// (round-to-nearest-even) to shared memory (kVec*2-byte aligned).
template <int kVec>
__device__ __forceinline__ void load_vec(float (&v)[kVec], const float* p) {
  if constexpr (kVec == 4) {
    const float4 t = *reinterpret_cast<const float4*>(p);
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  } else if constexpr (kVec == 2) {
    const float2 t = *reinterpret_cast<const float2*>(p);
    v[0] = t.x, v[1] = t.y;
  } else {
    v[0] = *p;
  }
}
template <int kVec>
__device__ __forceinline__ void store_bf16_vec(__nv_bfloat16* p, const float (&v)[kVec]) {
  if constexpr (kVec == 4)
    *reinterpret_cast<uint2*>(p) = make_uint2(pack_bf16x2(v[0], v[1]), pack_bf16x2(v[2], v[3]));
  else if constexpr (kVec == 2)
    *reinterpret_cast<uint32_t*>(p) = pack_bf16x2(v[0], v[1]);
  else
    *p = __float2bfloat16_rn(v[0]);
}

// A thread's cp.async sources for one operand's tiles. The stored tile is
// kW floats wide: 16 (the k-tile) when K is the stored rows' contiguous
// dimension (A, or B^T), else the block's m/n width (A^T, or B), kKRows.
// A chunk is kVec floats. Chunk c = tid + kMmaThreads*i of a tile sits at row
// c/(kW/kVec), columns kVec*(c%(kW/kVec))..; a thread's chunks share their columns and are kPass rows
// apart, so one pointer, advanced per k-tile, and fixed steps address them
// all (the integer work of the main loop is most of its instructions).
// Out-of-range parts (past M or N, or past the split's end ke) copy 0 bytes
// and are zero-filled.
template <int kW, int kChunks, bool kKRows, int kVec>
struct TileSrc {
  static constexpr int kPass = kMmaThreads / (kW / kVec);  // rows between a thread's chunks
  const float* p;  // this thread's chunk 0 of the next k-tile to load
  int64_t kstep;   // to the next k-tile
  int64_t istep;   // to the thread's next chunk
  int row, col;    // of chunk 0 in the tile
  int fixed;       // kKRows: bytes in range along m/n; else bit i: chunk i's row is in range

  // X stored row-major with row stride ld; the block's m/n range starts at
  // mn0 of MN; its K range at kb.
  __device__ __forceinline__ void init(const float* X, int64_t ld, int64_t mn0, int64_t MN, int64_t kb,
                                       int tid) {
    row = tid / (kW / kVec);
    col = kVec * (tid % (kW / kVec));
    istep = int64_t(kPass) * ld;
    if (kKRows) {  // rows are k, columns m/n
      p = X + (kb + row) * ld + mn0 + col;
      kstep = int64_t(kMmaBK) * ld;
      const int64_t room = MN - (mn0 + col);
      fixed = 4 * int(room < 0 ? 0 : room > kVec ? kVec : room);
    } else {  // rows are m/n, columns k
      p = X + (mn0 + row) * ld + kb + col;
      kstep = kMmaBK;
      fixed = 0;
#pragma unroll
      for (int i = 0; i < kChunks; ++i) fixed |= int(mn0 + row + kPass * i < MN) << i;
    }
  }
  // Starts the copies of the k-tile at k0 into dst (the operand's part of a
  // stage, [chunk][4] floats) and moves on to the next k-tile.
  __device__ __forceinline__ void issue(float* dst, int64_t k0, int64_t ke, int tid) {
    int kbytes = 0;
    if (!kKRows) {
      const int64_t room = ke - (k0 + col);
      kbytes = 4 * int(room < 0 ? 0 : room > kVec ? kVec : room);
    }
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      const int bytes = kKRows ? (k0 + row + kPass * i < ke ? fixed : 0) : ((fixed >> i) & 1 ? kbytes : 0);
      ptx::cp_async<4 * kVec>(dst + kVec * (tid + kMmaThreads * i), p + i * istep, bytes);
    }
    p += kstep;
  }
  // At the first k-tile of a segment (gemm_segmented): p has walked seg_k
  // past the previous segment's operand `prev`; the same position in `next`
  // is its k = 0 (the segments share ld). Integer arithmetic: the operands
  // are separate allocations.
  __device__ __forceinline__ void rebase(const float* next, const float* prev, int64_t seg_k) {
    p = reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p) +
                                       (reinterpret_cast<uintptr_t>(next) - reinterpret_cast<uintptr_t>(prev))) -
        seg_k / kMmaBK * kstep;
  }
};

// As TileSrc for an operand stored as bf16 (uint16_t bits): a chunk is 8
// elements (16 bytes), one per thread and tile (the tile is 128 x 16), copied
// straight to its place in the bf16 tile (row stride kLdT elements, padded as
// the converted tiles). Needs a 16-byte aligned X and ld a multiple of 8.
template <bool kKRows, int kLdT>
struct TileSrc16 {
  static constexpr int kPerRow = (kKRows ? kMmaBN : kMmaBK) / 8;  // chunks per tile row
  const uint16_t* p;  // this thread's chunk of the next k-tile to load
  int64_t kstep;
  int dst;    // the chunk's element offset in the tile
  int row;    // of the chunk in the tile
  int col;
  int fixed;  // kKRows: bytes in range along m/n; else whether the row is in range

  __device__ __forceinline__ void init(const uint16_t* X, int64_t ld, int64_t mn0, int64_t MN, int64_t kb,
                                       int tid) {
    row = tid / kPerRow;
    col = 8 * (tid % kPerRow);
    dst = row * kLdT + col;
    if (kKRows) {  // rows are k, columns m/n
      p = X + (kb + row) * ld + mn0 + col;
      kstep = int64_t(kMmaBK) * ld;
      const int64_t room = MN - (mn0 + col);
      fixed = 2 * int(room < 0 ? 0 : room > 8 ? 8 : room);
    } else {  // rows are m/n, columns k
      p = X + (mn0 + row) * ld + kb + col;
      kstep = kMmaBK;
      fixed = int(mn0 + row < MN);
    }
  }
  __device__ __forceinline__ void issue(__nv_bfloat16* tile, int64_t k0, int64_t ke) {
    int bytes;
    if (kKRows) {
      bytes = k0 + row < ke ? fixed : 0;
    } else {
      const int64_t room = ke - (k0 + col);
      bytes = fixed ? 2 * int(room < 0 ? 0 : room > 8 ? 8 : room) : 0;
    }
    ptx::cp_async<16>(tile + dst, p, bytes);
    p += kstep;
  }
};

// The B loader of a kOpsMixB0 launch (B stored [K,N]): TileSrc<kMmaBN, 2,
// true, 4> for fp32 blocks, TileSrc16<true, kLdT> for bf16 ones, in one set
// of registers (byte pointer and steps).
template <int kLdT>
struct BSrcMix {
  const char* p;
  int64_t kstep, istep;  // bytes to the next k-tile, to the fp32 chunk 8 rows down
  int row, col, fixed;
  bool b16;
  __device__ __forceinline__ void init(const void* X, int64_t ld, int64_t n0, int64_t N, int64_t kb, int tid,
                                       bool is16) {
    b16 = is16;
    const int per = is16 ? kMmaBN / 8 : kMmaBN / 4, vec = is16 ? 8 : 4, esz = is16 ? 2 : 4;
    row = tid / per;
    col = vec * (tid % per);
    p = static_cast<const char*>(X) + ((kb + row) * ld + n0 + col) * esz;
    kstep = int64_t(kMmaBK) * ld * esz;
    istep = int64_t(kMmaThreads / per) * ld * esz;
    const int64_t room = N - (n0 + col);
    fixed = esz * int(room < 0 ? 0 : room > vec ? vec : room);
  }
  // fp32: into the stage's B chunks dst32 ([chunk][4]); bf16: into tile dst16.
  __device__ __forceinline__ void issue(float* dst32, __nv_bfloat16* dst16, int64_t k0, int64_t ke, int tid) {
    if (b16) {
      ptx::cp_async<16>(dst16 + row * kLdT + col, p, k0 + row < ke ? fixed : 0);
    } else {
#pragma unroll
      for (int i = 0; i < 2; ++i)
        ptx::cp_async<16>(dst32 + 4 * (tid + kMmaThreads * i), p + i * istep,
                          k0 + row + (kMmaThreads / (kMmaBN / 4)) * i < ke ? fixed : 0);
    }
    p += kstep;
  }
};

// kRowSum (transA only): also the fused row sums of op(A) (see SplitK), from
// the fp32 chunks, for the blocks of the first column tile. A template
// parameter so that the other kernels do not carry its registers.
// kOps (kOpsA16 | kOpsB16): A and/or B are bf16 bits in global memory (the
// A, B pointers, and GroupPtrs' A, B, then point to uint16_t); they skip the
// fp32 ring and the conversion (see kMma16Stages).
template <int kBMt, int kVec, bool kTA, bool kTB, bool kRowSum, int kOps = 0>
__global__ void __launch_bounds__(kMmaThreads, 2)
    gemm_bf16_mma_kernel(int M, int N, int K, int partials, const float* __restrict__ A, int64_t lda,
                         const float* __restrict__ B, int64_t ldb, float* C, int64_t ldc,
                         Epilogue ep, SplitK sk, GroupPtrs grp) {
  using T = MmaTile<kBMt, kVec, kOps>;
  static_assert(kTA || !kRowSum, "row sums are of op(A) = A^T");
  static_assert(!(kRowSum && T::kA16), "row sums come from the fp32 A chunks");
  static_assert(!T::kMixB || (kTA && !kTB), "kOpsMixB0: the swapped pair's layout");
  extern __shared__ __align__(16) float gemm_smem[];
  float* const ring = gemm_smem;  // [kMmaStages][fp32 A chunks, B chunks][4] fp32
  __nv_bfloat16* const tiles =
      reinterpret_cast<__nv_bfloat16*>(gemm_smem + kMmaStages * T::kStageFloats);  // [2][fp32 A, B converted]
  __nv_bfloat16* const ring16 = tiles + 2 * T::kConvTile;  // [kMma16Stages][bf16 A, B]

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int wm = warp / 4, wn = warp % 4;  // warp's sub-tile: rows wm*kBMt/2, cols wn*32
  // The group (grouped GEMM; else 0) and this block's share of K (split-K:
  // its split; otherwise all of it).
  // (C and the bias are picked at the epilogue: no registers held across the loop.)
  const int bz = int(blockIdx.z);
  const int grp_i = group_of(bz, sk.splits);
  // A swapped pair's group 1: its shape, strides and tile (see SplitK).
  const bool swapped = sk.swap1 && grp_i == 1;
  if (swapped) {
    const int t = M;
    M = N, N = t;
    const int64_t u = lda;
    lda = ldb, ldb = u, ldc = N;
  }
  const int64_t m0 = int64_t(swapped ? blockIdx.x : blockIdx.y) * kBMt;
  const int64_t n0 = int64_t(swapped ? blockIdx.y : blockIdx.x) * kMmaBN;
  const int64_t kb = int64_t(int(blockIdx.z) - grp_i * sk.splits) * sk.kchunk;
  const int64_t ke = min(int64_t(K), kb + sk.kchunk);
  // The operands the split starts in: the group's, or (segmented, one group)
  // the segment's that holds kb, entered at kb - its start.
  const int src = sk.seg_k == 0 ? grp_i : kb >= 2 * sk.seg_k ? 2 : kb >= sk.seg_k ? 1 : 0;
  if (src != 0) {
    A = pick(grp.A, src);
    B = pick(grp.B, src);
  }
  const int64_t kb_src = kb - (sk.seg_k == 0 ? 0 : src * sk.seg_k);
  const int nk = kb < ke ? int((ke - kb + kMmaBK - 1) / kMmaBK) : 0;
  const bool row_sums = kRowSum && sk.row_sum != nullptr && n0 == 0;
  // op(A) rows m0 + kVec*(tid % (kBMt/kVec)) + q (row_sums only): a
  // thread's A chunks are all in those kVec columns of the stored A^T.
  double rs[kVec];
#pragma unroll
  for (int q = 0; q < kVec; ++q) rs[q] = 0.0;

  // Stage `slot` <- the fp32 tiles of k-tile kt, which must be the next one
  // after the previous call's (along each stored matrix's contiguous
  // dimension; the split's end ke bounds K).
  TileSrc<kTA ? kBMt : kMmaBK, T::kAChunks, kTA, kVec> asrc;    // A^T stored [K,M], or A [M,K]
  TileSrc<kTB ? kMmaBK : kMmaBN, T::kBChunks, !kTB, kVec> bsrc;  // B^T stored [N,K], or B [K,N]
  TileSrc16<kTA, kTA ? T::kLdMA : kLdK> asrc16;                    // the same, stored as bf16
  TileSrc16<!kTB, kTB ? kLdK : T::kLdMB> bsrc16;
  BSrcMix<T::kLdMB> bmix;  // kOpsMixB0
  // kOpsMixB0: this block's B is bf16 (group 0's), in the B stages as a bf16 ring.
  const bool b16 = T::kMixB && grp_i == 0;
  __nv_bfloat16* const ringB16 = reinterpret_cast<__nv_bfloat16*>(ring + T::kBRingOff);
  if constexpr (T::kA16) asrc16.init(reinterpret_cast<const uint16_t*>(A), lda, m0, M, kb_src, tid);
  else asrc.init(A, lda, m0, M, kb_src, tid);
  if constexpr (T::kB16) bsrc16.init(reinterpret_cast<const uint16_t*>(B), ldb, n0, N, kb_src, tid);
  else if constexpr (T::kMixB) bmix.init(B, ldb, n0, N, kb_src, tid, b16);
  else bsrc.init(B, ldb, n0, N, kb_src, tid);
  auto load_stage = [&](int slot, int kt) {
    float* sa = ring + slot * T::kAStageStride;
    const int64_t k0 = kb + int64_t(kt) * kMmaBK;
    if constexpr (kOps == 0) {  // (gemm_segmented does not offer bf16 operands)
      // Segmented: a later segment's first k-tile (segments are whole k-tiles;
      // never true otherwise, as k0 > kb >= 0 = seg_k).
      if (kt != 0 && (k0 == sk.seg_k || k0 == 2 * sk.seg_k)) {
        const bool s2 = k0 != sk.seg_k;
        asrc.rebase(s2 ? grp.A[2] : grp.A[1], s2 ? grp.A[1] : grp.A[0], sk.seg_k);
        bsrc.rebase(s2 ? grp.B[2] : grp.B[1], s2 ? grp.B[1] : grp.B[0], sk.seg_k);
      }
    }
    __nv_bfloat16* const s16 = ring16 + (kt % kMma16Stages) * T::k16Tile;  // (k16Tile 0 without bf16 operands)
    if constexpr (T::kA16) asrc16.issue(s16, k0, ke);
    else asrc.issue(sa, k0, ke, tid);
    float* const sb = ring + T::kBRingOff + slot * T::kBStageStride;
    if constexpr (T::kB16) bsrc16.issue(s16 + (T::kA16 ? T::kATile : 0), k0, ke);
    else if constexpr (T::kMixB) bmix.issue(sb, ringB16 + (kt % kMma16Stages) * T::kBTile, k0, ke, tid);
    else bsrc.issue(sb, k0, ke, tid);
  };
  // This thread's chunks of stage `slot` -> bf16 tile `buf`, same layout
  // (the fp32 operands).
  auto convert = [&](int slot, int buf) {
    const float* sa = ring + slot * T::kAStageStride;
    const float* sb = ring + T::kBRingOff + slot * T::kBStageStride;
    __nv_bfloat16* ta = tiles + buf * T::kConvTile;
    __nv_bfloat16* tb = ta + (T::kA16 ? 0 : T::kATile);
#pragma unroll
    for (int i = 0; i < (T::kA16 ? 0 : T::kAChunks); ++i) {
      const int c = tid + kMmaThreads * i;
      float v[kVec];
      load_vec<kVec>(v, sa + kVec * c);
      if (kRowSum && row_sums) {
#pragma unroll
        for (int q = 0; q < kVec; ++q) rs[q] += double(v[q]);
      }
      const int r = kTA ? c / (kBMt / kVec) : c / (kMmaBK / kVec);
      const int col = kTA ? kVec * (c % (kBMt / kVec)) : kVec * (c % (kMmaBK / kVec));
      store_bf16_vec<kVec>(ta + r * (kTA ? T::kLdMA : kLdK) + col, v);
    }
    if (T::kMixB && b16) return;  // (its B is bf16 already)
#pragma unroll
    for (int i = 0; i < (T::kB16 ? 0 : T::kBChunks); ++i) {
      const int c = tid + kMmaThreads * i;
      float v[kVec];
      load_vec<kVec>(v, sb + kVec * c);
      const int r = kTB ? c / (kMmaBK / kVec) : c / (kMmaBN / kVec);
      const int col = kTB ? kVec * (c % (kMmaBK / kVec)) : kVec * (c % (kMmaBN / kVec));
      store_bf16_vec<kVec>(tb + r * (kTB ? kLdK : T::kLdMB) + col, v);
    }
  };

  float acc[T::kMI][4][4];
#pragma unroll
  for (int i = 0; i < T::kMI; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.f;

  // One k16 step of the warp's sub-tile from the bf16 tiles of k-tile t:
  // converted buffer t % 2 (fp32 operands) or ring slot t % kMma16Stages
  // (bf16 operands). Lane l addresses row l%8 of 8x8 matrix l/8 (see
  // mma_ptx.h for the layouts).
  auto multiply = [&](int t) {
    const __nv_bfloat16* const conv = tiles + (t % 2) * T::kConvTile;
    const __nv_bfloat16* const s16 = ring16 + (t % kMma16Stages) * T::k16Tile;
    const __nv_bfloat16* ta = T::kA16 ? s16 : conv;
    const __nv_bfloat16* tb = T::kB16                ? s16 + (T::kA16 ? T::kATile : 0)
                              : (T::kMixB && b16) ? ringB16 + (t % kMma16Stages) * T::kBTile
                                                  : conv + (T::kA16 ? 0 : T::kATile);
    const int r8 = lane % 8, hi8 = 8 * ((lane / 8) % 2), q16 = 8 * (lane / 16);
    uint32_t b[4][2];
#pragma unroll
    for (int jj = 0; jj < 2; ++jj) {
      const int c0 = wn * 32 + jj * 16;
      uint32_t r[4];
      // Matrices: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15).
      if (kTB) ptx::ldmatrix_x4(r, tb + (c0 + r8 + q16) * kLdK + hi8);           // [n][k]
      else     ptx::ldmatrix_x4_trans(r, tb + (r8 + hi8) * T::kLdMB + c0 + q16);  // [k][n]
      b[2 * jj][0] = r[0];
      b[2 * jj][1] = r[1];
      b[2 * jj + 1][0] = r[2];
      b[2 * jj + 1][1] = r[3];
    }
#pragma unroll
    for (int i = 0; i < T::kMI; ++i) {
      const int r0 = wm * (kBMt / 2) + i * 16;
      uint32_t a[4];
      // Matrices: (m 0-7, k 0-7), (m 8-15, k 0-7), (m 0-7, k 8-15), (m 8-15, k 8-15).
      if (kTA) ptx::ldmatrix_x4_trans(a, ta + (r8 + q16) * T::kLdMA + r0 + hi8);  // [k][m]
      else     ptx::ldmatrix_x4(a, ta + (r0 + r8 + hi8) * kLdK + q16);           // [m][k]
#pragma unroll
      for (int j = 0; j < 4; ++j) ptx::mma_bf16_16816(acc[i][j], a, b[j]);
    }
  };

  // Prologue: kMmaStages - 1 tiles in flight. One group is committed per
  // tile slot whether or not it holds copies, so "tile t has landed" is
  // always "at most kMmaStages - 2 groups pending" at iteration t.
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) {
    if (s < nk) load_stage(s, s);
    ptx::cp_async_commit();
  }
  // Iteration t converts tile t and multiplies tile t-1 (converted by every
  // thread before this iteration's barrier). The barrier also orders the
  // conversion into tile buffer t%2 after the multiply of tile t-2 from it,
  // and a bf16 operand's copies into ring slot (t+3) % 5 after the multiply
  // of tile t-2 from that slot.
  for (int t = 0; t <= nk; ++t) {
    if (t < nk) ptx::cp_async_wait<kMmaStages - 2>();
    __syncthreads();
    if (t < nk) {
      if constexpr (T::kConvTile != 0) convert(t % kMmaStages, t % 2);
      // Refill the slot tile t-1 came from (this thread converted its own
      // chunks of it in the previous iteration).
      if (t + kMmaStages - 1 < nk) load_stage((t + kMmaStages - 1) % kMmaStages, t + kMmaStages - 1);
      ptx::cp_async_commit();
    }
    if (t >= 1) multiply(t - 1);
  }

  if (kRowSum && sk.row_sum != nullptr && n0 == 0) {
    // Thread tid holds rows kVec*(tid % kQ) + q, kQ = kBMt/kVec, summed over the
    // k-rows tid/kQ (mod kL) of every tile: the kL partial sums of a row meet
    // in the (free) tile space and are added in a fixed order.
    constexpr int kQ = kBMt / kVec, kL = kMmaThreads / kQ;
    static_assert(kL * kBMt * sizeof(double) <=
                      (2 * T::kConvTile + kMma16Stages * T::k16Tile) * sizeof(__nv_bfloat16),
                  "the row-sum scratch fits the tiles");
    double* rsh = reinterpret_cast<double*>(tiles);  // [kL][kBMt]
    __syncthreads();                                 // all warps are done with the tiles
#pragma unroll
    for (int q = 0; q < kVec; ++q) rsh[(tid / kQ) * kBMt + kVec * (tid % kQ) + q] = rs[q];
    __syncthreads();
    if (tid < kBMt && m0 + tid < M) {
      double t = 0.0;
      for (int l = 0; l < kL; ++l) t += rsh[l * kBMt + tid];
      sk.row_sum[int64_t(blockIdx.z) * M + m0 + tid] = t;
    }
  }
  if (int(blockIdx.z) >= sk.splits) {  // a grouped GEMM's group 1, 2 or 3
    const int gi = group_of(int(blockIdx.z), sk.splits);
    C = pick(grp.C, gi);
    ep.bias = pick(grp.bias, gi);
  }
  C += int64_t(blockIdx.z) * sk.c_split_stride;

  // Epilogue straight from the accumulators: register q of lane (g, t) is
  // row g + 8*(q/2), column 2t + q%2 of its m16n8 tile. With the GELU, in
  // two passes over the thread's outputs: v (into gelu_pre, which has C's
  // stride, or C) while the accumulators are live, then gelu(v) from there
  // into C, as erfcf's temporaries next to every accumulator would spill.
  // A bf16 result (ep.c16; never with partials) is written as bf16 bits
  // instead of C, by the second pass with the GELU (v then goes to gelu_pre);
  // C, the group's output, then holds bf16.
  const int g = lane / 4, tq = lane % 4;
  const bool gelu = ep.gelu;
  uint16_t* const c16 = ep.c16 != nullptr ? reinterpret_cast<uint16_t*>(C) : nullptr;
  float* const vout = gelu && ep.gelu_pre != nullptr ? ep.gelu_pre : C;
  ep.gelu = false;
#pragma unroll
  for (int i = 0; i < T::kMI; ++i)
#pragma unroll
    for (int q2 = 0; q2 < 2; ++q2) {
      const int64_t gm = m0 + wm * (kBMt / 2) + i * 16 + g + 8 * q2;
      if (gm >= M) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int q1 = 0; q1 < 2; ++q1) {
          const int64_t gn = n0 + wn * 32 + j * 8 + 2 * tq + q1;
          if (gn >= N) continue;
          const float v = apply_epilogue(ep, acc[i][j][2 * q2 + q1], C + gm * ldc + gn, gm, gn);
          if (c16 != nullptr && !gelu) c16[gm * ldc + gn] = bf16_bits(v);
          else vout[gm * ldc + gn] = v;
        }
    }
  if (gelu) {  // (never with partials: their epilogue is the identity; the finish below applies it)
#pragma unroll 1
    for (int i = 0; i < T::kMI; ++i)
#pragma unroll 1
      for (int q2 = 0; q2 < 2; ++q2) {
        const int64_t gm = m0 + wm * (kBMt / 2) + i * 16 + g + 8 * q2;
        if (gm >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
          for (int q1 = 0; q1 < 2; ++q1) {
            const int64_t gn = n0 + wn * 32 + j * 8 + 2 * tq + q1;
            if (gn >= N) continue;
            const float y = gelu_of(vout[gm * ldc + gn]);  // this thread's own store
            if (c16 != nullptr) c16[gm * ldc + gn] = bf16_bits(y);
            else C[gm * ldc + gn] = y;
          }
      }
  }
  bool final_tile = true;
  if (partials != 0) {
    final_tile = splitk_finish_tile(sk, M, N, group_of(int(blockIdx.z), sk.splits), m0, n0, kBMt, kMmaBN,
                                    kRowSum && sk.row_sum != nullptr && n0 == 0);
  }
  if (sk.rf.counters != nullptr && final_tile) layernorm_finish_rows(sk.rf, M, N, m0, kBMt);
}

// The mma kernel's dynamic shared memory is above the default 48 KB: opt in
// once per instantiation and device (not per launch).
template <int kBMt, int kVec, bool kTA, bool kTB, bool kRowSum, int kOps>
cudaError_t mma_kernel_smem_opt_in() {
  return opt_in_smem_once(gemm_bf16_mma_kernel<kBMt, kVec, kTA, kTB, kRowSum, kOps>,
                          int(MmaTile<kBMt, kVec, kOps>::kSmemBytes));
}

template <int kBMt, int kVec, bool kTA, bool kTB, bool kRowSum, int kOps = 0>
void launch_mma(unsigned grid_n, int64_t M, unsigned splits, cudaStream_t s, int m, int n, int k,
                int partials, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                const Epilogue& ep, const SplitK& sk, const GroupPtrs& grp) {
  if (mma_kernel_smem_opt_in<kBMt, kVec, kTA, kTB, kRowSum, kOps>() != cudaSuccess) return;  // left as the last error
  const dim3 grid(grid_n, unsigned((M + kBMt - 1) / kBMt), splits);
  gemm_bf16_mma_kernel<kBMt, kVec, kTA, kTB, kRowSum, kOps><<<grid, kMmaThreads, MmaTile<kBMt, kVec, kOps>::kSmemBytes,
                                                              s>>>(m, n, k, partials, A, lda, B, ldb, C, ldc, ep, sk, grp);
}

// The block rows (128, or 64 with 16-byte copies only: fewer instantiations)
// and the copy width; bf16 operands (ops != 0): 128 rows and 16-byte copies.
template <bool kTA, bool kTB, bool kRowSum>
void launch_mma_cfg(int ops, int bm, int vec, unsigned grid_n, int64_t M, unsigned splits, cudaStream_t s,
                    int m, int n, int k, int partials, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float* C, int64_t ldc, const Epilogue& ep, const SplitK& sk, const GroupPtrs& grp) {
  if (ops == kOpsB16)
    launch_mma<128, 4, kTA, kTB, kRowSum, kOpsB16>(grid_n, M, splits, s, m, n, k, partials, A, lda, B, ldb, C, ldc,
                                                   ep, sk, grp);
  else if (ops == kOpsMixB0) {
    if constexpr (kTA && !kTB)  // (the swapped pair only: gemm_grouped_swapped)
      launch_mma<128, 4, kTA, kTB, kRowSum, kOpsMixB0>(grid_n, M, splits, s, m, n, k, partials, A, lda, B, ldb, C,
                                                       ldc, ep, sk, grp);
  } else if (ops != 0) {
    if constexpr (!kRowSum) {  // (row sums need an fp32 A: gemm_groups rejects the others)
      if (ops == kOpsA16)
        launch_mma<128, 4, kTA, kTB, false, kOpsA16>(grid_n, M, splits, s, m, n, k, partials, A, lda, B, ldb, C,
                                                     ldc, ep, sk, grp);
      else
        launch_mma<128, 4, kTA, kTB, false, kOpsA16 | kOpsB16>(grid_n, M, splits, s, m, n, k, partials, A, lda, B,
                                                               ldb, C, ldc, ep, sk, grp);
    }
  } else if (vec == 4 && bm == 64)
    launch_mma<64, 4, kTA, kTB, kRowSum>(grid_n, M, splits, s, m, n, k, partials, A, lda, B, ldb, C, ldc, ep, sk, grp);
  else if (vec == 4)
    launch_mma<128, 4, kTA, kTB, kRowSum>(grid_n, M, splits, s, m, n, k, partials, A, lda, B, ldb, C, ldc, ep, sk, grp);
  else if (vec == 2)
    launch_mma<128, 2, kTA, kTB, kRowSum>(grid_n, M, splits, s, m, n, k, partials, A, lda, B, ldb, C, ldc, ep, sk, grp);
  else
    launch_mma<128, 1, kTA, kTB, kRowSum>(grid_n, M, splits, s, m, n, k, partials, A, lda, B, ldb, C, ldc, ep, sk, grp);
}

// Floats per cp.async the operands allow: 4 (16-byte copies) when A and B
// are 16-byte aligned and lda, ldb multiples of 4; else 2 (8-byte) when
// 8-byte aligned and even; else 1.
int copy_floats(const float* A, int64_t lda, const float* B, int64_t ldb) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(A), b = reinterpret_cast<uintptr_t>(B);
  if (a % 16 == 0 && b % 16 == 0 && lda % 4 == 0 && ldb % 4 == 0) return 4;
  if (a % 8 == 0 && b % 8 == 0 && lda % 2 == 0 && ldb % 2 == 0) return 2;
  return 1;
}

// bm, vec: the mma kernel's block rows (128 or 64) and copy width; ops: its
// bf16 operands (kOpsA16 | kOpsB16).
template <bool kTA, bool kTB>
void launch(GemmPrecision p, int ops, int bm, int vec, dim3 grid_f32, dim3 grid_bf16, cudaStream_t s,
            int64_t M, int m, int n, int K, const float* A, int64_t lda, const float* B, int64_t ldb,
            float* C, int64_t ldc, const Epilogue& ep, const SplitK& sk, const GroupPtrs& grp) {
  // partials (a scalar argument, so launch logs show it): the K chunks per
  // group when the launch writes partials and finishes them, 0 when it writes C.
  const int partials = sk.c_split_stride != 0 ? sk.splits : 0;
  if (p == GemmPrecision::kBf16) {
    if (kTA && sk.row_sum != nullptr)
      launch_mma_cfg<kTA, kTB, kTA>(ops, bm, vec, grid_bf16.x, M, grid_bf16.z, s, m, n, K, partials, A, lda, B,
                                    ldb, C, ldc, ep, sk, grp);
    else
      launch_mma_cfg<kTA, kTB, false>(ops, bm, vec, grid_bf16.x, M, grid_bf16.z, s, m, n, K, partials, A, lda,
                                      B, ldb, C, ldc, ep, sk, grp);
  } else {
    sgemm_f32_kernel<kTA, kTB><<<grid_f32, kF32Threads, 0, s>>>(m, n, K, partials, A, lda, B, ldb, C,
                                                                 ldc, ep, sk);
  }
}

// Multiprocessors of the current device (cached per device: the property
// query is slow on a real GPU).
int sm_count() {
  static int cached[64] = {0};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) {
    cudaGetLastError();
    return 132;
  }
  if (cached[dev] == 0) {
    int n = 0;
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) {
      cudaGetLastError();
      n = 132;
    }
    cached[dev] = n;
  }
  return cached[dev];
}

// The split of K for a GEMM whose tile grid does not fill the GPU twice over:
// enough splits for >= 2 waves, each split at least kMinSplitK deep so the
// partial traffic stays small against the products. A wave is blocks_per_sm()
// x sm_count() blocks: the bf16 mma kernel runs two blocks per SM (its
// __launch_bounds__), the fp32 one is planned at one. Splits are whole
// k-tiles.
int64_t blocks_per_sm(GemmPrecision p) { return p == GemmPrecision::kBf16 ? 2 : 1; }
constexpr int64_t kMinSplitK = 256, kMaxSplits = 64;
struct SplitPlan {
  int64_t splits = 1, kchunk = 0;
};
// groups: a grouped GEMM's groups share the waves (their tiles count together).
// seg_k: a segmented GEMM's segment depth, which bounds the splits as K would
// (the segments replace separate GEMMs of that depth: splitting their sum
// deeper than they would have split would bring back, as partials, the
// output traffic that summing them in one k-loop saves).
SplitPlan plan_split(GemmPrecision p, int64_t M, int64_t N, int64_t K, int sms, int64_t groups = 1,
                     int64_t seg_k = 0) {
  SplitPlan sp;
  sp.kchunk = K;
  const int64_t bm = p == GemmPrecision::kBf16 ? kBM : kF32BM;
  const int64_t bn = p == GemmPrecision::kBf16 ? kBN : kF32BN;
  const int64_t tiles = groups * ((M + bm - 1) / bm) * ((N + bn - 1) / bn);
  const int64_t slots = blocks_per_sm(p) * int64_t(sms);
  const int64_t want = (2 * slots + tiles - 1) / tiles;
  const int64_t by_depth = (seg_k > 0 ? seg_k : K) / kMinSplitK;
  const int64_t splits = std::min(std::min(want, by_depth), kMaxSplits);
  if (splits < 2) return sp;
  const int64_t bk = p == GemmPrecision::kBf16 ? kMmaBK : kF32BK;
  int64_t chunk = (K + splits - 1) / splits;
  chunk = (chunk + bk - 1) / bk * bk;  // whole k-tiles per split
  sp.kchunk = chunk;
  sp.splits = (K + chunk - 1) / chunk;
  return sp;
}

// A swapped pair (kBf16): each group splits as gemm() would split it alone
// (the pair fills twice its waves: with 16 tiles a group, 2 x 32 splits make
// 3.9 waves where one plan for 32 tiles would take 17 splits, 2.06 waves)
// unless that exceeds the step workspace bound's 4 waves of tiles
// (gemm_workspace_floats_bound); else one plan over both groups' tiles.
SplitPlan plan_swapped(GemmPrecision p, int64_t M, int64_t N, int64_t K, int sms) {
  const SplitPlan alone = plan_split(p, M, N, K, sms);
  const int64_t tiles = ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN);
  if (2 * alone.splits * tiles <= 4 * blocks_per_sm(p) * int64_t(sms)) return alone;
  return plan_split(p, M, N, K, sms, 2);
}

// The mma kernel's block rows: 64 when a GEMM that does not split K has at
// most one 128-row tile per SM (so half the SMs' block slots would idle), for
// twice the blocks; else 128. (The 64-row kernel fits three blocks per SM, so
// it would leave a partial last wave on the larger grids.)
int mma_block_rows(int64_t M, int64_t N, int64_t splits, int sms, int64_t groups = 1) {
  const int64_t tiles = groups * ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN);
  return splits == 1 && M > 64 && tiles <= int64_t(sms) ? 64 : 128;
}

// Workspace floats for `splits` partial products plus their row sums (as
// doubles, 8-byte aligned after the partials).
// rows: the row sums per partial (M; a swapped pair's larger M).
int64_t workspace_floats(int64_t splits, int64_t M, int64_t N, bool row_sum, int64_t rows = -1) {
  const int64_t partial = (splits * M * N + 1) / 2 * 2;
  return partial + (row_sum ? 2 * splits * (rows < 0 ? M : rows) : 0);
}

}  // namespace

const char* gemm_precision_name(GemmPrecision p) {
  switch (p) {
    case GemmPrecision::kFp32: return "fp32";
    case GemmPrecision::kBf16: return "bf16";
  }
  return "?";
}

namespace {
// gemm() and gemm_grouped(): `groups` GEMMs of one shape, group g's operands,
// output, bias and a_row_sum in io (options.bias and options.a_row_sum are
// io's group 0 for gemm()). One launch for all groups.
// gemm_segmented() (kBf16): one group, K = segments x seg_k, segment s's
// operands in io's slot s.
// ops (kOpsA16 | kOpsB16): every group's A and/or B are bf16 bits (io's
// pointers are then uint16_t*). force: the split plan to take instead of
// planning one (a swapped pair run as two launches).
Status gemm_groups(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, int groups,
                   const GroupPtrs& io, int64_t lda, int64_t ldb, float beta, int64_t ldc,
                   const GemmOptions& options, int64_t seg_k = 0, bool swap1 = false, int ops = 0,
                   const SplitPlan* force = nullptr) {
  const float* const A = io.A[0];
  const float* const B = io.B[0];
  // options.c_bf16 (group 0's): every group's output io.C[g] holds bf16 bits.
  float* const C = io.C[0];
  uint16_t* const c16 = options.c_bf16;
  if (M < 0 || N < 0 || K < 0)
    return InvalidArgument("cuda::gemm: negative size M=" + std::to_string(M) +
                           " N=" + std::to_string(N) + " K=" + std::to_string(K));
  constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;
  if (M > kMaxDim || N > kMaxDim || K > kMaxDim)
    return InvalidArgument("cuda::gemm: a dimension exceeds 2^31-1");
  if (options.precision != GemmPrecision::kFp32 && options.precision != GemmPrecision::kBf16)
    return InvalidArgument("cuda::gemm: unknown precision");
  if (M == 0 || N == 0) return Status::Ok();
  // Stored shapes: A is [M,K] (or [K,M]), B is [K,N] (or [N,K]), C is [M,N]
  // (segmented: each segment's, K = seg_k).
  const int64_t a_cols = transA ? M : seg_k > 0 ? seg_k : K;
  const int64_t b_cols = transB ? (seg_k > 0 ? seg_k : K) : N;
  const bool reads_ab = K > 0 && alpha != 0.f;
  if (reads_ab) {
    if (A == nullptr || B == nullptr) return InvalidArgument("cuda::gemm: A or B is null");
    if (lda < a_cols || ldb < b_cols)
      return InvalidArgument("cuda::gemm: lda=" + std::to_string(lda) + " (needs >= " +
                             std::to_string(a_cols) + ") or ldb=" + std::to_string(ldb) +
                             " (needs >= " + std::to_string(b_cols) + ") too small");
  }
  if (C == nullptr || (c16 != nullptr && reinterpret_cast<float*>(c16) != C))
    return InvalidArgument("cuda::gemm: exactly one of C and c_bf16 is needed");
  if ((ops != 0 || c16 != nullptr) && options.precision != GemmPrecision::kBf16)
    return InvalidArgument("cuda::gemm: bf16 operands or output need GemmPrecision::kBf16");
  if (ops != 0) {
    // 16-byte copies only: a bf16 operand 16-byte aligned with ld a multiple
    // of 8; an fp32 one beside it 16-byte aligned with ld a multiple of 4.
    auto fits = [](const void* p, int64_t ld, bool b16) {
      return reinterpret_cast<uintptr_t>(p) % 16 == 0 && ld % (b16 ? 8 : 4) == 0;
    };
    for (int g = 0; g < groups; ++g)
      if ((io.A[g] != nullptr && !fits(io.A[g], swap1 && g == 1 ? ldb : lda, ops & kOpsA16)) ||
          (io.B[g] != nullptr && !fits(io.B[g], swap1 && g == 1 ? lda : ldb,
                                       (ops & kOpsB16) || ((ops & kOpsMixB0) && g == 0))))
        return InvalidArgument("cuda::gemm: bf16 operands need 16-byte aligned A and B with lda, ldb multiples of 8 "
                               "(bf16) or 4 (fp32)");
    if (seg_k != 0) return InvalidArgument("cuda::gemm_segmented: no bf16 operands");
    if ((ops & kOpsA16) && io.dbias[0] != nullptr) return InvalidArgument("cuda::gemm: a_row_sum needs an fp32 A");
  }
  if (c16 != nullptr && (seg_k != 0 || swap1 || beta != 0.f || options.layernorm != nullptr ||
                         (options.gelu && options.gelu_pre == nullptr)))
    return InvalidArgument("cuda::gemm: c_bf16 needs beta == 0, no layernorm finish, gelu_pre with gelu, and no "
                           "segments or swapped pair");
  if (ldc < N)
    return InvalidArgument("cuda::gemm: ldc=" + std::to_string(ldc) + " < N=" + std::to_string(N));
  if (!(alpha == alpha) || !(beta == beta))
    return InvalidArgument("cuda::gemm: alpha or beta is NaN");

  if (options.gelu_grad_input != nullptr && (options.gelu || options.ld_gelu_grad < N))
    return InvalidArgument("cuda::gemm: gelu_grad_input needs gelu off and ld_gelu_grad >= N");
  if (options.gelu_pre != nullptr && (!options.gelu || options.gelu_pre == C))
    return InvalidArgument("cuda::gemm: gelu_pre needs gelu, and is not C");
  for (int g = 1; g < groups; ++g)
    if (io.A[g] == nullptr || io.B[g] == nullptr || io.C[g] == nullptr || (io.dbias[g] == nullptr) != (io.dbias[0] == nullptr))
      return InvalidArgument("cuda::gemm_grouped: a group's A, B or C is null, or not every group has a_row_sum");
  if (io.dbias[0] != nullptr && (!transA || alpha != 1.f))
    return InvalidArgument("cuda::gemm: a_row_sum needs transA and alpha == 1");
  const GemmLayerNormFinish* const ln = options.layernorm;
  if (ln != nullptr) {
    if (groups != 1 || ldc != N || options.gelu || options.gelu_grad_input != nullptr || io.dbias[0] != nullptr ||
        options.tile_counters == nullptr || !gemm_layernorm_finish_fits(options.precision, M, N))
      return InvalidArgument("cuda::gemm: the layernorm finish needs one group, ldc == N <= 1024, no gelu, "
                             "gelu_grad_input or a_row_sum, and tile_counters for its row blocks");
    if (ln->res == nullptr || ln->out == nullptr || ln->mean == nullptr || ln->rstd == nullptr ||
        ln->x == nullptr || ln->gamma == nullptr || ln->beta == nullptr || !(ln->p >= 0.f && ln->p < 1.f))
      return InvalidArgument("cuda::gemm: the layernorm finish needs res, out, mean, rstd, x, gamma, beta and "
                             "0 <= p < 1");
  }

  const int64_t grid_m_bf16 = (M + kBM - 1) / kBM, grid_m_f32 = (M + kF32BM - 1) / kF32BM;
  if (grid_m_f32 > 65535) return InvalidArgument("cuda::gemm: M too large for one launch");

  // K == 0 or alpha == 0: C = beta*C (+ epilogue) without reading A or B
  // (0 * NaN in A would otherwise leak in). The kernels skip the k loop.
  const int Keff = reads_ab ? int(K) : 0;
  SplitPlan plan;
  plan.kchunk = Keff;
  if (reads_ab && options.workspace != nullptr)
    plan = force != nullptr ? *force
           : swap1          ? plan_swapped(options.precision, M, N, K, sm_count())
                            : plan_split(options.precision, M, N, K, sm_count(), groups, seg_k);
  const bool row_sum = reads_ab && io.dbias[0] != nullptr;
  const bool split = plan.splits > 1 || row_sum;
  const int64_t gs = groups * plan.splits;  // partial products, group-major
  // Row sums per partial: M (a swapped pair: group 1's M is N >= M).
  const int64_t rows = swap1 ? N : M;
  if (plan.splits > 1) {
    const int64_t tiles = options.precision == GemmPrecision::kBf16
                              ? groups * ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN)
                              : ((M + kF32BM - 1) / kF32BM) * ((N + kF32BN - 1) / kF32BN);
    if (options.tile_counters == nullptr || tiles > gemm_tile_counters(options.precision))
      return InvalidArgument("cuda::gemm: split-K needs tile_counters (gemm_tile_counters(): " +
                             std::to_string(gemm_tile_counters(options.precision)) + ", this GEMM has " +
                             std::to_string(tiles) + " output tiles)");
  }
  if (split) {
    const int64_t need = workspace_floats(gs, M, N, row_sum, rows);
    if (options.workspace == nullptr || options.workspace_floats < need)
      return InvalidArgument("cuda::gemm: split-K workspace of " + std::to_string(options.workspace_floats) +
                             " floats, needs " + std::to_string(need) + " (gemm_workspace_floats)");
  }
  const unsigned gz = unsigned(gs);
  const dim3 grid_f32(unsigned((N + kF32BN - 1) / kF32BN), unsigned(grid_m_f32), gz);
  const dim3 grid_bf16(unsigned((N + kBN - 1) / kBN), unsigned(grid_m_bf16), gz);

  const Epilogue ep{alpha, beta, io.bias[0], options.gelu, options.gelu_grad_input,
                    options.ld_gelu_grad, options.gelu_pre, ldc, c16};
  const Epilogue raw{1.f, 0.f, nullptr, false, nullptr, 0, nullptr, 0, nullptr};  // split-K partials: the plain product
  double* row_partials =
      row_sum ? reinterpret_cast<double*>(options.workspace + (gs * M * N + 1) / 2 * 2) : nullptr;
  SplitK sk{plan.kchunk, split ? M * N : 0, row_partials, int(plan.splits), options.workspace,
            plan.splits > 1 ? options.tile_counters : nullptr, io, ep, ldc, seg_k, swap1};
  sk.rf = RowFinish{};
  if (ln != nullptr) {
    // Row-block counters: after the split tiles' when split (a split GEMM
    // has fewer than 2 x S tiles, so fewer row blocks), else from 0.
    sk.rf.counters = options.tile_counters + (plan.splits > 1 ? gemm_tile_counters(options.precision) / 2 : 0);
    sk.rf.a = C, sk.rf.res = ln->res, sk.rf.out = ln->out, sk.rf.mean = ln->mean, sk.rf.rstd = ln->rstd;
    sk.rf.x = ln->x, sk.rf.gamma = ln->gamma, sk.rf.beta = ln->beta, sk.rf.eps = ln->eps, sk.rf.p = ln->p;
    sk.rf.scale = ln->p > 0.0f ? 1.0f / (1.0f - ln->p) : 1.0f;  // host IEEE division, as layernorm.cu
    sk.rf.seed = ln->seed, sk.rf.offset = ln->offset, sk.rf.offset_base = ln->offset_base;
  }
  for (int g = groups; g < kMaxGroups; ++g) sk.out.C[g] = nullptr, sk.out.bias[g] = nullptr, sk.out.dbias[g] = nullptr;
  if (!row_sum)
    for (int g = 0; g < kMaxGroups; ++g) sk.out.dbias[g] = nullptr;
  GroupPtrs kio = io;  // what the GEMM kernel writes: the outputs, or the workspace
  for (int g = 0; g < kMaxGroups; ++g) {
    if (g >= groups) {
      if (seg_k == 0) kio.A[g] = kio.B[g] = nullptr;  // (segmented: slot g is segment g)
      kio.C[g] = nullptr, kio.bias[g] = nullptr, kio.dbias[g] = nullptr;
    }
    if (split && g < groups) kio.C[g] = options.workspace, kio.bias[g] = nullptr;
  }
  float* const out = split ? options.workspace : C;
  const int64_t ld_out = split ? N : ldc;
  const Epilogue& ep_main = split ? raw : ep;
  const int m = int(M), n = int(N);
  int vec = ops != 0 ? 4 : copy_floats(A, lda, B, ldb);  // (bf16 operands: checked above)
  for (int g = 1; g < kMaxGroups && ops == 0; ++g)
    if (kio.A[g] != nullptr) vec = std::min(vec, copy_floats(io.A[g], lda, io.B[g], ldb));
  // (A swapped pair: square tiles, so group 1's grid is group 0's transposed.)
  const int mma_bm = vec == 4 && !swap1 && ops == 0 ? mma_block_rows(M, N, plan.splits, sm_count(), groups) : 128;
  cudaStream_t s = static_cast<cudaStream_t>(options.stream);
  // An earlier launch's unreported error would be picked up below and blamed
  // on this kernel: report it for what it is (and clear it) instead.
  if (cudaError_t prev = cudaGetLastError(); prev != cudaSuccess)
    return gemm_cuda_status("error pending from an earlier CUDA call (nothing launched)", prev);
  if (!transA && !transB)
    launch<false, false>(options.precision, ops, mma_bm, vec, grid_f32, grid_bf16, s, M, m, n, Keff, A, lda, B, ldb, out,
                         ld_out, ep_main, sk, kio);
  else if (!transA && transB)
    launch<false, true>(options.precision, ops, mma_bm, vec, grid_f32, grid_bf16, s, M, m, n, Keff, A, lda, B, ldb, out,
                        ld_out, ep_main, sk, kio);
  else if (transA && !transB)
    launch<true, false>(options.precision, ops, mma_bm, vec, grid_f32, grid_bf16, s, M, m, n, Keff, A, lda, B, ldb, out,
                        ld_out, ep_main, sk, kio);
  else
    launch<true, true>(options.precision, ops, mma_bm, vec, grid_f32, grid_bf16, s, M, m, n, Keff, A, lda, B, ldb, out,
                       ld_out, ep_main, sk, kio);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    return gemm_cuda_status(options.precision == GemmPrecision::kFp32 ? "fp32 kernel launch"
                                                                      : "bf16 mma kernel launch",
                            e);
  return Status::Ok();
}

}  // namespace

Status gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
            const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
            int64_t ldc, const GemmOptions& options) {
  if ((options.a_bf16 != nullptr && A != nullptr) || (options.b_bf16 != nullptr && B != nullptr))
    return InvalidArgument("cuda::gemm: a_bf16 (b_bf16) replaces A (B), which must then be null");
  const int ops = (options.a_bf16 != nullptr ? kOpsA16 : 0) | (options.b_bf16 != nullptr ? kOpsB16 : 0);
  if (options.c_bf16 != nullptr && C != nullptr)
    return InvalidArgument("cuda::gemm: exactly one of C and c_bf16 is needed");
  GroupPtrs io{};
  io.A[0] = options.a_bf16 != nullptr ? reinterpret_cast<const float*>(options.a_bf16) : A;
  io.B[0] = options.b_bf16 != nullptr ? reinterpret_cast<const float*>(options.b_bf16) : B;
  io.C[0] = options.c_bf16 != nullptr ? reinterpret_cast<float*>(options.c_bf16) : C;
  io.bias[0] = options.bias, io.dbias[0] = options.a_row_sum;
  return gemm_groups(transA, transB, M, N, K, alpha, 1, io, lda, ldb, beta, ldc, options, 0, false, ops);
}

namespace {
// The bf16 operands of a group (GemmGroup::a_bf16, b_bf16) as gemm_groups'
// ops and pointers; InvalidArgument when one is given twice.
Status group_operands(const GemmGroup& x, int* ops, const float** a, const float** b) {
  if ((x.a_bf16 != nullptr && x.A != nullptr) || (x.b_bf16 != nullptr && x.B != nullptr))
    return InvalidArgument("cuda::gemm_grouped: a group's a_bf16 (b_bf16) replaces its A (B), which must be null");
  *ops = (x.a_bf16 != nullptr ? kOpsA16 : 0) | (x.b_bf16 != nullptr ? kOpsB16 : 0);
  *a = x.a_bf16 != nullptr ? reinterpret_cast<const float*>(x.a_bf16) : x.A;
  *b = x.b_bf16 != nullptr ? reinterpret_cast<const float*>(x.b_bf16) : x.B;
  return Status::Ok();
}
}  // namespace

Status gemm_grouped(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, int groups,
                    const GemmGroup* group, int64_t lda, int64_t ldb, float beta, int64_t ldc,
                    const GemmOptions& options) {
  if (groups < 1 || groups > kMaxGroups || group == nullptr)
    return InvalidArgument("cuda::gemm_grouped: 1 to " + std::to_string(kMaxGroups) + " groups");
  if (options.layernorm != nullptr) return InvalidArgument("cuda::gemm_grouped: no layernorm finish");
  if (options.bias != nullptr || options.a_row_sum != nullptr || options.gelu_grad_input != nullptr ||
      options.gelu_pre != nullptr || options.a_bf16 != nullptr || options.b_bf16 != nullptr ||
      options.c_bf16 != nullptr)
    return InvalidArgument("cuda::gemm_grouped: bias, a_row_sum, bf16 operands and c_bf16 are per group; no "
                           "gelu_grad_input or gelu_pre");
  // The fp32 parity path has no grouped kernel: one gemm() per group, in order.
  if (options.precision == GemmPrecision::kFp32) {
    for (int g = 0; g < groups; ++g) {
      GemmOptions o = options;
      o.bias = group[g].bias;
      o.a_row_sum = group[g].a_row_sum;
      o.a_bf16 = group[g].a_bf16, o.b_bf16 = group[g].b_bf16, o.c_bf16 = group[g].c_bf16;  // (rejected by gemm())
      ELECTRA_RETURN_IF_ERROR(gemm(transA, transB, M, N, K, alpha, group[g].A, lda, group[g].B, ldb, beta,
                                   group[g].C, ldc, o));
    }
    return Status::Ok();
  }
  GroupPtrs io{};
  int ops = 0;
  for (int g = 0; g < groups; ++g) {
    int o = 0;
    ELECTRA_RETURN_IF_ERROR(group_operands(group[g], &o, &io.A[g], &io.B[g]));
    if (g > 0 && o != ops) return InvalidArgument("cuda::gemm_grouped: the groups' bf16 operands differ");
    ops = o;
    const GemmGroup& x = group[g];
    if ((x.c_bf16 != nullptr && x.C != nullptr) || (x.c_bf16 != nullptr) != (group[0].c_bf16 != nullptr))
      return InvalidArgument("cuda::gemm_grouped: c_bf16 replaces C (which must then be null), in every group or none");
    io.C[g] = x.c_bf16 != nullptr ? reinterpret_cast<float*>(x.c_bf16) : x.C;
    io.bias[g] = x.bias, io.dbias[g] = x.a_row_sum;
  }
  GemmOptions o = options;
  o.c_bf16 = group[0].c_bf16;
  return gemm_groups(transA, transB, M, N, K, alpha, groups, io, lda, ldb, beta, ldc, o, 0, false, ops);
}

namespace {
// One launch (kBf16, whole k-tiles), or one gemm() per segment: beta and the
// bias with the first, the later ones adding to C.
bool segmented_in_one(GemmPrecision p, int64_t seg_k, int segments) {
  return p == GemmPrecision::kBf16 && segments > 1 && seg_k % kMmaBK == 0;
}
}  // namespace

Status gemm_segmented(bool transA, bool transB, int64_t M, int64_t N, int64_t seg_k, float alpha, int segments,
                      const GemmSegment* seg, int64_t lda, int64_t ldb, float beta, float* C, int64_t ldc,
                      const GemmOptions& options) {
  if (segments < 1 || segments > kMaxSegments || seg == nullptr || seg_k < 0)
    return InvalidArgument("cuda::gemm_segmented: 1 to " + std::to_string(kMaxSegments) + " segments, seg_k >= 0");
  if (options.layernorm != nullptr) return InvalidArgument("cuda::gemm_segmented: no layernorm finish");
  if (options.gelu || options.gelu_grad_input != nullptr || options.gelu_pre != nullptr ||
      options.a_row_sum != nullptr || options.a_bf16 != nullptr || options.b_bf16 != nullptr ||
      options.c_bf16 != nullptr)
    return InvalidArgument("cuda::gemm_segmented: no gelu, gelu_grad_input, gelu_pre, a_row_sum or bf16 operands");
  if (!segmented_in_one(options.precision, seg_k, segments)) {
    for (int s = 0; s < segments; ++s) {
      GemmOptions o = options;
      if (s > 0) o.bias = nullptr;
      ELECTRA_RETURN_IF_ERROR(gemm(transA, transB, M, N, seg_k, alpha, seg[s].A, lda, seg[s].B, ldb,
                                   s == 0 ? beta : 1.f, C, ldc, o));
    }
    return Status::Ok();
  }
  if (int64_t(segments) * seg_k > (int64_t(1) << 31) - 1)
    return InvalidArgument("cuda::gemm_segmented: segments x seg_k exceeds 2^31-1");
  GroupPtrs io{};
  for (int s = 0; s < segments; ++s) {
    if (alpha != 0.f && seg_k > 0 && (seg[s].A == nullptr || seg[s].B == nullptr))
      return InvalidArgument("cuda::gemm_segmented: a segment's A or B is null");
    io.A[s] = seg[s].A, io.B[s] = seg[s].B;
  }
  io.C[0] = C, io.bias[0] = options.bias;
  return gemm_groups(transA, transB, M, N, segments * seg_k, alpha, 1, io, lda, ldb, beta, ldc, options, seg_k);
}

// The pair with the smaller row count first (group 1's row sums then sit
// after group 0's; see the kernel's row_sum layout).
Status gemm_grouped_swapped(int64_t M, int64_t N, int64_t K, const GemmGroup group[2], float beta,
                            const GemmOptions& options) {
  if (group == nullptr) return InvalidArgument("cuda::gemm_grouped_swapped: no groups");
  if (options.bias != nullptr || options.a_row_sum != nullptr || options.gelu || options.gelu_grad_input != nullptr ||
      options.gelu_pre != nullptr || group[0].bias != nullptr || group[1].bias != nullptr ||
      options.a_bf16 != nullptr || options.b_bf16 != nullptr || options.c_bf16 != nullptr)
    return InvalidArgument("cuda::gemm_grouped_swapped: no bias, gelu, gelu_grad_input, gelu_pre or c_bf16; a_row_sum "
                           "and bf16 operands per group");
  if (options.precision == GemmPrecision::kFp32) {  // no grouped kernel: one gemm() per group, in order
    for (int g = 0; g < 2; ++g) {
      const int64_t m = g == 0 ? M : N, n = g == 0 ? N : M;
      GemmOptions o = options;
      o.a_row_sum = group[g].a_row_sum;
      o.a_bf16 = group[g].a_bf16, o.b_bf16 = group[g].b_bf16;  // (rejected by gemm())
      ELECTRA_RETURN_IF_ERROR(gemm(true, false, m, n, K, 1.f, group[g].A, m, group[g].B, n, beta, group[g].C, n, o));
    }
    return Status::Ok();
  }
  const int first = M <= N ? 0 : 1;  // the group whose M is the smaller
  const int64_t m = std::min(M, N), n = std::max(M, N);
  GroupPtrs io{};
  int ops[2] = {0, 0};
  for (int g = 0; g < 2; ++g) {
    const GemmGroup& x = group[g == 0 ? first : 1 - first];
    if (x.c_bf16 != nullptr) return InvalidArgument("cuda::gemm_grouped_swapped: no c_bf16");
    ELECTRA_RETURN_IF_ERROR(group_operands(x, &ops[g], &io.A[g], &io.B[g]));
    io.C[g] = x.C, io.dbias[g] = x.a_row_sum;
  }
  if (ops[0] == ops[1]) return gemm_groups(true, false, m, n, K, 1.f, 2, io, m, n, beta, n, options, 0, true, ops[0]);
  if (ops[0] == kOpsB16 && ops[1] == 0)  // (the FFN's, H < F: one launch)
    return gemm_groups(true, false, m, n, K, 1.f, 2, io, m, n, beta, n, options, 0, true, kOpsMixB0);
  // Groups of different operand types (one kernel instantiation per launch):
  // two launches, each with the split plan the pair would give it, so each
  // group gets the bits of the one-launch pair (and of gemm() alone).
  const SplitPlan plan = plan_swapped(options.precision, m, n, K, sm_count());
  for (int g = 0; g < 2; ++g) {
    const int64_t mg = g == 0 ? m : n, ng = g == 0 ? n : m;
    GroupPtrs one{};
    one.A[0] = io.A[g], one.B[0] = io.B[g], one.C[0] = io.C[g], one.dbias[0] = io.dbias[g];
    ELECTRA_RETURN_IF_ERROR(
        gemm_groups(true, false, mg, ng, K, 1.f, 1, one, mg, ng, beta, ng, options, 0, false, ops[g], &plan));
  }
  return Status::Ok();
}

int64_t gemm_grouped_swapped_workspace_floats(int64_t M, int64_t N, int64_t K, bool row_sums,
                                              const GemmOptions& options) {
  if (options.precision == GemmPrecision::kFp32) {
    GemmOptions o = options;
    o.a_row_sum = row_sums ? reinterpret_cast<float*>(16) : nullptr;  // only its presence counts
    return std::max(gemm_workspace_floats(true, false, M, N, K, o), gemm_workspace_floats(true, false, N, M, K, o));
  }
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  const SplitPlan plan = plan_swapped(options.precision, M, N, K, sm_count());
  if (plan.splits < 2 && !row_sums) return 0;
  return workspace_floats(2 * plan.splits, M, N, row_sums, std::max(M, N));
}

int64_t gemm_segmented_workspace_floats(bool transA, bool transB, int64_t M, int64_t N, int64_t seg_k,
                                        int segments, const GemmOptions& options) {
  if (!segmented_in_one(options.precision, seg_k, segments))
    return gemm_workspace_floats(transA, transB, M, N, seg_k, options);  // one gemm() per segment
  if (M <= 0 || N <= 0 || seg_k <= 0) return 0;
  const SplitPlan plan = plan_split(options.precision, M, N, segments * seg_k, sm_count(), 1, seg_k);
  return plan.splits < 2 ? 0 : workspace_floats(plan.splits, M, N, false);
}

int gemm_bf16_copy_floats(const float* A, int64_t lda, const float* B, int64_t ldb) {
  return copy_floats(A, lda, B, ldb);
}

int64_t gemm_workspace_floats(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                              const GemmOptions& options) {
  (void)transA;
  (void)transB;
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  const SplitPlan plan = plan_split(options.precision, M, N, K, sm_count());
  const bool row_sum = options.a_row_sum != nullptr;
  if (plan.splits < 2 && !row_sum) return 0;
  return workspace_floats(plan.splits, M, N, row_sum);
}

int64_t gemm_grouped_workspace_floats(bool transA, bool transB, int64_t M, int64_t N, int64_t K, int groups,
                                      bool row_sums, const GemmOptions& options) {
  GemmOptions o = options;
  o.a_row_sum = row_sums ? reinterpret_cast<float*>(16) : nullptr;  // only its presence counts
  if (options.precision == GemmPrecision::kFp32 || groups <= 1)
    return gemm_workspace_floats(transA, transB, M, N, K, o);  // one gemm() per group
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  const SplitPlan plan = plan_split(options.precision, M, N, K, sm_count(), groups);
  if (plan.splits < 2 && !row_sums) return 0;
  return workspace_floats(groups * plan.splits, M, N, row_sums);
}

// A split GEMM has fewer than two waves of tiles (plan_split), a wave being
// blocks_per_sm() x SMs blocks.
int64_t gemm_tile_counters(GemmPrecision precision) {
  return 4 * blocks_per_sm(precision) * int64_t(sm_count());
}

// Row blocks are >= 64 rows (the mma kernel's small tile, the fp32 one's).
bool gemm_layernorm_finish_fits(GemmPrecision precision, int64_t M, int64_t N) {
  return N >= 1 && N <= 1024 && (M + 63) / 64 <= gemm_tile_counters(precision) / 2;
}

int64_t gemm_workspace_floats_bound(GemmPrecision precision, int64_t max_rows, int64_t max_mn) {
  const int64_t bm = precision == GemmPrecision::kBf16 ? kBM : kF32BM;
  const int64_t bn = precision == GemmPrecision::kBf16 ? kBN : kF32BN;
  const int64_t split = 4 * blocks_per_sm(precision) * int64_t(sm_count()) * bm * bn;
  return (std::max(split, max_mn) + 1) / 2 * 2 + 2 * kMaxSplits * max_rows;
}

}  // namespace cuda
}  // namespace electra
