#include "base/coding.h"

#include <charconv>

namespace shoal {

bool parse_decimal_int64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  if (s[0] == '-' && (s.size() == 1 || s[1] == '0')) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

void put_varint64(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::optional<std::string_view> ByteReader::bytes(size_t n) {
  if (in_.size() < n) return std::nullopt;
  std::string_view r = in_.substr(0, n);
  in_.remove_prefix(n);
  return r;
}

std::optional<uint32_t> ByteReader::fixed32() {
  auto b = bytes(4);
  if (!b) return std::nullopt;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<unsigned char>((*b)[i])) << (8 * i);
  return v;
}

std::optional<uint64_t> ByteReader::fixed64() {
  auto b = bytes(8);
  if (!b) return std::nullopt;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>((*b)[i])) << (8 * i);
  return v;
}

std::optional<uint64_t> ByteReader::varint64() {
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
