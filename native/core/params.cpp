#include "params.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace electra {

Status ParamTable::add(const std::string& name, std::vector<int64_t> shape, bool decay) {
  if (find(name)) return InvalidArgument("duplicate tensor name: " + name);
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0) return InvalidArgument("tensor " + name + " has a non-positive dimension");
    n *= d;
  }
  TensorSpec s;
  s.name = name;
  s.shape = std::move(shape);
  s.offset = total_;
  s.numel = n;
  s.decay = decay;
  // Keep every tensor 16-float (64-byte) aligned so vector loads never straddle.
  total_ += (n + 15) / 16 * 16;
  specs_.push_back(std::move(s));
  return Status::Ok();
}

const TensorSpec* ParamTable::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

Status ParamTable::set_lr_scale(const std::string& name, float scale) {
  if (!(scale > 0.0f) || !std::isfinite(scale))
    return InvalidArgument("learning-rate scale of " + name + " must be finite and positive");
  for (auto& s : specs_)
    if (s.name == name) {
      s.lr_scale = scale;
      return Status::Ok();
    }
  return InvalidArgument("no tensor named " + name);
}

static float* alloc_floats(int64_t n) {
  size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p) std::memset(p, 0, bytes == 0 ? 64 : bytes);
  return static_cast<float*>(p);
}

ParamBuffers::~ParamBuffers() { release(); }

void ParamBuffers::release() {
  std::free(params); std::free(grads); std::free(m); std::free(v);
  params = grads = m = v = nullptr;
  total = 0;
}

Status ParamBuffers::allocate(int64_t n) {
  release();
  if (n < 0) return InvalidArgument("negative parameter count");
  params = alloc_floats(n); grads = alloc_floats(n); m = alloc_floats(n); v = alloc_floats(n);
  if (!params || !grads || !m || !v) {
    release();
    return OutOfMemory("cannot allocate " + std::to_string(n * 16) + " bytes for parameters and optimizer state");
  }
  total = n;
  return Status::Ok();
}

}  // namespace electra
