// Shared by the whole-model tests (test_model, test_resume, test_cuda_step, test_cuda_sync, test_cuda_graph).
#pragma once
#include <cstdint>
#include <memory>

#include "core/electra_model.h"
#include "test_util.h"

namespace etest {

// A model created on `exec` (the CPU by default) and initialised from `seed`;
// nullptr after a failed CHECK when creation fails.
inline std::unique_ptr<electra::ElectraModel> make_model(const electra::ModelConfig& c, uint64_t seed,
                                                         const electra::ExecOptions& exec = {}) {
  std::unique_ptr<electra::ElectraModel> m;
  const electra::Status st = electra::ElectraModel::create(c, &m, exec);
  CHECK(st.ok()) << st.code_name() << ": " << st.message();
  if (m) m->init_weights(seed);
  return m;
}

// The small ELECTRA of the CUDA step-level tests (sync, graphs): vocabulary
// 300, 32 positions, a 2-layer discriminator of width 64 (4 heads) and a
// 1-layer generator of width 32; hidden and attention dropout 0.1 (the
// defaults), so every op's Philox offset matters.
inline electra::ModelConfig tiny_step_config() {
  electra::ModelConfig c;
  c.vocab_size = 300;
  c.embedding_size = 32;
  c.max_position = 32;
  c.type_vocab_size = 2;
  c.disc = {64, 2, 4, 128};
  c.gen = {32, 1, 1, 64};
  c.pad_id = 0; c.unk_id = 1; c.cls_id = 2; c.sep_id = 3; c.mask_id = 4;
  return c;
}

}  // namespace etest
