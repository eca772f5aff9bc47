// Progress: the leader's view of one peer's log (Raft paper §5.3 nextIndex /
// matchIndex) plus flow control.
//
//   kProbe:     one append in flight at a time until the match point is found
//               (fast backtracking with the follower's (index, term) hint).
//   kReplicate: optimistic pipelining; next runs ahead of match, bounded by
//               Inflights (messages and bytes).
//   kSnapshot:  the follower is behind our first index; nothing is sent until
//               the host reports the snapshot's outcome or the follower acks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/ids.h"

namespace shoal::raft {

// A ring of (last index, bytes) of appends sent but not yet acknowledged.
class Inflights {
 public:
  Inflights(size_t max_msgs, size_t max_bytes) : max_msgs_(max_msgs), max_bytes_(max_bytes) {}
  void add(LogIndex last, size_t bytes);
  // Frees every append whose last index is <= `index`.
  void free_le(LogIndex index);
  // Frees the oldest slot: a heartbeat ack proves the follower is alive, so a
  // lost append must not stall a full window forever.
  void free_first_one();
  void reset();
  bool full() const { return count_ >= max_msgs_ || (max_bytes_ > 0 && bytes_ >= max_bytes_); }
  size_t count() const { return count_; }
  size_t bytes() const { return bytes_; }

 private:
  struct Slot {
    LogIndex last;
    size_t bytes;
  };
  size_t max_msgs_;
  size_t max_bytes_;
  std::vector<Slot> ring_;
  size_t start_ = 0;
  size_t count_ = 0;
  size_t bytes_ = 0;
};

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };
const char* to_string(ProgressState s);

struct Progress {
  Progress(NodeId id, LogIndex next, size_t max_msgs, size_t max_bytes)
      : id(id), next(next), inflights(max_msgs, max_bytes) {}

  NodeId id;
  LogIndex match;
  LogIndex next;
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // kProbe: an append is outstanding
  LogIndex pending_snapshot;   // kSnapshot: index of the snapshot sent
  bool recent_active = false;  // heard from since the last check-quorum round
  uint64_t acked_round = 0;    // highest heartbeat round acknowledged
  Inflights inflights;

  void become_probe();
  void become_replicate();
  void become_snapshot(LogIndex snapshot_index);
  // An acknowledgement up to `n`; returns true if match advanced.
  bool maybe_update(LogIndex n);
  // A rejection of the append after `rejected`, with the follower's hint
  // (already mapped to our log by the caller). Returns false if stale.
  bool maybe_decrease_to(LogIndex rejected, LogIndex matched_hint);
  // Records an append of entries up to `last` (`bytes` of payload).
  void sent_entries(LogIndex last, size_t bytes, size_t count);
  bool is_paused() const;
};

}  // namespace shoal::raft
