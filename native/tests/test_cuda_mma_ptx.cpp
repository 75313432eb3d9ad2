// The device primitives of native/cuda/mma_ptx.h (cp.async, ldmatrix,
// mma.sync m16n8k16 bf16) against plain references written from the PTX ISA
// ("Matrix Fragments for mma.m16n8k16", "ldmatrix", "cp.async"), through the
// one-warp probe kernels of mma_ptx_probe.h. On a GPU this checks our reading
// of the layouts; under the emulator it checks the emulator, including that a
// kernel reading cp.async destinations before the matching wait reads garbage.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "test_util.h"

#ifdef ELECTRA_HAVE_CUDA
#include <cuda_runtime.h>

#include "cuda/mma_ptx_probe.h"

using namespace electra;
#endif

#ifndef ELECTRA_HAVE_CUDA

TEST(cuda_ptx_primitives) { etest::skip("built without CUDA (ELECTRA_HAVE_CUDA unset)"); }

#else

namespace {

template <class T>
struct Dev {
  T* p = nullptr;
  size_t n;
  explicit Dev(size_t count) : n(count) {
    CHECK(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess);
  }
  ~Dev() {
    if (p) cudaFree(p);
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void up(const std::vector<T>& h) { CHECK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess); }
  std::vector<T> down() {
    std::vector<T> h(n);
    CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
};

bool emulated() {
  cudaDeviceProp p;
  return cudaGetDeviceProperties(&p, 0) == cudaSuccess && std::strcmp(p.name, "emulated") == 0;
}

uint16_t bf16_bits(float x) {  // exact for the small values used here
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return uint16_t(u >> 16);
}
float bf16_value(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

TEST(cuda_ptx_ldmatrix) {
  if (!etest::gpu_or_skip()) return;
  // Distinct 16-bit patterns: element (r, c) = r * 16 + c + 1.
  std::vector<uint16_t> tile(256);
  for (int e = 0; e < 256; ++e) tile[size_t(e)] = uint16_t(e + 1);
  Dev<uint16_t> dt(256);
  Dev<uint32_t> dout(128);
  dt.up(tile);
  for (bool trans : {false, true}) {
    CHECK(cuda::probe_ldmatrix_x4(dt.p, trans, dout.p).ok());
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    const std::vector<uint32_t> got = dout.down();
    int bad = 0;
    for (int l = 0; l < 32; ++l)
      for (int i = 0; i < 4; ++i) {
        // Matrix i = rows 8*(i%2).., columns 8*(i/2)..; lane l holds its row
        // l/4, columns 2(l%4), 2(l%4)+1 (.trans: column l/4, rows 2(l%4), +1).
        const int r0 = 8 * (i % 2), c0 = 8 * (i / 2);
        int rlo, clo, rhi, chi;
        if (!trans) {
          rlo = rhi = r0 + l / 4;
          clo = c0 + 2 * (l % 4);
          chi = clo + 1;
        } else {
          clo = chi = c0 + l / 4;
          rlo = r0 + 2 * (l % 4);
          rhi = rlo + 1;
        }
        const uint32_t want = uint32_t(tile[size_t(rlo * 16 + clo)]) | (uint32_t(tile[size_t(rhi * 16 + chi)]) << 16);
        if (got[size_t(l * 4 + i)] != want && bad++ < 4)
          std::printf("    ldmatrix%s lane %d reg %d: %#x, want %#x\n", trans ? ".trans" : "", l, i,
                      got[size_t(l * 4 + i)], want);
      }
    CHECK(bad == 0) << bad << " wrong registers, trans=" << trans;
  }
}

TEST(cuda_ptx_mma_bf16) {
  if (!etest::gpu_or_skip()) return;
  // Small integers and halves: every product and partial sum is exact in
  // fp32, so the result must equal the float64 reference bit for bit.
  std::vector<uint16_t> a(256), b(128);
  std::vector<float> c(128);
  std::vector<float> av(256), bv(128);
  for (int e = 0; e < 256; ++e) av[size_t(e)] = float(etest::rand_int(-8, 8)) * 0.5f;
  for (int e = 0; e < 128; ++e) bv[size_t(e)] = float(etest::rand_int(-8, 8));
  for (int e = 0; e < 128; ++e) c[size_t(e)] = float(etest::rand_int(-100, 100));
  for (int e = 0; e < 256; ++e) a[size_t(e)] = bf16_bits(av[size_t(e)]);
  for (int e = 0; e < 128; ++e) b[size_t(e)] = bf16_bits(bv[size_t(e)]);
  Dev<uint16_t> da(256), db(128);
  Dev<float> dc(128), dd(128);
  da.up(a);
  db.up(b);
  dc.up(c);
  CHECK(cuda::probe_mma_bf16_16816(da.p, db.p, dc.p, dd.p).ok());
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  const std::vector<float> d = dd.down();
  int bad = 0;
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) {
      double want = c[size_t(r * 8 + n)];
      for (int k = 0; k < 16; ++k) want += double(bf16_value(a[size_t(r * 16 + k)])) * bf16_value(b[size_t(k * 8 + n)]);
      if (double(d[size_t(r * 8 + n)]) != want && bad++ < 4)
        std::printf("    mma d[%d][%d] = %g, want %g\n", r, n, d[size_t(r * 8 + n)], want);
    }
  CHECK(bad == 0) << bad << " wrong elements of D";
}

TEST(cuda_ptx_cp_async) {
  if (!etest::gpu_or_skip()) return;
  const int kChunks = 96;
  std::vector<float> src = etest::rand_vec(kChunks * 4);
  std::vector<int> bytes(kChunks);
  for (int i = 0; i < kChunks; ++i) bytes[size_t(i)] = int(4 * (i % 5));  // 0, 4, .. 16: zero-fill the rest
  Dev<float> dsrc(size_t(kChunks) * 4), dout(size_t(kChunks) * 4);
  Dev<int> dbytes(kChunks);
  dsrc.up(src);
  dbytes.up(bytes);
  auto expect = [&](int e) { return (e % 4) * 4 < bytes[size_t(e / 4)] ? src[size_t(e)] : 0.f; };
  auto garbage = [](float x) {  // the emulator's poison: all bytes 0xFF
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u == 0xffffffffu;
  };
  const bool emu = emulated();
  for (int mode = 0; mode < 3; ++mode) {
    CHECK(cuda::probe_cp_async(dsrc.p, dbytes.p, mode, dout.p).ok());
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    const std::vector<float> out = dout.down();
    // Groups 0..landed-1 have landed (mode 0: all three; mode 1: two; mode 2: none).
    const int landed = mode == 0 ? 3 : mode == 1 ? 2 : 0;
    int bad = 0, poisoned = 0, unlanded = 0;
    for (int e = 0; e < kChunks * 4; ++e) {
      const int group = (e / 4) / 32;
      if (group < landed) {
        const float want = expect(e);
        bad += std::memcmp(&out[size_t(e)], &want, 4) != 0;
      } else {
        ++unlanded;
        poisoned += garbage(out[size_t(e)]);
      }
    }
    CHECK(bad == 0) << bad << " wrong elements in landed groups, mode " << mode;
    // A GPU may or may not have landed the rest (a race); the emulator must
    // show garbage there, so that a missing wait fails a kernel's test.
    if (emu) CHECK(poisoned == unlanded) << "mode " << mode << ": " << unlanded - poisoned << " of " << unlanded
                                          << " not-yet-waited elements readable";
  }
}

#endif  // ELECTRA_HAVE_CUDA
