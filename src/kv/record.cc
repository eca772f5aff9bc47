#include "kv/record.h"

#include <cstring>

#include "base/coding.h"
#include "kv/numbers.h"

namespace shoal::kv {

std::string encode_record(const Record& r) {
  std::string out(kRecordHeaderSize + r.payload.size(), '\0');
  char* p = out.data();
  *p++ = static_cast<char>(r.type);
  *p++ = static_cast<char>(r.encoding);
  p = encode_fixed64(p, static_cast<uint64_t>(r.expire_at_ms));
  if (!r.payload.empty()) std::memcpy(p, r.payload.data(), r.payload.size());
  return out;
}

std::optional<Record> decode_record(std::string_view bytes) {
  if (bytes.size() < kRecordHeaderSize) return std::nullopt;
  auto type = static_cast<uint8_t>(bytes[0]);
  auto enc = static_cast<uint8_t>(bytes[1]);
  if (type != 0 || enc > 2) return std::nullopt;
  ByteReader reader(bytes.substr(2, 8));
  Record r;
  r.type = static_cast<ValueType>(type);
  r.encoding = static_cast<Encoding>(enc);
  r.expire_at_ms = static_cast<int64_t>(*reader.fixed64());
  r.payload = bytes.substr(kRecordHeaderSize);
  return r;
}

Encoding encoding_for_new_string(std::string_view s) {
  int64_t v;
  if (s.size() <= 20 && parse_int64(s, &v)) return Encoding::kInt;
  return s.size() <= 44 ? Encoding::kEmbstr : Encoding::kRaw;
}

std::string_view encoding_name(Encoding e) {
  switch (e) {
    case Encoding::kInt:
      return "int";
    case Encoding::kEmbstr:
      return "embstr";
    case Encoding::kRaw:
      return "raw";
  }
  return "raw";
}

std::string_view type_name(ValueType t) { return t == ValueType::kString ? "string" : "none"; }

}  // namespace shoal::kv
