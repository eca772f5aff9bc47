// LogStore: where a node keeps the Raft state of all its replicas.
//
// Writes are staged into a LogBatch that spans every shard of the node and
// committed with one atomic write and (when `sync`) one fsync: group commit,
// DESIGN.md section 5. Within a batch, per shard, the order is: snapshot,
// hard state, entries (entries overwrite any stored at the same or higher
// index), exactly the order the Raft contract asks for.
//
// MemoryLogStore keeps everything in memory and models a crash: only batches
// committed with sync=true survive crash(). The RocksDB store (issue 4,
// storage::RaftStorage) implements the same interface on disk.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "raft/types.h"
#include "storage/engine.h"

namespace shoal::replica {

// A replica's durable Raft state as loaded at start-up.
struct StoredState {
  raft::HardState hard_state;
  raft::Snapshot snapshot;           // meta + the state machine's bytes at meta.index
  std::vector<raft::Entry> entries;  // after snapshot.meta.index
  // The applied index stored with a durable engine's state (stage_applied),
  // 0 if none: the state the engine holds at open is the state at `applied`.
  LogIndex applied;
};

// A replica's state machine engines when they are durable (engine.h): the
// data and the exactly-once table, both staged into the store's batches.
struct StateEngines {
  std::unique_ptr<storage::Engine> data;
  std::unique_ptr<storage::Engine> sessions;
};

class LogBatch {
 public:
  virtual ~LogBatch() = default;
  // By value: a replica hands over the bytes of its own compaction snapshot
  // rather than copy them (O(state) each time).
  virtual void put_snapshot(ShardId shard, raft::Snapshot snap) = 0;
  virtual void put_hard_state(ShardId shard, const raft::HardState& hs) = 0;
  virtual void append(ShardId shard, const std::vector<raft::Entry>& entries) = 0;
  // Drops entries <= index (they are covered by a stored snapshot).
  virtual void compact(ShardId shard, LogIndex index) = 0;
  virtual bool empty() const = 0;
};

class LogStore {
 public:
  virtual ~LogStore() = default;
  virtual std::unique_ptr<LogBatch> new_batch() = 0;
  // Atomic: all of the batch or none of it survives a crash; durable before
  // returning when `sync` (together with every batch committed before it).
  // sync=false means the batch holds only state that may be lost (the commit
  // index); the store must then not sync it. An error means nothing may be
  // acknowledged.
  virtual Status commit(LogBatch& batch, bool sync) = 0;
  // Makes every batch committed so far durable, as an fsync of what commit()
  // wrote without syncing. Unlike the other calls it may run on another
  // thread, concurrently with commit(): the host's pipelined mode syncs there
  // while its loop goes on (HostOptions::defer_sync). An error means nothing
  // written since the last successful sync may be acknowledged.
  virtual Status sync() = 0;
  // nullopt: no state for this shard (a new replica).
  virtual Result<std::optional<StoredState>> load(ShardId shard) = 0;
  // Records that a durable engine's staged writes bring the shard's state to
  // `applied`. Written in the same atomic write as those staged writes (the
  // next commit), never apart from them (etcd #13766). Only stores that host
  // durable engines implement it.
  virtual void stage_applied(ShardId /*shard*/, LogIndex /*applied*/) {}
};

class MemoryLogStore final : public LogStore {
 public:
  std::unique_ptr<LogBatch> new_batch() override;
  Status commit(LogBatch& batch, bool sync) override;
  Status sync() override;
  Result<std::optional<StoredState>> load(ShardId shard) override;

  // Simulated power loss: everything not made durable (by commit with
  // sync=true or by sync()) is gone.
  void crash();
  // Makes the next commit fail with an I/O error (nothing is applied).
  void fail_next_commit() { fail_next_ = true; }
  // Makes the next sync() fail with an I/O error (nothing becomes durable).
  void fail_next_sync() { fail_next_sync_ = true; }
  uint64_t syncs() const { return syncs_; }

 private:
  using State = std::map<ShardId, StoredState>;
  static void apply_to(State& state, const LogBatch& batch);

  std::mutex mu_;
  State durable_;   // what survives a crash
  State volatile_;  // what a running process sees
  bool fail_next_ = false;
  bool fail_next_sync_ = false;
  uint64_t syncs_ = 0;
};

}  // namespace shoal::replica
