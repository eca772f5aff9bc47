// Group commit: one rocksdb write (and at most one fsync) for everything a
// node's replicas produced in one loop iteration (docs/durable-shards.md;
// TiKV's async_io/write.rs does the same for its regions).
//
// Usage, once per loop iteration of the replica host:
//   1. every shard stages its changes into builder.batch() (RaftStorage's
//      append/set_hard_state/set_applied..., RocksEngine's put/del);
//   2. builder.commit() writes them all with one DB::Write;
//   3. only then may the host send messages that depend on them and call
//      raft on_persisted (H16: acknowledged only after durable).
//
// What is durable when: after commit() returns OK with last_commit_synced(),
// everything staged so far survives power loss. With FsyncPolicy::kEverySec a
// commit is synced when at least one second has passed since the last sync
// (and sync_if_due() syncs a quiet tail); with kNo only the OS decides.
// A failed write or sync makes the builder fail every later commit (the
// replica must stop acknowledging, never retry an fsync and carry on: after a
// failed fsync the kernel may have dropped the dirty pages).
//
// Reads through the builder (get, new_iterator) see staged writes on top of
// the DB, so a shard reads its own uncommitted changes.
// Thread-safety: none; the replica host's storage thread owns it.
#pragma once

#include <rocksdb/utilities/write_batch_with_index.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "env/clock.h"
#include "storage/rocks_db.h"

namespace shoal::storage {

enum class FsyncPolicy { kAlways, kEverySec, kNo };

// Start-up check (H10): fsync=no with a single replica means a crash can lose
// acknowledged writes with no other copy to recover them from. Refused unless
// the operator passed the explicit data-loss flag.
Status check_fsync_policy(FsyncPolicy policy, int replication_factor, bool accept_data_loss);

class WriteBatchBuilder {
 public:
  // `db` and `clock` must outlive the builder.
  WriteBatchBuilder(RocksDb& db, FsyncPolicy policy, const env::Clock& clock);

  rocksdb::WriteBatchWithIndex& batch() { return batch_; }
  RocksDb& db() const { return db_; }
  size_t count() const { return static_cast<size_t>(batch_.GetWriteBatch()->Count()); }
  size_t bytes() const { return batch_.GetWriteBatch()->GetDataSize(); }

  // Point read of `key` in `cf`, staged writes first. nullopt when absent.
  Result<std::optional<std::string>> get(rocksdb::ColumnFamilyHandle* cf,
                                         std::string_view key) const;
  // An iterator over `cf` merging staged writes over the DB. Invalidated by
  // the next commit().
  std::unique_ptr<rocksdb::Iterator> new_iterator(rocksdb::ColumnFamilyHandle* cf) const;

  // Writes the staged batch (possibly empty) and clears it. With
  // durability_needed=false the write is not synced whatever the policy
  // (the caller staged only state it may lose).
  Status commit(bool durability_needed = true);
  // kEverySec: syncs the WAL if unsynced writes are older than one second.
  // Call from the host's timer; no-op for the other policies.
  Status sync_if_due();

  bool last_commit_synced() const { return last_synced_; }
  // Bumped by every commit() that wrote: lets callers drop caches of what
  // they staged.
  uint64_t generation() const { return generation_; }
  // Staging without the read index: for writes nobody reads back through the
  // builder (Raft log records and their deletes). Indexing costs a skip-list
  // insert per key; for the log that was a fifth of all instructions on the
  // write path (callgrind). Order with indexed writes is kept.
  void put_unindexed(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                     std::string_view value) {
    batch_.GetWriteBatch()->Put(cf, rocksdb::Slice(key.data(), key.size()),
                                rocksdb::Slice(value.data(), value.size()));
  }
  void delete_unindexed(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
    batch_.GetWriteBatch()->Delete(cf, rocksdb::Slice(key.data(), key.size()));
  }
  // Deletes [begin, end) with one range tombstone. Unindexed too: reads
  // through the builder do not see it until it is committed (the caller keeps
  // its own view of what it staged, as for the other unindexed writes).
  void delete_range_unindexed(rocksdb::ColumnFamilyHandle* cf, std::string_view begin,
                              std::string_view end) {
    batch_.GetWriteBatch()->DeleteRange(cf, rocksdb::Slice(begin.data(), begin.size()),
                                        rocksdb::Slice(end.data(), end.size()));
  }
  // OK until a write or sync fails; then that error forever.
  const Status& health() const { return health_; }

 private:
  bool sync_due(int64_t now_ns) const;

  RocksDb& db_;
  FsyncPolicy policy_;
  const env::Clock& clock_;
  // mutable: RocksDB's read accessors are non-const but do not modify it.
  mutable rocksdb::WriteBatchWithIndex batch_;
  int64_t last_sync_ns_;
  bool unsynced_ = false;  // a write since the last sync
  bool last_synced_ = false;
  uint64_t generation_ = 0;
  Status health_;
};

}  // namespace shoal::storage
