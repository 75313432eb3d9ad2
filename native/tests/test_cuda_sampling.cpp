// cuda::gumbel_sample and cuda::make_disc_inputs (native/cuda/sampling.cu)
// against the CPU: sampled ids EQUAL to cpu::gumbel_sample on random logits
// (small V, odd V, V = 30522), temperatures != 1, 64-bit seeds/offsets;
// exact ties (huge and +inf logits), NaN / -inf rows (index 0) and partial-NaN
// rows with hand-checked answers; make_disc_inputs exactly equal to a CPU
// reference (the copy/scatter/compare of ElectraModel's step). Device buffers
// have sentinel guards. Without a GPU each test prints the SKIP line.
#if defined(ELECTRA_HAVE_CUDA)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "core/cpu/sampling.h"
#include "core/philox.h"
#include "cuda/ops_cuda.h"
#include "cuda_test_util.h"
#include "test_util.h"

using cudatest::check_ok;
using cudatest::DevGuarded;
using cudatest::have_gpu;

namespace {

std::vector<int32_t> gpu_gumbel(const std::vector<float>& logits, int64_t R, int64_t V, float T,
                                uint64_t seed, uint64_t offset) {
  DevGuarded<float> d_logits(logits);
  DevGuarded<int32_t> d_s(std::vector<int32_t>(size_t(R), -1));
  check_ok(electra::cuda::gumbel_sample(d_s.data(), d_logits.data(), R, V, T, seed, offset),
           "gumbel_sample");
  return d_s.get("gumbel sampled");
}

std::vector<int32_t> cpu_gumbel(const std::vector<float>& logits, int64_t R, int64_t V, float T,
                                uint64_t seed, uint64_t offset) {
  std::vector<int32_t> s(size_t(R), -1);
  electra::cpu::gumbel_sample(s.data(), logits.data(), R, V, T, seed, offset);
  return s;
}

// The CPU rule written out plainly, for the hand-made rows below.
int32_t reference_row(const float* x, int64_t V, float T, uint64_t seed, uint64_t offset,
                      uint64_t base) {
  const float inv_t = 1.0f / T;
  float best = -INFINITY;
  int32_t arg = 0;
  for (int64_t v = 0; v < V; ++v) {
    const float u = electra::philox_uniform_open(seed, offset, base + uint64_t(v));
    const float g = x[v] * inv_t - std::log(-std::log(u));
    if (g > best) {
      best = g;
      arg = int32_t(v);
    }
  }
  return arg;
}

}  // namespace

TEST(cuda_gumbel_sample) {
  if (!have_gpu()) return;
  struct Case {
    int64_t R, V;
    float T, lo, hi;
    uint64_t seed, offset;
  };
  const std::vector<Case> cs = {
      {1, 1, 1.0f, -1.f, 1.f, 1, 0},
      {7, 2, 1.0f, -1.f, 1.f, 2, 3},
      {33, 7, 1.0f, -3.f, 3.f, 3, 5},
      {5, 33, 0.7f, -3.f, 3.f, 4, 7},
      {9, 1031, 1.0f, -5.f, 5.f, 0xdeadbeefcafef00dull, (1ull << 40) + 9},
      {64, 30522, 1.0f, -8.f, 8.f, 0x5eedull, 11},
      {16, 30522, 2.5f, -8.f, 8.f, 0x5eedull, (3ull << 32) + 1},
      {3, 30522, 1.0f, -0.01f, 0.01f, 99, 12},  // nearly flat: the noise decides
  };
  for (const Case& c : cs) {
    const auto logits = etest::rand_vec(c.R * c.V, c.lo, c.hi);
    const auto g = gpu_gumbel(logits, c.R, c.V, c.T, c.seed, c.offset);
    const auto s = cpu_gumbel(logits, c.R, c.V, c.T, c.seed, c.offset);
    int64_t diff = 0, first = -1;
    for (int64_t r = 0; r < c.R; ++r)
      if (g[size_t(r)] != s[size_t(r)]) {
        if (first < 0) first = r;
        ++diff;
      }
    CHECK(diff == 0) << "gumbel R=" << c.R << " V=" << c.V << " T=" << c.T << ": " << diff
                     << " rows differ (first: row " << first << ", gpu "
                     << (first >= 0 ? g[size_t(first)] : 0) << " cpu "
                     << (first >= 0 ? s[size_t(first)] : 0) << ")";
    // Same call again: identical.
    CHECK(gpu_gumbel(logits, c.R, c.V, c.T, c.seed, c.offset) == g) << "gumbel not deterministic";
  }
}

