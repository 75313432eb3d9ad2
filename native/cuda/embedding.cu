// Embedding sum and row gather, forward and backward (see ops_cuda.h).
#include <algorithm>
#include <string>

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

// dw[ids[r], :] += dout[r, :] for r in increasing order, without atomics, so
// the gradient has the same bits on every run (a bit-exact resume on CUDA
// needs that; atomicAdd's order varies from run to run). Block b owns the
// rows id with id % gridDim.x == b, so each output row is written by one
// block, r by r; every block scans the (cached) id list.
// Ids below `first` are left to embedding_bwd_small_kernel.
__global__ void embedding_bwd_scatter_kernel(float* __restrict__ dw, const float* __restrict__ dout,
                                             const int32_t* __restrict__ ids, int64_t N, int64_t E,
                                             int64_t first) {
  for (int64_t r = 0; r < N; ++r) {
    const int64_t id = ids[r];
    if (id < first || id % gridDim.x != blockIdx.x) continue;
    for (int64_t e = threadIdx.x; e < E; e += blockDim.x) dw[id * E + e] += dout[r * E + e];
  }
}

// The same for the ids t < gridDim.x of a small table (token types: usually
// 2 rows, so nearly every r hits the same row and a read-modify-write per r
// would be one long dependent chain): block (t, column chunk) keeps its
// column sums in registers over all r, in order, then adds once.
constexpr int kSmallRows = 8;
__global__ void embedding_bwd_small_kernel(float* __restrict__ dw, const float* __restrict__ dout,
                                           const int32_t* __restrict__ ids, int64_t N, int64_t E) {
  const int64_t t = blockIdx.x;
  const int64_t e = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (e >= E) return;
  float acc = 0.f;
  bool seen = false;  // row t exists in the table only if some id is t: write nothing otherwise
  for (int64_t r = 0; r < N; ++r)
    if (ids[r] == t) {
      acc += dout[r * E + e];
      seen = true;
    }
  if (seen) dw[t * E + e] += acc;
}

// The same sums with the rows split into gridDim.z chunks, for enough blocks
// to fill the GPU (the token-type table has 2 rows: 8 blocks otherwise, each
// reading all B*S rows). Block (t, column chunk, row chunk z) writes its sum
// over rows [z*rows, (z+1)*rows) to partial[(z*kSmallRows + t)*E + e] and
// whether id t occurred there to seen[z*kSmallRows + t];
// embedding_small_finish_kernel adds the chunks in chunk order.
__global__ void embedding_bwd_small_partial_kernel(float* __restrict__ partial, float* __restrict__ seen,
                                                   const float* __restrict__ dout,
                                                   const int32_t* __restrict__ ids, int64_t N, int64_t E,
                                                   int64_t rows) {
  const int64_t t = blockIdx.x;
  const int64_t e = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  const int64_t z = blockIdx.z;
  const int64_t r0 = z * rows, r1 = min(N, r0 + rows);
  float acc = 0.f;
  bool any = false;
  for (int64_t r = r0; r < r1; ++r)
    if (ids[r] == t) {
      if (e < E) acc += dout[r * E + e];
      any = true;
    }
  if (e < E) partial[(z * gridDim.x + t) * E + e] = acc;
  if (blockIdx.y == 0 && threadIdx.x == 0) seen[z * gridDim.x + t] = any ? 1.f : 0.f;
}

__global__ void embedding_small_finish_kernel(float* __restrict__ dw, const float* __restrict__ partial,
                                              const float* __restrict__ seen, int64_t chunks, int64_t E) {
  const int64_t t = blockIdx.x;
  const int64_t e = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (e >= E) return;
  float acc = 0.f;
  bool any = false;
  for (int64_t z = 0; z < chunks; ++z) {
    acc += partial[(z * gridDim.x + t) * E + e];
    any = any || seen[z * gridDim.x + t] != 0.f;
  }
  if (any) dw[t * E + e] += acc;
}

