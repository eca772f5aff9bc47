// RocksLogStore: the LogStore on the node's RocksDB (storage::RaftStorage per
// shard, one storage::WriteBatchBuilder for the node: one DB::Write and at most
// one fsync per host iteration).
//
// Snapshot bytes of the in-memory state machine are kept in the raft_state
// column family next to the snapshot meta (key shard|'d'), written in the same
// batch as the meta, so a restart finds a snapshot and the log after it, or
// the previous pair, never a mix (H15). Large states will move to snapshot
// files (docs/durable-shards.md); the interface does not change.
//
// The fsync policy is the builder's; commit(sync=false) (a batch that only
// advances commit indexes) is never synced, whatever the policy.
//
// Thread-safety: none; the host's thread owns it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "replica/log_store.h"
#include "storage/engine.h"
#include "storage/group_commit.h"
#include "storage/raft_storage.h"
#include "storage/rocks_db.h"

namespace shoal::replica {

class RocksLogStore final : public LogStore {
 public:
  static Result<std::unique_ptr<RocksLogStore>> open(const storage::RocksDbOptions& db,
                                                     storage::FsyncPolicy policy,
                                                     const env::Clock& clock);

  std::unique_ptr<LogBatch> new_batch() override;
  Status commit(LogBatch& batch, bool sync) override;
  // RocksDB's SyncWAL: safe while another thread writes (LogStore::sync).
  Status sync() override;
  Result<std::optional<StoredState>> load(ShardId shard) override;
  void stage_applied(ShardId shard, LogIndex applied) override;
  // A durable data engine for (shard, tenant) in this store's RocksDB, whose
  // writes go into the same group-commit batch as the Raft log.
  Result<std::unique_ptr<storage::Engine>> open_engine(ShardId shard, std::string tenant);
  // The two durable engines of a replica's state machine: its data (the
  // default tenant) and its exactly-once table (a reserved tenant name that
  // no user can have: it starts with a NUL byte).
  Result<StateEngines> open_state_engines(ShardId shard);

  storage::RocksDb& db() { return *db_; }
  uint64_t commits() const { return commits_; }

 private:
  RocksLogStore() = default;
  Result<storage::RaftStorage*> shard_storage(ShardId shard);
  Status stage_snapshot(storage::RaftStorage& rs, const storage::SnapshotRecord& meta,
                        const std::string& data);
  std::string data_key(ShardId shard) const;

  std::unique_ptr<storage::RocksDb> db_;
  std::unique_ptr<storage::WriteBatchBuilder> builder_;
  std::map<ShardId, std::unique_ptr<storage::RaftStorage>> shards_;
  uint64_t commits_ = 0;
};

}  // namespace shoal::replica
