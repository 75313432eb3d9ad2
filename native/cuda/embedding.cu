// Embedding sum and row gather, forward and backward (see ops_cuda.h).
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ void embedding_fwd_kernel(float* __restrict__ out, const int32_t* __restrict__ ids,
                                     const int32_t* __restrict__ types,
                                     const float* __restrict__ wte, const float* __restrict__ wpe,
                                     const float* __restrict__ wtt, int64_t N, int64_t S,
                                     int64_t E) {
  const int64_t total = N * E;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / E, e = i - r * E;
    // Same association as the CPU: (wte + wpe) + wtt.
    out[i] = wte[int64_t(ids[r]) * E + e] + wpe[(r % S) * E + e] + wtt[int64_t(types[r]) * E + e];
  }
}

// dwpe[s, e] += sum_b dout[b*S + s, e], in batch order (deterministic).
__global__ void embedding_bwd_pos_kernel(float* __restrict__ dwpe, const float* __restrict__ dout,
                                         int64_t B, int64_t S, int64_t E) {
  const int64_t total = S * E;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float acc = dwpe[i];
    for (int64_t b = 0; b < B; ++b) acc += dout[b * S * E + i];
    dwpe[i] = acc;
  }
}

__global__ void embedding_bwd_scatter_kernel(float* __restrict__ dwte, float* __restrict__ dwtt,
                                             const float* __restrict__ dout,
                                             const int32_t* __restrict__ ids,
                                             const int32_t* __restrict__ types, int64_t N,
                                             int64_t E) {
  const int64_t total = N * E;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / E, e = i - r * E;
    const float g = dout[i];
    if (dwte) atomicAdd(dwte + int64_t(ids[r]) * E + e, g);
    if (dwtt) atomicAdd(dwtt + int64_t(types[r]) * E + e, g);
  }
}

__global__ void gather_rows_kernel(float* __restrict__ out, const float* __restrict__ inp,
                                   const int32_t* __restrict__ rows, int64_t R, int64_t C) {
  const int64_t total = R * C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / C, c = i - r * C;
    out[i] = inp[int64_t(rows[r]) * C + c];
  }
}

__global__ void gather_rows_bwd_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                       const int32_t* __restrict__ rows, int64_t R, int64_t C) {
  const int64_t total = R * C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / C, c = i - r * C;
    atomicAdd(dinp + int64_t(rows[r]) * C + c, dout[i]);
  }
}

}  // namespace

Status embedding_forward(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                         const float* wpe, const float* wtt, int64_t B, int64_t S, int64_t E,
                         cudaStream_t stream) {
  const int64_t n = B * S * E;
  if (n <= 0) return Status::Ok();
  embedding_fwd_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(out, ids, types, wte, wpe,
                                                                       wtt, B * S, S, E);
  return launch_status("embedding_fwd_kernel");
}

Status embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                          const int32_t* ids, const int32_t* types, int64_t B, int64_t S,
                          int64_t E, cudaStream_t stream) {
  if (B * S * E <= 0) return Status::Ok();
  if (dwpe) {
    embedding_bwd_pos_kernel<<<grid_for(S * E, kThreads), kThreads, 0, stream>>>(dwpe, dout, B,
                                                                                 S, E);
    CUDA_LAUNCH_CHECK("embedding_bwd_pos_kernel");
  }
  if (dwte || dwtt) {
    const int64_t n = B * S * E;
    embedding_bwd_scatter_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(
        dwte, dwtt, dout, ids, types, B * S, E);
    CUDA_LAUNCH_CHECK("embedding_bwd_scatter_kernel");
  }
  return Status::Ok();
}

Status gather_rows(float* out, const float* inp, const int32_t* rows, int64_t R, int64_t C,
                   cudaStream_t stream) {
  if (R * C <= 0) return Status::Ok();
  gather_rows_kernel<<<grid_for(R * C, kThreads), kThreads, 0, stream>>>(out, inp, rows, R, C);
  return launch_status("gather_rows_kernel");
}

Status gather_rows_backward(float* dinp, const float* dout, const int32_t* rows, int64_t R,
                            int64_t C, cudaStream_t stream) {
  if (R * C <= 0) return Status::Ok();
  gather_rows_bwd_kernel<<<grid_for(R * C, kThreads), kThreads, 0, stream>>>(dinp, dout, rows, R,
                                                                             C);
  return launch_status("gather_rows_bwd_kernel");
}

}  // namespace cuda
}  // namespace electra
