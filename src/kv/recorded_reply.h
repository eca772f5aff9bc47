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
#include <utility>
#include <vector>

#include "kv/reply_sink.h"

namespace shoal::kv {

class RecordedReply final : public ReplySink {
 public:
  RecordedReply() = default;
  RecordedReply(const RecordedReply&) = default;
  RecordedReply& operator=(const RecordedReply&) = default;
  // A moved-from reply is empty, as a moved-from vector of items was.
  RecordedReply(RecordedReply&& o) noexcept
      : first_(std::move(o.first_)),
        has_first_(std::exchange(o.has_first_, false)),
        rest_(std::move(o.rest_)) {}
  RecordedReply& operator=(RecordedReply&& o) noexcept {
    first_ = std::move(o.first_);
    has_first_ = std::exchange(o.has_first_, false);
    rest_ = std::move(o.rest_);
    return *this;
  }

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
  bool empty() const { return !has_first_; }
  bool is_error() const { return has_first_ && first_.kind == Kind::kError; }

  // Serialized form, for the exactly-once table and snapshots.
  std::string encode() const;
  static std::optional<RecordedReply> decode(std::string_view bytes);

  bool operator==(const RecordedReply& o) const {
    return has_first_ == o.has_first_ && first_ == o.first_ && rest_ == o.rest_;
  }

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
  size_t size() const { return has_first_ ? 1 + rest_.size() : 0; }
  // Item i < size(); the reference stays valid while the reply is not changed.
  const Item& item(size_t i) const { return i == 0 ? first_ : rest_[i - 1]; }

 private:
  void add(Kind k, int64_t n, std::string_view s);
  template <typename F>
  void for_each_item(F&& f) const {
    if (!has_first_) return;
    f(first_);
    for (const Item& it : rest_) f(it);
  }

  // Most replies are one item (+OK, an integer, a bulk): it is kept inline,
  // so recording it allocates nothing beyond its text (a vector per write
  // before).
  Item first_{};
  bool has_first_ = false;
  std::vector<Item> rest_;
};

}  // namespace shoal::kv
