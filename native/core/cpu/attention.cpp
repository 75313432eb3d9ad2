// Multi-head self-attention core: probs = softmax(q k^T / sqrt(hd)) over the
// unmasked keys, out = dropout(probs) @ v. The q/k/v/output projections are
// linears and live elsewhere; this file only sees the projected rows.
//
// Layout: q, k, v (and dq, dk, dv) are [B,S,*] with row stride ld; head h
// uses columns [h*hd, (h+1)*hd). out/dout are [B,S,NH*hd]. probs is
// [B,NH,S,S] and holds the softmax BEFORE dropout (the backward needs it).
//
// Masking: a padded key (mask == 0) gets probability exactly 0, as HF's
// additive finfo.min mask gives. A query row with no real key at all (a
// fully padded sequence) gets an all-zero probs row and a zero output row
// (HF would spread it uniformly; those rows are padding and never used).
//
// Dropout: keep(idx) = philox_uniform(seed, offset, idx) >= p with idx the
// flat index into probs, kept values scaled by 1/(1-p) (computed once and
// multiplied, as dropout.cpp does). The backward recomputes the mask. The
// words are drawn a block (4 elements) at a time with philox_fill_u32.
//
// Per (batch, head) pair the work is four GEMMs on strided views (sgemm,
// which runs serially inside a parallel_for task):
//   forward : S  = scale * Q K^T            (into the probs block, then the
//                                             masked softmax in place)
//             Pd = P * dropfactor           (scratch; P itself when p == 0)
//             O  = Pd V
//   backward: dV += Pd^T dO
//             dP = dO V^T                   (scratch, [S,S])
//             dS = P * (dP * dropfactor - rowsum),  rowsum_i = sum_j dP_ij Pd_ij
//             dQ += scale * dS K;  dK += scale * dS^T Q
// Entries with P == 0 (padded keys, fully padded queries) give exactly zero
// terms, so the results match the masked semantics above.
//
// Threading: one task per (batch, head) pair. Every output row and every
// gradient row slice [b, :, h*hd:(h+1)*hd] belongs to exactly one pair, so
// there are no write conflicts and results do not depend on the thread count.
// Scratch: 2 * S * S floats per thread (thread-local, reused across calls).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../philox.h"
#include "../thread_pool.h"
#include "ops.h"
#include "simd_ops.h"

namespace electra {
namespace cpu {

namespace {

// Thread-local scratch reused across calls (grows only).
float* scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// pd[t] = P[t] * factor(first + t) for t in [0, n): factor 0 (dropped) or
// 1/(1-p) (kept), keep = philox_to_uniform(word) >= p as philox_uniform.
void apply_dropout(float* pd, const float* P, int64_t n, float p, uint64_t seed,
                   uint64_t offset, uint64_t first) {
  const float scale = 1.0f / (1.0f - p);
  constexpr int64_t kChunk = 1024;
  uint32_t u[kChunk];
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t nc = std::min(kChunk, n - c0);
    simd::philox_fill_u32_fast(seed, offset, first + static_cast<uint64_t>(c0), nc, u);
    const float* __restrict a = P + c0;
    float* __restrict d = pd + c0;
    for (int64_t j = 0; j < nc; ++j) d[j] = a[j] * (philox_to_uniform(u[j]) >= p ? scale : 0.0f);
  }
}

// In-place masked softmax of the S x S score block (row stride S). real[j]
// says whether key j is real; nreal = their count.
void masked_softmax(float* Pm, int64_t S, const unsigned char* real, int64_t nreal) {
  if (nreal == 0) {
    std::fill(Pm, Pm + S * S, 0.f);
    return;
  }
  const bool all = nreal == S;
  const SimdOps* ops = simd_ops();  // vector exp for rows without padded keys
  for (int64_t i = 0; i < S; ++i) {
    float* row = Pm + i * S;
    float mx = -std::numeric_limits<float>::infinity();
    if (all) {
      for (int64_t j = 0; j < S; ++j) mx = std::max(mx, row[j]);
    } else {
      for (int64_t j = 0; j < S; ++j)
        if (real[j]) mx = std::max(mx, row[j]);
    }
    double sum = 0.0;
    if (all && ops) {
      sum = ops->exp_shift_sum(row, row, S, mx);
    } else {
      for (int64_t j = 0; j < S; ++j) {
        const float e = (all || real[j]) ? std::exp(row[j] - mx) : 0.f;
        row[j] = e;
        sum += e;
      }
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < S; ++j) row[j] *= inv;
  }
}

}  // namespace

void attention_forward(float* out, float* probs, const float* q, const float* k,
                       const float* v, int64_t ld, const int32_t* mask, int64_t B, int64_t S,
                       int64_t NH, int64_t hd, float p, uint64_t seed, uint64_t offset) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t ldo = NH * hd, SS = S * S;

