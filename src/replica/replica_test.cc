// A 3-replica shard in one process over an in-memory network: writes, reads,
// leader crash and restart, catch-up by snapshot, group commit, log write
// failure, exactly-once retries. Hazards covered are named (H11, H16, H17, H18).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "replica/local_cluster.h"
#include "storage/memory_engine.h"

namespace shoal::replica {
namespace {

using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;

// LocalCluster with gtest assertions on what the tests take for granted (a
// leader, an outcome, convergence).
class Cluster {
 public:
  explicit Cluster(int shards = 1, uint64_t compact_after = 10000, HostOptions host = {},
                   StoreKind kind = StoreKind::kMemory, bool durable_engine = false,
                   int nodes = 3) {
    LocalClusterOptions o;
    o.nodes = nodes;
    o.durable_engine = durable_engine;
    o.shards = shards;
    o.replica.compact_after_writes = compact_after;
    o.host = host;
    o.store = kind;
    auto c = LocalCluster::create(std::move(o));
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    if (c.is_ok()) c_ = std::move(c).value();
  }

  void start(NodeId id, bool bootstrap) {
    Status s = c_->start(id, bootstrap);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void crash(NodeId id) { c_->crash(id); }
  void tick(int n = 1) { c_->tick(n); }
  void pump_once() { c_->pump_round(); }
  void hold_syncs(bool on) { c_->hold_syncs(on); }
  Replica* replica(NodeId id, int shard = 1) { return c_->replica(id, shard); }

  NodeId wait_leader(int shard = 1) {
    auto l = c_->wait_leader(shard);
    EXPECT_TRUE(l.has_value());
    return l.value_or(NodeId(1));
  }

  // Proposes on the leader and runs until the outcome is known.
  std::pair<Status, std::string> write(std::vector<std::string> args, uint64_t client = 0,
                                       uint64_t seq = 0, int shard = 1) {
    wait_leader(shard);
    testing::Outcome o = c_->write(std::move(args), client, seq, shard);
    EXPECT_NE(o.status.code(), StatusCode::kInternal) << o.status.to_string();  // no outcome
    return {o.status, o.reply};
  }

  std::string read(NodeId on, std::vector<std::string> args, int shard = 1) {
    return c_->read(on, std::move(args), shard);
  }

  // Runs until every live replica applied the same index; then compares state.
  void expect_converged(int shard = 1) {
    Status s = c_->converge(shard);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  }

  MemoryLogStore& store(NodeId id) { return *c_->memory_store(id); }
  testing::Network& network() { return c_->network(); }
  testing::FakeClock& clock() { return *c_->fake_clock(); }

 private:
  std::unique_ptr<LocalCluster> c_;
};

TEST(ReplicatedShard, WritesAndLinearizableReads) {
  Cluster c;
  NodeId l = c.wait_leader();
  EXPECT_EQ(c.write({"SET", "k", "v"}).second, "+OK");
  EXPECT_EQ(c.write({"INCR", "n"}).second, ":1");
  EXPECT_EQ(c.write({"INCR", "n"}).second, ":2");
  EXPECT_EQ(c.read(l, {"GET", "k"}), "$v");
  EXPECT_EQ(c.read(l, {"GET", "n"}), "$2");
  c.expect_converged();
}

// H11: a leader crash loses nothing acknowledged; the old leader restarts from
// its durable log and catches up.
void leader_crash_loses_no_acknowledged_write(HostOptions host) {
  Cluster c(1, 10000, host);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), std::to_string(i)}).first.is_ok());
  }
  NodeId old = c.wait_leader();
  c.crash(old);
  NodeId fresh = c.wait_leader();
  ASSERT_NE(fresh, old);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(c.read(fresh, {"GET", "k" + std::to_string(i)}), "$" + std::to_string(i));
  }
  ASSERT_TRUE(c.write({"SET", "after", "crash"}).first.is_ok());
  c.start(old, false);
  c.expect_converged();
  EXPECT_EQ(c.replica(old)->state_machine().store().size(), 51u);
}

