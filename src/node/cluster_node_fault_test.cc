// ClusterNode under faults: lost and late answers to forwarded commands
// (H18, H22), stale leaders, no leader at all, leader failure, graceful
// leadership transfer, and messages a node must not trust.
#include <gtest/gtest.h>

#include <algorithm>

#include "node/cluster_sim.h"

namespace shoal::node {
namespace {

using testing::Call;
using testing::kTickMs;
using testing::Sim;
using testing::SimOptions;

constexpr int64_t kForwardTimeoutMs = 500;
constexpr int64_t kLeaderWaitMs = 1000;

SimOptions faulty(RoutingMode mode = RoutingMode::kProxy, int nodes = 3, int shards = 3) {
  SimOptions o{.nodes = nodes, .shards = shards, .rf = 3, .mode = mode};
  o.tweak = [](ClusterNodeOptions& n) {
    n.forward_timeout_ms = kForwardTimeoutMs;
    n.leader_wait_ms = kLeaderWaitMs;
  };
  return o;
}

// Drops every forward response `to` would receive.
Sim::Filter drop_responses_to(NodeId to) {
  return [to](NodeId, NodeId dst, transport::PeerBatch& b) {
    if (dst == to) b.responses.clear();
  };
}

// ---- forwarded commands: deadlines and outcomes ------------------------

TEST(ClusterNodeFaults, ForwardedWriteWithoutAnAnswerEndsAsUnknownOutcome) {
  Sim sim(faulty());
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(1));
  NodeId leader = sim.leader(ShardId(1)), other = sim.non_leader(ShardId(1));
  sim.filter = drop_responses_to(other);
  int64_t start = sim.clock().ms;
  Call c = sim.exec(other, 1, {"INCR", key});
  ASSERT_TRUE(sim.run_until([&] { return c->done; }));
  EXPECT_EQ(c->status.code(), StatusCode::kUnknownOutcome) << c->str();
  EXPECT_GE(sim.clock().ms - start, kForwardTimeoutMs);
  EXPECT_LE(sim.clock().ms - start, kForwardTimeoutMs + kTickMs);
  // Sent once, never again: the leader applied it exactly once.
  sim.run(100);
  EXPECT_EQ(sim.requests_sent(other, leader), 1);
  EXPECT_EQ(sim.node(other).forwards_started(), 1u);
  sim.filter = nullptr;
  EXPECT_EQ(sim.call(leader, {"GET", key}), "$1");
}

TEST(ClusterNodeFaults, ForwardedReadWithoutAnAnswerEndsAsUnavailable) {
  Sim sim(faulty());
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(2));
  NodeId leader = sim.leader(ShardId(2)), other = sim.non_leader(ShardId(2));
  sim.filter = drop_responses_to(other);
  int64_t start = sim.clock().ms;
  Call c = sim.exec(other, 1, {"GET", key});
  ASSERT_TRUE(sim.run_until([&] { return c->done; }));
  EXPECT_EQ(c->status.code(), StatusCode::kUnavailable) << c->str();
  EXPECT_GE(sim.clock().ms - start, kForwardTimeoutMs);
  sim.run(100);
  EXPECT_EQ(sim.requests_sent(other, leader), 1);
}

// A forwarded read whose leader is cut off goes to the new leader as soon
// as one is known, instead of waiting for its deadline (reads are safe to
// send twice); a forwarded write in the same situation is not re-sent.
TEST(ClusterNodeFaults, ForwardedReadFollowsANewLeaderBeforeItsDeadline) {
  SimOptions o = faulty();
  o.tweak = [](ClusterNodeOptions& n) {
    n.forward_timeout_ms = 5000;
    n.leader_wait_ms = kLeaderWaitMs;
  };
  Sim sim(o);
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(1));
  NodeId old_leader = sim.leader(ShardId(1)), other = sim.non_leader(ShardId(1));
  ASSERT_EQ(sim.call(other, {"SET", key, "v1"}), "+OK");
  sim.isolate(old_leader);
  int64_t start = sim.clock().ms;
  Call read = sim.exec(other, 1, {"GET", key});
  Call write = sim.exec(other, 2, {"INCR", sim.key_in(ShardId(1), 1)});
  ASSERT_TRUE(sim.run_until([&] { return read->done; }, 2000));
  EXPECT_EQ(read->str(), "$v1");
  EXPECT_LT(sim.clock().ms - start, 5000);
  EXPECT_NE(sim.leader(ShardId(1)), old_leader);
  ASSERT_TRUE(sim.run_until([&] { return write->done; }, 2000));
  EXPECT_EQ(write->status.code(), StatusCode::kUnknownOutcome) << write->str();
  // SET, INCR once, and the read twice.
  EXPECT_EQ(sim.node(other).forwards_started(), 4u);
}

