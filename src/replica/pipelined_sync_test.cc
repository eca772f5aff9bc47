// The pipelined sync (HostOptions::defer_sync, docs/durable-shards.md
// "Pipelined sync"): batches are written unsynced and synced later, on
// another thread in the server. Hazards: H11, H16, H19.
#include <gtest/gtest.h>

#include <optional>

#include "replica/local_cluster.h"
#include "replica/replica_test_support.h"
#include "storage/memory_engine.h"

namespace shoal::replica {
namespace {

using testing::Cluster;
using testing::leader_crash_loses_no_acknowledged_write;
using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;
using testing::survivors_of_total_power_loss;

// Pipelined sync (HostOptions::defer_sync: batches are written unsynced and
// the caller syncs them later; LocalCluster syncs one pump round after the
// write). Committed entries are applied before the batch that carried them
// is synced, persistence acks only after: the same guarantees must hold.
constexpr HostOptions kPipelined{.sync = true, .defer_sync = true};

TEST(PipelinedSync, H16_TotalPowerLossKeepsAcknowledgedWrites) {
  EXPECT_EQ(survivors_of_total_power_loss(kPipelined), 30);
  // A single node (the standalone server): its own sync is the only copy.
  EXPECT_EQ(survivors_of_total_power_loss(kPipelined, /*nodes=*/1), 30);
}

// A write is answered only after the sync that covers it, however long that
// takes, and a power loss before that sync loses it unanswered.
void answers_only_after_the_sync(int nodes) {
  Cluster c(1, 10000, kPipelined, StoreKind::kMemory, false, nodes);
  NodeId l = c.wait_leader();
  ASSERT_TRUE(c.write({"SET", "before", "1"}).first.is_ok());
  c.hold_syncs(true);
  std::optional<Status> outcome;
  c.replica(l)->propose(kv::WriteCommand{0, 0, c.clock().ms, {"SET", "x", "1"}},
                        [&](Status s, kv::RecordedReply) { outcome = s; });
  c.tick(20);  // written everywhere, synced nowhere
  EXPECT_FALSE(outcome.has_value()) << "answered before any sync";
  for (int id = 1; id <= nodes; ++id) c.crash(NodeId(id));
  EXPECT_FALSE(outcome.has_value() && outcome->is_ok()) << "a lost write was acknowledged";
  c.hold_syncs(false);
  for (int id = 1; id <= nodes; ++id) c.start(NodeId(id), false);
  NodeId again = c.wait_leader();
  EXPECT_EQ(c.read(again, {"GET", "before"}), "$1");
  EXPECT_EQ(c.read(again, {"GET", "x"}), "(nil)");
  ASSERT_TRUE(c.write({"SET", "x", "2"}).first.is_ok());
  EXPECT_EQ(c.read(again, {"GET", "x"}), "$2");
}

TEST(PipelinedSync, SingleNodeAnswersOnlyAfterTheSync) { answers_only_after_the_sync(1); }
TEST(PipelinedSync, ClusterAnswersOnlyAfterTheSync) { answers_only_after_the_sync(3); }

// H16/H18: a failed sync stops the host; the write it covered is not
// acknowledged OK, and nothing after it is.
TEST(PipelinedSync, H16_FailedSyncIsNeverAcknowledged) {
  Cluster c(1, 10000, kPipelined, StoreKind::kMemory, false, /*nodes=*/1);
  NodeId l = c.wait_leader();
  c.store(l).fail_next_sync();
  std::optional<Status> outcome;
  c.replica(l)->propose(kv::WriteCommand{0, 0, c.clock().ms, {"SET", "x", "1"}},
                        [&](Status s, kv::RecordedReply) { outcome = s; });
  for (int i = 0; i < 50 && !outcome; ++i) c.tick();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->code(), StatusCode::kUnknownOutcome) << outcome->to_string();
  std::optional<Status> later;
  c.replica(l)->propose(kv::WriteCommand{0, 0, c.clock().ms, {"SET", "y", "1"}},
                        [&](Status s, kv::RecordedReply) { later = s; });
  for (int i = 0; i < 20 && !later; ++i) c.tick();
  ASSERT_TRUE(later.has_value());
  EXPECT_FALSE(later->is_ok());
}

TEST(PipelinedSync, H11_LeaderCrashLosesNoAcknowledgedWrite) {
  leader_crash_loses_no_acknowledged_write(kPipelined);
}

// Pipelined sync with a learner: a single voter wins an election alone, so
// its new term is not durable when it starts replicating. Entries it sends
// in that term before the term is synced may be lost with the term at a
// power loss; the node then wins the same term again and proposes other
// entries at the same indexes, and a learner holding the first ones would
// keep them (same index, same term) - a silent divergence (H19). The host
// holds messages while a term change waits for its sync.
TEST(PipelinedSync, H19_SingleVoterSendsNothingOfAnUnsyncedTermToItsLearner) {
  LocalClusterOptions o;
  o.nodes = 2;
  o.bootstrap = false;
  o.host = kPipelined;
  auto made = LocalCluster::create(std::move(o));
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  LocalCluster& c = *made.value();
  const NodeId voter(1), learner(2);
  // Both nodes start from the same stored snapshot: voters {1}, learners {2}.
  c.crash(voter);
  c.crash(learner);
  raft::Snapshot snap;
  snap.meta.index = LogIndex(1);
  snap.meta.term = Term(1);
  snap.meta.conf.voters = {voter};
  snap.meta.conf.learners = {learner};
  snap.data = kv::StateMachine(std::make_unique<storage::MemoryEngine>()).snapshot_data();
  for (NodeId id : {voter, learner}) {
    MemoryLogStore* store = c.memory_store(id);
    auto batch = store->new_batch();
    batch->put_snapshot(ShardId(1), snap);
    batch->put_hard_state(ShardId(1), raft::HardState{Term(1), NodeId(0), LogIndex(1)});
    ASSERT_TRUE(store->commit(*batch, /*sync=*/true).is_ok());
  }
  ASSERT_TRUE(c.start(voter, false).is_ok());
  ASSERT_TRUE(c.start(learner, false).is_ok());
  ASSERT_EQ(c.wait_leader(), voter);
  ASSERT_TRUE(c.write({"SET", "a", "1"}).status.is_ok());
  ASSERT_TRUE(c.converge().is_ok());

  // The voter restarts and wins the next term alone; nothing it writes is
  // synced from now on. It proposes x once the learner has answered it.
  c.crash(voter);
  c.hold_syncs(voter, true);
  ASSERT_TRUE(c.start(voter, false).is_ok());
  ASSERT_EQ(c.wait_leader(), voter);
  c.tick(5);
  std::optional<testing::Outcome> x;
  c.propose({"SET", "k", "x"}, 0, 0, 1, [&](const testing::Outcome& out) { x = out; });
  c.tick(10);
  EXPECT_FALSE(x.has_value() && x->status.is_ok()) << "acknowledged before its sync";

  // Power loss of the voter: its term, and x, are gone. It wins the same
  // term again and writes y where x was.
  c.crash(voter);
  c.hold_syncs(voter, false);
  ASSERT_TRUE(c.start(voter, false).is_ok());
  ASSERT_EQ(c.wait_leader(), voter);
  ASSERT_TRUE(c.write({"SET", "k", "y"}).status.is_ok());
  Status same = c.converge();
  EXPECT_TRUE(same.is_ok()) << same.to_string();
  EXPECT_EQ(c.read(voter, {"GET", "k"}), "$y");
}

// H11/H12: a single-voter node restarting after a power loss must apply
// every acknowledged write before it serves reads from its state machine.
// KeyspaceService serves reads locally on a single-voter leader (in-memory
// engine) as soon as open_node() returns, on the premise that every
// acknowledged write is applied. The commit index is persisted lazily (a
// batch that only advances it is not synced), so after a power loss the
// last acknowledged writes are in the log above the stored commit index and
// are applied only once the restarted leader commits an entry of its term -
// which, with a pipelined host, needs the sync of its first batch.
// ClusterNode::open() runs that first iteration; the replay loop that follows
// must sync it, not stop because has_ready() is false while it waits.
class NullTransport final : public Transport {
 public:
  void send(ShardId, raft::Message) override {}
};

// KeyspaceService::open_node's replay after ClusterNode::open (campaign, one
// run_once), with sync_inline: the fixed order syncs before it looks at
// has_ready() (open_node in keyspace_service.cc).
void replay_like_open_node(Host& host, MemoryLogStore& store) {
  auto sync_inline = [&] { (void)host.on_synced(host.take_sync_request(), store.sync()); };
  for (int i = 0; i < 1000; ++i) {
    sync_inline();
    if (!host.replica(ShardId(1))->has_ready()) break;
    ASSERT_TRUE(host.run_once().is_ok());
  }
  sync_inline();
}

TEST(PipelinedSync, H11_SingleVoterRestartAppliesAcknowledgedTailBeforeServing) {
  MemoryLogStore store;
  NullTransport transport;
  testing::FakeClock clock;
  ShardId shard(1);
  {
    Host host(NodeId(1), store, transport, clock, kPipelined);
    ASSERT_TRUE(host.add_replica(shard, {}, std::vector<NodeId>{NodeId(1)},
                                 std::make_unique<storage::MemoryEngine>())
                    .is_ok());
    Replica* r = host.replica(shard);
    r->raft().campaign();
    replay_like_open_node(host, store);
    ASSERT_TRUE(r->is_leader());
    // The server's loop: run, then sync what was written (on the sync thread).
    std::optional<Status> acked;
    r->propose(kv::WriteCommand{0, 0, clock.ms, {"SET", "x", "1"}},
               [&](Status s, kv::RecordedReply) { acked = s; });
    for (int i = 0; i < 10 && !acked; ++i) {
      ASSERT_TRUE(host.run_once().is_ok());
      if (host.wants_sync()) {
        uint64_t ticket = host.take_sync_request();
        ASSERT_TRUE(host.on_synced(ticket, store.sync()).is_ok());
      }
    }
    ASSERT_TRUE(acked.has_value() && acked->is_ok());
    EXPECT_EQ(r->state_machine().store().size(), 1u);
  }
  store.crash();  // power loss: the batch that only advanced the commit index is gone

  Host host(NodeId(1), store, transport, clock, kPipelined);
  ASSERT_TRUE(
      host.add_replica(shard, {}, std::nullopt, std::make_unique<storage::MemoryEngine>()).is_ok());
  Replica* r = host.replica(shard);
  // ClusterNode::open: a single voter campaigns at once, then one iteration.
  r->raft().campaign();
  ASSERT_TRUE(host.run_once().is_ok());
  replay_like_open_node(host, store);
  // KeyspaceService::publish_counters now enables local reads (single-voter
  // leader): the acknowledged write must be there.
  ASSERT_TRUE(r->is_leader());
  EXPECT_EQ(r->state_machine().store().size(), 1u) << "acknowledged SET x lost to a local read";
}

}  // namespace
}  // namespace shoal::replica
