#include "replica/raft_record_conversion.h"

#include <utility>

namespace shoal::replica {

// Stored log record types are raft's entry types.
static_assert(static_cast<uint8_t>(raft::EntryType::kNormal) == storage::kLogRecordNormal);
static_assert(static_cast<uint8_t>(raft::EntryType::kConfChange) == storage::kLogRecordConfChange);
static_assert(storage::kMaxLogRecordType == static_cast<uint8_t>(raft::EntryType::kConfChange));

storage::LogRecord to_record(const raft::Entry& e) {
  return storage::LogRecord{e.term, e.index, static_cast<uint8_t>(e.type), e.data};
}

// Storage rejects types above kMaxLogRecordType on decode, so the cast is to a
// valid enumerator.
raft::Entry from_record(storage::LogRecord&& r) {
  return raft::Entry{r.term, r.index, static_cast<raft::EntryType>(r.type), std::move(r.data)};
}

std::vector<storage::LogRecord> to_records(const std::vector<raft::Entry>& entries) {
  std::vector<storage::LogRecord> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(to_record(e));
  return out;
}

storage::HardStateRecord to_record(const raft::HardState& hs) {
  return storage::HardStateRecord{hs.term, hs.vote, hs.commit};
}

raft::HardState from_record(const storage::HardStateRecord& hs) {
  return raft::HardState{hs.term, hs.vote, hs.commit};
}

storage::ConfRecord to_record(const raft::ConfState& cs) {
  return storage::ConfRecord{cs.voters, cs.voters_outgoing, cs.learners, cs.learners_next,
                             cs.auto_leave};
}

raft::ConfState from_record(const storage::ConfRecord& cs) {
  return raft::ConfState{cs.voters, cs.voters_outgoing, cs.learners, cs.learners_next,
                         cs.auto_leave};
}

storage::SnapshotRecord to_record(const raft::SnapshotMeta& meta) {
  return storage::SnapshotRecord{meta.index, meta.term, to_record(meta.conf)};
}

raft::SnapshotMeta from_record(const storage::SnapshotRecord& meta) {
  return raft::SnapshotMeta{meta.index, meta.term, from_record(meta.conf)};
}

}  // namespace shoal::replica
