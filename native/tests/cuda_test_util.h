// Helpers shared by the CUDA-vs-CPU op tests (test_cuda_*.cpp): the GPU check
// that prints the SKIP line, sentinel-guarded device buffers, Status and
// tolerance checks. Only with ELECTRA_HAVE_CUDA.
#pragma once
#if defined(ELECTRA_HAVE_CUDA)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/device.h"
#include "core/status.h"
#include "cuda/cuda_util.h"
#include "test_util.h"

namespace cudatest {

// True when a GPU is usable; otherwise skips the test (fails it under
// --backend cuda, as a cudaSetDevice failure always does: a device was listed).
inline bool have_gpu() {
  if (!etest::gpu_or_skip()) return false;
  const cudaError_t e = cudaSetDevice(0);
  CHECK(e == cudaSuccess) << "cudaSetDevice(0): " << cudaGetErrorString(e);
  return e == cudaSuccess;
}

constexpr int64_t kPad = 64;                      // guard elements on each side
constexpr uint32_t kSentinelBits = 0x7fc0beefu;  // NaN payload no op produces

// Fills / tests `bytes` bytes with the sentinel's bytes repeated (for 4-byte
// elements every guard element is exactly kSentinelBits).
inline void fill_sentinel(void* p, size_t bytes) {
  unsigned char pat[4];
  std::memcpy(pat, &kSentinelBits, 4);
  unsigned char* c = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) c[i] = pat[i % 4];
}
inline bool is_sentinel(const void* p, size_t bytes) {
  unsigned char pat[4];
  std::memcpy(pat, &kSentinelBits, 4);
  const unsigned char* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i)
    if (c[i] != pat[i % 4]) return false;
  return true;
}

// A device buffer of T with kPad sentinel elements on each side.
template <class T>
class DevGuarded {
 public:
  // Uploads `host` into the middle; guards get the sentinel bytes.
  explicit DevGuarded(const std::vector<T>& host) : n_(int64_t(host.size())) {
    static_assert(std::is_trivially_copyable<T>::value, "trivially copyable elements");
    std::vector<T> all(static_cast<size_t>(n_ + 2 * kPad));
    fill_sentinel(all.data(), size_t(kPad) * sizeof(T));
    fill_sentinel(all.data() + kPad + n_, size_t(kPad) * sizeof(T));
    std::copy(host.begin(), host.end(), all.begin() + kPad);
    st_ = buf_.alloc(all.size());
    if (st_.ok()) st_ = electra::cuda::copy_to_device(buf_.data(), all.data(), all.size());
    CHECK(st_.ok()) << st_.code_name() << ": " << st_.message();
  }
  T* data() { return buf_.data() ? buf_.data() + kPad : nullptr; }
  bool ok() const { return st_.ok(); }
  int64_t size() const { return n_; }
  // Synchronises, copies back and checks the guards are intact.
  std::vector<T> get(const char* what) {
    std::vector<T> all(static_cast<size_t>(n_ + 2 * kPad));
    electra::Status st = cudaDeviceSynchronize() == cudaSuccess
                             ? electra::cuda::copy_to_host(all.data(), buf_.data(), all.size())
                             : electra::cuda::cuda_status(cudaGetLastError(), "cudaDeviceSynchronize");
    CHECK(st.ok()) << what << ": " << st.code_name() << ": " << st.message();
    const bool intact = is_sentinel(all.data(), size_t(kPad) * sizeof(T)) &&
                        is_sentinel(all.data() + kPad + n_, size_t(kPad) * sizeof(T));
    CHECK(intact) << what << ": guard zone overwritten";
    return std::vector<T>(all.begin() + kPad, all.begin() + kPad + n_);
  }

 private:
  int64_t n_;
  electra::cuda::DeviceBuffer<T> buf_;
  electra::Status st_;
};

// The bits of x rounded to bf16, nearest even (as __float2bfloat16_rn, finite x).
inline uint16_t bf16_rne(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline void check_ok(const electra::Status& st, const char* what) {
  CHECK(st.ok()) << what << ": " << st.code_name() << ": " << st.message();
}

// max-rel error + finiteness of a CUDA result against the CPU's.
inline void compare(const std::vector<float>& gpu, const std::vector<float>& cpu, double tol,
                    const std::string& what) {
  CHECK(gpu.size() == cpu.size()) << what;
  if (gpu.size() != cpu.size()) return;
  CHECK(etest::all_finite(gpu.data(), int64_t(gpu.size()))) << what << ": non-finite output";
  CHECK_LT(etest::rel_error(gpu.data(), cpu.data(), int64_t(gpu.size())), tol) << what;
}

}  // namespace cudatest

#endif  // ELECTRA_HAVE_CUDA
