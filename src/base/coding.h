// Byte coding: fixed-width little-endian integers and length-prefixed strings,
// for log entries, snapshots and peer messages. Decoding validates lengths and
// never reads past the input (input from disk and peers is untrusted).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace shoal {

inline void put_fixed32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
inline void put_fixed64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
void put_varint64(std::string& out, uint64_t v);

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
