// The CUDA backend's factory. Plain C++ (no CUDA headers) so core/backend.cpp
// can call it; implemented by backend_cuda.cu, compiled only with CUDA.
#pragma once
#include <memory>

#include "core/backend.h"

namespace electra {
namespace cuda {

// kNoDevice (naming the reason, driver and runtime versions) when there is no
// usable GPU at o.device; kDeviceError when the device cannot run this
// binary's kernels (no kernel image for its architecture).
Status make_cuda_backend(const ExecOptions& o, std::unique_ptr<Backend>* out);

}  // namespace cuda
}  // namespace electra
