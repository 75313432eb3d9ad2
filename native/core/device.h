// Device discovery and a toolchain smoke kernel. Plain C++: no CUDA headers,
// so every translation unit (addon, tests, CPU-only node-gyp build) can use
// it. Implemented by native/cuda/device.cu when the build has CUDA
// (ELECTRA_HAVE_CUDA=1) and by native/core/device_nocuda.cpp otherwise.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "status.h"

namespace electra {

struct DeviceProps {
  std::string name;
  int64_t total_memory = 0;  // bytes
  int cc_major = 0;
  int cc_minor = 0;
  int multiprocessors = 0;
};

struct DeviceInfo {
  bool compiled = false;    // the binary contains CUDA code
  int count = 0;            // usable GPUs (0 = none)
  int driver_version = 0;   // e.g. 12040 for 12.4; 0 when there is no driver
  int runtime_version = 0;  // the CUDA runtime compiled in; 0 without CUDA
  std::string reason;       // why count == 0 ("" when count > 0)
  std::vector<DeviceProps> devices;
};

// True when this binary was compiled with CUDA.
bool cuda_compiled();

// Queries the GPUs. "No GPU" is a normal answer, not an error: a build
// without CUDA, a missing or too-old driver (cudaErrorInsufficientDriver) and
// cudaErrorNoDevice all give count = 0 with `reason` set and an ok Status.
// Only an unexpected CUDA failure returns kDeviceError.
Status cuda_device_count(DeviceInfo* out);

// Toolchain smoke test: y[i] = a * x[i] + y[i] on `device`, copied to and
// from host memory. Returns kNoDevice without CUDA or GPU, kDeviceError when
// a CUDA call or the launch fails, kInvalidArgument on bad arguments.
Status cuda_axpy(int device, float a, const float* x, float* y, int64_t n);

}  // namespace electra
