// CUDA GEMM: cpu::sgemm's contract (core/cpu/ops.h) on device pointers, in
// two precisions, with an optional fused bias + GELU epilogue. Plain C++ (no
// CUDA headers), so host-only translation units can include it. Implemented
// by native/cuda/gemm.cu, which is compiled only when the build has CUDA
// (ELECTRA_HAVE_CUDA=1): callers must guard their calls with that macro.
//
//   C[M,N] = epilogue(alpha * op(A)[M,K] @ op(B)[K,N] + beta * C[M,N])
//
// Same conventions as cpu::sgemm: row-major storage, op(X) = X or X^T,
// lda/ldb/ldc are row strides of the STORED matrices (A is [M,K], or [K,M]
// when transA; B is [K,N], or [N,K] when transB), beta == 0 ignores C's old
// content (NaNs included), and K == 0 or alpha == 0 give C = beta * C without
// reading A or B.
//
// Epilogue (options.bias / options.gelu), applied per element in fp32:
//   v = alpha * acc + beta * C_old + bias[n]     (bias term only when bias != null)
//   C = gelu ? v * Phi(v) : v      (exact erf GELU, gelu.cu's formula: gelu_math.h)
//   gelu_pre[m, n] = v  as well, when gelu and gelu_pre are set
//   C = v * gelu'(X[m,n])   instead, when gelu_grad_input = X (GELU backward)
// So gemm(transB=true, bias, gelu, gelu_pre) with beta = 0 is linear_forward
// into gelu_pre followed by gelu_forward into C, the same bits, in one pass.
//
// Precisions:
//  - kFp32: tiled shared-memory SIMT kernel, fp32 FMA accumulation. The
//    parity path: max relative error vs a float64 reference expected ~1e-6
//    (the test bound is 1e-5).
//  - kBf16: tensor cores, bf16 products, fp32 accumulation. A and B stay
//    fp32 in device memory and are rounded to bf16 (round-to-nearest-even)
//    once per tile in shared memory, so the API and the buffers are the same
//    as fp32; only the products lose precision (NMSE vs fp32 expected ~1e-5;
//    the test bound is 1e-4). The epilogue (alpha, beta, bias, GELU) runs in
//    fp32. The kernel: a 4-stage cp.async pipeline of the fp32 tiles,
//    converted in shared memory, ldmatrix and mma.sync m16n8k16, two blocks
//    per SM (<= 128 registers). Its copies are 16 bytes when A and B are
//    16-byte aligned and lda, ldb multiples of 4 (gemm_bf16_copy_floats),
//    else 8 or 4 bytes: any float pointers and strides work, at more load
//    instructions. Needs sm_80 or newer (the build's architectures are 80+).
//
// bf16 storage (kBf16 only; GemmOptions::a_bf16, b_bf16, c_bf16, and
// GemmGroup::a_bf16, b_bf16): an operand may be stored in device memory as
// bf16 (uint16_t bits of round-to-nearest-even bf16 values), half the load
// traffic. The kernel then cp.async's 16-byte chunks (8 bf16) straight into
// its bf16 shared-memory tiles (no fp32 ring, no conversion), so the product
// is BIT-IDENTICAL to the fp32-operand kBf16 GEMM fed the fp32 values of
// those bf16 numbers (the fp32 path rounds each operand to bf16 once, which
// leaves a bf16 value unchanged). Needs a 16-byte aligned bf16 operand with
// ld a multiple of 8 elements, and, beside it, an fp32 operand 16-byte
// aligned with ld a multiple of 4 (else InvalidArgument). Not with a_row_sum
// of a bf16 A, nor in gemm_segmented (InvalidArgument).
// The result may be written as bf16 instead of fp32 (c_bf16, or per group
// GemmGroup::c_bf16: C must then be null): each element is the RNE rounding
// of the fp32 result the same call would write to C (after the whole
// epilogue, GELU included), for a consumer that takes bf16 anyway (the next
// GEMM's operand, the tensor-core attention's q, k, v). In gemm() and
// gemm_grouped() (every group or none), with beta == 0, no layernorm finish,
// and gelu_pre when gelu (the GELU's fp32 input is kept there); not in
// gemm_segmented or a swapped pair. Split-K works with all of these.
//
// Asynchronous: the kernel is enqueued on options.stream (a cudaStream_t,
// nullptr = the legacy default stream) on the CURRENT device; pointers must be
// device (or managed) memory of that device, and C must not overlap A, B or
// bias (they are read through the read-only cache). The returned Status reports
// argument errors (kInvalidArgument, nothing launched) and launch errors
// (cudaGetLastError after the launch: kNoDevice when there is no usable GPU
// or driver, kDeviceError otherwise). Errors of the kernel's execution show
// up at the caller's next synchronisation.
#pragma once
#include <cstdint>

