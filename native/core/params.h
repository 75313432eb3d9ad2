// ParamTable: the spec table of named tensors laid out in ONE contiguous
// parameter buffer, with a gradient buffer (and optimizer moments) of the
// same layout, as in llm.c. Ops see raw float pointers; names and shapes live
// here so checkpoints, HF import/export and the decay mask share one truth.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "status.h"

namespace electra {

struct TensorSpec {
  std::string name;            // HF transformers name, e.g. "electra.embeddings.word_embeddings.weight"
  std::vector<int64_t> shape;  // row-major
  int64_t offset = 0;          // in floats, into the parameter buffer
  int64_t numel = 0;
  bool decay = true;           // AdamW weight decay applies (false for LayerNorm and biases)
  // Multiplies the learning rate of this tensor: layer-wise decay when
  // fine-tuning (layer_lr_scales, finetune_model.h); 1 in pre-training.
  float lr_scale = 1.0f;
};

class ParamTable {
 public:
  // Appends a tensor; fails on a duplicate name or a non-positive dimension.
  Status add(const std::string& name, std::vector<int64_t> shape, bool decay);
  const std::vector<TensorSpec>& specs() const { return specs_; }
  int64_t total() const { return total_; }
  // nullptr when absent.
  const TensorSpec* find(const std::string& name) const;
  // Sets one tensor's learning-rate multiplier; kInvalidArgument when absent or not finite and positive.
  Status set_lr_scale(const std::string& name, float scale);

 private:
  std::vector<TensorSpec> specs_;
  int64_t total_ = 0;
};

// Owns the buffers for one ParamTable: params, grads, AdamW m and v, all of
// total() floats (64-byte aligned). Allocation failure is a Status, not a throw.
class ParamBuffers {
 public:
  ParamBuffers() = default;
  ParamBuffers(const ParamBuffers&) = delete;
  ParamBuffers& operator=(const ParamBuffers&) = delete;
  ~ParamBuffers();
  Status allocate(int64_t total);
  float* params = nullptr;
  float* grads = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  int64_t total = 0;

 private:
  void release();
};

}  // namespace electra