TEST(ReplicatedShard, H11_LeaderCrashLosesNoAcknowledgedWrite) {
  leader_crash_loses_no_acknowledged_write({});
}

// Writes acknowledged before a power loss of every node, in a cluster with
// fsync on; returns how many of them are readable after all restart.
int survivors_of_total_power_loss(HostOptions host, int nodes = 3) {
  Cluster c(1, 10000, host, StoreKind::kMemory, false, nodes);
  int acked = 0;
  for (int i = 0; i < 30; ++i) {
    acked += c.write({"SET", "k" + std::to_string(i), "v"}).first.is_ok();
  }
  EXPECT_EQ(acked, 30);
  for (int id = 1; id <= nodes; ++id) c.crash(NodeId(id));
  for (int id = 1; id <= nodes; ++id) c.start(NodeId(id), false);
  NodeId l = c.wait_leader();
  int found = 0;
  for (int i = 0; i < 30; ++i) found += c.read(l, {"GET", "k" + std::to_string(i)}) == "$v";
  return found;
}

// H11/H16: with fsync on, a power loss of the whole cluster keeps every
// acknowledged write. The same scenario without fsync loses them, which shows
// the test can tell the difference.
TEST(ReplicatedShard, H16_TotalPowerLossKeepsAcknowledgedWrites) {
  EXPECT_EQ(survivors_of_total_power_loss(HostOptions{.sync = true}), 30);
  EXPECT_LT(survivors_of_total_power_loss(HostOptions{.sync = false}), 30);
}

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

// H18: every proposal is answered. A leader learns that its writes committed
// but applies them only a Ready at a time (max_apply_bytes), and stalls
// (SIGSTOP) before it has applied them all. The others elect a leader that
// compacts past them; when the old leader resumes, that leader's snapshot
// replaces the entries it had not applied yet. Their clients must still get
// an answer (the state includes the writes; their replies are gone), not
// wait forever. Before the fix they never did.
TEST(ReplicatedShard, H18_CommittedWritesReplacedByASnapshotAreAnswered) {
  LocalClusterOptions o;
  o.replica.compact_after_writes = 16;
  o.replica.raft.max_apply_bytes = 1;  // one entry per Ready
  auto made = LocalCluster::create(std::move(o));
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  LocalCluster& c = *made.value();
  NodeId old = *c.wait_leader();
  ASSERT_TRUE(c.write({"SET", "warm", "1"}).status.is_ok());
  std::vector<NodeId> followers;
  for (NodeId id : c.nodes())
    if (id != old) followers.push_back(id);

  // Twenty entries the followers don't get yet: then the commit index jumps
  // past all of them at once, while the leader applies one per round.
  for (NodeId f : followers) c.network().down.insert(f);
  const int n = 20;
  std::vector<std::optional<Status>> outcomes(n);
  for (int i = 0; i < n; ++i) {
    c.replica(old)->propose(
        kv::WriteCommand{0, 0, c.clock().now_ms(), {"SET", "k" + std::to_string(i), "v"}},
        [&outcomes, i](Status s, kv::RecordedReply) { outcomes[i] = s; });
    c.pump_round();
  }
  LogIndex last = c.replica(old)->raft().log().last_index();
  for (NodeId f : followers) c.network().down.erase(f);
  for (int i = 0; i < 50 && c.replica(old)->raft().log().committed() < last; ++i) {
    if (i % 5 == 0)
      c.tick();  // heartbeats: the followers ask for what they missed
    else
      c.pump_round();
  }
  ASSERT_GE(c.replica(old)->raft().log().committed(), last);
  ASSERT_LT(c.replica(old)->applied().value() + 5, last.value()) << "applied too soon";

  c.pause(old, true);
  auto next = c.wait_leader();
  ASSERT_TRUE(next.has_value());
  ASSERT_NE(*next, old);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(c.write({"SET", "after" + std::to_string(i), "x"}).status.is_ok());
  }
  ASSERT_GT(c.replica(*next)->raft().log().first_index(), last.next());

  c.pause(old, false);
  Status conv = c.converge();
  ASSERT_TRUE(conv.is_ok()) << conv.to_string();
  int unknown = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(outcomes[i].has_value()) << "write " << i << " never answered";
    if (outcomes[i]->is_ok()) continue;  // applied before the snapshot came
    EXPECT_EQ(outcomes[i]->code(), StatusCode::kUnknownOutcome) << outcomes[i]->to_string();
    ++unknown;
  }
  EXPECT_GT(unknown, 0) << "no snapshot replaced an unapplied write: the scenario missed";
  EXPECT_EQ(c.read(*next, {"GET", "k19"}), "$v");
}

