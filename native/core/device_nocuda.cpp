// The device API of a build without CUDA (plain cmake with ELECTRA_CUDA=OFF,
// no nvcc, or the CPU-only node-gyp build): there is never a GPU.
#ifndef ELECTRA_HAVE_CUDA
#include "device.h"

namespace electra {

bool cuda_compiled() { return false; }

Status cuda_device_count(DeviceInfo* out) {
  if (out == nullptr) return InvalidArgument("cuda_device_count: out is null");
  *out = DeviceInfo();
  out->reason = "built without CUDA";
  return Status::Ok();
}

Status cuda_axpy(int, float, const float*, float*, int64_t) {
  return Status(StatusCode::kNoDevice, "cuda_axpy: built without CUDA");
}

}  // namespace electra
#endif  // ELECTRA_HAVE_CUDA
