// cuda::gemm's bf16 storage (gemm_cuda.h: GemmOptions::a_bf16, b_bf16,
// c_bf16; GemmGroup::a_bf16, b_bf16). The fp32-operand kBf16 GEMM rounds each
// operand to bf16 once, so feeding it bf16-rounded values must give the same
// bits as reading those values stored as bf16: every case here is compared
// BIT FOR BIT against that fp32-operand call, over the four layouts, odd
// sizes (ragged edge tiles, zero-filled partial chunks), padded strides,
// bias, beta, split-K and the fused bias gradient. A bf16 result (c_bf16) must
// be the round-to-nearest-even of the fp32 result the same call writes to C,
// GELU included (gelu_pre then bit-equal too). The swapped pair with one
// bf16 group (two launches) must equal the all-fp32 pair bit for bit, and
// so must gemm_grouped and the pair with every group's operand in bf16.
// gemm_grouped writing every group's result as bf16 (GemmGroup::c_bf16, the
// Q/K/V forward) must give each group the RNE of its fp32 result.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/device.h"
#include "test_util.h"

#ifdef ELECTRA_HAVE_CUDA
#include <cuda_runtime.h>

#include "cuda/gemm_cuda.h"
#endif

using namespace electra;

#ifndef ELECTRA_HAVE_CUDA

TEST(cuda_gemm_bf16_storage) { etest::skip("built without CUDA (ELECTRA_HAVE_CUDA unset)"); }

#else