// Crashes a follower of `c` (compacting every 20 writes), then INCRs
// "counter" 200 times: the leader's log is compacted far past the follower's.
NodeId crash_a_follower_for_200_increments(Cluster& c) {
  NodeId l = c.wait_leader();
  NodeId follower = l == NodeId(1) ? NodeId(2) : NodeId(1);
  c.crash(follower);
  for (int i = 0; i < 200; ++i) {
    EXPECT_TRUE(c.write({"INCR", "counter"}).first.is_ok());
  }
  return follower;
}

TEST(ReplicatedShard, FollowerFarBehindCatchesUpBySnapshot) {
  Cluster c(1, /*compact_after=*/20);
  NodeId follower = crash_a_follower_for_200_increments(c);
  // The leader compacted far past the follower's log: only a snapshot helps.
  EXPECT_GT(c.replica(c.wait_leader())->raft().log().first_index().value(), 100u);
  // No replica keeps a serialized snapshot once it was stored (a second copy
  // of the state); the leader serializes again for the follower.
  c.tick(3);
  for (uint64_t id = 1; id <= 3; ++id) {
    if (NodeId(id) != follower) {
      EXPECT_EQ(c.replica(NodeId(id))->held_snapshot_bytes(), 0u);
    }
  }
  c.start(follower, false);
  c.expect_converged();
  EXPECT_EQ(c.read(c.wait_leader(), {"GET", "counter"}), "$200");
  c.tick(3);
  for (uint64_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(c.replica(NodeId(id))->held_snapshot_bytes(), 0u) << "node " << id;
  }
}

// The same while writes keep coming: the leader serializes its state only
// when the follower asks (materialize_snapshot_for), compacting at its applied
// index, which is past the index Raft's request named. Until session 7 that
// request was reported failed and the bytes dropped, and by Raft's retry the
// applied index had moved on again: under a steady load the follower never
// caught up. Found by a review.
TEST(ReplicatedShard, FollowerFarBehindCatchesUpBySnapshotWhileWritesContinue) {
  Cluster c(1, /*compact_after=*/20);
  NodeId follower = crash_a_follower_for_200_increments(c);
  c.start(follower, false);
  int writes = 200;
  for (; writes < 400 && c.replica(follower)->applied().value() < 100; ++writes) {
    ASSERT_TRUE(c.write({"INCR", "counter"}).first.is_ok());
  }
  EXPECT_GE(c.replica(follower)->applied().value(), 100u)
      << "no snapshot installed after " << writes - 200 << " more writes";
  c.expect_converged();
  EXPECT_EQ(c.read(c.wait_leader(), {"GET", "counter"}), "$" + std::to_string(writes));
}

// The transport gives no delivery report for a snapshot; a lost one must not
// park the follower in the leader's snapshot state forever.
TEST(ReplicatedShard, LostSnapshotIsSentAgain) {
  Cluster c(1, /*compact_after=*/20);
  NodeId follower = crash_a_follower_for_200_increments(c);
  c.network().drop_snapshots = 2;
  c.start(follower, false);
  c.expect_converged();
  EXPECT_EQ(c.network().drop_snapshots, 0);  // both were sent, and lost
  EXPECT_EQ(c.read(follower, {"GET", "counter"}), "$200");
}

