// CUDA helpers shared by the backend's .cu files (and any C++ file that can
// include <cuda_runtime.h>): CUDA error -> electra::Status, a CUDA_TRY macro,
// an RAII device buffer and host<->device copies. No exceptions, never
// exit/abort: every failure comes back as a Status.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "core/status.h"

namespace electra {
namespace cuda {

// "what: cudaErrorName (description)".
inline std::string cuda_error_text(const char* what, cudaError_t e) {
  return std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

// cudaSuccess -> Ok; cudaErrorMemoryAllocation -> kOutOfMemory; anything else
// -> kDeviceError. The text names `what` and the CUDA error string.
inline Status cuda_status(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  if (e == cudaErrorMemoryAllocation) return OutOfMemory(cuda_error_text(what, e));
  return Status(StatusCode::kDeviceError, cuda_error_text(what, e));
}

// After a kernel launch: reports (and clears) a launch error, e.g. a bad
// configuration. Does not synchronise.
inline Status launch_status(const char* kernel) {
  return cuda_status(cudaGetLastError(), kernel);
}

// Opts `kernel` in to `bytes` of dynamic shared memory (above the default
// 48 KB) once per kernel, device and size: the calls after the first make no
// runtime call, so a step captured as a CUDA graph (after its warm-up step)
// has none inside the capture.
template <class Kernel>
cudaError_t opt_in_smem_once(Kernel* kernel, int bytes) {
  static std::mutex mu;
  static std::set<std::tuple<const void*, int, int>> done;
  int dev = 0;
  if (cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) return e;
  const auto key = std::make_tuple(reinterpret_cast<const void*>(kernel), dev, bytes);
  std::lock_guard<std::mutex> lock(mu);
  if (done.count(key)) return cudaSuccess;
  const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess) done.insert(key);
  return e;
}

}  // namespace cuda
}  // namespace electra

// Evaluates a cudaError_t expression; on failure returns its Status from the
// enclosing function (which must return electra::Status).
#define CUDA_TRY(expr)                                                        \
  do {                                                                        \
    cudaError_t _cuda_e = (expr);                                             \
    if (_cuda_e != cudaSuccess) return ::electra::cuda::cuda_status(_cuda_e, #expr); \
  } while (0)

// Returns the launch error (if any) of the kernel just launched.
#define CUDA_LAUNCH_CHECK(name) ELECTRA_RETURN_IF_ERROR(::electra::cuda::launch_status(name))

namespace electra {
namespace cuda {

// Owns `n` elements of T in device memory. Move-only; frees on destruction.
//   DeviceBuffer<float> buf;
//   ELECTRA_RETURN_IF_ERROR(buf.alloc(n));
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }

  // Frees any old allocation, then allocates n elements (n == 0: no
  // allocation, data() == nullptr). Contents are uninitialised.
  Status alloc(size_t n) {
    reset();
    if (n == 0) return Status::Ok();
    if (n > SIZE_MAX / sizeof(T)) return OutOfMemory("DeviceBuffer::alloc: size overflows");
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, n * sizeof(T));
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error state of a failed malloc
      return cuda_status(e, "cudaMalloc");
    }
    p_ = static_cast<T*>(p);
    n_ = n;
    return Status::Ok();
  }
  // Frees the memory (errors from cudaFree are ignored: nothing to do).
  void reset() {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

// Synchronous copies of n elements (n == 0 is a no-op).
template <class T>
Status copy_to_device(T* dst, const T* src, size_t n) {
  if (n == 0) return Status::Ok();
  CUDA_TRY(cudaMemcpy(dst, src, n * sizeof(T), cudaMemcpyHostToDevice));
  return Status::Ok();
}
template <class T>
Status copy_to_host(T* dst, const T* src, size_t n) {
  if (n == 0) return Status::Ok();
  CUDA_TRY(cudaMemcpy(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost));
  return Status::Ok();
}
template <class T>
Status copy_device_to_device(T* dst, const T* src, size_t n) {
  if (n == 0) return Status::Ok();
  CUDA_TRY(cudaMemcpy(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice));
  return Status::Ok();
}
// Asynchronous variants on `stream` (pinned host memory for true overlap).
template <class T>
Status copy_to_device_async(T* dst, const T* src, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::Ok();
  CUDA_TRY(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, stream));
  return Status::Ok();
}
template <class T>
Status copy_to_host_async(T* dst, const T* src, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::Ok();
  CUDA_TRY(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
  return Status::Ok();
}

// Allocates a device buffer holding a copy of host[0, n).
template <class T>
Status upload(DeviceBuffer<T>* out, const T* host, size_t n) {
  ELECTRA_RETURN_IF_ERROR(out->alloc(n));
  return copy_to_device(out->data(), host, n);
}

// Grid size for a 1-D grid-stride loop over n elements.
inline int grid_for(int64_t n, int threads, int max_blocks = 65535 * 8) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > max_blocks) b = max_blocks;
  return int(b);
}

#if defined(__CUDACC__)
// Sum of `v` over the block (blockDim.x a power of two, <= 1024); every
// thread gets the result. `sh` holds blockDim.x elements. Fixed tree order:
// deterministic for a given blockDim. Ends with a barrier so `sh` can be reused.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* sh) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x >> 1; s > 0; s >>= 1) {
    if (t < s) sh[t] += sh[t + s];
    __syncthreads();
  }
  const T r = sh[0];
  __syncthreads();
  return r;
}

// The handshake of a two-pass reduction finished in the same launch by the
// last block to arrive (the BCE loss sum, LayerNorm's dgamma/dbeta, the GEMM's
// split-K tiles and row finish). Every thread of the block calls it after its
// partial stores. Each thread fences its own stores (device scope), the
// barrier puts all those fences before the count, and thread 0 counts the
// block in on *counter; the block that makes it `arrivals` is the last. It
// gets true (block-uniform), fences again so its reads of the others'
// partials (through L2: __ldcg) come after their counts, and resets the
// counter for the next launch on the stream. The finishing block must sum
// the partials in an order that does not depend on which block it is: that
// is what keeps the result deterministic.
__device__ __forceinline__ bool last_block_to_arrive(unsigned* counter, unsigned arrivals) {
  __threadfence();
  __syncthreads();
  int last = 0;
  if (threadIdx.x == 0 && threadIdx.y == 0) last = atomicAdd(counter, 1u) == arrivals - 1;
  if (!__syncthreads_or(last)) return false;
  __threadfence();
  if (threadIdx.x == 0 && threadIdx.y == 0) *counter = 0;  // ready for the next launch on the stream
  return true;
}
#endif  // __CUDACC__

}  // namespace cuda
}  // namespace electra
