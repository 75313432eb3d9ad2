// Dropout with a recomputed Philox mask (see ops_cuda.h and core/cpu/dropout.cpp).
// keep(i) = philox_to_uniform(word i%4 of philox_block(seed, offset, i/4)) >= p,
// exactly the CPU's test, so masks match bit for bit. One thread per Philox
// block (4 consecutive elements): each block is computed once.
#include "core/philox.h"
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <bool kBackward>
__global__ void dropout_kernel(float* out, const float* inp, int64_t n, float p, float scale,
                               uint64_t seed, uint64_t offset, const uint64_t* __restrict__ offset_base) {
  offset += offset_base ? *offset_base : 0;  // the step's part, read at run time (graph replays)
  const int64_t nblk = (n + 3) / 4;
  for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < nblk;
       b += int64_t(gridDim.x) * blockDim.x) {
    const PhiloxOut o = philox_block(seed, offset, uint64_t(b));
    const int64_t i0 = b * 4;
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const int64_t i = i0 + w;
      if (i >= n) break;
      const bool keep = philox_to_uniform(o.x[w]) >= p;
      const float v = keep ? __fmul_rn(inp[i], scale) : 0.0f;  // no FMA contraction
      if (kBackward)
        out[i] += v;
      else
        out[i] = v;  // may alias inp: read then written by this thread only
    }
  }
}

__global__ void copy_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = inp[i];
}

__global__ void accumulate_kernel(float* __restrict__ out, const float* __restrict__ inp,
                                  int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] += inp[i];
}

}  // namespace

Status dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed,
                       uint64_t offset, cudaStream_t stream, const uint64_t* offset_base) {
  if (n <= 0) return Status::Ok();
  if (p == 0.0f) {
    if (out == inp) return Status::Ok();
    copy_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(out, inp, n);
    return launch_status("dropout copy_kernel");
  }
  const float scale = 1.0f / (1.0f - p);  // host IEEE division, as the CPU
  dropout_kernel<false><<<grid_for((n + 3) / 4, kThreads), kThreads, 0, stream>>>(
      out, inp, n, p, scale, seed, offset, offset_base);
  return launch_status("dropout_kernel(forward)");
}

Status dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                        uint64_t offset, cudaStream_t stream, const uint64_t* offset_base) {
  if (n <= 0) return Status::Ok();
  if (p == 0.0f) {
    accumulate_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(dinp, dout, n);
    return launch_status("dropout accumulate_kernel");
  }
  const float scale = 1.0f / (1.0f - p);
  dropout_kernel<true><<<grid_for((n + 3) / 4, kThreads), kThreads, 0, stream>>>(
      dinp, dout, n, p, scale, seed, offset, offset_base);
  return launch_status("dropout_kernel(backward)");
}

}  // namespace cuda
}  // namespace electra