namespace {

using cuda::GemmOptions;
using cuda::GemmPrecision;

uint16_t bf16_bits(float x) {  // round-to-nearest-even, as __float2bfloat16_rn (finite x)
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}
float bf16_value(uint16_t h) {
  const uint32_t b = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}

// A device allocation of n elements of T, freed on every exit path.
template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    cudaError_t e = cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T));
    CHECK(e == cudaSuccess) << "cudaMalloc: " << cudaGetErrorString(e);
    if (e != cudaSuccess) p = nullptr;
  }
  ~Dev() {
    if (p) cudaFree(p);
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void up(const std::vector<T>& h) {
    if (p) CHECK(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> down() {
    std::vector<T> h(n);
    if (p) CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
};

struct Counters : Dev<unsigned> {
  Counters() : Dev<unsigned>(size_t(cuda::gemm_tile_counters(GemmPrecision::kBf16))) {
    if (p) CHECK(cudaMemset(p, 0, n * sizeof(unsigned)) == cudaSuccess);
  }
};

// An operand of `rows` x `cols` stored with stride ld, its values bf16-rounded:
// as fp32 (the reference's) and as bf16 bits.
struct Operand {
  std::vector<float> f;
  std::vector<uint16_t> h;
};
Operand make_operand(int64_t rows, int64_t ld) {
  Operand o;
  o.f = etest::rand_vec(rows * ld, -2.f, 2.f);
  o.h.resize(o.f.size());
  for (size_t i = 0; i < o.f.size(); ++i) o.h[i] = bf16_bits(o.f[i]), o.f[i] = bf16_value(o.h[i]);
  return o;
}
int64_t pad8(int64_t n) { return (n + 7) / 8 * 8; }

// gemm() with A and/or B stored as bf16 (ops bit 1: A, bit 2: B) vs the same
// call with fp32 operands of the same values; beta != 0 over a random C, a
// bias, optionally split-K (workspace) and the fused row sums (transA).
void run_operand_case(bool tA, bool tB, int64_t M, int64_t N, int64_t K, int ops, bool split, bool row_sums) {
  const int64_t lda = pad8(tA ? M : K) + 8, ldb = pad8(tB ? K : N), ldc = N + 3;
  const Operand A = make_operand(tA ? K : M, lda), B = make_operand(tB ? N : K, ldb);
  const std::vector<float> C0 = etest::rand_vec(M * ldc), bias = etest::rand_vec(N), rs0 = etest::rand_vec(M);
  Dev<float> af(A.f.size()), bfl(B.f.size()), c(C0.size()), db(N), rs(M);
  Dev<uint16_t> ah(A.h.size()), bh(B.h.size());
  af.up(A.f), bfl.up(B.f), ah.up(A.h), bh.up(B.h), db.up(bias);
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  o.bias = db.p;
  o.a_row_sum = row_sums ? rs.p : nullptr;
  const int64_t wsf = split ? cuda::gemm_workspace_floats(tA, tB, M, N, K, o) : 0;
  Dev<float> ws(size_t(std::max<int64_t>(wsf, 1)));
  Counters counters;
  if (split) o.workspace = ws.p, o.workspace_floats = wsf, o.tile_counters = counters.p;
  CHECK(!split || row_sums || wsf > 0) << " the split case does not split";
  char tag[160];
  std::snprintf(tag, sizeof tag, " [tA=%d tB=%d M=%lld N=%lld K=%lld ops=%d split=%d rows=%d ws=%lld]", int(tA),
                int(tB), (long long)M, (long long)N, (long long)K, ops, int(split), int(row_sums), (long long)wsf);
  std::vector<float> out[2], rows[2];
  for (int run = 0; run < 2; ++run) {  // 0: fp32 operands; 1: bf16 storage
    c.up(C0), rs.up(rs0);
    GemmOptions r = o;
    const bool a16 = run == 1 && (ops & 1), b16 = run == 1 && (ops & 2);
    r.a_bf16 = a16 ? ah.p : nullptr;
    r.b_bf16 = b16 ? bh.p : nullptr;
    const float alpha = row_sums ? 1.f : 0.75f;  // (the fused row sums are of alpha == 1 GEMMs)
    const Status st = cuda::gemm(tA, tB, M, N, K, alpha, a16 ? nullptr : af.p, lda, b16 ? nullptr : bfl.p, ldb, 0.5f,
                                 c.p, ldc, r);
    CHECK(st.ok()) << st.code_name() << ": " << st.message() << tag;
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    out[run] = c.down(), rows[run] = rs.down();
  }
  CHECK(etest::bit_equal(out[0].data(), out[1].data(), int64_t(out[0].size()))) << " bf16 operands != fp32" << tag;
  CHECK(etest::bit_equal(rows[0].data(), rows[1].data(), M)) << " row sums" << tag;
  // Not vacuous: the product is there (C moved away from its old value).
  int64_t moved = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) moved += out[1][m * ldc + n] != C0[m * ldc + n];
  CHECK(moved > M * N / 2) << " moved " << moved << tag;
}

// gemm() writing C as bf16 (c_bf16) vs the same call writing fp32 C: each
// element the RNE rounding of the fp32 one; with the GELU, gelu_pre
// bit-equal too. Optionally A stored as bf16 as well.
void run_output_case(bool tA, bool tB, int64_t M, int64_t N, int64_t K, bool gelu, bool split, bool a16) {
  const int64_t lda = pad8(tA ? M : K), ldb = pad8(tB ? K : N) + 4, ldc = N + 1;
  const Operand A = make_operand(tA ? K : M, lda), B = make_operand(tB ? N : K, ldb);
  const std::vector<float> bias = etest::rand_vec(N);
  Dev<float> af(A.f.size()), bfl(B.f.size()), c(M * ldc), pre(M * ldc), db(N);
  Dev<uint16_t> ah(A.h.size()), c16(M * ldc);
  af.up(A.f), bfl.up(B.f), ah.up(A.h), db.up(bias);
  c16.up(std::vector<uint16_t>(M * ldc, 0x7fc1));  // a NaN where nothing is written
  c.up(std::vector<float>(M * ldc, 0.f));
  pre.up(std::vector<float>(M * ldc, 0.f));
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  o.bias = db.p;
  o.gelu = gelu;
  o.gelu_pre = gelu ? pre.p : nullptr;
  const int64_t wsf = split ? cuda::gemm_workspace_floats(tA, tB, M, N, K, o) : 0;
  Dev<float> ws(size_t(std::max<int64_t>(wsf, 1)));
  Counters counters;
  if (split) o.workspace = ws.p, o.workspace_floats = wsf, o.tile_counters = counters.p;
  char tag[160];
  std::snprintf(tag, sizeof tag, " [out tA=%d tB=%d M=%lld N=%lld K=%lld gelu=%d split=%d a16=%d ws=%lld]", int(tA),
                int(tB), (long long)M, (long long)N, (long long)K, int(gelu), int(split), int(a16), (long long)wsf);
  Status st = cuda::gemm(tA, tB, M, N, K, 1.f, af.p, lda, bfl.p, ldb, 0.f, c.p, ldc, o);
  CHECK(st.ok()) << st.code_name() << ": " << st.message() << tag;
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  const std::vector<float> want = c.down(), want_pre = pre.down();
  pre.up(std::vector<float>(M * ldc, 0.f));
  GemmOptions r = o;
  r.c_bf16 = c16.p;
  r.a_bf16 = a16 ? ah.p : nullptr;
  st = cuda::gemm(tA, tB, M, N, K, 1.f, a16 ? nullptr : af.p, lda, bfl.p, ldb, 0.f, nullptr, ldc, r);
  CHECK(st.ok()) << st.code_name() << ": " << st.message() << tag;
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  const std::vector<uint16_t> got = c16.down();
  const std::vector<float> got_pre = pre.down();
  int64_t bad = 0, untouched = 0;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < ldc; ++n) {
      const int64_t i = m * ldc + n;
      if (n >= N) {
        untouched += got[i] == 0x7fc1;
        continue;
      }
      bad += got[i] != bf16_bits(want[i]);
    }
  }
  CHECK(bad == 0) << bad << " bf16 C != RNE(fp32 C)" << tag;
  CHECK(untouched == M * (ldc - N)) << " c_bf16 written past N" << tag;
  if (gelu) CHECK(etest::bit_equal(got_pre.data(), want_pre.data(), M * ldc)) << " gelu_pre" << tag;
}

