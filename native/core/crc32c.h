// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the digest recorded
// for every checkpoint file, so bit rot is caught on load. The SSE4.2 crc32
// instruction when the CPU has it (several GB/s: far cheaper than the write it
// guards), else slicing-by-8 in plain C++.
#pragma once
#include <cstddef>
#include <cstdint>

namespace electra {

// Continues a CRC-32C over `n` bytes: crc32c(crc32c(0, a), b) == crc32c(0, a ++ b).
uint32_t crc32c(uint32_t crc, const void* data, size_t n);
// The same, always by the portable table path (tests compare the two).
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n);

}  // namespace electra
