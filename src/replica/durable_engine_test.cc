// The Raft log in RocksDB, and the durable engine (the state machine's data
// in RocksDB with its applied index): restarts, snapshots, compaction, and
// switching engines. Hazards: H11, H15, H17.
#include <gtest/gtest.h>

#include "replica/local_cluster.h"
#include "replica/replica_test_support.h"

namespace shoal::replica {
namespace {

using testing::Cluster;
using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;

// The same scenarios with the Raft log in RocksDB: restart reads the log back
// from disk (CRC-checked) and replays it into the in-memory state machine.
TEST(ReplicatedShardOnRocksDB, RestartFromDiskKeepsEveryAcknowledgedWrite) {
  Cluster c(2, /*compact_after=*/25, HostOptions{}, StoreKind::kRocks);
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), std::to_string(i)}, 0, 0, 1 + i % 2)
                    .first.is_ok());
  }
  for (uint64_t id = 1; id <= 3; ++id) c.crash(NodeId(id));
  for (uint64_t id = 1; id <= 3; ++id) c.start(NodeId(id), false);
  for (int i = 0; i < 60; ++i) {
    int shard = 1 + i % 2;
    EXPECT_EQ(c.read(c.wait_leader(shard), {"GET", "k" + std::to_string(i)}, shard),
              "$" + std::to_string(i));
  }
  c.expect_converged(1);
  c.expect_converged(2);
}

TEST(ReplicatedShardOnRocksDB, FollowerCatchesUpBySnapshotAfterRestart) {
  Cluster c(1, /*compact_after=*/20, HostOptions{}, StoreKind::kRocks);
  NodeId l = c.wait_leader();
  NodeId follower = l == NodeId(1) ? NodeId(2) : NodeId(1);
  c.crash(follower);
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(c.write({"INCR", "n"}).first.is_ok());
  c.start(follower, false);
  c.expect_converged();
  // And once more from its own disk, now holding the installed snapshot.
  c.crash(follower);
  c.start(follower, false);
  c.expect_converged();
  EXPECT_EQ(c.read(c.wait_leader(), {"GET", "n"}), "$150");
}

// The state machines' data in RocksDB (RocksEngine), written in the same
// batch as the applied index it reaches: a restart continues from the stored
// state instead of replaying the log from the last snapshot.
Cluster durable_cluster(int shards = 1, uint64_t compact_after = 10000) {
  return Cluster(shards, compact_after, HostOptions{}, StoreKind::kRocks, /*durable_engine=*/true);
}

TEST(DurableEngine, RestartContinuesFromTheStoredAppliedIndex) {
  Cluster c = durable_cluster(2, /*compact_after=*/25);  // compacts before the crash
  for (int i = 0; i < 60; ++i) {
    int shard = 1 + i % 2;
    ASSERT_TRUE(c.write({"INCR", "n"}, 0, 0, shard).first.is_ok());
    ASSERT_TRUE(
        c.write({"SET", "k" + std::to_string(i), std::to_string(i)}, 0, 0, shard).first.is_ok());
  }
  c.expect_converged(1);
  c.expect_converged(2);
  for (uint64_t id = 1; id <= 3; ++id) c.crash(NodeId(id));
  for (uint64_t id = 1; id <= 3; ++id) {
    c.start(NodeId(id), false);
    for (int shard = 1; shard <= 2; ++shard) {
      // Before any entry is replayed, the engine already holds the state at
      // the stored applied index: far past the bootstrap snapshot (index 1)
      // and the keys are there. (The last apply's writes may not have been
      // committed before the crash: those few entries are replayed.)
      Replica* r = c.replica(NodeId(id), shard);
      EXPECT_GT(r->applied().value(), 50u) << "node " << id << " shard " << shard;
      EXPECT_GE(r->state_machine().store().size(), 25u);
    }
  }
  for (int i = 0; i < 60; ++i) {
    int shard = 1 + i % 2;
    EXPECT_EQ(c.read(c.wait_leader(shard), {"GET", "k" + std::to_string(i)}, shard),
              "$" + std::to_string(i));
  }
  EXPECT_EQ(c.read(c.wait_leader(1), {"GET", "n"}, 1), "$30");
  EXPECT_EQ(c.read(c.wait_leader(2), {"GET", "n"}, 2), "$30");
  c.expect_converged(1);
  c.expect_converged(2);
}

