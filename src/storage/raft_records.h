// Storage-level records of a Raft group's durable state: what RaftStorage,
// state_codec and the snapshot stream store, as plain data. They mirror the
// Raft library's types field for field, but storage does not depend on the
// raft library (DESIGN.md §3); the replica layer converts at the boundary
// (replica/raft_record_conversion.h). No behaviour lives here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/ids.h"

namespace shoal::storage {

// Log record types storage accepts; a stored type above the largest is
// corruption. The values are raft::EntryType's (checked by the conversion).
inline constexpr uint8_t kLogRecordNormal = 0;
inline constexpr uint8_t kLogRecordConfChange = 1;
inline constexpr uint8_t kMaxLogRecordType = kLogRecordConfChange;

// One log entry.
struct LogRecord {
  Term term;
  LogIndex index;
  uint8_t type = kLogRecordNormal;
  std::string data;
};

// The size a record counts for against a byte limit; the same as
// raft::entry_bytes for the corresponding entry.
inline size_t log_record_bytes(const LogRecord& r) { return r.data.size() + 24; }

// Term, vote and commit: one value, never torn (state_codec.h).
struct HardStateRecord {
  Term term;
  NodeId vote;  // NodeId(0) = none
  LogIndex commit;
  bool operator==(const HardStateRecord&) const = default;
};

// Membership as stored (state_codec.h, put_conf_state).
struct ConfRecord {
  std::vector<NodeId> voters;
  std::vector<NodeId> voters_outgoing;
  std::vector<NodeId> learners;
  std::vector<NodeId> learners_next;
  bool auto_leave = false;
  bool operator==(const ConfRecord&) const = default;
};

// The compaction point: the last index covered by the snapshot, its term and
// the membership as of it.
struct SnapshotRecord {
  LogIndex index;
  Term term;
  ConfRecord conf;
};

// Where a snapshot's serialized state lives (storage/snapshot_files.h).
struct SnapshotFileRef {
  std::string name;  // file name inside the node's snapshot directory
  uint64_t size = 0;
  uint32_t crc = 0;  // crc32c of the file's bytes
  bool operator==(const SnapshotFileRef&) const = default;
};

// A shard's whole durable Raft state after a restart.
struct RaftStateRecord {
  HardStateRecord hard_state;
  SnapshotRecord snapshot;
  std::vector<LogRecord> entries;  // durable entries after snapshot.index
  LogIndex applied;
};

}  // namespace shoal::storage
