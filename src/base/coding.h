// Byte coding: fixed-width little-endian integers and length-prefixed strings,
// for log entries, snapshots and peer messages. Decoding validates lengths and
// never reads past the input (input from disk and peers is untrusted).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace shoal {

// Writers into a buffer the caller has sized; each returns the end of what
// it wrote. For encoders that know their size up front: one resize, then
// plain stores, instead of a capacity check per field.
template <typename T>
inline char* encode_fixed(char* p, T v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, sizeof v);
  } else {
    for (size_t i = 0; i < sizeof v; ++i) p[i] = static_cast<char>(v >> (8 * i));
  }
  return p + sizeof v;
}
inline char* encode_fixed32(char* p, uint32_t v) { return encode_fixed(p, v); }
inline char* encode_fixed64(char* p, uint64_t v) { return encode_fixed(p, v); }
inline char* encode_varint64(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
inline size_t varint_length(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
constexpr size_t kMaxVarint64Length = 10;

inline void put_fixed32(std::string& out, uint32_t v) {
  char b[4];
  out.append(b, encode_fixed32(b, v) - b);
}
inline void put_fixed64(std::string& out, uint64_t v) {
  char b[8];
  out.append(b, encode_fixed64(b, v) - b);
}
inline void put_varint64(std::string& out, uint64_t v) {
  char b[kMaxVarint64Length];
  out.append(b, encode_varint64(b, v) - b);
}

// Parses a decimal int64 exactly as Redis's string2ll: optional '-', digits,
// no '+', no leading zeros (except "0"), no "-0", no spaces, nothing else.
// The RESP parser and the command layer both need Redis's exact rule.
bool parse_decimal_int64(std::string_view s, int64_t* out);
inline void put_length_prefixed(std::string& out, std::string_view s) {
  put_varint64(out, s.size());
  out.append(s);
}

// A cursor over untrusted bytes. Every getter returns nullopt (and leaves the
// reader failed) when the input is too short or malformed.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  std::optional<uint32_t> fixed32();
  std::optional<uint64_t> fixed64();
  std::optional<uint64_t> varint64();
  std::optional<std::string_view> length_prefixed();
  std::optional<std::string_view> bytes(size_t n);
  size_t remaining() const { return in_.size(); }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace shoal
