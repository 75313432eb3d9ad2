// The CPU backend: Backend's ops forwarded to the oracle in ops.h, on host memory.
#pragma once
#include <memory>

#include "../backend.h"

namespace electra {
namespace cpu {

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace cpu
}  // namespace electra
