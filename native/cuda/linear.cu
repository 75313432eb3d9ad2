// The bias gradient of a linear layer (see ops_cuda.h and the dbias part of
// core/cpu/linear.cpp): dbias[n] = float(dbias[n] + sum_m dout[m*N + n]) with
// a double accumulator, as the CPU.
//
// No scratch buffer and no atomics, so one block owns a tile of W columns and
// reduces all M rows itself: block = 512 threads = W columns x (512/W) row
// lanes; row lane t sums rows t, t + 512/W, ... in increasing order (four loads
// in flight, added in order), then a fixed shared-memory tree over the row
// lanes. The order depends only on (M, N): deterministic on every GPU.
// W = 8 for N >= 8 (a warp reads 4 rows x 32 bytes: whole 32-byte sectors,
// and N/8 blocks keep more SMs busy than 32-column tiles would), W = 1 for
// N < 8 (one block per column, 512 lanes over the rows).
#include <cstdint>

#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kBiasThreads = 512;

template <int W>
__global__ void __launch_bounds__(kBiasThreads)
    bias_grad_kernel(float* __restrict__ dbias, const float* __restrict__ dout, int64_t M,
                     int64_t N) {
  constexpr int R = kBiasThreads / W;  // row lanes (a power of two)
  static_assert((R & (R - 1)) == 0, "row lanes must be a power of two");
  __shared__ double sh[kBiasThreads];
  const int tx = threadIdx.x % W, ty = threadIdx.x / W;
  const int64_t n = int64_t(blockIdx.x) * W + tx;
  double acc = 0.0;
  if (n < N) {
    const float* col = dout + n;
    int64_t m = ty;
    for (; m + 3 * R < M; m += 4 * R) {
      const float a = col[m * N], b = col[(m + R) * N];
      const float c = col[(m + 2 * R) * N], d = col[(m + 3 * R) * N];
      acc += a;
      acc += b;
      acc += c;
      acc += d;
    }
    for (; m < M; m += R) acc += col[m * N];
  }
  sh[threadIdx.x] = acc;  // = sh[ty * W + tx]
  __syncthreads();
  for (int s = R >> 1; s > 0; s >>= 1) {
    if (ty < s) sh[ty * W + tx] += sh[(ty + s) * W + tx];
    __syncthreads();
  }
  if (ty == 0 && n < N) dbias[n] = float(double(dbias[n]) + sh[tx]);
}

}  // namespace

Status bias_grad(float* dbias, const float* dout, int64_t M, int64_t N, cudaStream_t stream) {
  if (M <= 0 || N <= 0) return Status::Ok();
  if (N >= 8) {
    const int64_t blocks = (N + 7) / 8;
    if (blocks > 0x7fffffff) return InvalidArgument("cuda::bias_grad: N exceeds the grid");
    bias_grad_kernel<8><<<unsigned(blocks), kBiasThreads, 0, stream>>>(dbias, dout, M, N);
    CUDA_LAUNCH_CHECK("bias_grad_kernel<8>");
  } else {
    bias_grad_kernel<1><<<unsigned(N), kBiasThreads, 0, stream>>>(dbias, dout, M, N);
    CUDA_LAUNCH_CHECK("bias_grad_kernel<1>");
  }
  return Status::Ok();
}

}  // namespace cuda
}  // namespace electra
