// Shared by the whole-model tests (test_model, test_resume, test_cuda_step, test_cuda_sync, test_cuda_graph,
// test_cuda_bf16_acts).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

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

// Sets the environment variable `name` to `value` for this object's lifetime,
// then restores it as it was (unset if it was unset). The CUDA backend reads
// its switches (ELECTRA_CUDA_GRAPHS, ELECTRA_CUDA_BF16_ACTS) when it is
// created, so a test sets one around a creation only.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) setenv(name_.c_str(), old_.c_str(), 1);
    else unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

// make_model with the environment variable `name` set to `value` while the
// model (and so its backend) is created.
inline std::unique_ptr<electra::ElectraModel> make_model_with_env(const char* name, const char* value,
                                                                  const electra::ModelConfig& c, uint64_t seed,
                                                                  const electra::ExecOptions& exec = {}) {
  ScopedEnv env(name, value);
  return make_model(c, seed, exec);
}

// The first of n floats where a and b differ in their bits, or -1.
inline int64_t first_bit_difference(const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(a + i, b + i, sizeof(float)) != 0) return i;
  return -1;
}

// CHECKs that two models hold the same bits in their parameters and in both
// AdamW moments (each model is brought to the host first); a failure names
// the buffer and its first differing element.
inline void check_same_state(electra::ElectraModel* a, electra::ElectraModel* b) {
  CHECK(a->sync_to_host().ok());
  CHECK(b->sync_to_host().ok());
  const electra::ParamBuffers &x = a->buffers(), &y = b->buffers();
  CHECK(x.total == y.total) << "parameter counts differ: " << x.total << " vs " << y.total;
  if (x.total != y.total) return;
  const struct {
    const char* what;
    const float *a, *b;
  } bufs[] = {{"parameters", x.params, y.params}, {"AdamW first moments", x.m, y.m}, {"AdamW second moments", x.v, y.v}};
  for (const auto& s : bufs) {
    const int64_t i = first_bit_difference(s.a, s.b, x.total);
    if (i < 0) continue;
    CHECK(i < 0) << s.what << " differ, first at element " << i << " of " << x.total << ": " << s.a[i] << " vs "
                 << s.b[i];
  }
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