// H17 across a restart: the exactly-once table is durable with the data, so
// a retry after every node restarted (no replay from the log start) still
// gets the recorded reply instead of applying twice.
TEST(DurableEngine, H17_RetryAfterFullRestartAppliesOnce) {
  Cluster c = durable_cluster();
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 1).second, ":1");
  EXPECT_EQ(c.write({"APPEND", "s", "x"}, 43, 7).second, ":1");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.write({"SET", "pad", "v"}).first.is_ok());
  c.expect_converged();
  for (uint64_t id = 1; id <= 3; ++id) c.crash(NodeId(id));
  for (uint64_t id = 1; id <= 3; ++id) c.start(NodeId(id), false);
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 1).second, ":1");
  EXPECT_EQ(c.write({"APPEND", "s", "x"}, 43, 7).second, ":1");
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 2).second, ":2");
  EXPECT_EQ(c.read(c.wait_leader(), {"GET", "s"}), "$x");
  c.expect_converged();
}

// A follower that fell behind installs the leader's snapshot into its durable
// engine, and restarts from that installed state.
TEST(DurableEngine, FollowerInstallsSnapshotAndRestartsFromIt) {
  Cluster c = durable_cluster(1, /*compact_after=*/20);
  NodeId l = c.wait_leader();
  NodeId follower = l == NodeId(1) ? NodeId(2) : NodeId(1);
  ASSERT_TRUE(c.write({"SET", "old", "1"}).first.is_ok());
  c.expect_converged();
  c.crash(follower);
  ASSERT_TRUE(c.write({"DEL", "old"}).first.is_ok());
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(c.write({"INCR", "n"}).first.is_ok());
  c.start(follower, false);
  c.expect_converged();
  c.crash(follower);
  c.start(follower, false);
  EXPECT_GT(c.replica(follower)->applied().value(), 100u);
  c.expect_converged();
  // The key deleted while the follower was away is gone from its engine too
  // (the install replaced the range, it did not merge into it).
  EXPECT_FALSE(c.replica(follower)->state_machine().store().find("old", 0, false).has_value());
  EXPECT_EQ(c.read(c.wait_leader(), {"GET", "n"}), "$150");
}

// For the tests below that drive LocalCluster directly (proposals in flight,
// engine switches).
Result<std::unique_ptr<LocalCluster>> durable_local_cluster(uint64_t compact_after) {
  LocalClusterOptions o;
  o.store = StoreKind::kRocks;
  o.durable_engine = true;
  o.replica.compact_after_writes = compact_after;
  return LocalCluster::create(std::move(o));
}

