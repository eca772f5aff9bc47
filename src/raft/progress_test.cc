// Follower progress and the inflight window.
#include "raft/progress.h"

#include <gtest/gtest.h>

namespace shoal::raft {
namespace {

TEST(Progress, ProbeReplicateAndInflights) {
  Progress p(NodeId(2), LogIndex(10), 2, 0);
  EXPECT_FALSE(p.is_paused());
  p.sent_entries(LogIndex(10), 5, 1);
  EXPECT_TRUE(p.is_paused()) << "one probe at a time";
  EXPECT_TRUE(p.maybe_decrease_to(LogIndex(9), LogIndex(4)));
  EXPECT_EQ(p.next, LogIndex(5));
  EXPECT_TRUE(p.maybe_update(LogIndex(6)));
  p.become_replicate();
  p.sent_entries(LogIndex(8), 10, 2);
  p.sent_entries(LogIndex(9), 10, 1);
  EXPECT_TRUE(p.is_paused()) << "inflight window full";
  p.maybe_update(LogIndex(8));
  EXPECT_FALSE(p.is_paused());
  EXPECT_FALSE(p.maybe_decrease_to(LogIndex(7), LogIndex(0))) << "stale rejection";
}

}  // namespace
}  // namespace shoal::raft
