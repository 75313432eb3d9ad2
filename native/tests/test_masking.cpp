// Dynamic masking (core/masking.h) in both modes, and the reference's
// initialisation (ElectraModel::init_weights).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/electra_model.h"
#include "core/masking.h"
#include "model_test_util.h"
#include "test_util.h"

using namespace electra;
using etest::make_model;

namespace {

// [CLS] w... [SEP] then padding; row b has length S - (b % 5) * 3; ids 5..V-1.
struct Rows {
  std::vector<int32_t> ids, mask;
};
Rows make_rows(int64_t B, int64_t S, int64_t V) {
  Rows r;
  r.ids.assign(B * S, 0);
  r.mask.assign(B * S, 0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = S - (b % 5) * 3;
    for (int64_t s = 0; s < len; ++s) {
      const int64_t i = b * S + s;
      r.mask[i] = 1;
      r.ids[i] = s == 0 ? 2 : s == len - 1 ? 3 : static_cast<int32_t>(5 + (b * 131 + s * 17 + s * s) % (V - 5));
    }
  }
  return r;
}
const SpecialIds kIds{0, 2, 3, 4};

// Every chosen position is a candidate, sorted and distinct; chosen positions
// hold [MASK] or their own token (about 85% [MASK]); the rest are untouched.
void check_common(const Rows& d, const std::vector<int32_t>& pos, const std::vector<int32_t>& gen, int64_t N) {
  int64_t masked_tok = 0;
  for (size_t i = 0; i < pos.size(); ++i) {
    const int32_t q = pos[i];
    if (i > 0) CHECK(pos[i] > pos[i - 1]) << "sorted and unique";
    CHECK(d.mask[q] == 1 && d.ids[q] > 4) << "position " << q << " is not a candidate";
    if (gen[q] == 4) masked_tok++;
    else CHECK(gen[q] == d.ids[q]) << "an unmasked chosen token must stay as it is (no random replacement)";
  }
  for (int64_t i = 0; i < N; ++i)
    if (!std::binary_search(pos.begin(), pos.end(), static_cast<int32_t>(i))) CHECK(gen[i] == d.ids[i]);
  const double frac = double(masked_tok) / pos.size();
  CHECK(frac > 0.8 && frac < 0.9) << "fraction replaced by [MASK] " << frac << " (expected ~0.85)";
}

}  // namespace

// The count formula against the reference's tf.round(float32(n) * p), clipped
// to [1, max_pred]: round half to even (1.5 -> 2, 4.5 -> 4, 10.5 -> 10) in float32.
TEST(masking_reference_count_formula) {
  struct Case { int64_t real; float p; int64_t max_pred, want; };
  for (const Case& c : {Case{128, 0.15f, 19, 19}, Case{10, 0.15f, 19, 2}, Case{30, 0.15f, 19, 4}, Case{70, 0.15f, 19, 10},
                        Case{50, 0.15f, 19, 8}, Case{3, 0.15f, 19, 1}, Case{0, 0.15f, 19, 1}, Case{512, 0.15f, 77, 77},
                        Case{512, 0.15f, 20, 20}, Case{128, 0.25f, 32, 32}, Case{10, 0.25f, 32, 2}, Case{6, 0.25f, 32, 2}})
    CHECK(reference_mask_count(c.real, c.p, c.max_pred) == c.want)
        << c.real << " x " << c.p << ": got " << reference_mask_count(c.real, c.p, c.max_pred) << " want " << c.want;
}

