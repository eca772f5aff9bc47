// RocksLogStore: the LogStore on the node's RocksDB (storage::RaftStorage per
// shard, one storage::WriteBatchBuilder for the node: one DB::Write and at most
// one fsync per host iteration).
//
// Snapshot bytes of the in-memory state machine: a small snapshot is kept in
// the raft_state column family next to the snapshot meta (key shard|'d'); one
// of kSnapshotFileBytes or more goes to a snapshot file (storage/
// snapshot_files.h) and the column family keeps its reference (shard|'f').
// Either is written in the same batch as the meta, so a restart finds a
// snapshot and the log after it, or the previous pair, never a mix (H15).
// Our own compaction's file is written by a background thread: the
// compaction (meta, reference, log deletion) is staged into the first batch
// after the file is durable, and until then the log keeps every entry. A
// file is deleted only once a synced WAL shows no reference to it
// (docs/durable-shards.md, "Snapshot files").
//
// The fsync policy is the builder's; commit(sync=false) (a batch that only
// advances commit indexes) is never synced, whatever the policy.
//
// Thread-safety: none; the host's thread owns it.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "replica/log_store.h"
#include "storage/engine.h"
#include "storage/group_commit.h"
#include "storage/raft_storage.h"
#include "storage/rocks_db.h"
#include "storage/snapshot_files.h"

namespace shoal::replica {

class RocksLogStore final : public LogStore {
 public:
  static Result<std::unique_ptr<RocksLogStore>> open(const storage::RocksDbOptions& db,
                                                     storage::FsyncPolicy policy,
                                                     const env::Clock& clock);

  std::unique_ptr<LogBatch> new_batch() override;
  Status commit(LogBatch& batch, bool sync) override;
  // RocksDb::sync_wal (SyncWAL, or FlushWAL(true) with the manual WAL
  // flush): safe while another thread writes (LogStore::sync).
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
  // Snapshots at least this large go to files.
  static constexpr size_t kSnapshotFileBytes = 64 << 10;
  storage::SnapshotFiles& snapshot_files() { return *files_; }
  // Waits for the snapshot files being written in the background (tests).
  void drain_snapshot_writes() { writer_->drain(); }

 private:
  RocksLogStore() = default;
  Result<storage::RaftStorage*> shard_storage(ShardId shard);
  Status stage_snapshot(storage::RaftStorage& rs, const storage::SnapshotRecord& meta,
                        std::string data);
  // The snapshot data of the state at the compaction point: inline, or in a
  // file written now.
  Status stage_snapshot_data(ShardId shard, LogIndex at, std::string data);
  void stage_file_ref(ShardId shard, storage::SnapshotFileRef ref);
  // Stages the compactions whose files the background writer finished.
  Status stage_written_snapshots();
  // Deletes the files that committed batches stopped naming, after a WAL sync.
  Status collect_snapshot_garbage();
  std::string data_key(ShardId shard) const;
  std::string file_key(ShardId shard) const;

  std::unique_ptr<storage::RocksDb> db_;
  std::unique_ptr<storage::WriteBatchBuilder> builder_;
  std::unique_ptr<storage::SnapshotFiles> files_;
  std::unique_ptr<storage::SnapshotFileWriter> writer_;  // after files_: joins first
  std::map<ShardId, storage::SnapshotFileRef> refs_;     // as staged
  std::vector<std::string> unnamed_staged_;              // files a staged batch stops naming
  std::vector<std::string> unnamed_committed_;           // ... and a committed one
  std::map<ShardId, std::unique_ptr<storage::RaftStorage>> shards_;
  uint64_t commits_ = 0;
};

}  // namespace shoal::replica
