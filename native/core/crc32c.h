// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the digest recorded
// for every checkpoint file, so bit rot is caught on load. Slicing-by-8 in
// plain C++ (no intrinsics): portable, and several GB/s, far cheaper than the
// write it guards.
#pragma once
#include <cstddef>
#include <cstdint>

namespace electra {

// Continues a CRC-32C over `n` bytes: crc32c(crc32c(0, a), b) == crc32c(0, a ++ b).
uint32_t crc32c(uint32_t crc, const void* data, size_t n);

}  // namespace electra