TEST(ClusterNodeFaults, AnAnswerAfterTheDeadlineIsIgnored) {
  Sim sim(faulty());
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(3));
  NodeId leader = sim.leader(ShardId(3)), other = sim.non_leader(ShardId(3));
  sim.delay(leader, other, static_cast<int>(2 * kForwardTimeoutMs / kTickMs));
  Call c = sim.exec(other, 1, {"SET", key, "v"});
  Call next = sim.exec(other, 1, {"GET", key});  // the client goes on after the timeout
  ASSERT_TRUE(sim.run_until([&] { return c->done; }));
  EXPECT_EQ(c->status.code(), StatusCode::kUnknownOutcome);
  sim.delay(leader, other, 0);
  // The late OK arrives and changes nothing (Answer checks "answered twice").
  ASSERT_TRUE(sim.run_until([&] { return next->done; }));
  sim.run(2 * kForwardTimeoutMs / kTickMs);
  EXPECT_EQ(c->status.code(), StatusCode::kUnknownOutcome);
  EXPECT_EQ(sim.call(leader, {"GET", key}), "$v");
}

// A split command is as definite as its least definite part.
TEST(ClusterNodeFaults, SplitCommandWithALostPartIsNotReportedAsDone) {
  Sim sim(faulty(RoutingMode::kProxy));
  sim.wait_leaders();
  NodeId at = sim.leader(ShardId(1));
  NodeId silent = sim.leader(ShardId(2));
  ASSERT_NE(at, silent);
  std::vector<std::string> keys;
  for (const auto& s : sim.map().shards) keys.push_back(sim.key_in(s.id));
  for (const auto& k : keys) ASSERT_EQ(sim.call(at, {"SET", k, "v"}), "+OK");
  sim.filter = [&](NodeId from, NodeId to, transport::PeerBatch& b) {
    if (from == silent && to == at) b.responses.clear();
  };
  Call del = sim.exec(at, 1, {"DEL", keys[0], keys[1], keys[2]});
  Call mget = sim.exec(at, 2, {"MGET", keys[0], keys[1], keys[2]});
  ASSERT_TRUE(sim.run_until([&] { return del->done && mget->done; }));
  EXPECT_EQ(del->status.code(), StatusCode::kUnknownOutcome) << del->str();
  EXPECT_EQ(mget->status.code(), StatusCode::kUnavailable) << mget->str();
  sim.filter = nullptr;
  // Every part ran once: all three keys are gone.
  EXPECT_EQ(sim.call(at, {"EXISTS", keys[0], keys[1], keys[2]}), ":0");
}

// A split write whose parts end differently - one applied, one definitely
// not (its shard had no leader) - is not a failure either (H18).
TEST(ClusterNodeFaults, SplitWriteAppliedOnSomeShardsOnlyIsAnUnknownOutcome) {
  Sim sim(faulty(RoutingMode::kProxy));
  sim.wait_leaders();
  NodeId at = sim.leader(ShardId(1));
  std::string mine = sim.key_in(ShardId(1)), other_key;
  ShardId other_shard;
  for (const auto& s : sim.map().shards) {
    if (sim.leader(s.id) != at) {
      other_shard = s.id;
      other_key = sim.key_in(s.id);
      break;
    }
  }
  ASSERT_NE(other_shard.value(), 0u) << "every shard led by one node";
  ASSERT_EQ(sim.call(at, {"SET", mine, "v"}), "+OK");
  // other_shard goes silent (no Raft traffic, no leadership hints): no
  // election can finish, and `at` soon knows no leader for it.
  sim.filter = [other_shard](NodeId, NodeId, transport::PeerBatch& b) {
    std::erase_if(b.raft, [&](const auto& e) { return e.shard == other_shard; });
    std::erase_if(b.hints, [&](const auto& h) { return h.shard == other_shard; });
  };
  ASSERT_TRUE(sim.run_until([&] { return !sim.node(at).leader_of(other_shard); }, 3000));
  Call del = sim.exec(at, 1, {"DEL", mine, other_key});
  ASSERT_TRUE(sim.run_until([&] { return del->done; }, 3000));
  EXPECT_EQ(del->status.code(), StatusCode::kUnknownOutcome) << del->str();
  EXPECT_EQ(sim.call(at, {"EXISTS", mine}), ":0");  // that part did apply
  sim.filter = nullptr;
}

