// A tiny test framework for the native test program (no Node, no deps).
//   TEST(name) { ... CHECK(cond) << "why"; CHECK_CLOSE(a, b, tol); }
// Helpers: float64 comparison, sentinel-guarded buffers, seeded random data.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace etest {

struct TestCase {
  const char* name;
  std::function<void()> fn;
};
std::vector<TestCase>& registry();
struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

// Failures of the running test are counted here; the runner reports them.
void report_failure(const char* file, int line, const std::string& msg);
int current_failures();
// Marks the running test skipped (prints "SKIP: why"); unless it also
// failed, the runner counts it as skipped, not passed.
void skip(const std::string& why);
int current_skips();

class FailStream {
 public:
  FailStream(bool ok, const char* file, int line, const char* expr) : ok_(ok), file_(file), line_(line) {
    if (!ok_) os_ << expr << " ";
  }
  ~FailStream() {
    if (!ok_) report_failure(file_, line_, os_.str());
  }
  template <class T>
  FailStream& operator<<(const T& v) {
    if (!ok_) os_ << v;
    return *this;
  }

 private:
  bool ok_;
  const char* file_;
  int line_;
  std::ostringstream os_;
};

// Max relative error: max_i |a_i - b_i| / max(max_j |b_j|, tiny). One scale
// for the whole tensor so near-zero entries don't blow it up.
inline double rel_error(const float* a, const double* b, int64_t n) {
  double num = 0, den = 1e-30;
  for (int64_t i = 0; i < n; ++i) {
    num = std::fmax(num, std::fabs(double(a[i]) - b[i]));
    den = std::fmax(den, std::fabs(b[i]));
  }
  return num / den;
}
inline double rel_error(const float* a, const float* b, int64_t n) {
  std::vector<double> bd(b, b + n);
  return rel_error(a, bd.data(), n);
}
inline bool all_finite(const float* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(a[i])) return false;
  return true;
}

// A float buffer with sentinel guards on both sides: any write past the ends
// shows up in intact() == false. Contents start as NaN unless filled, so an
// op that forgets to write an element is caught too.
class Guarded {
 public:
  static constexpr int64_t kPad = 64;
  static constexpr uint32_t kSentinelBits = 0x7fc0beefu;  // a NaN payload no op produces
  explicit Guarded(int64_t n, float init = std::nanf("")) : n_(n), buf_(n + 2 * kPad) {
    float s;
    std::memcpy(&s, &kSentinelBits, 4);
    for (auto& x : buf_) x = s;
    for (int64_t i = 0; i < n; ++i) buf_[kPad + i] = init;
  }
  float* data() { return buf_.data() + kPad; }
  const float* data() const { return buf_.data() + kPad; }
  int64_t size() const { return n_; }
  float& operator[](int64_t i) { return data()[i]; }
  bool intact() const {
    for (int64_t i = 0; i < kPad; ++i) {
      uint32_t a, b;
      std::memcpy(&a, &buf_[i], 4);
      std::memcpy(&b, &buf_[kPad + n_ + i], 4);
      if (a != kSentinelBits || b != kSentinelBits) return false;
    }
    return true;
  }
  std::vector<double> as_double() const { return std::vector<double>(data(), data() + n_); }

 private:
  int64_t n_;
  std::vector<float> buf_;
};

inline std::mt19937_64& rng() {
  static std::mt19937_64 g(1234);
  return g;
}
inline void fill_uniform(float* x, int64_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < n; ++i) x[i] = d(rng());
}
inline int64_t rand_int(int64_t lo, int64_t hi) {  // inclusive
  std::uniform_int_distribution<int64_t> d(lo, hi);
  return d(rng());
}
// Sizes every op test sweeps, odd ones included.
inline const std::vector<int64_t>& odd_sizes() {
  static const std::vector<int64_t> s = {1, 7, 33, 129};
  return s;
}


// Shared helpers of the op tests.
inline std::vector<float> rand_vec(int64_t n, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  fill_uniform(v.data(), n, lo, hi);
  return v;
}
// Max relative error of two float64 vectors, one scale for the whole tensor.
inline double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::fmax(num, std::fabs(a[i] - b[i]));
    den = std::fmax(den, std::fabs(b[i]));
  }
  return num / den;
}
inline bool bit_equal(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, static_cast<size_t>(n) * sizeof(float)) == 0;
}
// Indices to perturb in a finite-difference check: all of them for small
// tensors, 40 random ones for large.
inline std::vector<int64_t> fd_indices(int64_t n) {
  std::vector<int64_t> idx;
  if (n <= 160) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int k = 0; k < 40; ++k) idx.push_back(rand_int(0, n - 1));
  }
  return idx;
}
// True under `electra_tests --backend cuda`: a test that needs a GPU fails
// instead of printing SKIP when there is none.
bool& require_device();
// True when a CUDA device is usable. Otherwise skips the test ("SKIP: no CUDA
// device (<reason>)") and returns false, or, under --backend cuda, fails it.
bool gpu_or_skip();

// What an accumulating op added to a gradient buffer that started as `before`.
inline std::vector<double> delta(const Guarded& g, const std::vector<float>& before) {
  std::vector<double> d(before.size());
  for (size_t i = 0; i < before.size(); ++i) d[i] = double(g.data()[i]) - before[i];
  return d;
}

}  // namespace etest

#define TEST(name)                                                   \
  static void test_##name();                                         \
  static ::etest::Registrar registrar_##name(#name, test_##name);    \
  static void test_##name()

#define CHECK(cond) ::etest::FailStream(static_cast<bool>(cond), __FILE__, __LINE__, "CHECK(" #cond ") failed:")
#define CHECK_LT(a, b) \
  ::etest::FailStream((a) < (b), __FILE__, __LINE__, "CHECK_LT(" #a ", " #b ") failed:") << (a) << " !< " << (b) << " "
