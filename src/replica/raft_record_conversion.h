// Conversions between the Raft library's durable types and storage's records
// (storage/raft_records.h). Storage does not depend on raft (DESIGN.md §3),
// so the replica layer, which uses both, translates at the boundary. Every
// conversion is field for field: the stored bytes are those of the raft
// values.
#pragma once

#include <vector>

#include "raft/types.h"
#include "storage/raft_records.h"

namespace shoal::replica {

storage::LogRecord to_record(const raft::Entry& e);
raft::Entry from_record(storage::LogRecord&& r);
std::vector<storage::LogRecord> to_records(const std::vector<raft::Entry>& entries);

storage::HardStateRecord to_record(const raft::HardState& hs);
raft::HardState from_record(const storage::HardStateRecord& hs);

storage::ConfRecord to_record(const raft::ConfState& cs);
raft::ConfState from_record(const storage::ConfRecord& cs);

storage::SnapshotRecord to_record(const raft::SnapshotMeta& meta);
raft::SnapshotMeta from_record(const storage::SnapshotRecord& meta);

}  // namespace shoal::replica
