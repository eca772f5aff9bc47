// WriteCommand: what a Raft log entry carries for a client write.
//
// Everything the apply needs to be deterministic travels inside the entry:
// the arguments, the proposer's clock (`now_ms`, used for expiry decisions,
// DESIGN.md section 8) and the client's request identity for exactly-once
// application of retried requests (H17).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shoal::kv {

struct WriteCommand {
  uint64_t client_id = 0;  // 0: no exactly-once tracking (idempotent or internal)
  uint64_t seq = 0;        // per-client request number, increasing
  int64_t now_ms = 0;
  std::vector<std::string> args;

  bool operator==(const WriteCommand&) const = default;
};

// Format: version(1) client_id(8) seq(8) now_ms(8) argc(varint) {len(varint) bytes}*
std::string encode_write_command(const WriteCommand& cmd);
// Validates everything; entries come from disk and peers.
Result<WriteCommand> decode_write_command(std::string_view bytes);

}  // namespace shoal::kv