// The swapped pair with group 0's B stored as bf16 (the FFN's Wo gradient
// with its bf16 input) and group 1 fp32: two launches with the pair's plan,
// the bits of the all-fp32 pair. both: both groups' B bf16 (one launch).
void run_mixed_pair_case(int64_t M, int64_t N, int64_t K, bool both = false) {
  const int64_t Mg[2] = {M, N}, Ng[2] = {N, M};
  Operand A[2], B[2];
  std::vector<float> C0[2], rs0[2];
  std::vector<std::unique_ptr<Dev<float>>> fbuf;
  std::unique_ptr<Dev<uint16_t>> b16;
  cuda::GemmGroup grp[2], mixed[2];
  for (int g = 0; g < 2; ++g) {
    A[g] = make_operand(K, Mg[g]);
    B[g] = make_operand(K, Ng[g]);
    C0[g] = etest::rand_vec(Mg[g] * Ng[g]);
    rs0[g] = etest::rand_vec(Mg[g]);
    for (const std::vector<float>* v : {&A[g].f, &B[g].f, &C0[g], &rs0[g]}) {
      fbuf.emplace_back(new Dev<float>(v->size()));
      fbuf.back()->up(*v);
    }
    // fbuf[4g .. 4g+3]: A, B, C, row sums
    grp[g] = {fbuf[4 * g]->p, fbuf[4 * g + 1]->p, fbuf[4 * g + 2]->p, nullptr, fbuf[4 * g + 3]->p};
    mixed[g] = grp[g];
  }
  b16.reset(new Dev<uint16_t>(B[0].h.size()));
  b16->up(B[0].h);
  mixed[0].B = nullptr, mixed[0].b_bf16 = b16->p;
  Dev<uint16_t> b16_1(B[1].h.size());
  b16_1.up(B[1].h);
  if (both) mixed[1].B = nullptr, mixed[1].b_bf16 = b16_1.p;
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  const int64_t wsf = cuda::gemm_grouped_swapped_workspace_floats(M, N, K, true, o);
  Dev<float> ws(size_t(std::max<int64_t>(wsf, 1)));
  Counters counters;
  o.workspace = ws.p, o.workspace_floats = wsf, o.tile_counters = counters.p;
  std::vector<float> out[2][2], rows[2][2];
  for (int run = 0; run < 2; ++run) {
    for (int g = 0; g < 2; ++g) fbuf[4 * g + 2]->up(C0[g]), fbuf[4 * g + 3]->up(rs0[g]);
    const Status st = cuda::gemm_grouped_swapped(M, N, K, run == 0 ? grp : mixed, 1.f, o);
    CHECK(st.ok()) << st.code_name() << ": " << st.message();
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    for (int g = 0; g < 2; ++g) out[run][g] = fbuf[4 * g + 2]->down(), rows[run][g] = fbuf[4 * g + 3]->down();
  }
  for (int g = 0; g < 2; ++g) {
    CHECK(etest::bit_equal(out[0][g].data(), out[1][g].data(), Mg[g] * Ng[g]))
        << " mixed pair != fp32 pair, group " << g << " M=" << M << " N=" << N << " K=" << K << " both=" << both;
    CHECK(etest::bit_equal(rows[0][g].data(), rows[1][g].data(), Mg[g])) << " mixed pair row sums, group " << g;
  }
}

