// CUDA device discovery and the toolchain smoke kernel (see core/device.h).
// Compiled only when the build enables CUDA (ELECTRA_HAVE_CUDA=1); the CUDA
// runtime is linked statically so the addon still loads without a driver.
#include <cuda_runtime.h>

#include <string>

#include "core/device.h"

namespace electra {
namespace {

std::string cuda_msg(const char* what, cudaError_t e) {
  return std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

Status device_error(const char* what, cudaError_t e) {
  return Status(StatusCode::kDeviceError, cuda_msg(what, e));
}

__global__ void axpy_kernel(float a, const float* __restrict__ x, float* __restrict__ y,
                            int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (; i < n; i += stride) y[i] = a * x[i] + y[i];
}

// Frees device buffers on every exit path.
struct DeviceBuffer {
  void* p = nullptr;
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
};

}  // namespace

bool cuda_compiled() { return true; }

Status cuda_device_count(DeviceInfo* out) {
  if (out == nullptr) return InvalidArgument("cuda_device_count: out is null");
  *out = DeviceInfo();
  out->compiled = true;
  cudaRuntimeGetVersion(&out->runtime_version);
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess) out->driver_version = driver;

  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice ||
      e == cudaErrorInitializationError || e == cudaErrorSystemDriverMismatch) {
    cudaGetLastError();  // clear the recorded error so later calls start clean
    out->reason = out->driver_version == 0 ? "no CUDA driver (" + cuda_msg("cudaGetDeviceCount", e) + ")"
                                           : cuda_msg("cudaGetDeviceCount", e);
    return Status::Ok();
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    return device_error("cudaGetDeviceCount", e);
  }
  if (count == 0) {
    out->reason = "no CUDA device found";
    return Status::Ok();
  }
  out->count = count;
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p;
    e = cudaGetDeviceProperties(&p, d);
    if (e != cudaSuccess) return device_error("cudaGetDeviceProperties", e);
    DeviceProps dp;
    dp.name = p.name;
    dp.total_memory = int64_t(p.totalGlobalMem);
    dp.cc_major = p.major;
    dp.cc_minor = p.minor;
    dp.multiprocessors = p.multiProcessorCount;
    out->devices.push_back(dp);
  }
  return Status::Ok();
}

Status cuda_axpy(int device, float a, const float* x, float* y, int64_t n) {
  if (n < 0) return InvalidArgument("cuda_axpy: n must be >= 0");
  if (n > 0 && (x == nullptr || y == nullptr)) return InvalidArgument("cuda_axpy: null buffer");
  DeviceInfo info;
  ELECTRA_RETURN_IF_ERROR(cuda_device_count(&info));
  if (info.count == 0) return Status(StatusCode::kNoDevice, "cuda_axpy: " + info.reason);
  if (device < 0 || device >= info.count)
    return InvalidArgument("cuda_axpy: device " + std::to_string(device) + " out of range [0, " +
                           std::to_string(info.count) + ")");
  if (n == 0) return Status::Ok();

  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return device_error("cudaSetDevice", e);
  const size_t bytes = size_t(n) * sizeof(float);
  DeviceBuffer dx, dy;
  e = cudaMalloc(&dx.p, bytes);
  if (e == cudaErrorMemoryAllocation) return OutOfMemory(cuda_msg("cudaMalloc", e));
  if (e != cudaSuccess) return device_error("cudaMalloc", e);
  e = cudaMalloc(&dy.p, bytes);
  if (e == cudaErrorMemoryAllocation) return OutOfMemory(cuda_msg("cudaMalloc", e));
  if (e != cudaSuccess) return device_error("cudaMalloc", e);
  if ((e = cudaMemcpy(dx.p, x, bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
    return device_error("cudaMemcpy(x)", e);
  if ((e = cudaMemcpy(dy.p, y, bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
    return device_error("cudaMemcpy(y)", e);

  const int threads = 256;
  int64_t blocks64 = (n + threads - 1) / threads;
  const int blocks = int(blocks64 < 65535 ? blocks64 : 65535);
  axpy_kernel<<<blocks, threads>>>(a, static_cast<const float*>(dx.p), static_cast<float*>(dy.p), n);
  if ((e = cudaGetLastError()) != cudaSuccess) return device_error("axpy_kernel launch", e);
  if ((e = cudaDeviceSynchronize()) != cudaSuccess) return device_error("axpy_kernel", e);
  if ((e = cudaMemcpy(y, dy.p, bytes, cudaMemcpyDeviceToHost)) != cudaSuccess)
    return device_error("cudaMemcpy(y back)", e);
  return Status::Ok();
}

}  // namespace electra
