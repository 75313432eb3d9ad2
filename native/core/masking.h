// Dynamic masking of a micro-batch: which positions the generator predicts and
// what it sees there. It runs on the host for every backend (the chosen rows
// are uploaded), so the CPU and CUDA backends draw identical masks from the
// same Philox stream.
#pragma once
#include <cstdint>
#include <vector>

namespace electra {

struct SpecialIds {
  int32_t pad, cls, sep, mask;
};

// A token the masking may pick, so the generator may replace it: not padding,
// [CLS], [SEP] or [MASK]. The discriminator's detection metrics (accuracy,
// AUC, the candidate loss) count only these, since the others are never
// replaced and a discriminator learns that for free.
inline bool maskable_token(int32_t id, const SpecialIds& sp) {
  return id != sp.pad && id != sp.cls && id != sp.sep && id != sp.mask;
}

enum class MaskingMode {
  // google-research/electra's pretrain_helpers.mask: count = round(p x real
  // tokens) (real includes [CLS] and [SEP]; round half to even, in float32 as
  // tf.round), clipped to [1, max_pred]; `count` positions drawn uniformly
  // WITH replacement among the candidates. A position drawn twice is masked
  // once (the reference instead scatter-averages duplicates; we do not copy
  // that quirk), so rows get slightly fewer than `count` distinct positions:
  // about 17.7 of 19 in a full 128-token row.
  kReference = 0,
  // Exactly count = round(p x candidates), clipped to [1, max_pred] and to the
  // candidates, distinct positions drawn without replacement.
  kExactCount = 1,
};

// The reference's number of draws in a row with `real` non-padding tokens.
int64_t reference_mask_count(int64_t real, float p, int64_t max_pred);

// Candidates: non-padding tokens that are not [CLS], [SEP], [MASK] or [PAD].
// Draws (both modes use offset and offset + 1 of the Philox stream):
//  - kReference: draw j of row b picks candidate floor(philox_u32(seed, offset,
//    b*S + j) * candidates / 2^32);
//  - kExactCount: the `count` candidates with the smallest philox_u32(seed,
//    offset, flat index) keys.
// 85% of the chosen positions become [MASK] in gen_ids (philox_uniform(seed,
// offset + 1, flat) < 0.85), 15% keep their token.
// ids, attn: [B,S] (attn nullptr: all real); gen_ids [B*S] is written;
// positions gets the sorted, distinct flat indices.
void dynamic_mask(MaskingMode mode, std::vector<int32_t>* positions, int32_t* gen_ids, const int32_t* ids,
                  const int32_t* attn, int64_t B, int64_t S, float p, int64_t max_pred, const SpecialIds& sp,
                  uint64_t seed, uint64_t offset);

}  // namespace electra