// Found by review: a leader whose applied index equals its compaction point,
// with entries persisted but not yet committed, serializes its state for a
// follower. That must not touch its stored log: Raft already counts those
// entries as persisted and commits them with the returning follower.
TEST(DurableEngine, SnapshotAtTheCompactionPointKeepsTheStoredLog) {
  auto created = durable_local_cluster(/*compact_after=*/20);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  LocalCluster& c = *created.value();
  NodeId l = *c.wait_leader();
  std::vector<NodeId> followers;
  for (NodeId n : c.nodes()) {
    if (n != l) followers.push_back(n);
  }
  NodeId f1 = followers[0], f2 = followers[1];
  c.crash(f2);
  // Write until the leader has compacted exactly at its applied index.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(c.write({"SET", "a" + std::to_string(i), "v"}).status.is_ok());
    Replica* r = c.replica(l);
    if (r->raft().log().first_index().prev() == r->applied()) break;
  }
  c.tick(3);
  ASSERT_EQ(c.replica(l)->raft().log().first_index().prev(), c.replica(l)->applied());
  // With f1 gone too, three writes are persisted on the leader, not committed.
  c.crash(f1);
  std::vector<testing::Outcome> outs(3);
  std::vector<bool> answered(3, false);
  for (int k = 0; k < 3; ++k) {
    c.propose({"SET", "b" + std::to_string(k), "v"}, 0, 0, 1,
              [&outs, &answered, k](const testing::Outcome& out) {
                outs[k] = out;
                answered[k] = true;
              });
  }
  c.tick(3);
  // f2 returns and needs a snapshot; with it the three writes commit.
  ASSERT_TRUE(c.start(f2, false).is_ok());
  for (int t = 0; t < 300 && !(answered[0] && answered[1] && answered[2]); ++t) c.tick();
  ASSERT_FALSE(c.host(l)->failed());
  // The leader restarts from its own disk, with f1; f2 is away.
  c.crash(l);
  c.crash(f2);
  ASSERT_TRUE(c.start(l, false).is_ok());
  ASSERT_TRUE(c.start(f1, false).is_ok());
  auto leader = c.wait_leader();
  ASSERT_TRUE(leader.has_value());
  ASSERT_TRUE(c.write({"SET", "c", "v"}).status.is_ok());  // commits in the new term
  int acknowledged = 0;
  for (int k = 0; k < 3; ++k) {
    if (answered[k] && outs[k].status.is_ok()) {
      ++acknowledged;
      EXPECT_EQ(c.read(*leader, {"GET", "b" + std::to_string(k)}), "$v") << "acknowledged b" << k;
    }
  }
  EXPECT_EQ(acknowledged, 3);  // the scenario happened
  EXPECT_TRUE(c.converge().is_ok());
}

// Found by review: after a durable engine compacted its log (no serialized
// state), a restart with the memory engine must refuse instead of starting
// empty.
TEST(DurableEngine, SwitchingToTheMemoryEngineAfterCompactionIsRefused) {
  auto created = durable_local_cluster(/*compact_after=*/20);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  LocalCluster& c = *created.value();
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), "v"}).status.is_ok());
  }
  ASSERT_TRUE(c.converge().is_ok());
  for (NodeId n : c.nodes()) c.crash(n);
  c.set_durable_engine(false);
  Status s = c.start(NodeId(1), false);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("--engine rocksdb"), std::string::npos) << s.to_string();
  // Back on the durable engine everything is there.
  c.set_durable_engine(true);
  for (NodeId n : c.nodes()) ASSERT_TRUE(c.start(n, false).is_ok());
  EXPECT_EQ(c.read(*c.wait_leader(), {"DBSIZE"}), ":60");
}

// Found by review of the batching change: the count of writes since the last
// compaction lived only in memory, so a durable replica that restarts (and
// does not replay what its engine already holds) forgot the entries applied
// since its compaction point; one restarting more often than every
// compact_after_writes writes never compacted its log again.
TEST(DurableEngine, CompactionCountsTheEntriesAppliedBeforeARestart) {
  Cluster c = durable_cluster(1, /*compact_after=*/30);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), "v"}).first.is_ok());
  c.expect_converged();
  for (uint64_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(c.replica(NodeId(id))->raft().log().first_index().value(), 2u) << "compacted early";
    c.crash(NodeId(id));
  }
  for (uint64_t id = 1; id <= 3; ++id) c.start(NodeId(id), false);
  for (int i = 0; i < 15; ++i)
    ASSERT_TRUE(c.write({"SET", "j" + std::to_string(i), "v"}).first.is_ok());
  c.expect_converged();
  // 20 writes before the restart and 15 after: past 30 on every node.
  for (uint64_t id = 1; id <= 3; ++id) {
    EXPECT_GT(c.replica(NodeId(id))->raft().log().first_index().value(), 22u) << "node " << id;
  }
}

}  // namespace
}  // namespace shoal::replica
