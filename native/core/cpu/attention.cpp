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
// multiplied, as dropout.cpp does). The backward recomputes the mask.
//
// Threading: one task per (batch, head) pair. Every output row and every
// gradient row slice [b, :, h*hd:(h+1)*hd] belongs to exactly one pair, so
// there are no write conflicts and results do not depend on the thread count.
// Scratch: the backward uses kScratch(S, hd) floats per task, nothing else.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../philox.h"
#include "../thread_pool.h"
#include "ops.h"

namespace electra {
namespace cpu {

namespace {

// Dot product over one head's columns. Four independent partial sums break
// the dependency chain so the loop can keep several lanes busy.
inline float dot(const float* a, const float* b, int64_t n) {
  float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

// y[0,n) += a * x[0,n)   (vectorisable)
inline void axpy(float* __restrict y, float a, const float* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Per-element dropout factor on probs: 0 (dropped) or 1/(1-p) (kept); 1 when p == 0.
struct DropMask {
  float p, scale;
  uint64_t seed, offset;
  DropMask(float p_, uint64_t seed_, uint64_t offset_)
      : p(p_), scale(p_ > 0.f ? 1.0f / (1.0f - p_) : 1.0f), seed(seed_), offset(offset_) {}
  float factor(uint64_t idx) const {
    if (p == 0.f) return 1.0f;
    return philox_uniform(seed, offset, idx) >= p ? scale : 0.0f;
  }
};

inline bool key_real(const int32_t* mask, int64_t b, int64_t S, int64_t j) {
  return mask == nullptr || mask[b * S + j] != 0;
}

// Floats of backward scratch per task: one row of dP plus one dq accumulator.
inline int64_t scratch_floats(int64_t S, int64_t hd) { return S + hd; }

}  // namespace

void attention_forward(float* out, float* probs, const float* q, const float* k,
                       const float* v, int64_t ld, const int32_t* mask, int64_t B, int64_t S,
                       int64_t NH, int64_t hd, float p, uint64_t seed, uint64_t offset) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t ldo = NH * hd;
  const DropMask drop(p, seed, offset);

  parallel_for(B * NH, 1, [&](int64_t bh0, int64_t bh1) {
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t b = bh / NH, h = bh % NH;
      const float* qb = q + b * S * ld + h * hd;
      const float* kb = k + b * S * ld + h * hd;
      const float* vb = v + b * S * ld + h * hd;
      for (int64_t i = 0; i < S; ++i) {
        float* prow = probs + (bh * S + i) * S;
        const float* qi = qb + i * ld;

        // Scores of the real keys, and their max.
        float mx = -std::numeric_limits<float>::infinity();
        bool any = false;
        for (int64_t j = 0; j < S; ++j) {
          if (!key_real(mask, b, S, j)) {
            prow[j] = 0.f;
            continue;
          }
          const float s = dot(qi, kb + j * ld, hd) * scale;
          prow[j] = s;
          mx = std::max(mx, s);
          any = true;
        }

        // Softmax over the real keys (padded keys stay exactly 0).
        if (any) {
          double sum = 0.0;
          for (int64_t j = 0; j < S; ++j) {
            if (!key_real(mask, b, S, j)) continue;
            const float e = std::exp(prow[j] - mx);
            prow[j] = e;
            sum += e;
          }
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t j = 0; j < S; ++j) prow[j] *= inv;
        }

        // out row = sum_j dropout(P)_ij v_j
        float* o = out + (b * S + i) * ldo + h * hd;
        std::fill(o, o + hd, 0.f);
        const uint64_t row_idx = static_cast<uint64_t>((bh * S + i) * S);
        for (int64_t j = 0; j < S; ++j) {
          if (prow[j] == 0.f) continue;
          const float w = prow[j] * drop.factor(row_idx + j);
          if (w != 0.f) axpy(o, w, vb + j * ld, hd);
        }
      }
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                        const float* q, const float* k, const float* v, int64_t ld,
                        const int32_t* mask, int64_t B, int64_t S, int64_t NH, int64_t hd,
                        float p, uint64_t seed, uint64_t offset) {
  // Padded keys need no mask here: their saved probabilities are exactly 0
  // and every term of the backward is skipped for them.
  (void)mask;
  if (!dq && !dk && !dv) return;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t ldo = NH * hd;
  const DropMask drop(p, seed, offset);
  const bool need_ds = dq || dk;

  parallel_for(B * NH, 1, [&](int64_t bh0, int64_t bh1) {
    std::vector<float> scratch(scratch_floats(S, hd));
    float* dp = scratch.data();      // [S] gradient wrt P (through dropout)
    float* dqi = scratch.data() + S;  // [hd] this row's dq, summed before adding

    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t b = bh / NH, h = bh % NH;
      const int64_t col = b * S * ld + h * hd;
      const float* qb = q + col;
      const float* kb = k + col;
      const float* vb = v + col;
      for (int64_t i = 0; i < S; ++i) {
        const float* prow = probs + (bh * S + i) * S;
        const float* doi = dout + (b * S + i) * ldo + h * hd;
        const uint64_t row_idx = static_cast<uint64_t>((bh * S + i) * S);

        // dv_j += P_drop_ij dout_i;  dP_ij = (dout_i . v_j) * dropfactor_ij.
        // Entries with P_ij == 0 (padded or underflowed keys) contribute
        // nothing to dv, dq or dk, so they are skipped.
        double rowsum = 0.0;  // sum_j dP_ij P_ij
        for (int64_t j = 0; j < S; ++j) {
          dp[j] = 0.f;
          if (prow[j] == 0.f) continue;
          const float f = drop.factor(row_idx + j);
          if (f == 0.f) continue;
          if (dv) axpy(dv + col + j * ld, prow[j] * f, doi, hd);
          if (need_ds) {
            dp[j] = dot(doi, vb + j * ld, hd) * f;
            rowsum += static_cast<double>(dp[j]) * prow[j];
          }
        }
        if (!need_ds) continue;

        // dS_ij = P_ij (dP_ij - rowsum); dq_i += dS k / sqrt(hd); dk_j += dS_ij q_i / sqrt(hd).
        const float rs = static_cast<float>(rowsum);
        const float* qi = qb + i * ld;
        std::fill(dqi, dqi + hd, 0.f);
        for (int64_t j = 0; j < S; ++j) {
          if (prow[j] == 0.f) continue;
          const float ds = prow[j] * (dp[j] - rs) * scale;
          if (ds == 0.f) continue;
          if (dq) axpy(dqi, ds, kb + j * ld, hd);
          if (dk) axpy(dk + col + j * ld, ds, qi, hd);
        }
        if (dq) {
          float* dqrow = dq + col + i * ld;
          for (int64_t d = 0; d < hd; ++d) dqrow[d] += dqi[d];
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace electra
