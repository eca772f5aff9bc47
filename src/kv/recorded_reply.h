// RecordedReply: a protocol-neutral copy of a command's reply.
//
// With replication a write's reply is produced when the entry is applied,
// possibly long after (and on another thread than) the client's request, and
// every replica produces it. The replica host records it here, keeps it for
// the exactly-once table (a retried request gets the same reply, H17), and the
// node that serves the client replays it into that client's RESP2/RESP3 sink.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/reply_sink.h"

namespace shoal::kv {

class RecordedReply final : public ReplySink {
 public:
  void simple(std::string_view s) override { add(Kind::kSimple, 0, s); }
  void error(std::string_view m) override { add(Kind::kError, 0, m); }
  void integer(int64_t v) override { add(Kind::kInteger, v, {}); }
  void bulk(std::string_view s) override { add(Kind::kBulk, 0, s); }
  void null() override { add(Kind::kNull, 0, {}); }
  void null_array() override { add(Kind::kNullArray, 0, {}); }
  void array(size_t n) override { add(Kind::kArray, static_cast<int64_t>(n), {}); }
  void map(size_t n) override { add(Kind::kMap, static_cast<int64_t>(n), {}); }
  void set(size_t n) override { add(Kind::kSet, static_cast<int64_t>(n), {}); }
  void dbl(double v) override;
  // Replies are recorded in the protocol-neutral form; handlers that branch on
  // the protocol must not exist on the write path.
  int protocol() const override { return 2; }

  // Writes the recorded reply into `out` (e.g. a client's RESP sink).
  void replay(ReplySink& out) const;
  bool empty() const { return items_.empty(); }
  bool is_error() const { return !items_.empty() && items_[0].kind == Kind::kError; }

  // Serialized form, for the exactly-once table and snapshots.
  std::string encode() const;
  static std::optional<RecordedReply> decode(std::string_view bytes);

  bool operator==(const RecordedReply&) const = default;

  // Read access, for code that combines replies (the node core's fan-out).
  enum class Kind : uint8_t {
    kSimple,
    kError,
    kInteger,
    kBulk,
    kNull,
    kNullArray,
    kArray,
    kMap,
    kSet,
    kDouble
  };
  struct Item {
    Kind kind;
    int64_t number;
    std::string text;
    bool operator==(const Item&) const = default;
  };
  const std::vector<Item>& items() const { return items_; }

 private:
  void add(Kind k, int64_t n, std::string_view s) { items_.push_back({k, n, std::string(s)}); }
  std::vector<Item> items_;
};

}  // namespace shoal::kv
