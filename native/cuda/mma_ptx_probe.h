// One-warp probes of the device primitives in mma_ptx.h, so that a test can
// compare each against a plain reference written from the PTX ISA: on a GPU
// they check our reading of the fragment layouts, under the emulator they
// check its implementation (and that a missing cp.async wait is caught).
// Plain C++, implemented by mma_ptx_probe.cu (ELECTRA_HAVE_CUDA builds only).
// All pointers are device memory; each call launches one 32-thread block on
// the default stream and returns the launch's Status (errors of the kernel
// itself show at the next synchronisation).
#pragma once
#include <cstdint>

#include "core/status.h"

namespace electra {
namespace cuda {

// tile: 16x16 bf16 bit patterns, row-major. The kernel puts it in shared
// memory (rows padded to 24 elements) and runs ldmatrix .x4 (.trans when
// `trans`) with lane l addressing row l%8 of matrix l/8, where matrix i is
// rows 8*(i%2).., columns 8*(i/2).. (the mma A-operand order).
// out[32 * 4]: out[l * 4 + i] = register i of lane l.
Status probe_ldmatrix_x4(const uint16_t* tile, bool trans, uint32_t* out);

// d[16x8] = a[16x16] @ b[16x8] + c[16x8] by one mma.sync m16n8k16 (bf16
// inputs as bit patterns, all row-major), fragments loaded and stored with
// plain loads at the PTX ISA's fragment positions.
Status probe_mma_bf16_16816(const uint16_t* a, const uint16_t* b, const float* c, float* d);

// cp.async: lane l copies the 16-byte chunks g*32 + l of src (g = 0, 1, 2,
// one commit group each, in that order), reading src_bytes[chunk] bytes of
// each, into shared memory; then
//   mode 0: wait_group 0 (all landed), mode 1: wait_group 1 (groups 0 and 1),
//   mode 2: no wait (the bug the emulator must expose);
// then a barrier, out[384] = the shared copy, a barrier, and wait_group 0.
Status probe_cp_async(const float* src, const int* src_bytes, int mode, float* out);

}  // namespace cuda
}  // namespace electra
