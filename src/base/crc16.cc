#include "base/crc16.h"

#include <array>

namespace shoal {
namespace {

// Tables for polynomial 0x1021, initial value 0 (CRC-16/XMODEM), as the
// Redis Cluster specification defines the key hash. kTables[0] is the usual
// byte table; kTables[k][b] is the CRC of byte b followed by k zero bytes,
// so four bytes fold in with four independent lookups (slicing-by-4: the
// byte loop's chain of dependent lookups was ~3% of the raft loop at SET
// -P 16, where each SET hashes its key twice).
using Table = std::array<uint16_t, 256>;

constexpr std::array<Table, 4> make_tables() {
  std::array<Table, 4> t{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    t[0][i] = crc;
  }
  for (int k = 1; k < 4; ++k) {
    for (int i = 0; i < 256; ++i) {
      uint16_t prev = t[k - 1][i];  // then one more zero byte
      t[k][i] = static_cast<uint16_t>((prev << 8) ^ t[0][prev >> 8]);
    }
  }
  return t;
}
constexpr auto kTables = make_tables();

}  // namespace

uint16_t crc16(std::string_view data) {
  uint16_t crc = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  for (; n >= 4; p += 4, n -= 4) {
    crc = static_cast<uint16_t>(kTables[3][(crc >> 8) ^ p[0]] ^ kTables[2][(crc & 0xff) ^ p[1]] ^
                                kTables[1][p[2]] ^ kTables[0][p[3]]);
  }
  for (; n > 0; ++p, --n) {
    crc = static_cast<uint16_t>((crc << 8) ^ kTables[0][((crc >> 8) ^ *p) & 0xff]);
  }
  return crc;
}

Slot key_slot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Slot(static_cast<uint16_t>(crc16(key) & (kSlotCount - 1)));
}

}  // namespace shoal