// A READONLY read on a follower whose ReadIndex request is lost ends by its
// deadline instead of holding the client forever (H22); the client's next
// command then runs.
TEST(ClusterNodeFaults, FollowerReadWithALostReadIndexEndsByItsDeadline) {
  Sim sim(faulty(RoutingMode::kRedirect));
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(1));
  NodeId leader = sim.leader(ShardId(1)), follower = sim.non_leader(ShardId(1));
  ASSERT_EQ(sim.call(leader, {"SET", key, "v"}), "+OK");
  int dropped = 0;  // only the first read's request is lost
  sim.filter = [&](NodeId from, NodeId to, transport::PeerBatch& b) {
    if (from != follower || to != leader || dropped > 0) return;
    dropped += static_cast<int>(std::erase_if(b.raft, [](const transport::RaftEnvelope& e) {
      return e.msg.type == raft::MessageType::kReadIndex;
    }));
  };
  ClientContext ro{.readonly = true};
  Call read = sim.exec(follower, 7, {"GET", key}, ro);
  Call next = sim.exec(follower, 7, {"GET", key}, ro);
  ASSERT_TRUE(sim.run_until([&] { return read->done; }, 2000));
  EXPECT_EQ(read->status.code(), StatusCode::kUnavailable) << read->str();
  EXPECT_EQ(dropped, 1);
  ASSERT_TRUE(sim.run_until([&] { return next->done; }, 2000));
  EXPECT_EQ(next->str(), "$v");
}

// WAIT 0 (no timeout) that can never be satisfied ends when its client goes
// away, rather than holding the client's state forever.
TEST(ClusterNodeFaults, WaitEndsWhenItsClientGoesAway) {
  Sim sim(faulty(RoutingMode::kRedirect));
  sim.wait_leaders();
  NodeId leader = sim.leader(ShardId(1));
  Call wait = sim.exec(leader, 9, {"WAIT", "5", "0"});  // RF 3: at most 2 others
  sim.run(50);
  EXPECT_FALSE(wait->done);
  sim.node(leader).forget_client(9);
  EXPECT_TRUE(wait->done);
}

// A node routing on stale knowledge: the peer answers kNotLeader (it did not
// execute the command), so going elsewhere cannot apply it twice.
TEST(ClusterNodeFaults, NotLeaderAnswerMakesTheForwarderRerouteOnce) {
  Sim sim(faulty(RoutingMode::kProxy, /*nodes=*/5, /*shards=*/5));
  sim.wait_leaders();
  ShardId shard(1);
  std::string key = sim.key_in(shard);
  NodeId old_leader = sim.leader(shard);
  NodeId outsider = sim.non_leader(shard, /*without_replica=*/true);
  NodeId next;
  for (NodeId r : sim.map().shard(shard)->replicas)
    if (r != old_leader) next = r;
  // The outsider hears of leaders only through hints: hold them back.
  sim.filter = [outsider](NodeId, NodeId to, transport::PeerBatch& b) {
    if (to == outsider) b.hints.clear();
  };
  ASSERT_TRUE(sim.node(old_leader).replica(shard)->raft().transfer_leadership(next).is_ok());
  ASSERT_TRUE(sim.run_until([&] { return sim.leader(shard) == next; }, 100));
  ASSERT_EQ(sim.node(outsider).leader_of(shard), old_leader);

  Call c = sim.exec(outsider, 1, {"INCR", key});
  sim.settle();
  EXPECT_EQ(sim.requests_sent(outsider, old_leader), 1);
  EXPECT_EQ(sim.requests_sent(outsider, next), 0);
  sim.filter = nullptr;
  ASSERT_TRUE(sim.run_until([&] { return c->done; }));
  EXPECT_EQ(c->str(), ":1");
  EXPECT_EQ(sim.requests_sent(outsider, old_leader), 1);
  EXPECT_EQ(sim.requests_sent(outsider, next), 1);
  EXPECT_EQ(sim.call(next, {"GET", key}), "$1");
}

