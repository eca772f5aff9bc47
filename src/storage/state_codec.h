// Fixed encodings of Raft's small durable values, each self-checking:
//   value = version(1) | fields | crc32c(4) over version and fields.
// Hard state is one value (term, vote, commit together) so it can never be
// torn (H16, ClickHouse PR #113654). Decoding validates everything: a value
// read from disk is untrusted input and a bad one is Status::corruption.
// Integers inside values are little-endian (base/coding.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/coding.h"
#include "base/status.h"
#include "storage/raft_records.h"

namespace shoal::storage {

std::string encode_hard_state(const HardStateRecord& hs);
Result<HardStateRecord> decode_hard_state(std::string_view bytes);

// A single log index (applied index, acknowledged-persist marker).
std::string encode_index(LogIndex index);
Result<LogIndex> decode_index(std::string_view bytes);

std::string encode_snapshot_meta(const SnapshotRecord& meta);
Result<SnapshotRecord> decode_snapshot_meta(std::string_view bytes);

std::string encode_snapshot_file_ref(const SnapshotFileRef& ref);
Result<SnapshotFileRef> decode_snapshot_file_ref(std::string_view bytes);

// Conf state without a CRC of its own, for embedding in a checked value.
void put_conf_state(std::string& out, const ConfRecord& cs);
std::optional<ConfRecord> get_conf_state(ByteReader& in);

}  // namespace shoal::storage
