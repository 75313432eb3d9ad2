// Zeroing several equal-sized buffers in one launch (see ops_cuda.h): the
// buffers an accumulating op needs zeroed cost one device operation instead
// of a memset each.
#include "cuda/cuda_util.h"
#include "cuda/ops_cuda.h"

namespace electra {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// blockIdx.y picks the buffer. The pointers are separate arguments (not the
// struct) so that the emulator checks each against the live allocations.
__global__ void zero_buffers_kernel(float* p0, float* p1, float* p2, float* p3, int64_t floats) {
  float* p = blockIdx.y == 0 ? p0 : blockIdx.y == 1 ? p1 : blockIdx.y == 2 ? p2 : p3;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < floats;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = 0.0f;
}

}  // namespace

Status zero_buffers(const ZeroBuffers& z, cudaStream_t stream) {
  if (z.count <= 0 || z.floats <= 0) return Status::Ok();
  if (z.count > kMaxZeroBuffers) return InvalidArgument("cuda::zero_buffers: too many buffers");
  const dim3 grid(unsigned(grid_for(z.floats, kThreads)), unsigned(z.count));
  float* p[kMaxZeroBuffers] = {};
  for (int i = 0; i < z.count; ++i) p[i] = z.p[i];
  zero_buffers_kernel<<<grid, kThreads, 0, stream>>>(p[0], p[1], p[2], p[3], z.floats);
  return launch_status("zero_buffers_kernel");
}

}  // namespace cuda
}  // namespace electra
