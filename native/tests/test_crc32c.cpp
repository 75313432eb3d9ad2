// CRC-32C: the published check value, RFC 3720's iSCSI vectors, incremental
// use, and agreement with a bit-at-a-time reference on every length 0..64
// (so each tail length of the slicing-by-8 loop is covered).
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
    for (size_t cut = 0; cut <= n; cut += 5)
      CHECK(electra::crc32c(electra::crc32c(0, part.data(), cut), part.data() + cut, n - cut) == whole)
          << "length " << n << " cut " << cut;
  }
}
