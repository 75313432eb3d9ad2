// Shared by the whole-model tests (test_model, test_resume, test_cuda_step).
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

}  // namespace etest
