// The commit index is written lazily (Replica::stage, docs/durable-shards.md
// "The commit index is written lazily"): a hard state that only advances it
// waits for the next batch that writes anything. These tests pin down what
// that buys (one store write per write round, not two), the invariant it
// must keep (a stored commit index never behind a stored applied index) and
// that a restart with a lagging commit index loses nothing acknowledged.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "raft/conf_change.h"
#include "replica/local_cluster.h"

namespace shoal::replica {
namespace {

using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;

std::unique_ptr<LocalCluster> rocks_cluster(int nodes, bool durable_engine,
                                            uint64_t compact_after_writes = 10000) {
  LocalClusterOptions o;
  o.nodes = nodes;
  o.store = StoreKind::kRocks;
  o.durable_engine = durable_engine;
  o.replica.compact_after_writes = compact_after_writes;
  auto c = LocalCluster::create(std::move(o));
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return c.is_ok() ? std::move(c).value() : nullptr;
}

StoredState stored_state(LocalCluster& c, NodeId id) {
  auto st = c.rocks_store(id)->load(ShardId(1));
  EXPECT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_TRUE(st.is_ok() && st.value().has_value());
  return st.is_ok() && st.value() ? *st.value() : StoredState{};
}

LogIndex last_stored_index(const StoredState& st) {
  return st.entries.empty() ? st.snapshot.meta.index : st.entries.back().index;
}

// A single-voter shard: each write is one round (append, commit, apply). The
// commit that follows the append used to be a store write of its own.
TEST(LazyCommitIndex, OneStoreWritePerWriteRound) {
  auto c = rocks_cluster(1, /*durable_engine=*/false);
  ASSERT_NE(c, nullptr);
  NodeId id = c->wait_leader().value_or(NodeId(1));
  ASSERT_TRUE(c->write({"SET", "warm", "up"}).status.is_ok());
  uint64_t before = c->rocks_store(id)->commits();
  constexpr int kWrites = 20;
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_TRUE(c->write({"SET", "k" + std::to_string(i), "v"}).status.is_ok());
  }
  EXPECT_EQ(c->rocks_store(id)->commits() - before, static_cast<uint64_t>(kWrites));
}

// With the memory engine nothing stored depends on the commit index: it is
// stored only with a term or vote change and with a snapshot.
TEST(LazyCommitIndex, MemoryEngineStoresItOnlyWithTermsVotesAndSnapshots) {
  auto made = rocks_cluster(1, /*durable_engine=*/false, /*compact_after_writes=*/25);
  ASSERT_NE(made, nullptr);
  LocalCluster& c = *made;
  NodeId id = c.wait_leader().value_or(NodeId(1));
  ASSERT_TRUE(c.write({"SET", "warm", "up"}).status.is_ok());
  StoredState before = stored_state(c, id);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(c.write({"SET", "a" + std::to_string(i), "v"}).status.is_ok());
  StoredState after = stored_state(c, id);
  EXPECT_EQ(after.hard_state.commit.value(), before.hard_state.commit.value());
  EXPECT_GE(last_stored_index(after).value(), last_stored_index(before).value() + 10);
  EXPECT_EQ(after.snapshot.meta.index.value(), before.snapshot.meta.index.value());
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(c.write({"SET", "b" + std::to_string(i), "v"}).status.is_ok());
  StoredState compacted = stored_state(c, id);
  ASSERT_GT(compacted.snapshot.meta.index.value(), after.snapshot.meta.index.value())
      << "no compaction after 40 writes";
  EXPECT_GE(compacted.hard_state.commit.value(), compacted.snapshot.meta.index.value());
}

// Raft applies a membership change when the entry is applied, and at a
// restart rebuilds membership from the snapshot plus the entries up to the
// stored commit index. So a membership change must not wait for a lazily
// written commit index: a replica restarted with the old membership could
// elect a second leader in a term (found by review with a Raft-level model).
TEST(LazyCommitIndex, RestartKeepsAnAppliedMembershipChange) {
  auto c = rocks_cluster(3, /*durable_engine=*/false);
  ASSERT_NE(c, nullptr);
  NodeId l = c->wait_leader().value_or(NodeId(1));
  ASSERT_TRUE(c->write({"SET", "warm", "up"}).status.is_ok());
  NodeId removed(l.value() % 3 + 1);
  NodeId kept(removed.value() % 3 + 1);
  ASSERT_NE(kept, l);
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeOp::kRemove, removed});
  ASSERT_TRUE(c->replica(l)->raft().propose_conf_change(cc).is_ok());
  auto applied_everywhere = [&] {
    for (NodeId id : {l, kept}) {
      if (c->replica(id)->raft().conf().voters.size() != 2) return false;
    }
    return true;
  };
  for (int i = 0; i < 300 && !applied_everywhere(); ++i) c->tick();
  ASSERT_TRUE(applied_everywhere());
  // A few writes after it, so that the change is not the last entry.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c->write({"SET", "after" + std::to_string(i), "v"}).status.is_ok());
  }
  // Down go the leader (whose heartbeats would tell a restarted replica the
  // commit index) and `kept`; `kept` restarts alone and runs its first
  // iterations: all it knows is what it stored.
  c->crash(l);
  c->crash(kept);
  ASSERT_TRUE(c->start(kept).is_ok());
  c->pump_round();
  std::vector<NodeId> voters = c->replica(kept)->raft().conf().voters;
  std::sort(voters.begin(), voters.end());
  std::vector<NodeId> want = {l, kept};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(voters, want) << "the restarted replica came back with the old membership";
}