  parallel_for(B * NH, 1, [&](int64_t bh0, int64_t bh1) {
    std::vector<unsigned char> real(static_cast<size_t>(S));
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t b = bh / NH, h = bh % NH;
      const float* qb = q + b * S * ld + h * hd;
      const float* kb = k + b * S * ld + h * hd;
      const float* vb = v + b * S * ld + h * hd;
      float* Pm = probs + bh * SS;
      int64_t nreal = 0;
      for (int64_t j = 0; j < S; ++j) {
        real[j] = mask == nullptr || mask[b * S + j] != 0;
        nreal += real[j];
      }
      float* ob = out + b * S * ldo + h * hd;
      if (nreal == 0) {  // fully padded sequence: zero probs and output
        std::fill(Pm, Pm + SS, 0.f);
        for (int64_t i = 0; i < S; ++i) std::fill(ob + i * ldo, ob + i * ldo + hd, 0.f);
        continue;
      }
      sgemm(false, true, S, S, hd, scale, qb, ld, kb, ld, 0.f, Pm, S);
      masked_softmax(Pm, S, real.data(), nreal);
      const float* A = Pm;
      if (p > 0.f) {
        float* pd = scratch(SS);
        apply_dropout(pd, Pm, SS, p, seed, offset, static_cast<uint64_t>(bh * SS));
        A = pd;
      }
      sgemm(false, false, S, hd, S, 1.f, A, S, vb, ld, 0.f, ob, ldo);
    }
  });
}

void attention_backward_write(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                        const float* q, const float* k, const float* v, int64_t ld,
                        const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                        float p, uint64_t seed, uint64_t offset) {
  // Padded keys need no mask here: their saved probabilities are exactly 0,
  // so every term of the backward vanishes for them.
  (void)mask;
  if (!dq && !dk && !dv) return;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t ldo = NH * hd, SS = S * S;
  const bool need_ds = dq || dk;

  parallel_for(B * NH, 1, [&](int64_t bh0, int64_t bh1) {
    float* buf = scratch(2 * SS);
    float* pd = buf;        // [S,S] P * dropfactor
    float* ds = buf + SS;   // [S,S] dP, then dS
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t b = bh / NH, h = bh % NH;
      const int64_t col = b * S * ld + h * hd;
      const float* Pm = probs + bh * SS;
      const float* dob = dout + b * S * ldo + h * hd;
      const float* A = Pm;
      if (p > 0.f) {
        apply_dropout(pd, Pm, SS, p, seed, offset, static_cast<uint64_t>(bh * SS));
        A = pd;
      }
      if (dv) sgemm(true, false, S, hd, S, 1.f, A, S, dob, ldo, 0.f, dv + col, ld);
      if (!need_ds) continue;
      sgemm(false, true, S, S, hd, 1.f, dob, ldo, v + col, ld, 0.f, ds, S);
      for (int64_t i = 0; i < S; ++i) {
        float* __restrict r = ds + i * S;
        const float* __restrict a = A + i * S;
        const float* __restrict pr = Pm + i * S;
        double rowsum = 0.0;
        for (int64_t j = 0; j < S; ++j) {
          r[j] *= a[j];  // dP_ij * f_ij * P_ij
          rowsum += r[j];
        }
        const float rs = static_cast<float>(rowsum);
        for (int64_t j = 0; j < S; ++j) r[j] -= pr[j] * rs;
      }
      if (dq) sgemm(false, false, S, hd, S, scale, ds, S, k + col, ld, 0.f, dq + col, ld);
      if (dk) sgemm(true, false, S, hd, S, scale, ds, S, q + col, ld, 0.f, dk + col, ld);
    }
  });
}

}  // namespace cpu
}  // namespace electra
