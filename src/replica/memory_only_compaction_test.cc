// Memory-only compactions (ReplicaOptions::snapshot_min_log_bytes): an
// in-memory state's compactions drop entries from Raft's memory and store
// nothing until the stored log since the last stored snapshot is big enough;
// a restart rebuilds the state from that snapshot plus the stored log.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "replica/replica_test_support.h"

namespace shoal::replica {
namespace {

using testing::LocalCluster;
using testing::LocalClusterOptions;

std::unique_ptr<LocalCluster> cluster_with(int nodes, uint64_t compact_after,
                                           uint64_t min_log_bytes) {
  LocalClusterOptions o;
  o.nodes = nodes;
  o.replica.compact_after_writes = compact_after;
  o.replica.snapshot_min_log_bytes = min_log_bytes;
  return testing::cluster_with_leader(std::move(o));
}

// What node `id`'s store holds for shard 1.
StoredState stored(LocalCluster& c, NodeId id) {
  auto st = c.memory_store(id)->load(ShardId(1));
  EXPECT_TRUE(st.is_ok() && st.value().has_value());
  return st.is_ok() && st.value() ? *st.value() : StoredState{};
}

TEST(MemoryOnlyCompaction, StoresASnapshotOnlyOnceTheStoredLogIsBig) {
  // Compactions every 16 writes; a stored snapshot once 40 KB of log are.
  auto cluster = cluster_with(1, 16, 40000);
  ASSERT_NE(cluster, nullptr);
  LocalCluster& c = *cluster;
  Replica* r = c.replica(NodeId(1));
  const std::string value(100, 'v');
  // ~130 bytes of entry per write: 200 writes stay under 40 KB.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), value}).status.is_ok());
    ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":" + std::to_string(i + 1));
  }
  EXPECT_GE(r->memory_only_compactions(), 5u);
  // Raft's memory was compacted...
  EXPECT_GT(r->raft().log().first_index(), LogIndex(150));
  // ...while the store still has no snapshot after the bootstrap one, and
  // every entry since.
  StoredState st = stored(c, NodeId(1));
  EXPECT_LE(st.snapshot.meta.index, LogIndex(1));
  ASSERT_FALSE(st.entries.empty());
  EXPECT_EQ(st.entries.front().index, st.snapshot.meta.index.next());
  EXPECT_EQ(st.entries.back().index, r->raft().log().last_index());

  // Past 40 KB of log, a compaction stores a snapshot and drops the log.
  for (int i = 100; i < 400; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), value}).status.is_ok());
    ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":" + std::to_string(i + 1));
  }
  st = stored(c, NodeId(1));
  EXPECT_GT(st.snapshot.meta.index, LogIndex(300));
  EXPECT_FALSE(st.snapshot.data.empty());
  // The log after it is what was written since: well under the whole run.
  EXPECT_LT(st.entries.size(), 500u);
}

// A memory-only compaction costs O(entries dropped), not O(state): unlike a
// stored one it does not wait for as many writes as there are keys, so
// Raft's in-memory log stays near compact_after_writes entries while the
// key count grows (it grew with the key count before session 15).
TEST(MemoryOnlyCompaction, RaftsMemoryStaysBoundedWhileKeysGrow) {
  auto cluster = cluster_with(1, 16, 1 << 20);  // never stores one here
  ASSERT_NE(cluster, nullptr);
  LocalCluster& c = *cluster;
  Replica* r = c.replica(NodeId(1));
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), "v"}).status.is_ok());
    const auto& log = r->raft().log();
    uint64_t in_memory = log.last_index().value() + 1 - log.first_index().value();
    ASSERT_LE(in_memory, 32u) << "after write " << i;
  }
  EXPECT_GE(r->memory_only_compactions(), 25u);
}

TEST(MemoryOnlyCompaction, ARestartReplaysTheStoredLogOnce) {
  auto cluster = cluster_with(1, 16, 1 << 20);  // never stores one here
  ASSERT_NE(cluster, nullptr);
  LocalCluster& c = *cluster;
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), "v" + std::to_string(i)}).status.is_ok());
    // Not idempotent: an entry replayed twice, or skipped, shows here.
    ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":" + std::to_string(i + 1));
  }
  Replica* r = c.replica(NodeId(1));
  ASSERT_GE(r->memory_only_compactions(), 5u);
  ASSERT_GT(r->raft().log().first_index(), LogIndex(500));
  c.crash(NodeId(1));
  ASSERT_TRUE(c.start(NodeId(1)).is_ok());
  ASSERT_TRUE(c.wait_leader().has_value());
  EXPECT_EQ(c.read(NodeId(1), {"GET", "counter"}), "$300");
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(c.read(NodeId(1), {"GET", "k" + std::to_string(i)}), "$v" + std::to_string(i)) << i;
  }
  EXPECT_EQ(c.replica(NodeId(1))->state_machine().store().size(), 301u);
  // And it goes on compacting and counting from there.
  ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":301");
}

TEST(MemoryOnlyCompaction, AFollowerBehindAMemoryOnlyCompactionCatchesUp) {
  auto cluster = cluster_with(3, 20, 1 << 20);
  ASSERT_NE(cluster, nullptr);
  LocalCluster& c = *cluster;
  NodeId leader = *c.wait_leader();
  NodeId follower = leader == NodeId(1) ? NodeId(2) : NodeId(1);
  c.crash(follower);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":" + std::to_string(i + 1));
  }
  Replica* l = c.replica(leader);
  ASSERT_GE(l->memory_only_compactions(), 5u);
  // Only a snapshot can bring the follower back: Raft dropped the entries.
  ASSERT_GT(l->raft().log().first_index(), LogIndex(100));
  ASSERT_TRUE(c.start(follower).is_ok());
  ASSERT_TRUE(c.converge(1).is_ok());
  EXPECT_EQ(c.read(*c.wait_leader(), {"GET", "counter"}), "$200");
  EXPECT_EQ(c.replica(follower)->state_machine().store().size(), 1u);
  // The leader's restart, from its stored snapshot and log, loses nothing.
  leader = *c.wait_leader();
  c.crash(leader);
  ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":201");
  ASSERT_TRUE(c.start(leader).is_ok());
  ASSERT_TRUE(c.converge(1).is_ok());
  EXPECT_EQ(c.replica(leader)->applied(), c.replica(follower)->applied());
  EXPECT_EQ(c.read(*c.wait_leader(), {"GET", "counter"}), "$201");
}

}  // namespace
}  // namespace shoal::replica
