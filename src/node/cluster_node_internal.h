// Pieces of the node core shared by its source files (not a public API).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kv/command.h"
#include "kv/recorded_reply.h"

namespace shoal::node {

// The meta shard's key holding the encoded cluster map.
inline constexpr std::string_view kMapKey = "shoal:cluster-map";

// Per-key commands that proxy mode may split by shard (DESIGN.md section 4).
bool is_splittable(const kv::CommandSpec& spec);

using SubResult = std::pair<Status, kv::RecordedReply>;

// Combines the replies of a keyspace-wide command run on several shards
// (DBSIZE, KEYS, RANDOMKEY, FLUSHALL, FLUSHDB) into the one its client gets.
SubResult combine_fan_out(std::string_view name, std::vector<SubResult> parts, uint64_t random);
// Sums integer replies (DEL, UNLINK, EXISTS, TOUCH split by shard).
SubResult combine_sum(std::vector<SubResult> parts, bool is_write);
// The failure among `parts`, if any: an unknown outcome wins over other
// errors; for a write that applied on some shards and failed on others the
// outcome is unknown (H18).
std::optional<SubResult> first_failure(const std::vector<SubResult>& parts, bool is_write);

}  // namespace shoal::node
