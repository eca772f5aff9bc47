#include "base/coding.h"

#include <bit>
#include <charconv>
#include <cstring>

namespace shoal {

bool parse_decimal_int64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  if (s[0] == '-' && (s.size() == 1 || s[1] == '0')) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::optional<std::string_view> ByteReader::bytes(size_t n) {
  if (in_.size() < n) return std::nullopt;
  std::string_view r = in_.substr(0, n);
  in_.remove_prefix(n);
  return r;
}

namespace {
template <typename T>
T decode_fixed(const char* p) {
  T v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof v);
  } else {
    for (size_t i = 0; i < sizeof v; ++i) v |= T(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}
}  // namespace

std::optional<uint32_t> ByteReader::fixed32() {
  auto b = bytes(4);
  if (!b) return std::nullopt;
  return decode_fixed<uint32_t>(b->data());
}

std::optional<uint64_t> ByteReader::fixed64() {
  auto b = bytes(8);
  if (!b) return std::nullopt;
  return decode_fixed<uint64_t>(b->data());
}

std::optional<uint64_t> ByteReader::varint64() {
  // One byte: lengths below 128, the common case.
  if (!in_.empty() && !(static_cast<unsigned char>(in_[0]) & 0x80)) {
    uint64_t v = static_cast<unsigned char>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in_.empty()) return std::nullopt;
    auto byte = static_cast<unsigned char>(in_[0]);
    in_.remove_prefix(1);
    if (shift == 63 && byte > 1) return std::nullopt;  // overflows 64 bits
    v |= uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
  return std::nullopt;  // more than 10 bytes: malformed
}

std::optional<std::string_view> ByteReader::length_prefixed() {
  auto n = varint64();
  if (!n) return std::nullopt;
  return bytes(*n);
}

}  // namespace shoal