// Reference mode: round(p x real tokens) draws WITH replacement among the
// candidates, duplicates collapsed. Per row, the number of distinct positions
// is at most the draw count; on average it is the expectation of distinct
// values among n uniform draws from C: C (1 - (1 - 1/C)^n) (17.7 for a full
// 128-token row at p = 0.15), and every candidate is equally likely.
// Mutations caught: counting candidates instead of real tokens (19 -> 19 of
// 126: the mean moves by ~0.1 per row... caught by the per-row bound on short
// rows), drawing without replacement (distinct == draws in every row),
// excluding [CLS]/[SEP] from `real`, a biased candidate pick.
TEST(masking_reference_counts_and_distinct_positions) {
  const int64_t B = 400, S = 128, V = 60;
  const float p = 0.15f;
  Rows d = make_rows(B, S, V);
  TrainConfig t;
  t.seq_len = S;
  t.mask_prob = p;
  const int64_t max_pred = max_predictions(t);
  CHECK(max_pred == 19);
  std::vector<int32_t> pos, gen(B * S);
  dynamic_mask(MaskingMode::kReference, &pos, gen.data(), d.ids.data(), d.mask.data(), B, S, p, max_pred, kIds, 11, 0);
  check_common(d, pos, gen, B * S);
  std::vector<int64_t> per_row(B, 0), hits(S, 0);
  for (int32_t q : pos) {
    per_row[q / S]++;
    if (q / S % 5 == 0) hits[q % S]++;
  }
  double got = 0, want = 0;
  int64_t rows_with_dups = 0;
  for (int64_t b = 0; b < B; ++b) {
    int64_t real = 0, cand = 0;
    for (int64_t s = 0; s < S; ++s) {
      real += d.mask[b * S + s];
      cand += d.mask[b * S + s] && d.ids[b * S + s] > 4;
    }
    const int64_t draws = std::max<int64_t>(1, std::min<int64_t>(max_pred, std::lround(std::nearbyint(float(real) * p))));
    CHECK(per_row[b] >= 1 && per_row[b] <= draws) << "row " << b << ": " << per_row[b] << " positions from " << draws << " draws";
    rows_with_dups += per_row[b] < draws;
    got += double(per_row[b]);
    want += cand * (1.0 - std::pow(1.0 - 1.0 / cand, double(draws)));
  }
  // Sd of the distinct count per row is ~0.9, so the mean over 400 rows is within ~0.05.
  CHECK(std::fabs(got / B - want / B) < 0.15) << "mean distinct positions " << got / B << " want " << want / B;
  CHECK(rows_with_dups > B / 2) << "drawn with replacement: most rows have a duplicate draw, got " << rows_with_dups;
  // Full rows (b % 5 == 0): 126 candidates, 80 rows x ~17.7 = ~1420 hits, ~11.3 per position.
  int64_t lo = 1 << 30, hi = 0;
  for (int64_t s = 1; s < S - 1; ++s) lo = std::min(lo, hits[s]), hi = std::max(hi, hits[s]);
  CHECK(hits[0] == 0 && hits[S - 1] == 0 && lo >= 1 && hi <= 30) << "candidate hits range " << lo << ".." << hi;
}

// Exact-count mode: exactly round(p x candidates) distinct positions, clipped.
TEST(masking_exact_count_rules) {
  const int64_t B = 64, S = 40, V = 50;
  Rows d = make_rows(B, S, V);
  const float p = 0.15f;
  const int64_t max_pred = static_cast<int64_t>((p + 0.005f) * S);
  std::vector<int32_t> pos, gen(B * S);
  dynamic_mask(MaskingMode::kExactCount, &pos, gen.data(), d.ids.data(), d.mask.data(), B, S, p, max_pred, kIds, 11, 0);
  check_common(d, pos, gen, B * S);
  std::vector<int64_t> per_seq(B, 0);
  for (int32_t q : pos) per_seq[q / S]++;
  for (int64_t b = 0; b < B; ++b) {
    int64_t cand = 0;
    for (int64_t s = 0; s < S; ++s) cand += d.mask[b * S + s] && d.ids[b * S + s] > 4;
    const int64_t want = std::max<int64_t>(1, std::min<int64_t>(max_pred, std::lround(cand * p)));
    CHECK(per_seq[b] == want) << "seq " << b << " got " << per_seq[b] << " want " << want;
  }
}

