#include "kv/store.h"

#include "base/assert.h"
#include "base/crc16.h"

namespace shoal::kv {
namespace {
constexpr size_t kMaxExpiredSeen = 256;

bool is_expired(const Record& r, int64_t now_ms) {
  return r.has_expiry() && r.expire_at_ms <= now_ms;
}
}  // namespace

Store::Store(std::unique_ptr<storage::Engine> engine) : engine_(std::move(engine)) {
  // A durable engine opens with contents: the expiry index is derived from
  // them, so it is rebuilt here (one scan; nothing for a new engine).
  engine_->for_each([&](std::string_view key, std::string_view bytes) {
    auto rec = decode_record(bytes);
    SHOAL_ASSERT_MSG(rec.has_value(), "corrupt record in engine");
    if (rec->has_expiry()) expires_.emplace(rec->expire_at_ms, std::string(key));
  });
}

std::optional<Record> Store::find(std::string_view key, int64_t now_ms, bool touch) {
  auto bytes = touch ? engine_->get_and_touch(key, now_ms) : engine_->get(key);
  if (!bytes) return std::nullopt;
  auto rec = decode_record(*bytes);
  SHOAL_ASSERT_MSG(rec.has_value(), "corrupt record in engine");
  if (is_expired(*rec, now_ms)) {
    note_expired(key);
    return std::nullopt;
  }
  return rec;
}

std::optional<int64_t> Store::idle_seconds(std::string_view key, int64_t now_ms) const {
  auto at = engine_->access_time(key);
  if (!at) return std::nullopt;
  // Whole-second clocks, like Redis's LRU clock.
  int64_t idle = now_ms / 1000 - *at / 1000;
  return idle < 0 ? 0 : idle;
}

std::optional<Record> Store::find_for_write(std::string_view key, int64_t now_ms) {
  auto bytes = engine_->get_and_touch(key, now_ms);
  if (!bytes) return std::nullopt;
  auto rec = decode_record(*bytes);
  SHOAL_ASSERT_MSG(rec.has_value(), "corrupt record in engine");
  if (is_expired(*rec, now_ms)) {
    erase(key);
    return std::nullopt;
  }
  return rec;
}

void Store::put(std::string_view key, const Record& record) {
  auto old = engine_->exchange(key_slot(key), key, encode_record(record), command_ms_);
  // With no expiry in the store the old record has none either: not reading
  // it spares a cache miss per overwrite (5% of a SET's CPU at -P 16).
  if (old && !expires_.empty()) {
    auto old_rec = decode_record(*old);
    SHOAL_ASSERT(old_rec.has_value());
    if (old_rec->has_expiry()) {
      expires_.erase(std::pair<int64_t, std::string>(old_rec->expire_at_ms, std::string(key)));
    }
  }
  if (record.has_expiry()) expires_.emplace(record.expire_at_ms, std::string(key));
}

bool Store::erase(std::string_view key) {
  auto old = engine_->get(key);
  if (!old) return false;
  auto rec = decode_record(*old);
  SHOAL_ASSERT(rec.has_value());
  if (rec->has_expiry()) {
    expires_.erase(std::pair<int64_t, std::string>(rec->expire_at_ms, std::string(key)));
  }
  return engine_->del(key);
}

void Store::clear() {
  engine_->clear();
  expires_.clear();
  expired_seen_.clear();
}

bool Store::expire_if_due(std::string_view key, int64_t expire_at_ms, int64_t now_ms) {
  if (expire_at_ms > now_ms) return false;
  auto bytes = engine_->get(key);
  if (!bytes) return false;
  auto rec = decode_record(*bytes);
  SHOAL_ASSERT(rec.has_value());
  if (rec->expire_at_ms != expire_at_ms) return false;
  return erase(key);
}

std::vector<std::pair<std::string, int64_t>> Store::collect_expired(int64_t now_ms,
                                                                    size_t limit) const {
  std::vector<std::pair<std::string, int64_t>> out;
  for (auto it = expires_.begin(); it != expires_.end() && out.size() < limit; ++it) {
    if (it->first > now_ms) break;
    out.emplace_back(it->second, it->first);
  }
  return out;
}

namespace {
thread_local std::vector<std::string>* tls_expired_collector = nullptr;
}  // namespace

Store::ExpiredCollector::ExpiredCollector(std::vector<std::string>* out)
    : previous_(tls_expired_collector) {
  tls_expired_collector = out;
}

Store::ExpiredCollector::~ExpiredCollector() { tls_expired_collector = previous_; }

void Store::note_expired(std::string_view key) {
  std::vector<std::string>* out = tls_expired_collector ? tls_expired_collector : &expired_seen_;
  if (out->size() < kMaxExpiredSeen) out->emplace_back(key);
}

std::vector<std::string> Store::take_expired_seen() {
  std::vector<std::string> out;
  out.swap(expired_seen_);
  return out;
}

}  // namespace shoal::kv
