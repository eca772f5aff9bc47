#include "kv/recorded_reply.h"

#include <cstring>

#include "base/coding.h"

namespace shoal::kv {

void RecordedReply::dbl(double v) {
  int64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  add(Kind::kDouble, bits, {});
}

void RecordedReply::add(Kind k, int64_t n, std::string_view s) {
  if (!has_first_) {
    first_ = {k, n, std::string(s)};
    has_first_ = true;
  } else {
    rest_.push_back({k, n, std::string(s)});
  }
}

void RecordedReply::replay(ReplySink& out) const {
  for_each_item([&](const Item& it) {
    switch (it.kind) {
      case Kind::kSimple:
        out.simple(it.text);
        break;
      case Kind::kError:
        out.error(it.text);
        break;
      case Kind::kInteger:
        out.integer(it.number);
        break;
      case Kind::kBulk:
        out.bulk(it.text);
        break;
      case Kind::kNull:
        out.null();
        break;
      case Kind::kNullArray:
        out.null_array();
        break;
      case Kind::kArray:
        out.array(static_cast<size_t>(it.number));
        break;
      case Kind::kMap:
        out.map(static_cast<size_t>(it.number));
        break;
      case Kind::kSet:
        out.set(static_cast<size_t>(it.number));
        break;
      case Kind::kDouble: {
        double v;
        std::memcpy(&v, &it.number, sizeof(v));
        out.dbl(v);
        break;
      }
    }
  });
}

std::string RecordedReply::encode() const {
  std::string out;
  put_varint64(out, size());
  for_each_item([&](const Item& it) {
    out.push_back(static_cast<char>(it.kind));
    put_fixed64(out, static_cast<uint64_t>(it.number));
    put_length_prefixed(out, it.text);
  });
  return out;
}

std::optional<RecordedReply> RecordedReply::decode(std::string_view bytes) {
  ByteReader r(bytes);
  auto n = r.varint64();
  // Each item takes at least 10 bytes: reject absurd counts before reserving.
  if (!n || *n > r.remaining() / 10) return std::nullopt;
  RecordedReply out;
  if (*n > 1) out.rest_.reserve(*n - 1);
  for (uint64_t i = 0; i < *n; ++i) {
    auto kind = r.bytes(1);
    auto number = r.fixed64();
    auto text = r.length_prefixed();
    if (!kind || !number || !text) return std::nullopt;
    auto k = static_cast<uint8_t>((*kind)[0]);
    if (k > static_cast<uint8_t>(Kind::kDouble)) return std::nullopt;
    out.add(static_cast<Kind>(k), static_cast<int64_t>(*number), *text);
  }
  if (!r.empty()) return std::nullopt;
  return out;
}

}  // namespace shoal::kv