// The forwarder holds a replica whose Raft still names the old leader (it
// has not heard from the new one yet, for up to an election timeout): the
// old leader keeps answering "not leader", which is safe to retry, and the
// command must end executed once on the new leader, not in CLUSTERDOWN.
// Raft timing as the server's (election after 50-100 ticks).
TEST(ClusterNodeFaults, StaleRaftViewOfTheLeaderEndsOnTheNewLeader) {
  SimOptions o = faulty(RoutingMode::kProxy);
  o.tweak = [](ClusterNodeOptions& n) {
    n.forward_timeout_ms = kForwardTimeoutMs;
    n.replica.raft.heartbeat_ticks = 5;
    n.replica.raft.election_ticks = 50;
    n.replica.raft.lease_drift_ticks = 10;
  };
  Sim sim(o);
  sim.wait_leaders();
  ShardId shard(1);
  std::string key = sim.key_in(shard);
  NodeId old_leader = sim.leader(shard);
  NodeId forwarder = sim.non_leader(shard);
  NodeId next;
  for (NodeId n : sim.ids())
    if (n != old_leader && n != forwarder) next = n;
  sim.cut(next, forwarder);  // the forwarder hears nothing of the new leader
  ASSERT_TRUE(sim.node(old_leader).replica(shard)->raft().transfer_leadership(next).is_ok());
  ASSERT_TRUE(sim.run_until([&] { return sim.leader(shard) == next; }, 100));
  ASSERT_EQ(sim.node(forwarder).replica(shard)->raft().leader(), old_leader);

  Call c = sim.exec(forwarder, 1, {"INCR", key});
  // Until the forwarder's election timeout passes, it cannot know better.
  ASSERT_TRUE(sim.run_until(
      [&] { return c->done || sim.node(forwarder).replica(shard)->raft().leader() != old_leader; },
      200));
  EXPECT_FALSE(c->done) << c->str();
  sim.heal();
  ASSERT_TRUE(sim.run_until([&] { return c->done; }));
  EXPECT_EQ(c->str(), ":1");
  EXPECT_EQ(sim.requests_sent(forwarder, next), 1);
  EXPECT_EQ(sim.call(next, {"GET", key}), "$1");
}

// ---- no leader ---------------------------------------------------------

// Every link down: leaders step down (check-quorum) and no election can win.
void lose_every_leader(Sim& sim) {
  for (NodeId n : sim.ids()) sim.isolate(n);
  ASSERT_TRUE(sim.run_until(
      [&] {
        for (const auto& s : sim.map().shards) {
          if (sim.leader(s.id).value() != 0) return false;
          for (NodeId n : sim.ids())
            if (sim.node(n).leader_of(s.id)) return false;
        }
        return true;
      },
      500));
}

TEST(ClusterNodeFaults, WithoutALeaderACommandWaitsThenAnswersClusterDown) {
  for (RoutingMode mode : {RoutingMode::kRedirect, RoutingMode::kProxy}) {
    Sim sim(faulty(mode));
    sim.wait_leaders();
    lose_every_leader(sim);
    int64_t start = sim.clock().ms;
    Call write = sim.exec(NodeId(1), 1, {"SET", sim.key_in(ShardId(1)), "v"});
    Call read = sim.exec(NodeId(2), 2, {"GET", sim.key_in(ShardId(2))});
    sim.run(static_cast<int>(kLeaderWaitMs / kTickMs) - 1);
    EXPECT_FALSE(write->done);
    EXPECT_FALSE(read->done);
    ASSERT_TRUE(sim.run_until([&] { return write->done && read->done; }, 5));
    EXPECT_GE(sim.clock().ms - start, kLeaderWaitMs);
    EXPECT_EQ(write->str(), "-CLUSTERDOWN The cluster is down");
    EXPECT_EQ(read->str(), "-CLUSTERDOWN The cluster is down");
    for (NodeId n : sim.ids()) EXPECT_EQ(sim.node(n).forwards_started(), 0u);
  }
}

