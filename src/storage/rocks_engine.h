// RocksEngine: storage::Engine over the `data` column family for one
// (shard, tenant) of the node's RocksDB.
//
// Key layout (docs/durable-shards.md, "Storage layout"):
//   shard(8 BE) | tenant_len(1) | tenant | order(8 BE) | user key
// where order = MemoryEngine::order_of(slot, key) = slot(16 bits) then a
// 48-bit hash of the key. So a shard, and a tenant inside it, are contiguous
// ranges; a slot is a contiguous range inside a tenant (count/scan/move a
// slot with one range); and the RocksDB key order IS the engine's scan order
// (slot, hash, key), identical to MemoryEngine's. SCAN cursors are the same
// too (1 + order), so they are cursor-stable and deterministic and a replica
// may switch engines without changing what SCAN returns.
//
// Requirement on callers: put()'s slot must be key_slot(key) (Redis Cluster's
// rule, which kv::Store uses): get()/del() take no slot and recompute it.
//
// Writes are STAGED into the WriteBatchBuilder (the node's group-commit
// batch), so the replica host commits them in the same batch as the applied
// index they belong to (etcd #13766). Reads see staged writes. Nothing is
// durable until the builder commits.
//
// Access times (get_and_touch/access_time) are kept in memory only, in a
// bounded AccessClock (access_clock.h): they are local bookkeeping, not
// replicated state, and are lost on restart. A key the clock does not know -
// not touched since opening, or its slot taken by a later key - reads as idle
// since the first access or write the engine saw after opening.
// Per-slot key counts are kept in memory too, rebuilt by one scan at open().
//
// The Engine interface has no error channel: a RocksDB read error (I/O error,
// checksum failure) fail-stops the process with a message rather than answer
// from data it could not read (H19). Thread-safety: none (engine.h).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/access_clock.h"
#include "storage/engine.h"
#include "storage/group_commit.h"

namespace shoal::storage {

class RocksEngine final : public Engine {
 public:
  // `tenant` is at most 255 bytes. Scans the range once to count keys.
  static Result<std::unique_ptr<RocksEngine>> open(WriteBatchBuilder& batch, ShardId shard,
                                                   std::string tenant);

  // The returned view stays valid until the next mutation, and across at
  // least kReadSlots - 1 further reads (values are copied out of RocksDB into
  // a small ring of buffers).
  std::optional<std::string_view> get(std::string_view key) const override;
  std::optional<std::string_view> get_and_touch(std::string_view key, int64_t now_ms) override;
  std::optional<int64_t> access_time(std::string_view key) const override;
  void put(Slot slot, std::string_view key, std::string value, int64_t now_ms) override;
  bool del(std::string_view key) override;
  // Stages one delete per key of this tenant (the batch has no DeleteRange).
  void clear() override;
  size_t size() const override { return total_; }
  size_t count_in_slot(Slot slot) const override { return slot_counts_[slot.value()]; }
  uint64_t scan(uint64_t cursor, size_t count, const Visitor& visit) const override;
  void scan_slot(Slot slot, size_t count, const Visitor& visit) const override;
  std::optional<std::string> random_key(uint64_t random_bits) const override;
  bool durable() const override { return true; }
  const AccessClock& access_clock() const { return access_; }

  static constexpr size_t kReadSlots = 8;
  // The first bytes of every key of (shard, tenant): the range to iterate,
  // snapshot or drop.
  static std::string range_prefix(ShardId shard, std::string_view tenant);

 private:
  RocksEngine(WriteBatchBuilder& batch, std::string prefix);
  Status count_keys();
  std::string data_key(Slot slot, std::string_view key) const;
  std::optional<std::string_view> read(std::string_view key) const;
  std::unique_ptr<rocksdb::Iterator> seek(uint64_t order) const;
  // The order and user key of an iterator positioned inside the prefix.
  uint64_t order_at(const rocksdb::Iterator& it) const;
  std::string_view user_key_at(const rocksdb::Iterator& it) const;
  bool in_range(const rocksdb::Iterator& it) const;
  void note_access(std::string_view key, int64_t now_ms);

  WriteBatchBuilder& batch_;
  std::string prefix_;
  size_t total_ = 0;
  std::vector<uint32_t> slot_counts_;
  AccessClock access_;
  int64_t first_seen_ms_ = 0;
  mutable std::array<std::string, kReadSlots> reads_;
  mutable size_t next_read_ = 0;
  // The last lookup (read()), valid until the next mutation.
  struct LastRead {
    bool valid = false;
    bool found = false;
    size_t slot = 0;  // in reads_, when found
    std::string key;
  };
  mutable LastRead last_;
};

}  // namespace shoal::storage