TEST(ReplicatedShard, GroupCommitSharesOneSyncAcrossShards) {
  Cluster c(8);
  for (int s = 1; s <= 8; ++s) c.wait_leader(s);
  uint64_t before =
      c.store(NodeId(1)).syncs() + c.store(NodeId(2)).syncs() + c.store(NodeId(3)).syncs();
  // One proposal on every shard's leader, then run: the entries of all shards
  // are persisted in shared batches, not one fsync each.
  int done = 0;
  for (int s = 1; s <= 8; ++s) {
    NodeId l = c.wait_leader(s);
    c.replica(l, s)->propose(kv::WriteCommand{0, 0, c.clock().ms, {"SET", "k", "v"}},
                             [&](Status st, kv::RecordedReply) { done += st.is_ok(); });
  }
  for (int i = 0; i < 50 && done < 8; ++i) c.tick();
  EXPECT_EQ(done, 8);
  uint64_t after =
      c.store(NodeId(1)).syncs() + c.store(NodeId(2)).syncs() + c.store(NodeId(3)).syncs();
  // 8 shards x 3 replicas, each needing its entry synced: far fewer syncs.
  EXPECT_LT(after - before, 8u * 3u);
}

// H16/H18: when the log write fails the host stops and the client is told the
// outcome is unknown - never OK.
TEST(ReplicatedShard, H16_FailedLogWriteIsNeverAcknowledged) {
  Cluster c;
  NodeId l = c.wait_leader();
  c.store(l).fail_next_commit();
  std::optional<Status> outcome;
  c.replica(l)->propose(kv::WriteCommand{0, 0, c.clock().ms, {"SET", "x", "1"}},
                        [&](Status s, kv::RecordedReply) { outcome = s; });
  for (int i = 0; i < 50 && !outcome; ++i) c.tick();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->code(), StatusCode::kUnknownOutcome);
}

// H17: a client that retries the same request (same id and seq) after a
// leader change gets it applied once.
TEST(ReplicatedShard, H17_RetryAfterLeaderChangeAppliesOnce) {
  Cluster c;
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 1).second, ":1");
  NodeId old = c.wait_leader();
  c.crash(old);
  c.wait_leader();
  // The client did not see the reply and retries on the new leader.
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 1).second, ":1");
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 2).second, ":2");
}

TEST(ReplicatedShard, LeaderProposesExpiryDeletes) {
  Cluster c;
  NodeId l = c.wait_leader();
  ASSERT_TRUE(c.write({"SET", "t", "v", "PX", "50"}).first.is_ok());
  c.tick(10);  // 100 ms later
  EXPECT_EQ(c.read(l, {"GET", "t"}), "(nil)");
  c.tick(5);
  // The read found it expired; the leader proposed the delete; all replicas
  // applied it.
  c.expect_converged();
  EXPECT_EQ(c.replica(l)->state_machine().store().size(), 0u);
}

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

// Only inserts: the key count grows with every write. The threshold follows
// the last snapshot's key count, so compactions keep coming (at 20, 40, 80,
// 160 writes here) and the in-memory log stays bounded.
TEST(ReplicatedShard, InsertOnlyWritesKeepCompacting) {
  Cluster c(1, /*compact_after=*/20);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), "v"}).first.is_ok());
  }
  c.expect_converged();
  for (uint64_t id = 1; id <= 3; ++id) {
    const auto& log = c.replica(NodeId(id))->raft().log();
    // Entries may batch several writes, so bound the log by the last index.
    EXPECT_GT(log.first_index().value() * 2, log.last_index().value())
        << "node " << id << ": first " << log.first_index().value() << ", last "
        << log.last_index().value();
  }
}

}  // namespace
}  // namespace shoal::replica
