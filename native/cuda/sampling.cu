// Gumbel-max sampling and the discriminator's inputs on the GPU (see
// ops_cuda.h, core/cpu/sampling.cpp and ElectraModel's step).
//
// gumbel_sample: one block (256 threads) per row. Each thread walks whole
// Philox blocks of the row (4 consecutive flat indices r*V + v, one
// philox_block per 4 elements) in increasing index order and keeps its first
// maximum of g = x * inv_t - logf(-logf(u)) (strict >); a shared-memory tree
// then keeps the larger value, the lower index on equal values. So the result
// is the lowest index attaining the maximum over the non-NaN g, i.e. exactly
// the CPU's scan `if (g > best)` from best = -inf, arg = 0: NaN is never
// taken, and a row with no g > -inf (all NaN / -inf) gives 0.
// Floating point: inv_t = 1.0f / T on the host (as the CPU); x * inv_t and the
// subtraction are rounded separately (__fmul_rn / __fsub_rn, no FMA
// contraction, as the CPU's baseline x86-64 code); logf is CUDA's accurate
// logf (max 1 ulp, this file is built without fast-math). The CPU's std::log
// is glibc's logf; the two may differ by an ulp, so g may differ in its last
// bits and only a near-tie (relative gap ~1e-6) between the two best indices
// could pick a different index.
//
// make_disc_inputs: two kernels on the stream, race-free in stream order:
// (1) disc_ids = ids, labels = 0 over [0, N); (2) for each of the M unique
// positions: disc_ids[pos] = sampled[r], labels[pos] = sampled[r] != ids[pos].
#include <cmath>
#include <cstdint>

#include "core/philox.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kGumbelThreads = 256;  // power of two
constexpr int kThreads = 256;
constexpr int32_t kNoIndex = 0x7fffffff;

__global__ void __launch_bounds__(kGumbelThreads)
    gumbel_kernel(int32_t* __restrict__ sampled, const float* __restrict__ logits, int64_t V,
                  float inv_t, uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base) {
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  __shared__ float sh_v[kGumbelThreads];
  __shared__ int32_t sh_i[kGumbelThreads];
  const int tid = threadIdx.x;
  const int64_t r = blockIdx.x;
  const float* x = logits + r * V;
  const uint64_t base = uint64_t(r) * uint64_t(V);
  const uint64_t end = base + uint64_t(V);
  const uint64_t first = base >> 2, last = (end - 1) >> 2;

  float best = -INFINITY;
  int32_t arg = kNoIndex;  // "none yet": best stays -inf until a g > -inf is seen
  for (uint64_t blk = first + uint64_t(tid); blk <= last; blk += kGumbelThreads) {
    const PhiloxOut o = philox_block(seed, offset, blk);
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint64_t idx = blk * 4 + uint64_t(w);
      if (idx < base || idx >= end) continue;
      const int64_t j = int64_t(idx - base);
      const float u = philox_to_uniform_open(o.x[w]);
      const float g = __fsub_rn(__fmul_rn(x[j], inv_t), logf(-logf(u)));
      if (g > best) {  // this thread's indices increase: the first maximum stays
        best = g;
        arg = int32_t(j);
      }
    }
  }
  sh_v[tid] = best;
  sh_i[tid] = arg;
  __syncthreads();
  for (int s = kGumbelThreads >> 1; s > 0; s >>= 1) {
    if (tid < s) {
      const float ov = sh_v[tid + s];
      const int32_t oi = sh_i[tid + s];
      // Larger value wins; equal values: the lower index. (-inf entries carry
      // kNoIndex and never displace anything; NaN never occurs here.)
      if (ov > sh_v[tid] || (ov == sh_v[tid] && oi < sh_i[tid])) {
        sh_v[tid] = ov;
        sh_i[tid] = oi;
      }
    }
    __syncthreads();
  }
  if (tid == 0) sampled[r] = sh_v[0] > -INFINITY ? sh_i[0] : 0;
}

__global__ void disc_copy_kernel(int32_t* __restrict__ disc_ids, float* __restrict__ labels,
                                 const int32_t* __restrict__ ids, int64_t N) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x) {
    disc_ids[i] = ids[i];
    labels[i] = 0.0f;
  }
}

__global__ void disc_scatter_kernel(int32_t* __restrict__ disc_ids, float* __restrict__ labels,
                                    const int32_t* __restrict__ ids,
                                    const int32_t* __restrict__ positions,
                                    const int32_t* __restrict__ sampled, int64_t M) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < M;
       r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pos = positions[r];
    if (pos < 0) continue;  // a padding row
    const int32_t s = sampled[r];
    disc_ids[pos] = s;
    labels[pos] = s != ids[pos] ? 1.0f : 0.0f;
  }
}

}  // namespace

Status gumbel_sample(int32_t* sampled, const float* logits, int64_t R, int64_t V, float T,
                     uint64_t seed, uint64_t offset, cudaStream_t stream, const uint64_t* offset_base) {
  if (R <= 0) return Status::Ok();
  if (R > 0x7fffffff) return InvalidArgument("cuda::gumbel_sample: R exceeds the grid");
  if (V <= 0 || V > 0x7fffffff)
    return InvalidArgument("cuda::gumbel_sample: V must be in [1, 2^31)");
  const float inv_t = 1.0f / T;  // as the CPU
  gumbel_kernel<<<unsigned(R), kGumbelThreads, 0, stream>>>(sampled, logits, V, inv_t, seed,
                                                            offset, offset_base);
  CUDA_LAUNCH_CHECK("gumbel_kernel");
  return Status::Ok();
}

Status make_disc_inputs(int32_t* disc_ids, float* labels, const int32_t* ids,
                        const int32_t* positions, const int32_t* sampled, int64_t M, int64_t N,
                        cudaStream_t stream) {
  if (N <= 0) return Status::Ok();
  disc_copy_kernel<<<grid_for(N, kThreads), kThreads, 0, stream>>>(disc_ids, labels, ids, N);
  CUDA_LAUNCH_CHECK("disc_copy_kernel");
  if (M > 0) {
    disc_scatter_kernel<<<grid_for(M, kThreads), kThreads, 0, stream>>>(disc_ids, labels, ids,
                                                                        positions, sampled, M);
    CUDA_LAUNCH_CHECK("disc_scatter_kernel");
  }
  return Status::Ok();
}

}  // namespace cuda
}  // namespace electra