// gemm_grouped with every group's A stored as bf16 (the Q/K/V forward's
// layout) vs the same groups in fp32: bit for bit, each group.
void run_grouped_case(int G, int64_t M, int64_t N, int64_t K) {
  const int64_t lda = pad8(K), ldb = pad8(K);
  std::vector<Operand> A, B;
  std::vector<std::unique_ptr<Dev<float>>> af, bfl, c;
  std::vector<std::unique_ptr<Dev<uint16_t>>> ah;
  cuda::GemmGroup f32[4], b16[4];
  for (int g = 0; g < G; ++g) {
    A.push_back(make_operand(M, lda));
    B.push_back(make_operand(N, ldb));
    af.emplace_back(new Dev<float>(A[g].f.size()));
    bfl.emplace_back(new Dev<float>(B[g].f.size()));
    c.emplace_back(new Dev<float>(size_t(M * N)));
    ah.emplace_back(new Dev<uint16_t>(A[g].h.size()));
    af[g]->up(A[g].f), bfl[g]->up(B[g].f), ah[g]->up(A[g].h);
    f32[g] = {af[g]->p, bfl[g]->p, c[g]->p};
    b16[g] = f32[g];
    b16[g].A = nullptr, b16[g].a_bf16 = ah[g]->p;
  }
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  const int64_t wsf = cuda::gemm_grouped_workspace_floats(false, true, M, N, K, G, false, o);
  Dev<float> ws(size_t(std::max<int64_t>(wsf, 1)));
  Counters counters;
  o.workspace = ws.p, o.workspace_floats = wsf, o.tile_counters = counters.p;
  std::vector<float> out[2][4];
  for (int run = 0; run < 2; ++run) {
    const Status st = cuda::gemm_grouped(false, true, M, N, K, 1.f, G, run == 0 ? f32 : b16, lda, ldb, 0.f, N, o);
    CHECK(st.ok()) << st.code_name() << ": " << st.message();
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    for (int g = 0; g < G; ++g) out[run][g] = c[g]->down();
  }
  for (int g = 0; g < G; ++g)
    CHECK(etest::bit_equal(out[0][g].data(), out[1][g].data(), M * N))
        << " grouped bf16 A != fp32, group " << g << " M=" << M << " N=" << N << " K=" << K << " ws=" << wsf;
  b16[1].a_bf16 = nullptr, b16[1].A = af[1]->p;  // groups that differ
  CHECK(cuda::gemm_grouped(false, true, M, N, K, 1.f, G, b16, lda, ldb, 0.f, N, o).code() ==
        StatusCode::kInvalidArgument);
}

