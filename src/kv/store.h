// Store: one shard's keyspace on top of a storage engine, with Redis's view of
// expiry.
//
// Two kinds of access, because replication later splits them:
//   * reads (find) never mutate: a key whose expiry time has passed at `now`
//     is reported absent and remembered in `expired_seen()`, so that the
//     leader can propose its deletion;
//   * writes (find_for_write, put, erase, ...) run only inside apply, with the
//     `now` carried by the log entry, so every replica makes the same change.
//     An expired key met by a write is deleted first, as Redis does.
// Expiry deletes are explicit operations (expire_if_due), decided by the
// leader, never by each replica's clock (DESIGN.md section 8, H19).
//
// Thread-safety: none; the owner serializes all calls.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kv/record.h"
#include "storage/engine.h"

namespace shoal::kv {

class Store {
 public:
  explicit Store(std::unique_ptr<storage::Engine> engine);

  // Read path. The record's payload view is valid until the next mutation.
  // `touch` records the access (Redis's lookups without LOOKUP_NOTOUCH).
  std::optional<Record> find(std::string_view key, int64_t now_ms, bool touch = true);
  // Seconds since the key was last accessed (OBJECT IDLETIME), or nullopt.
  std::optional<int64_t> idle_seconds(std::string_view key, int64_t now_ms) const;
  // Write path: deletes the key first if it has expired at now_ms.
  std::optional<Record> find_for_write(std::string_view key, int64_t now_ms);

  // Inserts or replaces `key` with `record`, keeping the expiry index in step.
  void put(std::string_view key, const Record& record);
  // The time of the command being executed; put() uses it as access time.
  void set_command_time(int64_t now_ms) { command_ms_ = now_ms; }
  bool erase(std::string_view key);
  void clear();

  // Deletes `key` if its stored expiry equals `expire_at_ms` and is <= now_ms.
  // Idempotent; a no-op if the key was rewritten meanwhile.
  bool expire_if_due(std::string_view key, int64_t expire_at_ms, int64_t now_ms);
  // Up to `limit` (key, expiry) pairs whose expiry is <= now_ms, oldest first.
  std::vector<std::pair<std::string, int64_t>> collect_expired(int64_t now_ms, size_t limit) const;

  // Keys found expired by reads since the last call (bounded).
  std::vector<std::string> take_expired_seen();

  // While alive, expired keys met by reads on this thread go to `out`
  // instead of the store's own list: lets several threads read concurrently.
  class ExpiredCollector {
   public:
    explicit ExpiredCollector(std::vector<std::string>* out);
    ~ExpiredCollector();

   private:
    std::vector<std::string>* previous_;
  };

  size_t size() const { return engine_->size(); }
  size_t expires_count() const { return expires_.size(); }
  const storage::Engine& engine() const { return *engine_; }

 private:
  void note_expired(std::string_view key);

  std::unique_ptr<storage::Engine> engine_;
  // (expiry time, key) for every key with an expiry: derived from the data.
  std::set<std::pair<int64_t, std::string>, std::less<>> expires_;
  std::vector<std::string> expired_seen_;
  int64_t command_ms_ = 0;
};

}  // namespace shoal::kv