TEST(ClusterNodeFaults, AWaitingCommandRunsOnceALeaderIsElected) {
  for (RoutingMode mode : {RoutingMode::kRedirect, RoutingMode::kProxy}) {
    Sim sim(faulty(mode));
    sim.wait_leaders();
    lose_every_leader(sim);
    std::string key = sim.key_in(ShardId(1));
    Call c = sim.exec(NodeId(1), 1, {"INCR", key});
    sim.run(10);
    EXPECT_FALSE(c->done);
    sim.heal();
    ASSERT_TRUE(sim.run_until([&] { return c->done; }));
    NodeId leader = sim.leader(ShardId(1));
    if (mode == RoutingMode::kProxy || leader == NodeId(1)) {
      EXPECT_EQ(c->str(), ":1");
      EXPECT_EQ(sim.call(leader, {"GET", key}), "$1");
    } else {
      EXPECT_EQ(c->str(), "-MOVED " + std::to_string(key_slot(key).value()) +
                              " 127.0.0.1:" + std::to_string(7000 + leader.value()));
    }
  }
}

// A new leader may serve no read until it commits an entry of its term
// (H12): a read that waited for the election must wait for that too, not
// fail.
TEST(ClusterNodeFaults, ReadsThatWaitedForAnElectionSucceedOnTheNewLeader) {
  for (RoutingMode mode : {RoutingMode::kRedirect, RoutingMode::kProxy}) {
    Sim sim(faulty(mode));
    sim.wait_leaders();
    std::string key = sim.key_in(ShardId(1));
    ASSERT_EQ(sim.call(sim.leader(ShardId(1)), {"SET", key, "v"}), "+OK");
    lose_every_leader(sim);
    std::vector<Call> reads;
    for (NodeId n : sim.ids()) reads.push_back(sim.exec(n, 1, {"GET", key}));
    sim.heal();
    ASSERT_TRUE(sim.run_until([&] {
      for (const auto& r : reads)
        if (!r->done) return false;
      return true;
    }));
    NodeId leader = sim.leader(ShardId(1));
    for (size_t i = 0; i < reads.size(); ++i) {
      if (mode == RoutingMode::kRedirect && sim.ids()[i] != leader) {
        EXPECT_EQ(reads[i]->str().substr(0, 6), "-MOVED");
      } else {
        EXPECT_EQ(reads[i]->str(), "$v") << "node " << sim.ids()[i].value();
      }
    }
  }
}

// ---- leader failure ----------------------------------------------------

TEST(ClusterNodeFaults, IsolatedLeaderIsReplacedAndCommandsRouteToTheNewOne) {
  for (RoutingMode mode : {RoutingMode::kRedirect, RoutingMode::kProxy}) {
    Sim sim(faulty(mode));
    sim.wait_leaders();
    ShardId shard(1);
    std::string key = sim.key_in(shard);
    NodeId old_leader = sim.leader(shard);
    ASSERT_EQ(sim.call(old_leader, {"SET", key, "before"}), "+OK");
    sim.isolate(old_leader);
    NodeId fresh;
    ASSERT_TRUE(sim.run_until(
        [&] {
          fresh = sim.leader(shard);
          if (fresh.value() == 0 || fresh == old_leader) return false;
          for (NodeId n : sim.ids())
            if (n != old_leader && sim.node(n).leader_of(shard) != fresh) return false;
          return true;
        },
        500));
    NodeId third;
    for (NodeId n : sim.ids())
      if (n != old_leader && n != fresh) third = n;
    if (mode == RoutingMode::kRedirect) {
      EXPECT_EQ(sim.call(third, {"GET", key}),
                "-MOVED " + std::to_string(key_slot(key).value()) +
                    " 127.0.0.1:" + std::to_string(7000 + fresh.value()));
    } else {
      EXPECT_EQ(sim.call(third, {"GET", key}), "$before");
      EXPECT_EQ(sim.call(third, {"SET", key, "after"}), "+OK");
    }
    EXPECT_EQ(sim.call(fresh, {"APPEND", key, "!"}), mode == RoutingMode::kRedirect ? ":7" : ":6");
    // The old leader comes back as a follower and routes to the new one.
    sim.heal();
    ASSERT_TRUE(sim.run_until([&] { return sim.leaders_agree(); }));
    EXPECT_EQ(sim.node(old_leader).leader_of(shard), fresh);
  }
}