// gemm_grouped with every group's result written as bf16 (c_bf16, with a
// bias per group: the Q, K, V forward) vs the same groups writing fp32:
// each element the RNE of the fp32 one, nothing written past N.
void run_grouped_output_case(int G, int64_t M, int64_t N, int64_t K) {
  const int64_t lda = pad8(K), ldb = pad8(K), ldc = N + 3;
  std::vector<std::unique_ptr<Dev<float>>> fbuf;
  std::vector<std::unique_ptr<Dev<uint16_t>>> c16;
  cuda::GemmGroup f32[4], b16[4];
  for (int g = 0; g < G; ++g) {
    const Operand A = make_operand(M, lda), B = make_operand(N, ldb);
    for (const std::vector<float>* v : {&A.f, &B.f}) {
      fbuf.emplace_back(new Dev<float>(v->size()));
      fbuf.back()->up(*v);
    }
    fbuf.emplace_back(new Dev<float>(size_t(M * ldc)));
    fbuf.back()->up(std::vector<float>(size_t(M * ldc), 0.f));
    fbuf.emplace_back(new Dev<float>(size_t(N)));
    fbuf.back()->up(etest::rand_vec(N));
    c16.emplace_back(new Dev<uint16_t>(size_t(M * ldc)));
    c16.back()->up(std::vector<uint16_t>(size_t(M * ldc), 0x7fc1));  // a NaN where nothing is written
    // fbuf[4g .. 4g+3]: A, B, C, bias
    f32[g] = {fbuf[4 * g]->p, fbuf[4 * g + 1]->p, fbuf[4 * g + 2]->p, fbuf[4 * g + 3]->p};
    b16[g] = f32[g];
    b16[g].C = nullptr, b16[g].c_bf16 = c16[g]->p;
  }
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  const int64_t wsf = cuda::gemm_grouped_workspace_floats(false, true, M, N, K, G, false, o);
  Dev<float> ws(size_t(std::max<int64_t>(wsf, 1)));
  Counters counters;
  o.workspace = ws.p, o.workspace_floats = wsf, o.tile_counters = counters.p;
  for (int run = 0; run < 2; ++run) {
    const Status st = cuda::gemm_grouped(false, true, M, N, K, 1.f, G, run == 0 ? f32 : b16, lda, ldb, 0.f, ldc, o);
    CHECK(st.ok()) << st.code_name() << ": " << st.message();
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
  }
  for (int g = 0; g < G; ++g) {
    const std::vector<float> want = fbuf[4 * g + 2]->down();
    const std::vector<uint16_t> got = c16[g]->down();
    int64_t bad = 0, untouched = 0;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < ldc; ++n) {
        const int64_t i = m * ldc + n;
        if (n >= N) untouched += got[i] == 0x7fc1;
        else bad += got[i] != bf16_bits(want[i]);
      }
    CHECK(bad == 0) << bad << " grouped bf16 C != RNE(fp32 C), group " << g << " M=" << M << " N=" << N
                    << " K=" << K << " ws=" << wsf;
    CHECK(untouched == M * (ldc - N)) << " grouped c_bf16 written past N, group " << g;
  }
  cuda::GemmGroup bad[4];
  for (int g = 0; g < G; ++g) bad[g] = b16[g];
  bad[G - 1].c_bf16 = nullptr, bad[G - 1].C = fbuf[4 * (G - 1) + 2]->p;  // some groups bf16, some not
  CHECK(cuda::gemm_grouped(false, true, M, N, K, 1.f, G, bad, lda, ldb, 0.f, ldc, o).code() ==
        StatusCode::kInvalidArgument);
  bad[G - 1].c_bf16 = c16[G - 1]->p;  // and C as well
  CHECK(cuda::gemm_grouped(false, true, M, N, K, 1.f, G, bad, lda, ldb, 0.f, ldc, o).code() ==
        StatusCode::kInvalidArgument);
  CHECK(cuda::gemm_grouped(false, true, M, N, K, 1.f, G, b16, lda, ldb, 1.f, ldc, o).code() ==
        StatusCode::kInvalidArgument);  // beta would read C
}

}  // namespace

TEST(cuda_gemm_bf16_grouped_output) {
  if (!etest::gpu_or_skip()) return;
  run_grouped_output_case(3, 70, 50, 40);    // Q, K, V forward: odd sizes, one k-tile chunk
  run_grouped_output_case(3, 130, 136, 64);  // two row tiles, two column tiles
  run_grouped_output_case(2, 33, 40, 1100);  // split-K: the finish writes bf16
}

TEST(cuda_gemm_bf16_grouped) {
  if (!etest::gpu_or_skip()) return;
  run_grouped_case(3, 70, 50, 40);    // Q, K, V forward: odd sizes
  run_grouped_case(2, 33, 40, 1100);  // split-K over the groups
  run_mixed_pair_case(64, 200, 1500, true);  // the swapped pair with both B bf16: one launch
  run_mixed_pair_case(200, 64, 300, true);
}