TEST(cuda_gumbel_ties_nan) {
  if (!have_gpu()) return;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float big = 1e30f;  // x - log(-log(u)) rounds back to x: exact ties
  for (int64_t V : {int64_t(37), int64_t(1031)}) {
    std::vector<std::vector<float>> rows;
    std::vector<int32_t> expect;  // hand-checked answers
    auto random_row = [&]() { return etest::rand_vec(V, -3.f, 3.f); };
    {  // all NaN -> 0
      rows.push_back(std::vector<float>(size_t(V), nan));
      expect.push_back(0);
    }
    {  // all -inf -> 0
      rows.push_back(std::vector<float>(size_t(V), -inf));
      expect.push_back(0);
    }
    {  // NaN and -inf only -> 0
      std::vector<float> r(size_t(V), -inf);
      for (int64_t v = 0; v < V; v += 2) r[size_t(v)] = nan;
      rows.push_back(r);
      expect.push_back(0);
    }
    {  // NaN everywhere but one finite entry
      std::vector<float> r(size_t(V), nan);
      r[5] = -2.f;
      rows.push_back(r);
      expect.push_back(5);
    }
    {  // exact ties among huge logits: the first of them
      auto r = random_row();
      r[size_t(V - 1)] = big;
      r[10] = big;
      r[3] = big;
      rows.push_back(r);
      expect.push_back(3);
    }
    {  // +inf ties: the first
      auto r = random_row();
      r[12] = inf;
      r[7] = inf;
      r[size_t(V - 2)] = inf;
      rows.push_back(r);
      expect.push_back(7);
    }
    {  // a NaN at the front does not hide the later maximum
      auto r = random_row();
      r[0] = nan;
      r[1] = nan;
      r[size_t(V - 1)] = big;
      rows.push_back(r);
      expect.push_back(int32_t(V - 1));
    }
    {  // every entry tied
      rows.push_back(std::vector<float>(size_t(V), big));
      expect.push_back(0);
    }
    {  // NaN mixed into a normal row: argmax of the rest (checked by the reference below)
      auto r = random_row();
      for (int64_t v = 1; v < V; v += 3) r[size_t(v)] = nan;
      rows.push_back(r);
      expect.push_back(-1);
    }
    {  // -inf mixed with a NaN and one finite entry at the end
      std::vector<float> r(size_t(V), -inf);
      r[2] = nan;
      r[size_t(V - 1)] = 0.5f;
      rows.push_back(r);
      expect.push_back(int32_t(V - 1));
    }
    const int64_t R = int64_t(rows.size());
    std::vector<float> logits;
    for (auto& r : rows) logits.insert(logits.end(), r.begin(), r.end());
    const uint64_t seed = 77, offset = 5;
    const float T = 1.0f;
    const auto g = gpu_gumbel(logits, R, V, T, seed, offset);
    const auto s = cpu_gumbel(logits, R, V, T, seed, offset);
    for (int64_t r = 0; r < R; ++r) {
      const int32_t ref = reference_row(logits.data() + r * V, V, T, seed, offset, uint64_t(r * V));
      CHECK(s[size_t(r)] == ref) << "cpu reference disagrees, V=" << V << " row " << r;
      if (expect[size_t(r)] >= 0)
        CHECK(ref == expect[size_t(r)]) << "hand answer, V=" << V << " row " << r << ": " << ref;
      CHECK(g[size_t(r)] == s[size_t(r)]) << "gumbel tie/NaN V=" << V << " row " << r << ": gpu "
                                          << g[size_t(r)] << " cpu " << s[size_t(r)];
    }
  }
}

TEST(cuda_make_disc_inputs) {
  if (!have_gpu()) return;
  for (int64_t N : {int64_t(1), int64_t(7), int64_t(231), int64_t(4099)})
    for (int mode = 0; mode < 4; ++mode) {
      // M = 0, 1, ~N/7 or N unique positions (in random order).
      const int64_t M = mode == 0 ? 0 : mode == 1 ? 1 : mode == 2 ? std::max<int64_t>(1, N / 7) : N;
      std::vector<int32_t> perm(static_cast<size_t>(N));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), etest::rng());
      std::vector<int32_t> positions(perm.begin(), perm.begin() + M);
      std::vector<int32_t> ids(static_cast<size_t>(N)), sampled(static_cast<size_t>(M));
      for (auto& x : ids) x = int32_t(etest::rand_int(0, 9));
      for (auto& x : sampled) x = int32_t(etest::rand_int(0, 9));  // often == the original
      // CPU reference (ElectraModel's step).
      std::vector<int32_t> disc(ids);
      for (int64_t r = 0; r < M; ++r) disc[size_t(positions[size_t(r)])] = sampled[size_t(r)];
      std::vector<float> labels(static_cast<size_t>(N));
      for (int64_t i = 0; i < N; ++i) labels[size_t(i)] = disc[size_t(i)] != ids[size_t(i)] ? 1.f : 0.f;

      DevGuarded<int32_t> d_ids(ids), d_pos(positions), d_s(sampled);
      DevGuarded<int32_t> d_disc(std::vector<int32_t>(size_t(N), -7));
      DevGuarded<float> d_labels(std::vector<float>(size_t(N), std::nanf("")));
      check_ok(electra::cuda::make_disc_inputs(d_disc.data(), d_labels.data(), d_ids.data(),
                                               d_pos.data(), d_s.data(), M, N),
               "make_disc_inputs");
      CHECK(d_disc.get("disc ids") == disc) << "disc_ids N=" << N << " M=" << M;
      const auto gl = d_labels.get("disc labels");
      CHECK(etest::bit_equal(gl.data(), labels.data(), N)) << "labels N=" << N << " M=" << M;
    }
}

#endif  // ELECTRA_HAVE_CUDA