// ---- graceful leadership transfer --------------------------------------

TEST(ClusterNodeFaults, TransferLeadershipsLeavesTheNodeLeadingNothing) {
  Sim sim(faulty(RoutingMode::kRedirect));
  sim.wait_leaders();
  NodeId leaving = sim.leader(ShardId(1));
  ASSERT_GT(sim.node(leaving).transfer_leaderships(), 0u);
  for (int round = 0; round < 20 && sim.node(leaving).transfer_leaderships() > 0; ++round)
    sim.run(5);
  EXPECT_EQ(sim.node(leaving).transfer_leaderships(), 0u);
  EXPECT_TRUE(sim.led_by(leaving).empty());
  replica::Replica* meta = sim.node(leaving).replica(cluster::kMetaShard);
  EXPECT_TRUE(meta == nullptr || !meta->is_leader());
  ASSERT_TRUE(sim.run_until([&] { return sim.leaders_agree(); }));
  EXPECT_TRUE(sim.led_by(leaving).empty());
  std::string key = sim.key_in(ShardId(1));
  EXPECT_EQ(sim.call(sim.leader(ShardId(1)), {"SET", key, "v"}), "+OK");
}

// Writes that arrive while leadership is being handed over (on the leaving
// node itself or forwarded to it) wait for the new leader and apply once.
TEST(ClusterNodeFaults, WritesDuringATransferEndOnTheNewLeader) {
  Sim sim(faulty(RoutingMode::kProxy));
  sim.wait_leaders();
  ShardId shard(1);
  std::string key = sim.key_in(shard);
  NodeId leaving = sim.leader(shard), other = sim.non_leader(shard);
  ASSERT_GT(sim.node(leaving).transfer_leaderships(), 0u);
  Call local = sim.exec(leaving, 1, {"INCR", key});
  Call forwarded = sim.exec(other, 2, {"INCR", key});
  ASSERT_TRUE(sim.run_until([&] { return local->done && forwarded->done; }));
  EXPECT_NE(sim.leader(shard), leaving);
  std::vector<std::string> got{local->str(), forwarded->str()};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{":1", ":2"}));
  EXPECT_EQ(sim.call(other, {"GET", key}), "$2");
}

TEST(ClusterNodeFaults, TransferLeadershipsHasNothingToWaitForWithoutALiveVoter) {
  Sim sim(faulty(RoutingMode::kRedirect));
  sim.wait_leaders();
  ShardId shard(1);
  NodeId leader = sim.leader(shard);
  replica::Replica* r = sim.node(leader).replica(shard);
  sim.isolate(leader);
  // Step to the point where the leader has heard from no voter since its
  // last check-quorum round but has not yet stepped down.
  auto none_active = [&] {
    for (NodeId v : r->raft().conf().voters) {
      const raft::Progress* p = r->raft().progress(v);
      if (v != leader && p && p->recent_active) return false;
    }
    return true;
  };
  ASSERT_TRUE(sim.run_until([&] { return r->is_leader() && none_active(); }, 50));
  EXPECT_EQ(sim.node(leader).transfer_leaderships(), 0u);
  EXPECT_EQ(r->raft().transferee().value(), 0u);
}

// ---- messages a node must not trust -----------------------------------