// Row chunks of the small-table path: about two waves of 132 SMs at 16
// blocks/SM, at least 64 rows each.
int64_t small_chunks(int64_t N, int64_t E) {
  const int64_t blocks = kSmallRows * ((E + 127) / 128);
  const int64_t want = (2 * 132 * 16 + blocks - 1) / blocks;
  return std::max<int64_t>(1, std::min(want, (N + 63) / 64));
}

__global__ void gather_rows_kernel(float* __restrict__ out, const float* __restrict__ inp,
                                   const int32_t* __restrict__ rows, int64_t R, int64_t C) {
  const int64_t total = R * C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / C, c = i - r * C;
    out[i] = rows[r] >= 0 ? inp[int64_t(rows[r]) * C + c] : 0.0f;  // < 0: a padding row
  }
}

__global__ void gather_rows_bwd_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                       const int32_t* __restrict__ rows, int64_t R, int64_t C) {
  const int64_t total = R * C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / C, c = i - r * C;
    if (rows[r] >= 0) atomicAdd(dinp + int64_t(rows[r]) * C + c, dout[i]);  // < 0: a padding row
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

int64_t embedding_backward_workspace_floats(int64_t B, int64_t S, int64_t E) {
  if (B * S * E <= 0) return 0;
  const int64_t chunks = small_chunks(B * S, E);
  return chunks > 1 ? chunks * kSmallRows * (E + 1) : 0;
}

Status embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                          const int32_t* ids, const int32_t* types, int64_t B, int64_t S,
                          int64_t E, cudaStream_t stream, float* workspace, int64_t workspace_floats) {
  if (B * S * E <= 0) return Status::Ok();
  if (dwpe) {
    embedding_bwd_pos_kernel<<<grid_for(S * E, kThreads), kThreads, 0, stream>>>(dwpe, dout, B,
                                                                                 S, E);
    CUDA_LAUNCH_CHECK("embedding_bwd_pos_kernel");
  }
  if (dwte) {
    // ~16 rows of the vocabulary per block at V = 30522; every block reads the B*S ids.
    embedding_bwd_scatter_kernel<<<2048, 128, 0, stream>>>(dwte, dout, ids, B * S, E, 0);
    CUDA_LAUNCH_CHECK("embedding_bwd_scatter_kernel");
  }
  if (dwtt) {
    const dim3 grid(kSmallRows, unsigned((E + 127) / 128));
    const int64_t need = embedding_backward_workspace_floats(B, S, E);
    if (workspace != nullptr && need > 0) {
      if (workspace_floats < need)
        return InvalidArgument("cuda::embedding_backward: workspace of " + std::to_string(workspace_floats) +
                               " floats, needs " + std::to_string(need));
      const int64_t chunks = small_chunks(B * S, E), rows = (B * S + chunks - 1) / chunks;
      float* seen = workspace + chunks * kSmallRows * E;
      embedding_bwd_small_partial_kernel<<<dim3(grid.x, grid.y, unsigned(chunks)), 128, 0, stream>>>(
          workspace, seen, dout, types, B * S, E, rows);
      CUDA_LAUNCH_CHECK("embedding_bwd_small_partial_kernel");
      embedding_small_finish_kernel<<<grid, 128, 0, stream>>>(dwtt, workspace, seen, chunks, E);
      CUDA_LAUNCH_CHECK("embedding_small_finish_kernel");
    } else {
      embedding_bwd_small_kernel<<<grid, 128, 0, stream>>>(dwtt, dout, types, B * S, E);
      CUDA_LAUNCH_CHECK("embedding_bwd_small_kernel");
    }
    // type ids >= kSmallRows (no preset has them): ordered scatter as for words
    embedding_bwd_scatter_kernel<<<64, 128, 0, stream>>>(dwtt, dout, types, B * S, E, kSmallRows);
    CUDA_LAUNCH_CHECK("embedding_bwd_scatter_kernel(types)");
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
