// Reads: ReadIndex batching, leases and follower reads (H12).
#include <gtest/gtest.h>

#include "raft/raft.h"
#include "raft/test_cluster.h"

namespace shoal::raft {
namespace {

using testing::TestCluster;

TEST(RaftRead, ReadIndexBatchesOneHeartbeatRound) {
  TestCluster c(3);
  c.elect(1);
  c.tick_all(1);
  int heartbeats = 0;
  c.filter = [&](Message& m) {
    heartbeats += m.type == MessageType::kHeartbeat;
    return true;
  };
  for (uint64_t ctx = 1; ctx <= 10; ++ctx) ASSERT_TRUE(c[1].read_index(ctx).is_ok());
  c.drain();
  EXPECT_EQ(heartbeats, 2) << "one round (one heartbeat per follower) for ten reads";
  ASSERT_EQ(c.node(1).reads.size(), 10u);
  for (auto& r : c.node(1).reads) {
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.index, c[1].log().committed());
  }
}

TEST(RaftRead, ReadIndexNeedsQuorum_H12) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(2), NodeId(3)};
  ASSERT_TRUE(c[1].read_index(7).is_ok());
  c.drain();
  EXPECT_TRUE(c.node(1).reads.empty()) << "a partitioned leader must not answer";
}

TEST(RaftRead, NewLeaderRefusesReadsBeforeOwnTermCommit_H12) {
  TestCluster c(3);
  c.filter = [](Message& m) { return m.type != MessageType::kAppResp; };
  c.elect(1);
  EXPECT_EQ(c[1].read_index(1).code(), StatusCode::kUnavailable);
  c.filter = nullptr;
  c.tick_all(1);
  EXPECT_TRUE(c[1].read_index(1).is_ok());
}

TEST(RaftRead, LeaseRequiresCheckQuorum) {
  Config cfg;
  cfg.id = NodeId(1);
  cfg.read_mode = ReadMode::kLease;
  cfg.check_quorum = false;
  EXPECT_FALSE(cfg.validate().is_ok());
  cfg.check_quorum = true;
  EXPECT_TRUE(cfg.validate().is_ok());
}

TEST(RaftRead, LeaseServesWithoutRoundAndNotDuringTransfer_H12) {
  TestCluster c(3, [](Config& cfg) { cfg.read_mode = ReadMode::kLease; });
  c.elect(1);
  c.tick_all(1);
  ASSERT_TRUE(c[1].lease_valid());
  c.isolated = {NodeId(2), NodeId(3)};
  ASSERT_TRUE(c[1].read_index(1).is_ok());
  c.drain();
  ASSERT_EQ(c.node(1).reads.size(), 1u) << "served from the lease";
  ASSERT_TRUE(c[1].transfer_leadership(NodeId(2)).is_ok());
  EXPECT_FALSE(c[1].lease_valid()) << "etcd-io/raft #99";
  ASSERT_TRUE(c[1].read_index(2).is_ok());
  c.drain();
  EXPECT_EQ(c.node(1).reads.size(), 1u);
}

TEST(RaftRead, LeaseExpiresFromSendTime) {
  TestCluster c(3, [](Config& cfg) {
    cfg.read_mode = ReadMode::kLease;
    cfg.lease_drift_ticks = 2;
  });
  c.elect(1);
  c.tick_all(1);
  c.isolated = {NodeId(2), NodeId(3)};
  int valid = 0;
  for (int i = 0; i < 12; ++i) {
    valid += c[1].lease_valid();
    c[1].tick();
    c.drain();
  }
  // Sent at tick t, the lease lasts election_ticks - drift = 8 ticks.
  EXPECT_LE(valid, 8);
  EXPECT_GE(valid, 6);
  EXPECT_FALSE(c[1].lease_valid());
}

TEST(RaftRead, FollowerReadIndexAsksLeader) {
  TestCluster c(3);
  c.elect(1);
  c.tick_all(1);
  ASSERT_TRUE(c[2].read_index(42).is_ok());
  c.drain();
  ASSERT_EQ(c.node(2).reads.size(), 1u);
  EXPECT_TRUE(c.node(2).reads[0].ok);
  EXPECT_EQ(c.node(2).reads[0].context, 42u);
  EXPECT_EQ(c.node(2).reads[0].index, c[1].log().committed());
}

}  // namespace
}  // namespace shoal::raft