// The step uses the TrainConfig's mode: the two modes give different masks.
TEST(masking_mode_reaches_the_step) {
  ModelConfig c;
  c.vocab_size = 40; c.embedding_size = 8; c.max_position = 32;
  c.disc = {8, 1, 1, 16}; c.gen = {8, 1, 1, 16};
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  TrainConfig t;
  t.batch = 4; t.seq_len = 32; t.lr = 1e-3f; t.warmup_steps = 0; t.total_steps = 10;
  Rows d = make_rows(t.batch, t.seq_len, c.vocab_size);
  Batch b;
  b.input_ids = d.ids.data(); b.attention_mask = d.mask.data(); b.rows = t.batch; b.seq_len = t.seq_len;
  auto m = make_model(c, 1);
  StepMetrics ref, exact;
  CHECK(m->evaluate(t, b, 0, &ref).ok());
  t.masking = MaskingMode::kExactCount;
  CHECK(m->evaluate(t, b, 0, &exact).ok());
  int64_t want_exact = 0;
  for (int64_t r = 0; r < t.batch; ++r) {
    int64_t cand = 0;
    for (int64_t s = 0; s < t.seq_len; ++s) cand += d.mask[r * t.seq_len + s] && d.ids[r * t.seq_len + s] > 4;
    want_exact += std::max<int64_t>(1, std::min<int64_t>(max_predictions(t), std::lround(cand * t.mask_prob)));
  }
  CHECK(exact.masked == want_exact) << exact.masked << " vs " << want_exact;
  CHECK(ref.masked != exact.masked || ref.loss != exact.loss);
}

// Weights: truncated normal(0, 0.02) cut at 2 stddev (std 0.02 x 0.8796),
// Glorot-uniform for embeddings_project and the discriminator's dense(1)
// (limit sqrt(6 / (fan_in + fan_out)), std limit / sqrt(3)); biases 0, LayerNorm 1.
TEST(init_truncated_normal_and_glorot) {
  ModelConfig c;
  c.vocab_size = 300; c.embedding_size = 32; c.max_position = 64;
  c.disc = {64, 2, 2, 128}; c.gen = {48, 2, 1, 96};
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  auto m = make_model(c, 9);
  const float* P = m->buffers().params;
  double s2 = 0;
  int64_t n = 0;
  bool seen_glorot = false;
  for (const auto& s : m->table().specs()) {
    const float* p = P + s.offset;
    const bool bias = s.name.size() > 4 && s.name.compare(s.name.size() - 4, 4, "bias") == 0;
    if (s.name.find("LayerNorm") != std::string::npos) {
      for (int64_t i = 0; i < s.numel; ++i) CHECK(p[i] == (bias ? 0.0f : 1.0f)) << s.name;
    } else if (bias) {
      for (int64_t i = 0; i < s.numel; ++i) CHECK(p[i] == 0.0f) << s.name;
    } else if (s.name.find("embeddings_project.weight") != std::string::npos ||
               s.name == "discriminator_predictions.dense_prediction.weight") {
      seen_glorot = true;
      const double limit = std::sqrt(6.0 / double(s.shape[0] + s.shape[1]));
      double v = 0, mx = 0;
      for (int64_t i = 0; i < s.numel; ++i) v += double(p[i]) * p[i], mx = std::max(mx, std::fabs(double(p[i])));
      CHECK(mx <= limit && mx > 0.8 * limit) << s.name << " max " << mx << " limit " << limit;
      if (s.numel > 1000) CHECK(std::fabs(std::sqrt(v / s.numel) - limit / std::sqrt(3.0)) < 0.05 * limit) << s.name;
    } else {
      for (int64_t i = 0; i < s.numel; ++i) {
        CHECK(std::fabs(p[i]) <= 0.04f) << s.name << "[" << i << "] = " << p[i] << " beyond 2 stddev";
        s2 += double(p[i]) * p[i];
        ++n;
      }
    }
  }
  CHECK(seen_glorot);
  const double sd = std::sqrt(s2 / n);
  CHECK(std::fabs(sd - 0.02 * 0.8796) < 0.0003) << "truncated-normal std " << sd << " want " << 0.02 * 0.8796;
  const float pad0 = P[m->table().find("electra.embeddings.word_embeddings.weight")->offset];
  CHECK(pad0 == 0.0f) << "the [PAD] row stays 0";
}
