// CRC-32C: the published check value, RFC 3720's iSCSI vectors, incremental
// use, and agreement of both paths (SSE4.2 when present, slicing-by-8) with a
// bit-at-a-time reference on every length 0..64 (every tail length).
#include <cstdint>
#include <string>
#include <vector>

#include "core/crc32c.h"
#include "test_util.h"

namespace {
uint32_t bitwise(const std::vector<uint8_t>& d) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : d) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}
}  // namespace

TEST(crc32c_known_answers) {
  const std::string check = "123456789";
  CHECK(electra::crc32c(0, check.data(), check.size()) == 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) inc[i] = uint8_t(i), dec[i] = uint8_t(31 - i);
  CHECK(electra::crc32c(0, zeros.data(), 32) == 0x8A9136AAu);  // RFC 3720 B.4
  CHECK(electra::crc32c(0, ones.data(), 32) == 0x62A8AB43u);
  CHECK(electra::crc32c(0, inc.data(), 32) == 0x46DD794Eu);
  CHECK(electra::crc32c(0, dec.data(), 32) == 0x113FDB5Cu);
  CHECK(electra::crc32c(0, nullptr, 0) == 0u);
}

TEST(crc32c_matches_bitwise_reference_and_is_incremental) {
  std::vector<uint8_t> d(64);
  for (size_t i = 0; i < d.size(); ++i) d[i] = uint8_t(i * 167 + 13);
  for (size_t n = 0; n <= d.size(); ++n) {
    std::vector<uint8_t> part(d.begin(), d.begin() + n);
    const uint32_t whole = electra::crc32c(0, part.data(), n);
    CHECK(whole == bitwise(part)) << "length " << n;
    CHECK(electra::crc32c_portable(0, part.data(), n) == whole) << "portable path, length " << n;
    for (size_t cut = 0; cut <= n; cut += 5)
      CHECK(electra::crc32c(electra::crc32c(0, part.data(), cut), part.data() + cut, n - cut) == whole)
          << "length " << n << " cut " << cut;
  }
}

TEST(crc32c_long_inputs_match_the_portable_path) {
  // Lengths and offsets around the 3 x 8192 and 3 x 256 block sizes of the three-stream path.
  std::vector<uint8_t> d(3 * 8192 * 2 + 1000);
  uint32_t x = 12345;
  for (auto& b : d) b = uint8_t((x = x * 1103515245u + 12345u) >> 24);
  for (size_t off : {size_t(0), size_t(1), size_t(7)}) {
    for (size_t n : std::vector<size_t>{767, 768, 769, 24575, 24576, 24577, 24576 + 768 + 13, d.size() - 7}) {
      if (off + n > d.size()) continue;
      CHECK(electra::crc32c(0, d.data() + off, n) == electra::crc32c_portable(0, d.data() + off, n)) << "offset " << off << " length " << n;
      CHECK(electra::crc32c(0x1234567u, d.data() + off, n) == electra::crc32c_portable(0x1234567u, d.data() + off, n));
    }
  }
}
