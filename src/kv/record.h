// The stored form of a value: a fixed 10-byte header and the payload.
//
//   byte 0     ValueType
//   byte 1     Encoding (what OBJECT ENCODING reports; decided at write time
//              by the same rules as Redis, so it is part of replicated state)
//   bytes 2-9  absolute expiry time, Unix ms, little-endian; 0 = no expiry
//   bytes 10-  payload
//
// Expiry is absolute and decided once, when the write is applied with the
// proposer's clock (DESIGN.md section 8), so every replica stores the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::kv {

enum class ValueType : uint8_t { kString = 0 };
enum class Encoding : uint8_t { kRaw = 0, kInt = 1, kEmbstr = 2 };

inline constexpr size_t kRecordHeaderSize = 10;
inline constexpr int64_t kNoExpiry = 0;

struct Record {
  ValueType type = ValueType::kString;
  Encoding encoding = Encoding::kRaw;
  int64_t expire_at_ms = kNoExpiry;
  std::string_view payload;

  bool has_expiry() const { return expire_at_ms != kNoExpiry; }
};

std::string encode_record(const Record& r);
// Validates the header; nullopt for corrupt bytes.
std::optional<Record> decode_record(std::string_view bytes);

// Redis's tryObjectEncoding for a freshly set string: "int" when it is a
// canonical 64-bit integer of at most 20 chars, else "embstr" up to 44 bytes,
// else "raw".
Encoding encoding_for_new_string(std::string_view s);
std::string_view encoding_name(Encoding e);
std::string_view type_name(ValueType t);

}  // namespace shoal::kv