TEST(cuda_gemm_bf16_operands) {
  if (!etest::gpu_or_skip()) return;
  for (bool tA : {false, true})
    for (bool tB : {false, true}) {
      run_operand_case(tA, tB, 33, 70, 47, 1, false, false);     // odd: ragged tiles, partial chunks
      run_operand_case(tA, tB, 129, 150, 40, 2, false, false);   // two row tiles, two column tiles
      run_operand_case(tA, tB, 7, 1, 9, 3, false, false);        // one column
      run_operand_case(tA, tB, 40, 136, 1100, 3, true, false);   // split-K
      run_operand_case(tA, tB, 65, 33, 1030, 1, true, false);    // split-K, a ragged last split
    }
  run_operand_case(true, false, 64, 200, 1500, 2, true, true);  // the Wo gradient: row sums of fp32 A, bf16 B
  run_operand_case(true, false, 33, 70, 300, 2, true, true);    // one split: row sums through the workspace
}

TEST(cuda_gemm_bf16_output) {
  if (!etest::gpu_or_skip()) return;
  run_output_case(false, true, 33, 70, 47, true, false, false);    // the FFN's intermediate: bias + GELU
  run_output_case(false, true, 130, 257, 64, true, false, false);  // two row tiles, three column tiles
  run_output_case(false, true, 40, 136, 1100, true, true, false);  // split-K: the finish writes bf16
  run_output_case(false, false, 33, 70, 47, false, false, true);   // no GELU, A bf16 too
  run_output_case(true, true, 65, 33, 1030, false, true, true);    // split-K, transposed, A bf16
}

TEST(cuda_gemm_bf16_mixed_pair) {
  if (!etest::gpu_or_skip()) return;
  run_mixed_pair_case(64, 200, 1500);  // the FFN's H < F, split
  run_mixed_pair_case(200, 64, 1500);  // the larger group first
  run_mixed_pair_case(64, 136, 300);   // one split
}

TEST(cuda_gemm_bf16_storage_args) {
  if (!etest::gpu_or_skip()) return;
  Dev<float> f(4096), c(4096);
  Dev<uint16_t> h(8192);
  GemmOptions o;
  o.precision = GemmPrecision::kBf16;
  auto code = [&](const GemmOptions& x, const float* A, int64_t lda, float* C, float beta = 0.f) {
    return cuda::gemm(false, false, 16, 16, 16, 1.f, A, lda, f.p, 16, beta, C, 16, x).code();
  };
  GemmOptions a = o;
  a.a_bf16 = h.p;
  CHECK(code(a, nullptr, 16, c.p) == StatusCode::kOk);
  CHECK(code(a, f.p, 16, c.p) == StatusCode::kInvalidArgument);        // A given twice
  CHECK(code(a, nullptr, 20, c.p) == StatusCode::kInvalidArgument);    // lda not a multiple of 8
  GemmOptions odd = a;
  odd.a_bf16 = h.p + 1;
  CHECK(code(odd, nullptr, 16, c.p) == StatusCode::kInvalidArgument);  // misaligned
  GemmOptions fp = a;
  fp.precision = GemmPrecision::kFp32;
  CHECK(code(fp, nullptr, 16, c.p) == StatusCode::kInvalidArgument);   // fp32 precision
  GemmOptions out = o;
  out.c_bf16 = h.p;
  CHECK(code(out, f.p, 16, nullptr) == StatusCode::kOk);
  CHECK(code(out, f.p, 16, c.p) == StatusCode::kInvalidArgument);        // C and c_bf16
  CHECK(code(out, f.p, 16, nullptr, 1.f) == StatusCode::kInvalidArgument);  // beta reads C
  out.gelu = true;
  CHECK(code(out, f.p, 16, nullptr) == StatusCode::kInvalidArgument);    // GELU without gelu_pre
  GemmOptions rs = a;
  rs.a_row_sum = c.p;
  CHECK(cuda::gemm(true, false, 16, 16, 16, 1.f, nullptr, 16, f.p, 16, 1.f, c.p + 256, 16, rs).code() ==
        StatusCode::kInvalidArgument);  // row sums of a bf16 A
  cuda::GemmSegment seg[2] = {{f.p, f.p}, {f.p, f.p}};
  CHECK(cuda::gemm_segmented(false, false, 16, 16, 16, 1.f, 2, seg, 16, 16, 0.f, c.p, 16, a).code() ==
        StatusCode::kInvalidArgument);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
}

#endif  // ELECTRA_HAVE_CUDA
