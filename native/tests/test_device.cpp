// Device discovery and the CUDA toolchain smoke kernel. Without a GPU (or
// without CUDA compiled in) "no device" must be a clean answer, and the
// kernel test prints a SKIP line instead of failing.
#include <cstdio>

#include "core/device.h"
#include "test_util.h"

using namespace electra;

TEST(device_count_is_clean) {
  DeviceInfo info;
  Status st = cuda_device_count(&info);
  CHECK(st.ok()) << st.code_name() << ": " << st.message();
  CHECK(info.count >= 0) << info.count;
  CHECK(info.compiled == cuda_compiled());
  CHECK(int(info.devices.size()) == info.count) << info.devices.size() << " vs " << info.count;
  if (info.count == 0) {
    CHECK(!info.reason.empty()) << "no GPU but no reason given";
  } else {
    CHECK(info.reason.empty()) << info.reason;
    for (auto& d : info.devices) {
      CHECK(!d.name.empty());
      CHECK(d.total_memory > 0);
      CHECK(d.cc_major >= 1);
    }
  }
  if (info.compiled) CHECK(info.runtime_version > 0) << info.runtime_version;
  std::printf("    cuda compiled=%d devices=%d driver=%d runtime=%d%s%s\n", int(info.compiled),
              info.count, info.driver_version, info.runtime_version,
              info.reason.empty() ? "" : " reason=", info.reason.c_str());
  CHECK(cuda_device_count(nullptr).code() == StatusCode::kInvalidArgument);
}

TEST(device_axpy_kernel) {
  DeviceInfo info;
  Status st = cuda_device_count(&info);
  CHECK(st.ok()) << st.message();
  if (!st.ok()) return;
  if (info.count == 0) {
    // The call must still fail cleanly, with kNoDevice.
    float x = 1, y = 2;
    Status k = cuda_axpy(0, 2.f, &x, &y, 1);
    CHECK(k.code() == StatusCode::kNoDevice) << k.code_name() << ": " << k.message();
    CHECK(y == 2.f);
    etest::skip("no CUDA device (" + info.reason + ")");
    return;
  }
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(1) << 20}) {
    std::vector<float> x(n), y(n), ref(n);
    etest::fill_uniform(x.data(), n);
    etest::fill_uniform(y.data(), n);
    for (int64_t i = 0; i < n; ++i) ref[i] = 1.5f * x[i] + y[i];
    Status k = cuda_axpy(0, 1.5f, x.data(), y.data(), n);
    CHECK(k.ok()) << k.code_name() << ": " << k.message();
    CHECK_LT(etest::rel_error(y.data(), ref.data(), n), 1e-6) << " n=" << n;
  }
  float x = 0, y = 0;
  CHECK(cuda_axpy(info.count, 1.f, &x, &y, 1).code() == StatusCode::kInvalidArgument);
  CHECK(cuda_axpy(0, 1.f, &x, &y, -1).code() == StatusCode::kInvalidArgument);
}