TEST(ClusterNodeFaults, MessagesOfAnOlderShardEpochAreIgnored) {
  Sim sim(faulty(RoutingMode::kProxy));
  sim.wait_leaders();
  ShardId shard(1);
  NodeId leader = sim.leader(shard), follower = sim.non_leader(shard);
  const transport::ShardEpoch current{1, 1};
  std::vector<transport::ForwardResponse> answers;
  sim.filter = [&](NodeId from, NodeId to, transport::PeerBatch& b) {
    if (from == leader && to == follower)
      for (auto& r : b.responses) answers.push_back(r);
  };

  // A forwarded write routed with an older epoch is refused, not executed.
  std::string key = sim.key_in(shard);
  for (auto epoch : {transport::ShardEpoch{0, 1}, transport::ShardEpoch{1, 0}}) {
    transport::PeerBatch b;
    b.from = follower;
    b.requests.push_back(transport::ForwardRequest{900, shard, epoch, {"SET", key, "x"}, false});
    sim.hand_to(leader, std::move(b));
    sim.settle();
  }
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& a : answers) EXPECT_EQ(a.code, transport::ForwardCode::kStaleEpoch);
  EXPECT_EQ(sim.call(leader, {"GET", key}), "(nil)");

  // A Raft message from a higher term with an older epoch changes nothing...
  replica::Replica* r = sim.node(follower).replica(shard);
  Term term = r->raft().term();
  auto heartbeat = [&](transport::ShardEpoch epoch) {
    raft::Message m{.type = raft::MessageType::kHeartbeat,
                    .from = leader,
                    .to = follower,
                    .term = Term(term.value() + 5)};
    transport::PeerBatch b;
    b.from = leader;
    b.raft.push_back(transport::RaftEnvelope{shard, epoch, std::move(m)});
    sim.hand_to(follower, std::move(b));
    sim.settle();
  };
  heartbeat(transport::ShardEpoch{0, 1});
  EXPECT_EQ(r->raft().term(), term);
  // ...while the same message with the current epoch is taken.
  heartbeat(current);
  EXPECT_EQ(r->raft().term().value(), term.value() + 5);
}

TEST(ClusterNodeFaults, BatchesFromANodeNotInTheMapAreIgnored) {
  Sim sim(faulty(RoutingMode::kProxy));
  sim.wait_leaders();
  ShardId shard(1);
  NodeId leader = sim.leader(shard), follower = sim.non_leader(shard);
  std::string key = sim.key_in(shard);
  int to_stranger = 0;
  sim.filter = [&](NodeId, NodeId to, transport::PeerBatch&) { to_stranger += to == NodeId(99); };
  replica::Replica* r = sim.node(follower).replica(shard);
  Term term = r->raft().term();

  transport::PeerBatch b;
  b.from = NodeId(99);
  b.requests.push_back(transport::ForwardRequest{1, shard, {1, 1}, {"SET", key, "x"}, false});
  b.hints.push_back(transport::LeaderHint{shard, Term(term.value() + 10), follower});
  b.raft.push_back(transport::RaftEnvelope{shard,
                                           {1, 1},
                                           raft::Message{.type = raft::MessageType::kHeartbeat,
                                                         .from = NodeId(99),
                                                         .to = follower,
                                                         .term = Term(term.value() + 5)}});
  sim.hand_to(leader, b);
  sim.hand_to(follower, b);
  sim.settle();
  EXPECT_EQ(to_stranger, 0);
  EXPECT_EQ(r->raft().term(), term);
  EXPECT_EQ(sim.node(leader).leader_of(shard), leader);
  EXPECT_EQ(sim.node(follower).leader_of(shard), leader);
  EXPECT_EQ(sim.call(leader, {"GET", key}), "(nil)");
}

// A member may speak only for itself: a Raft message claiming another
// sender is dropped.
TEST(ClusterNodeFaults, RaftMessagesMustComeFromTheirSender) {
  Sim sim(faulty(RoutingMode::kProxy));
  sim.wait_leaders();
  ShardId shard(1);
  NodeId leader = sim.leader(shard), follower = sim.non_leader(shard);
  NodeId third;
  for (NodeId n : sim.ids())
    if (n != leader && n != follower) third = n;
  replica::Replica* r = sim.node(follower).replica(shard);
  Term term = r->raft().term();
  transport::PeerBatch b;
  b.from = third;
  b.raft.push_back(transport::RaftEnvelope{shard,
                                           {1, 1},
                                           raft::Message{.type = raft::MessageType::kHeartbeat,
                                                         .from = leader,
                                                         .to = follower,
                                                         .term = Term(term.value() + 5)}});
  sim.hand_to(follower, std::move(b));
  sim.settle();
  EXPECT_EQ(r->raft().term(), term);
}

}  // namespace
}  // namespace shoal::node
