#include "backend.h"

#include <cstdlib>
#include <string>

#include "cpu/backend_cpu.h"
#if defined(ELECTRA_HAVE_CUDA)
#include "cuda/backend_cuda.h"
#endif

namespace electra {

void Backend::note_alloc(const void* p, size_t bytes) {
  std::lock_guard<std::mutex> lock(mem_mu_);
  mem_sizes_[p] = bytes;
  mem_in_use_ += static_cast<int64_t>(bytes);
  if (mem_in_use_ > mem_peak_) mem_peak_ = mem_in_use_;
}

void Backend::note_release(const void* p) {
  std::lock_guard<std::mutex> lock(mem_mu_);
  auto it = mem_sizes_.find(p);
  if (it == mem_sizes_.end()) return;
  mem_in_use_ -= static_cast<int64_t>(it->second);
  mem_sizes_.erase(it);
}

Status Backend::alloc_host(size_t bytes, void** out) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) return OutOfMemory("cannot allocate " + std::to_string(bytes) + " bytes of host staging memory");
  *out = p;
  return Status::Ok();
}

void Backend::release_host(void* p) { std::free(p); }

int64_t Backend::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mem_mu_);
  return mem_in_use_;
}

int64_t Backend::peak_bytes() const {
  std::lock_guard<std::mutex> lock(mem_mu_);
  return mem_peak_;
}

const char* backend_kind_name(BackendKind k) { return k == BackendKind::kCuda ? "cuda" : "cpu"; }
const char* precision_name(Precision p) { return p == Precision::kBf16 ? "bf16" : "fp32"; }

Status make_backend(const ExecOptions& o, std::unique_ptr<Backend>* out) {
  if (o.backend == BackendKind::kCpu) {
    if (o.precision != Precision::kFp32)
      return InvalidArgument(std::string("precision ") + precision_name(o.precision) +
                             " is not available on the CPU backend (it computes in fp32)");
    std::unique_ptr<Backend> b = cpu::make_cpu_backend();
    if (!b) return OutOfMemory("cannot allocate the CPU backend");
    *out = std::move(b);
    return Status::Ok();
  }
  if (o.device < 0) return InvalidArgument("CUDA device index must be >= 0, got " + std::to_string(o.device));
#if defined(ELECTRA_HAVE_CUDA)
  return cuda::make_cuda_backend(o, out);
#else
  return Status(StatusCode::kNoDevice, "CUDA was requested, but this binary was built without CUDA");
#endif
}

}  // namespace electra
