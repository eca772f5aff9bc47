// RaftStorage: one shard's Raft log and Raft state in the node's RocksDB
// (docs/durable-shards.md, "Storage layout").
//
//   raft_log    shard(8 BE) | index(8 BE)  -> term(8) type(1) crc32c(4) data
//               crc32c covers shard, index, term, type and data, so a record
//               moved to another key is caught as well as a flipped bit.
//   raft_state  shard(8 BE) | 'h'  hard state (term, vote, commit: one value)
//                           | 'a'  applied index
//                           | 's'  snapshot meta (index, term, conf state):
//                                  the compaction point; the log holds the
//                                  entries after it
//                           | 'k'  persisted_ack: the last index this node
//                                  may have acknowledged as persisted
//               each value version(1) | fields | crc32c (state_codec.h).
//
// Writes are STAGED into the node's WriteBatchBuilder and become durable only
// when the builder commits (group commit; see group_commit.h for fsync). The
// in-memory view (first/last index, hard state...) follows the staged state,
// and reads go through the builder, so a shard sees its own staged writes.
// persisted_ack is staged with every append in the same batch as the entries,
// so it is exactly as durable as they are.
//
// Open runs the torn-tail rule: a tail record failing its CRC with index >
// persisted_ack was never acknowledged and is dropped (with everything after
// it); inside the acknowledged range it is Status::corruption and the replica
// must not start (H15/H19). Every read re-checks CRCs: a bad record read later
// is Status::corruption, never returned as an entry.
//
// Thread-safety: none; used by the replica host's storage thread only.
// Ownership: borrows the builder (and through it the RocksDb).
#pragma once

#include <map>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "storage/group_commit.h"
#include "storage/raft_records.h"

namespace shoal::storage {

class RaftStorage {
 public:
  static Result<std::unique_ptr<RaftStorage>> open(WriteBatchBuilder& batch, ShardId shard);

  // --- reads (staged writes included) ---
  LogIndex first_index() const { return LogIndex(snapshot_.index.value() + 1); }
  // The last entry's index, or the snapshot's index when the log is empty.
  LogIndex last_index() const { return last_; }
  // Term of entry i, for i in [snapshot index, last index].
  Result<Term> term(LogIndex i) const;
  // Entries [lo, hi), lo >= first_index(), hi <= last_index()+1, stopping once
  // `max_bytes` (log_record_bytes) is exceeded; at least one entry if lo < hi.
  Result<std::vector<LogRecord>> entries(LogIndex lo, LogIndex hi, size_t max_bytes) const;
  const HardStateRecord& hard_state() const { return hard_state_; }
  LogIndex applied() const { return applied_; }
  const SnapshotRecord& snapshot_meta() const { return snapshot_; }
  LogIndex persisted_ack() const { return ack_; }
  // The state Raft restarts from (the whole log is read and CRC-checked).
  Result<RaftStateRecord> initial_state() const;

  // --- staged writes ---
  // Appends contiguous entries; those at >= entries[0].index are replaced and
  // any stored beyond the new last are deleted. entries[0].index must be in
  // [first_index(), last_index()+1].
  Status append(std::span<const LogRecord> entries);
  void set_hard_state(const HardStateRecord& hs);
  // Stage this in the same batch as the state-machine writes it describes.
  void set_applied(LogIndex applied);
  // Installs a received snapshot's meta: the whole log is discarded.
  void apply_snapshot(const SnapshotRecord& meta);
  // The state machine at `upto` is durable: the log up to `upto` is deleted and
  // the snapshot meta moves to (upto, term(upto), conf). upto <= last_index().
  Status compact(LogIndex upto, const ConfRecord& conf);

  ShardId shard() const { return shard_; }

 private:
  RaftStorage(WriteBatchBuilder& batch, ShardId shard) : batch_(batch), shard_(shard) {}
  Status load_state();
  Status load_log_bounds();
  Status check_tail();
  Result<LogRecord> read_entry(LogIndex i) const;
  void stage_delete_entries(LogIndex from, LogIndex to);  // [from, to]
  std::string log_key(LogIndex i) const;
  std::string state_key(char tag) const;

  // Log records staged since the builder's last commit: the staged writes are
  // not indexed (see WriteBatchBuilder::put_unindexed), so reads of them are
  // served from here. They are always the log's tail [staged_.begin, last_].
  const std::map<LogIndex, std::string>& staged() const;
  mutable std::map<LogIndex, std::string> staged_;
  mutable uint64_t staged_generation_ = 0;

  WriteBatchBuilder& batch_;
  ShardId shard_;
  HardStateRecord hard_state_;
  SnapshotRecord snapshot_;
  LogIndex applied_;
  LogIndex ack_;
  LogIndex last_;
};

// The log record codec, exposed for tests and tools.
std::string encode_log_record(ShardId shard, const LogRecord& e);
Result<LogRecord> decode_log_record(ShardId shard, LogIndex index, std::string_view value);

}  // namespace shoal::storage
