// WriteCommand: what a Raft log entry carries for a client write.
//
// Everything the apply needs to be deterministic travels inside the entry:
// the arguments, the proposer's clock (`now_ms`, used for expiry decisions,
// DESIGN.md section 8) and the client's request identity for exactly-once
// application of retried requests (H17).
//
// An entry holds one command or a batch of them: a leader packs the writes
// proposed to a shard during one host iteration into one entry, so the
// per-entry costs (Raft's bookkeeping, the log record and its RocksDB key,
// the proposal maps) are paid once per batch instead of once per write. The
// commands of a batch apply in order, each with its own reply.
#pragma once

#include <cstdint>
#include <span>
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

// A decoded command whose arguments point into the entry's bytes (the apply
// path decodes without copying them).
struct WriteCommandView {
  uint64_t client_id = 0;
  uint64_t seq = 0;
  int64_t now_ms = 0;
  std::vector<std::string_view> args;
};

// One command, format version 1:
//   version(1)=1 client_id(8) seq(8) now_ms(8) argc(varint) {len(varint) bytes}*
std::string encode_write_command(const WriteCommand& cmd);
// Validates everything; entries come from disk and peers.
Result<WriteCommand> decode_write_command(std::string_view bytes);
Result<WriteCommandView> decode_write_command_view(std::string_view bytes);
// The same into `out`, reusing its argument vector's capacity (the apply
// path decodes every command of every entry: an allocation each otherwise).
Status decode_write_command_view(std::string_view bytes, WriteCommandView& out);

// Builds one entry from the commands added to it: a version-1 entry when
// there is one, else a batch, format version 2:
//   version(1)=2 count(fixed32) {len(varint) version-1 command}*
class WriteEntryBuilder {
 public:
  void add(const WriteCommand& cmd);
  size_t count() const { return count_; }
  size_t bytes() const { return out_.size(); }
  bool empty() const { return count_ == 0; }
  // The entry; the builder is empty again afterwards.
  std::string finish();
  // Drops what was added.
  void clear() {
    out_.clear();
    count_ = 0;
  }

 private:
  std::string out_;
  size_t count_ = 0;
  size_t first_at_ = 0;    // where the first command's bytes begin
  size_t last_bytes_ = 0;  // the size of the last entry finished
  static constexpr size_t kMaxEntryReserve = 64 * 1024;
};

// The commands of an entry (either version), each as version-1 bytes.
// Validates the framing only; decode each command to validate it.
Result<std::vector<std::string_view>> split_write_entry(std::string_view entry);

}  // namespace shoal::kv