#include "core/status.h"

namespace electra {
namespace cuda {

enum class GemmPrecision {
  kFp32,  // SIMT fp32 (exact-ish parity with cpu::sgemm)
  kBf16,  // tensor cores, bf16 products, fp32 accumulation and epilogue
};

// The row finish of GemmOptions::layernorm: once every column tile of a block
// of C's rows is final (after the split-K finish when split), the last block to
// complete that row block computes, per row m (warp per row, fp32),
//   res[m] = dropout(C[m]; p, seed, offset) + x[m];  out[m] = LayerNorm(res[m])
// (mean, rstd saved) with the arithmetic and Philox stream of
// dropout_residual_layernorm_forward (layernorm_row.h, one source): so
// linear_forward + dropout_residual_layernorm_forward in one launch, the same
// bits. res may be C (the sublayer's pre-LayerNorm sum kept for the
// backward); x, out, mean, rstd must not overlap C. Needs ldc == N <= 1024,
// one group, no gelu / gelu_grad_input / a_row_sum, and tile_counters (its
// per-row-block arrival counters share that buffer; see gemm_tile_counters).
struct GemmLayerNormFinish {
  float* res = nullptr;          // [M, N]
  float* out = nullptr;          // [M, N]
  float* mean = nullptr;         // [M]
  float* rstd = nullptr;         // [M]
  const float* x = nullptr;      // [M, N] the residual
  const float* gamma = nullptr;  // [N]
  const float* beta = nullptr;   // [N]
  float eps = 1e-12f;
  float p = 0.0f;  // dropout probability on C (0: none)
  uint64_t seed = 0, offset = 0;
  // Device memory added to offset when the finish runs (the step's Philox base,
  // which a replayed CUDA graph must read at run time), or nullptr.
  const uint64_t* offset_base = nullptr;
};

struct GemmOptions {
  GemmPrecision precision = GemmPrecision::kFp32;
  const float* bias = nullptr;  // [N] device pointer, added to every row; nullptr = none
  bool gelu = false;            // exact-erf GELU on the result (after bias and beta*C)
  // GELU backward fused: the result (after bias and beta*C) is multiplied by
  // gelu'(x), x = gelu_grad_input[m * ld_gelu_grad + n] ([M, N] device, the
  // GELU's input; may not overlap C), with the formula of gelu_backward.
  // So the dX GEMM of the linear after a GELU yields the GELU input's
  // gradient. Not with gelu; applied by the finishing block when split.
  const float* gelu_grad_input = nullptr;
  int64_t ld_gelu_grad = 0;
  // With gelu: the GELU's input v is also written to gelu_pre[m * ldc + n]
  // ([M, N] device with C's stride; may not overlap C, A, B or bias), so one
  // pass yields both the activation and what its backward needs. Applied
  // after the split-K reduce when split. Not with gemm_grouped/gemm_segmented.
  float* gelu_pre = nullptr;
  void* stream = nullptr;       // cudaStream_t; nullptr = default stream
  // Split-K scratch (device, gemm_workspace_floats() floats). nullptr: never
  // split. Must not be used by another GEMM in flight on another stream.
  float* workspace = nullptr;
  int64_t workspace_floats = 0;
  // Split-K arrival counters (device, gemm_tile_counters() unsigned, all 0
  // before the first use; every GEMM leaves them 0, so they are zeroed once
  // at allocation). Needed when the GEMM splits K (else InvalidArgument);
  // the same rule as the workspace for GEMMs on other streams.
  unsigned* tile_counters = nullptr;
  // transA and alpha == 1 only: a_row_sum[m] = float(a_row_sum[m] + sum_k op(A)[m,k])
  // (double accumulation of fp32 tile sums), i.e. the bias gradient of the
  // weight-gradient GEMM dW = dout^T @ inp, fused into the split-K finish. Needs
  // the workspace.
  float* a_row_sum = nullptr;
  // The fused dropout + residual + LayerNorm of C's rows (see
  // GemmLayerNormFinish); nullptr = none. Read at the call (by value).
  const GemmLayerNormFinish* layernorm = nullptr;
  // bf16 storage (see the header comment; kBf16, gemm() only): A (B) read as
  // bf16 bits from here, [M,K] or [K,M] with stride lda (ldb) in elements,
  // instead of the A (B) argument, which must be null.
  const uint16_t* a_bf16 = nullptr;
  const uint16_t* b_bf16 = nullptr;
  // The result written as bf16 bits here ([M, N], stride ldc), instead of C,
  // which must be null.
  uint16_t* c_bf16 = nullptr;
};

const char* gemm_precision_name(GemmPrecision p);

// Split-K. A GEMM whose tile grid gives fewer than two waves on the device
// (a wave: two blocks per SM for kBf16, one for kFp32)
// (the weight gradients, K = tokens; the LM head's dX, K = vocabulary) splits
// K into equal whole-tile chunks (each >= 256 deep): every chunk's product is
// written to the workspace, and the last block to finish each output tile
// (a per-tile counter in tile_counters) adds the tile's partials in chunk
// order (deterministic: the same bits on every run and GPU of one
// architecture, whichever block is last) and applies the epilogue (alpha,
// beta*C, bias, GELU, gelu_grad_input) and the fused a_row_sum: one launch.
// The floats of workspace this call of gemm() needs with these options (0 when
// it does not split); a smaller workspace is an InvalidArgument.
int64_t gemm_workspace_floats(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                              const GemmOptions& options);
// The most gemm_workspace_floats() can return on this device for any GEMM
// whose output has at most max_rows rows and whose row-summed (bias
// gradient) outputs have at most max_mn elements. With S = SMs x blocks per
// SM (2 for kBf16, 1 for kFp32), a split GEMM has fewer than 2 x S tiles and
// at most ceil(2 x S / tiles) splits, so its partials are under 4 x S tiles;
// an unsplit one with a row sum keeps its whole output.
int64_t gemm_workspace_floats_bound(GemmPrecision precision, int64_t max_rows, int64_t max_mn);
// The tile_counters a split gemm() or gemm_grouped() needs on this device:
// a split GEMM has fewer than 2 x S output tiles (S as above); the second
// 2 x S hold a layernorm finish's row-block counters (an unsplit GEMM's
// start at 0); up to 2 x S row blocks of 64 rows are offered.
int64_t gemm_tile_counters(GemmPrecision precision);
// Whether gemm() offers the layernorm finish for an M x N output on this
// device (N <= 1024 and the row blocks fit the counters); callers fall back
// to two launches otherwise.
bool gemm_layernorm_finish_fits(GemmPrecision precision, int64_t M, int64_t N);

// Floats per cp.async a kBf16 gemm() with these operands uses: 4 (A and B
// 16-byte aligned, lda and ldb multiples of 4), 2 (8-byte aligned, even), else
// 1. For tests and reports; results agree whatever the width.
int gemm_bf16_copy_floats(const float* A, int64_t lda, const float* B, int64_t ldb);

Status gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
            const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
            int64_t ldc, const GemmOptions& options = GemmOptions());

// Grouped GEMM: `groups` (1 to 4) GEMMs of one shape, layout and strides
// (e.g. the Q, K and V projections of one input, or the weight gradients of
// the Q, K, V and attention-output projections), each with its own A, B, C,
// bias and a_row_sum, in one launch on kBf16 (blockIdx.z = group x split;
// the split-K plan counts all groups' tiles; each group's tiles are
// finished by their last blocks, summing the group's partials in a fixed order). Each group's result is bit for
// bit what gemm() gives it with the same split plan. kFp32 runs one gemm()
// per group, in order. options.bias and options.a_row_sum must be null (they
// are per group here); gelu_grad_input is not offered. Every group has an
// a_row_sum or none does.
struct GemmGroup {
  const float* A = nullptr;
  const float* B = nullptr;
  float* C = nullptr;
  const float* bias = nullptr;
  float* a_row_sum = nullptr;
  // The fused dropout + residual + LayerNorm of C's rows (see
  // GemmLayerNormFinish); nullptr = none. Read at the call (by value).
  const GemmLayerNormFinish* layernorm = nullptr;
  // bf16 operands (kBf16; as GemmOptions::a_bf16, b_bf16): replace A (B),
  // which must then be null. gemm_grouped: every group alike (else
  // InvalidArgument). gemm_grouped_swapped: alike, or only the first group's
  // (the one with the smaller M) B in bf16 (the FFN's), in one launch; other
  // mixes run as two launches, each with the pair's split plan (the same bits).
  const uint16_t* a_bf16 = nullptr;
  const uint16_t* b_bf16 = nullptr;
  // The result as bf16 bits ([M, N], stride ldc) instead of C, which must then
  // be null (gemm_grouped: every group or none; GemmOptions::c_bf16's rules).
  uint16_t* c_bf16 = nullptr;
};
// The workspace floats gemm_grouped() needs (row_sums: the groups have a_row_sum).
int64_t gemm_grouped_workspace_floats(bool transA, bool transB, int64_t M, int64_t N, int64_t K, int groups,
                                      bool row_sums, const GemmOptions& options);
Status gemm_grouped(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, int groups,
                    const GemmGroup* group, int64_t lda, int64_t ldb, float beta, int64_t ldc,
                    const GemmOptions& options = GemmOptions());

// A swapped pair: the weight gradients of two linears K -> ... of transposed
// shapes (the FFN's [F,H] and [H,F]) in one launch on kBf16:
//   group 0: C0 [M,N] = A0^T @ B0 + beta*C0, A0 [K,M], B0 [K,N] (tight strides)
//   group 1: C1 [N,M] = A1^T @ B1 + beta*C1, A1 [K,N], B1 [K,M]
// with a_row_sum per group (both or neither; [M] and [N]). Each group splits
// K as gemm() would alone (so is bit for bit gemm() of its shape) unless the
// pair would then pass 4 waves of tiles; then, as gemm_grouped, one plan
// counts both groups' tiles. kFp32: one gemm() per group, in order.
Status gemm_grouped_swapped(int64_t M, int64_t N, int64_t K, const GemmGroup group[2], float beta,
                            const GemmOptions& options = GemmOptions());
int64_t gemm_grouped_swapped_workspace_floats(int64_t M, int64_t N, int64_t K, bool row_sums,
                                              const GemmOptions& options);

// Segmented GEMM: one GEMM whose K runs over `segments` (1 to 3) operand
// pairs of seg_k each, summed into one result:
//   C = epilogue(alpha * sum_s op(A_s) @ op(B_s) + beta * C)
// i.e. gemm() of the operands concatenated along K, all with strides lda and
// ldb (e.g. the Q, K, V projections' input gradient dq @ Wq + dk @ Wk + dv @ Wv).
// kBf16 with seg_k a multiple of 16: one launch, whose k-loop takes segment
// s's operands from its first k-tile on and adds every segment into the same
// accumulators in segment order (deterministic); split-K as gemm(), except
// that the splits are bounded by one segment's depth (see plan_split). Else
// (kFp32, seg_k not whole k-tiles, one segment): one gemm() per segment, in
// order, the first with beta and options.bias, the others adding to C.
// options.gelu, gelu_grad_input and a_row_sum are not offered.
struct GemmSegment {
  const float* A = nullptr;
  const float* B = nullptr;
};
int64_t gemm_segmented_workspace_floats(bool transA, bool transB, int64_t M, int64_t N, int64_t seg_k,
                                        int segments, const GemmOptions& options);
Status gemm_segmented(bool transA, bool transB, int64_t M, int64_t N, int64_t seg_k, float alpha, int segments,
                      const GemmSegment* seg, int64_t lda, int64_t ldb, float beta, float* C, int64_t ldc,
                      const GemmOptions& options = GemmOptions());

}  // namespace cuda
}  // namespace electra
