#include "base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace shoal {
namespace {

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int b = 0; b < 8; ++b) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

uint32_t extend_portable(uint32_t crc, std::string_view data) {
  for (unsigned char c : data) crc = kTable[(crc ^ c) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// SSE4.2 has a CRC32C instruction (8 bytes per step): ~10x the table's speed.
// Chosen at run time so the binary still runs on CPUs without it.
__attribute__((target("sse4.2"))) uint32_t extend_sse42(uint32_t crc, std::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t c = crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
  return c32;
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, std::string_view data) {
  return ~extend_portable(~crc, data);
}

uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
  crc = ~crc;
#if defined(__x86_64__)
  if (kHaveSse42) return ~extend_sse42(crc, data);
#endif
  return ~extend_portable(crc, data);
}

}  // namespace shoal
