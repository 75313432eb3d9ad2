// Emulated nvcuda::wmma (16x16x16, bf16/half-free subset: bf16 A/B, fp32 accumulator).
// Per-warp semantics: every *_sync op is a warp convergence point (all 32
// lanes must take part: divergence aborts) but NOT a memory fence: a lane
// does its own loads/stores before waiting for the others, so ordering
// against other lanes' shared-memory accesses needs __syncwarp/__syncthreads. matrix_a / matrix_b fragments hold the
// whole tile in every lane; an accumulator's element e (row-major index in
// the 16x16 tile) is OWNED by lane e % 32: mma_sync computes only the owned
// elements (others become NaN) and store_matrix_sync writes only the owned
// elements, so a lane reading elements another lane stored needs a
// __syncwarp, as on hardware. Pointers must be 32-byte aligned and ldm a
// multiple of 8 (16-bit types) or 4 (float), as wmma requires.
// Products are exact (bf16*bf16 fits fp32), accumulated in fp32 with fmaf in
// k order; real tensor cores use an unspecified order/internal precision.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda_bf16.h"
#include "cuda_runtime.h"

namespace nvcuda {
namespace wmma {
struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K>
struct frag_shape;
template <int M, int N, int K> struct frag_shape<matrix_a, M, N, K> { static constexpr int R = M, C = K; };
template <int M, int N, int K> struct frag_shape<matrix_b, M, N, K> { static constexpr int R = K, C = N; };
template <int M, int N, int K> struct frag_shape<accumulator, M, N, K> { static constexpr int R = M, C = N; };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int R = frag_shape<Use, M, N, K>::R, C = frag_shape<Use, M, N, K>::C;
  static constexpr int num_elements = R * C;  // emulation: the whole tile (see above)
  T x[R * C];
};

inline float to_f(float v) { return v; }
inline float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }

inline int owner(int r, int c) { return (r % 8) * 4 + (c % 8) / 2; }

template <class T>
inline void check_ptr(const T* p, unsigned ldm, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) emu::fault("wmma %s: pointer %p not 32-byte aligned", what, (const void*)p);
  const unsigned mult = sizeof(T) == 2 ? 8 : 4;
  if (ldm % mult != 0) emu::fault("wmma %s: ldm %u not a multiple of %u", what, ldm, mult);
}

template <class Use, int M, int N, int K, class T, class Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const T& v) {
  for (auto& e : f.x) e = v;
}

template <class Use, int M, int N, int K, class T, class Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>, "accumulator loads need a layout");
  check_ptr(p, ldm, "load_matrix_sync");
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::R; ++r)
    for (int c = 0; c < F::C; ++c)
      f.x[r * F::C + c] = std::is_same_v<Layout, col_major> ? p[size_t(c) * ldm + r] : p[size_t(r) * ldm + c];
  emu::warp_barrier();  // convergence point, not a memory fence: the lane reads before the others arrive
}

template <int M, int N, int K, class Ta, class La, class Lb>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, Ta, La>& a,
                     const fragment<matrix_b, M, N, K, Ta, Lb>& b, const fragment<accumulator, M, N, K, float>& c) {
  emu::warp_barrier();
  const int lane = emu::lane_id();
  float out[M * N];
  for (int e = 0; e < M * N; ++e) {
    const int r = e / N, col = e % N;
    if (owner(r, col) != lane) {
      out[e] = std::nanf("");
      continue;
    }
    float acc = c.x[e];
    for (int k = 0; k < K; ++k) acc = std::fmaf(to_f(a.x[r * K + k]), to_f(b.x[k * N + col]), acc);
    out[e] = acc;
  }
  for (int e = 0; e < M * N; ++e) d.x[e] = out[e];
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t l) {
  check_ptr(p, ldm, "store_matrix_sync");
  const int lane = emu::lane_id();
  for (int e = 0; e < M * N; ++e) {
    const int r = e / N, c = e % N;
    if (owner(r, c) != lane) continue;
    if (l == mem_row_major) p[size_t(r) * ldm + c] = f.x[e];
    else p[size_t(c) * ldm + r] = f.x[e];
  }
  emu::warp_barrier();  // convergence point, not a memory fence: the lane writes before the others arrive
}
}  // namespace wmma
}  // namespace nvcuda
