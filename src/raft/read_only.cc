#include "raft/read_only.h"

namespace shoal::raft {

void ReadQueue::assign(uint64_t round) {
  for (auto it = reads_.rbegin(); it != reads_.rend() && it->round == 0; ++it) it->round = round;
}

void ReadQueue::round_sent(uint64_t round, uint64_t tick) {
  rounds_.push_back({round, tick});
  // Without check-quorum a partitioned leader never steps down; dropping
  // old rounds only loses lease extensions, never safety.
  while (rounds_.size() > max_rounds_) rounds_.pop_front();
}

std::optional<uint64_t> ReadQueue::take_sent_tick(uint64_t acked) {
  std::optional<uint64_t> tick;
  while (!rounds_.empty() && rounds_.front().round <= acked) {
    tick = rounds_.front().sent_tick;
    rounds_.pop_front();
  }
  return tick;
}

}  // namespace shoal::raft
