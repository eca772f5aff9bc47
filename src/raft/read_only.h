// ReadQueue: ReadIndex requests waiting for a heartbeat round (Raft thesis
// §6.4). A read is assigned to the first round sent *after* it arrived; one
// round serves every read assigned to it (batching). When a quorum has acked
// round r, every read with round <= r may be served at its recorded index.
// The send time of each round is kept so that a quorum ack can extend the
// leader lease from when the round was sent, never from when it was acked.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "raft/types.h"

namespace shoal::raft {

struct PendingRead {
  uint64_t context = 0;
  NodeId from;         // the asking node (self or a follower)
  LogIndex index;      // leader's commit index when the read arrived
  uint64_t round = 0;  // 0 = not yet assigned to a round
};

class ReadQueue {
 public:
  explicit ReadQueue(size_t max_rounds = 1024) : max_rounds_(max_rounds) {}

  void add(const PendingRead& r) { reads_.push_back(r); }
  bool has_unassigned() const { return !reads_.empty() && reads_.back().round == 0; }
  // Assigns every unassigned read to `round`.
  void assign(uint64_t round);
  // Records that `round` was sent at `tick` (bounded: old rounds are dropped).
  void round_sent(uint64_t round, uint64_t tick);
  // Pops the send tick of the highest round <= `acked`, dropping older ones.
  std::optional<uint64_t> take_sent_tick(uint64_t acked);

  // Calls f(read) for every read whose round is <= `acked`, removing them.
  template <typename F>
  void release(uint64_t acked, F&& f) {
    while (!reads_.empty() && reads_.front().round != 0 && reads_.front().round <= acked) {
      f(reads_.front());
      reads_.pop_front();
    }
  }
  template <typename F>
  void fail_all(F&& f) {
    for (const auto& r : reads_) f(r);
    reads_.clear();
    rounds_.clear();
  }
  size_t size() const { return reads_.size(); }

 private:
  struct Round {
    uint64_t round;
    uint64_t sent_tick;
  };
  size_t max_rounds_;
  std::deque<PendingRead> reads_;
  std::deque<Round> rounds_;
};

}  // namespace shoal::raft