// A follower that catches up by installing its leader's snapshot stores the
// commit index with it, so that what it stored is never a snapshot ahead of
// its own commit index.
TEST(LazyCommitIndex, InstalledSnapshotIsStoredWithItsCommitIndex) {
  auto made = rocks_cluster(3, /*durable_engine=*/false, /*compact_after_writes=*/20);
  ASSERT_NE(made, nullptr);
  LocalCluster& c = *made;
  NodeId l = c.wait_leader().value_or(NodeId(1));
  NodeId follower = l == NodeId(1) ? NodeId(2) : NodeId(1);
  c.crash(follower);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(c.write({"INCR", "counter"}).status.is_ok());
  ASSERT_TRUE(c.start(follower).is_ok());
  ASSERT_TRUE(c.converge().is_ok());
  StoredState st = stored_state(c, follower);
  ASSERT_GT(st.snapshot.meta.index.value(), 100u) << "the follower did not install a snapshot";
  EXPECT_GE(st.hard_state.commit.value(), st.snapshot.meta.index.value());
  c.crash(follower);
  ASSERT_TRUE(c.start(follower).is_ok());
  ASSERT_TRUE(c.converge().is_ok());
  EXPECT_EQ(c.read(c.wait_leader().value_or(l), {"GET", "counter"}), "$200");
}

// With a durable engine the applied index is stored with the state it
// describes, in whichever batch is written next. The commit index stored
// with (or before) it must cover it: a restarted Raft must never see an
// applied index above its commit index.
TEST(LazyCommitIndex, StoredCommitIndexCoversStoredAppliedIndex) {
  auto c = rocks_cluster(3, /*durable_engine=*/true);
  ASSERT_NE(c, nullptr);
  std::map<std::string, std::string> acked;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(c->wait_leader().has_value());
    for (int i = 0; i < 5 + round; ++i) {
      std::string key = "r" + std::to_string(round) + "-" + std::to_string(i);
      ASSERT_TRUE(c->write({"SET", key, "v" + key}).status.is_ok());
      acked[key] = "v" + key;
    }
    NodeId victim(1 + round % 3);
    c->crash(victim);
    ASSERT_TRUE(c->start(victim).is_ok());
    StoredState st = stored_state(*c, victim);
    EXPECT_NE(st.applied.value(), 0u) << "the durable engine stored no applied index";
    EXPECT_GE(st.hard_state.commit.value(), st.applied.value());
    ASSERT_TRUE(c->converge().is_ok());
  }
  auto l = c->wait_leader();
  ASSERT_TRUE(l.has_value());
  for (const auto& [key, value] : acked) EXPECT_EQ(c->read(*l, {"GET", key}), "$" + value);
}

// A crash right after write rounds leaves the stored commit index behind the
// stored log (those rounds' commits were never written). Restarted, the
// voters learn it again - by electing a leader that commits an entry of its
// own term - and serve every acknowledged write: a single voter, and a
// 3-replica shard whose every replica restarts.
void restart_with_lagging_commit_index(int nodes) {
  SCOPED_TRACE(std::to_string(nodes) + " node(s)");
  auto c = rocks_cluster(nodes, /*durable_engine=*/false);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(c->write({"SET", "k" + std::to_string(i), "v" + std::to_string(i)}).status.is_ok());
  }
  for (NodeId id : c->nodes()) c->crash(id);
  for (NodeId id : c->nodes()) {
    ASSERT_TRUE(c->start(id).is_ok());
    StoredState st = stored_state(*c, id);
    EXPECT_LT(st.hard_state.commit.value(), last_stored_index(st).value())
        << "node " << id.value() << ": the last rounds' commit was stored";
  }
  auto l = c->wait_leader();
  ASSERT_TRUE(l.has_value());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(c->read(*l, {"GET", "k" + std::to_string(i)}), "$v" + std::to_string(i));
  }
  EXPECT_TRUE(c->converge().is_ok());
}

TEST(LazyCommitIndex, RestartWithALaggingCommitIndexKeepsAcknowledgedWrites) {
  restart_with_lagging_commit_index(1);
  restart_with_lagging_commit_index(3);
}

}  // namespace
}  // namespace shoal::replica
