// ClusterNode routing on a healthy in-process cluster: leaders, redirect and
// proxy modes, multi-shard commands and per-client order. Faults are in
// cluster_node_fault_test.cc, the standalone server in
// standalone_node_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "node/cluster_sim.h"

namespace shoal::node {
namespace {

using testing::Call;
using testing::Sim;
using testing::SimOptions;

SimOptions proxy(int nodes = 3, int rf = 3) {
  return SimOptions{.nodes = nodes, .shards = 3, .rf = rf, .mode = RoutingMode::kProxy};
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The keys of a "*n $k1 $k2 ..." reply, sorted.
std::vector<std::string> sorted_keys(const std::string& reply) {
  std::vector<std::string> out;
  for (const auto& w : words(reply))
    if (w[0] == '$') out.push_back(w.substr(1));
  std::sort(out.begin(), out.end());
  return out;
}

// One key per shard: "k<n>" with shard order.
std::vector<std::string> one_key_per_shard(Sim& sim) {
  std::vector<std::string> keys;
  for (const auto& s : sim.map().shards) keys.push_back(sim.key_in(s.id));
  return keys;
}

// ---- leaders -----------------------------------------------------------

TEST(ClusterNode, ElectionsGiveEveryShardOneLeaderThatEveryNodeKnows) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  for (const auto& s : sim.map().shards) {
    NodeId leader = sim.leader(s.id);
    for (NodeId n : sim.ids()) EXPECT_EQ(sim.node(n).leader_of(s.id), leader);
  }
  // Stays so: leadership is refreshed, not forgotten, while nothing fails.
  sim.run(500);
  EXPECT_TRUE(sim.leaders_agree());
}

TEST(ClusterNode, NodesWithoutAReplicaLearnLeadersFromHints) {
  Sim sim(SimOptions{.nodes = 5, .shards = 5, .rf = 3});
  sim.wait_leaders();
  int without = 0;
  for (const auto& s : sim.map().shards) {
    for (NodeId n : sim.ids()) {
      if (sim.node(n).replica(s.id) != nullptr) continue;
      ++without;
      EXPECT_EQ(sim.node(n).leader_of(s.id), sim.leader(s.id));
    }
  }
  EXPECT_EQ(without, 5 * 2);
  // Past the leader table's time-to-live: hints keep it fresh.
  sim.run(500);
  EXPECT_TRUE(sim.leaders_agree());
}

// Elections ignore the placement's preferred leaders (each shard's first
// replica); balancing hands each shard over to its preferred node.
TEST(ClusterNode, LeadersMoveToTheirPreferredNodes) {
  for (int nodes : {3, 5}) {
    SimOptions o{.nodes = nodes, .shards = nodes, .rf = 3};
    o.tweak = [](ClusterNodeOptions& n) { n.balance_interval_ticks = 50; };
    Sim sim(o);
    auto preferred = [&] {
      for (const auto& s : sim.map().shards)
        if (sim.leader(s.id) != s.replicas.front()) return false;
      return sim.leaders_agree();
    };
    ASSERT_TRUE(sim.run_until(preferred, 2000)) << nodes << " nodes";
    for (NodeId n : sim.ids()) EXPECT_EQ(sim.led_by(n).size(), 1u);
    sim.run(300);  // and stays so
    EXPECT_TRUE(preferred());
  }
}

// ---- the leader itself -------------------------------------------------

TEST(ClusterNode, WriteThenReadThroughTheLeader) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  for (const auto& key : one_key_per_shard(sim)) {
    NodeId leader = sim.leader(sim.shard_of(key));
    EXPECT_EQ(sim.call(leader, {"SET", key, "v-" + key}), "+OK");
    EXPECT_EQ(sim.call(leader, {"GET", key}), "$v-" + key);
    EXPECT_EQ(sim.call(leader, {"INCR", key}), "-ERR value is not an integer or out of range");
    std::string counter = sim.key_in(sim.shard_of(key), 0, "n");
    EXPECT_EQ(sim.call(leader, {"INCR", counter}), ":1");
    EXPECT_EQ(sim.call(leader, {"INCR", counter}), ":2");
  }
  for (NodeId n : sim.ids()) EXPECT_EQ(sim.node(n).forwards_started(), 0u);
}

// ---- redirect mode -----------------------------------------------------

TEST(ClusterNode, RedirectModeAnswersMovedWithTheLeadersAddress) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  for (const auto& s : sim.map().shards) {
    std::string key = sim.key_in(s.id);
    NodeId leader = sim.leader(s.id);
    NodeId other = sim.non_leader(s.id);
    std::string moved = "-MOVED " + std::to_string(key_slot(key).value()) +
                        " 127.0.0.1:" + std::to_string(7000 + leader.value());
    EXPECT_EQ(sim.call(other, {"SET", key, "v"}), moved);
    EXPECT_EQ(sim.call(other, {"GET", key}), moved);
    EXPECT_EQ(sim.node(other).forwards_started(), 0u);
  }
}

TEST(ClusterNode, RedirectModeRefusesMultiKeyCommandsAcrossSlots) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  auto keys = one_key_per_shard(sim);
  std::string crossslot = "-CROSSSLOT Keys in request don't hash to the same slot";
  NodeId leader = sim.leader(sim.shard_of(keys[0]));
  EXPECT_EQ(sim.call(leader, {"MSET", keys[0], "a", keys[1], "b"}), crossslot);
  EXPECT_EQ(sim.call(leader, {"MGET", keys[0], keys[1]}), crossslot);
  EXPECT_EQ(sim.call(leader, {"DEL", keys[0], keys[1]}), crossslot);
  // Different slots of the same shard are refused too (Redis Cluster).
  std::string same_shard = sim.key_in(sim.shard_of(keys[0]), 1);
  ASSERT_NE(key_slot(same_shard), key_slot(keys[0]));
  EXPECT_EQ(sim.call(leader, {"MSET", keys[0], "a", same_shard, "b"}), crossslot);
  // One slot (hash tags) is fine.
  NodeId tag_leader = sim.leader(sim.shard_of("{t}"));
  EXPECT_EQ(sim.call(tag_leader, {"MSET", "{t}a", "1", "{t}b", "2"}), "+OK");
  EXPECT_EQ(sim.call(tag_leader, {"MGET", "{t}a", "{t}b"}), "*2 $1 $2");
}

TEST(ClusterNode, RedirectModeKeyspaceCommandsSeeOnlyTheShardsTheNodeLeads) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  std::map<ShardId, int> per_shard;
  for (int i = 0; i < 30; ++i) {
    std::string key = "key" + std::to_string(i);
    ++per_shard[sim.shard_of(key)];
    EXPECT_EQ(sim.call(sim.leader(sim.shard_of(key)), {"SET", key, "v"}), "+OK");
  }
  int total = 0;
  for (NodeId n : sim.ids()) {
    int expected = 0;
    for (ShardId s : sim.led_by(n)) expected += per_shard[s];
    EXPECT_EQ(sim.call(n, {"DBSIZE"}), ":" + std::to_string(expected)) << "node " << n.value();
    EXPECT_EQ(sim.node(n).dbsize(), static_cast<size_t>(expected));
    EXPECT_EQ(sorted_keys(sim.call(n, {"KEYS", "*"})).size(), static_cast<size_t>(expected));
    total += expected;
  }
  EXPECT_EQ(total, 30);
}

TEST(ClusterNode, SlotCommandsRunOnTheSlotsShard) {
  for (RoutingMode mode : {RoutingMode::kRedirect, RoutingMode::kProxy}) {
    Sim sim(SimOptions{.mode = mode});
    sim.wait_leaders();
    for (const auto& key : one_key_per_shard(sim)) {
      ShardId shard = sim.shard_of(key);
      ASSERT_EQ(sim.call(sim.leader(shard), {"SET", key, "v"}), "+OK");
      std::string slot = std::to_string(key_slot(key).value());
      for (NodeId n : sim.ids()) {
        EXPECT_EQ(sim.call(n, {"CLUSTER", "COUNTKEYSINSLOT", slot}), ":1") << n.value();
        EXPECT_EQ(sim.call(n, {"CLUSTER", "GETKEYSINSLOT", slot, "10"}), "*1 $" + key);
      }
    }
    EXPECT_EQ(sim.call(NodeId(1), {"CLUSTER", "COUNTKEYSINSLOT", "16384"}).substr(0, 1), "-");
  }
}

TEST(ClusterNode, ReadonlyConnectionsReadFromALocalFollower) {
  Sim sim(SimOptions{.nodes = 5, .shards = 5, .rf = 3});
  sim.wait_leaders();
  ShardId shard(1);
  std::string key = sim.key_in(shard);
  NodeId leader = sim.leader(shard);
  NodeId follower, outsider = sim.non_leader(shard, /*without_replica=*/true);
  for (NodeId r : sim.map().shard(shard)->replicas)
    if (r != leader) follower = r;
  ASSERT_EQ(sim.call(leader, {"SET", key, "v"}), "+OK");
  ClientContext readonly{.readonly = true};
  Call read = sim.exec(follower, 1, {"GET", key}, readonly);
  Call write = sim.exec(follower, 1, {"SET", key, "w"}, readonly);
  Call elsewhere = sim.exec(outsider, 2, {"GET", key}, readonly);
  ASSERT_TRUE(sim.run_until([&] { return read->done && write->done && elsewhere->done; }));
  EXPECT_EQ(read->str(), "$v");  // follower ReadIndex: sees the acknowledged write
  std::string moved = "-MOVED " + std::to_string(key_slot(key).value()) +
                      " 127.0.0.1:" + std::to_string(7000 + leader.value());
  EXPECT_EQ(write->str(), moved);      // writes still go to the leader
  EXPECT_EQ(elsewhere->str(), moved);  // no replica here to read from
  EXPECT_EQ(sim.node(follower).forwards_started(), 0u);
}

// ---- proxy mode --------------------------------------------------------

TEST(ClusterNode, ProxyModeForwardsToTheLeaderAndRelaysTheReply) {
  Sim sim(proxy());
  sim.wait_leaders();
  for (const auto& s : sim.map().shards) {
    std::string key = sim.key_in(s.id);
    NodeId other = sim.non_leader(s.id);
    uint64_t before = sim.node(other).forwards_started();
    EXPECT_EQ(sim.call(other, {"SET", key, "v1"}), "+OK");
    EXPECT_EQ(sim.call(other, {"GET", key}), "$v1");
    EXPECT_EQ(sim.call(other, {"INCR", key}), "-ERR value is not an integer or out of range");
    EXPECT_EQ(sim.call(other, {"APPEND", key, "x"}), ":3");
    EXPECT_EQ(sim.node(other).forwards_started(), before + 4);
    EXPECT_EQ(sim.call(sim.leader(s.id), {"GET", key}), "$v1x");
  }
}

TEST(ClusterNode, ProxyModeForwardsFromANodeWithoutAReplica) {
  Sim sim(SimOptions{.nodes = 5, .shards = 5, .rf = 3, .mode = RoutingMode::kProxy});
  sim.wait_leaders();
  for (const auto& s : sim.map().shards) {
    std::string key = sim.key_in(s.id);
    NodeId outsider = sim.non_leader(s.id, /*without_replica=*/true);
    ASSERT_NE(outsider.value(), 0u);
    EXPECT_EQ(sim.call(outsider, {"INCR", key}), ":1");
    EXPECT_EQ(sim.call(outsider, {"INCR", key}), ":2");
    EXPECT_EQ(sim.call(sim.leader(s.id), {"GET", key}), "$2");
  }
}

TEST(ClusterNode, ProxyModeSplitsPerKeyCommandsAndGathersInOrder) {
  Sim sim(proxy());
  sim.wait_leaders();
  auto keys = one_key_per_shard(sim);  // k_a (shard 1), k_b (shard 2), k_c (shard 3)
  std::string k1b = sim.key_in(sim.shard_of(keys[0]), 1);
  for (NodeId n : sim.ids()) {
    EXPECT_EQ(sim.call(n, {"FLUSHALL"}), "+OK");
    EXPECT_EQ(sim.call(n, {"SET", keys[2], "c"}), "+OK");
    EXPECT_EQ(sim.call(n, {"SET", keys[0], "a"}), "+OK");
    EXPECT_EQ(sim.call(n, {"SET", k1b, "a2"}), "+OK");
    // Client order across shards, a missing key and a repeated one.
    EXPECT_EQ(sim.call(n, {"MGET", keys[2], "nokey", keys[1], k1b, keys[0], keys[2]}),
              "*6 $c (nil) (nil) $a2 $a $c");
    EXPECT_EQ(sim.call(n, {"EXISTS", keys[0], keys[1], keys[2], k1b, keys[0]}), ":4");
    EXPECT_EQ(sim.call(n, {"TOUCH", keys[0], keys[1], keys[2]}), ":2");
    EXPECT_EQ(sim.call(n, {"DEL", keys[0], keys[1], keys[2], "nokey"}), ":2");
    EXPECT_EQ(sim.call(n, {"UNLINK", keys[0], k1b}), ":1");
    EXPECT_EQ(sim.call(n, {"DBSIZE"}), ":0");
  }
}

TEST(ClusterNode, ProxyModeStillRefusesAtomicMultiKeyCommandsAcrossSlots) {
  Sim sim(proxy());
  sim.wait_leaders();
  auto keys = one_key_per_shard(sim);
  std::string crossslot = "-CROSSSLOT Keys in request don't hash to the same slot";
  for (NodeId n : sim.ids()) {
    EXPECT_EQ(sim.call(n, {"MSET", keys[0], "a", keys[1], "b"}), crossslot);
    EXPECT_EQ(sim.call(n, {"RENAME", keys[0], keys[1]}), crossslot);
    EXPECT_EQ(sim.call(n, {"MSET", "{t}a", "1", "{t}b", "2"}), "+OK");
  }
}

TEST(ClusterNode, ProxyModeFansKeyspaceCommandsOutOverEveryShard) {
  Sim sim(proxy());
  sim.wait_leaders();
  std::vector<std::string> all;
  for (int i = 0; i < 20; ++i) {
    all.push_back("key" + std::to_string(i));
    ASSERT_EQ(sim.call(NodeId(1 + i % 3), {"SET", all.back(), "v"}), "+OK");
  }
  std::sort(all.begin(), all.end());
  std::set<ShardId> shards;
  for (const auto& k : all) shards.insert(sim.shard_of(k));
  ASSERT_EQ(shards.size(), 3u);
  for (NodeId n : sim.ids()) {
    EXPECT_EQ(sim.call(n, {"DBSIZE"}), ":20");
    EXPECT_EQ(sorted_keys(sim.call(n, {"KEYS", "*"})), all);
    EXPECT_EQ(sorted_keys(sim.call(n, {"KEYS", "key1*"})),
              (std::vector<std::string>{"key1", "key10", "key11", "key12", "key13", "key14",
                                        "key15", "key16", "key17", "key18", "key19"}));
    std::string random = sim.call(n, {"RANDOMKEY"});
    ASSERT_EQ(random[0], '$');
    EXPECT_TRUE(std::binary_search(all.begin(), all.end(), random.substr(1))) << random;
  }
  EXPECT_EQ(sim.call(NodeId(2), {"FLUSHALL"}), "+OK");
  for (NodeId n : sim.ids()) {
    EXPECT_EQ(sim.call(n, {"DBSIZE"}), ":0");
    EXPECT_EQ(sim.call(n, {"RANDOMKEY"}), "(nil)");
    EXPECT_EQ(sim.call(n, {"KEYS", "*"}), "*0");
  }
}

// Iterates SCAN to the end; returns the keys in visit order.
std::vector<std::string> full_scan(Sim& sim, NodeId at, std::vector<std::string> extra) {
  std::vector<std::string> seen;
  std::string cursor = "0";
  for (int rounds = 0; rounds < 1000; ++rounds) {
    std::vector<std::string> args{"SCAN", cursor};
    args.insert(args.end(), extra.begin(), extra.end());
    auto w = words(sim.call(at, args));
    EXPECT_GE(w.size(), 3u);
    EXPECT_EQ(w[0], "*2");
    if (w.size() < 3) return seen;
    cursor = w[1].substr(1);
    for (size_t i = 3; i < w.size(); ++i) seen.push_back(w[i].substr(1));
    if (cursor == "0") return seen;
  }
  ADD_FAILURE() << "SCAN did not finish";
  return seen;
}

TEST(ClusterNode, ScanVisitsEveryKeyOnceAcrossShards) {
  Sim sim(proxy());
  sim.wait_leaders();
  std::vector<std::string> all;
  for (int i = 0; i < 40; ++i) {
    all.push_back("s" + std::to_string(i));
    ASSERT_EQ(sim.call(NodeId(1), {"SET", all.back(), "v"}), "+OK");
  }
  std::sort(all.begin(), all.end());
  for (NodeId n : sim.ids()) {
    for (auto extra : std::vector<std::vector<std::string>>{{}, {"COUNT", "1"}, {"COUNT", "7"}}) {
      auto seen = full_scan(sim, n, extra);
      std::sort(seen.begin(), seen.end());
      EXPECT_EQ(seen, all) << "node " << n.value() << " extra " << extra.size();
    }
    auto matched = full_scan(sim, n, {"MATCH", "s1*", "COUNT", "1"});
    std::sort(matched.begin(), matched.end());
    EXPECT_EQ(matched.size(), 11u);
  }
  EXPECT_EQ(sim.call(NodeId(1), {"SCAN", "notanumber"}).substr(0, 1), "-");
}

TEST(ClusterNode, ScanInRedirectModeVisitsTheShardsTheNodeLeads) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  std::map<NodeId, std::vector<std::string>> by_leader;
  for (int i = 0; i < 30; ++i) {
    std::string key = "s" + std::to_string(i);
    NodeId leader = sim.leader(sim.shard_of(key));
    ASSERT_EQ(sim.call(leader, {"SET", key, "v"}), "+OK");
    by_leader[leader].push_back(key);
  }
  for (NodeId n : sim.ids()) {
    auto seen = full_scan(sim, n, {"COUNT", "1"});
    std::sort(seen.begin(), seen.end());
    std::sort(by_leader[n].begin(), by_leader[n].end());
    EXPECT_EQ(seen, by_leader[n]) << "node " << n.value();
  }
}

// ---- per-client order --------------------------------------------------

TEST(ClusterNode, AReadAfterPipelinedWritesSeesThem) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(1));
  NodeId leader = sim.leader(ShardId(1));
  std::vector<Call> calls;
  for (int i = 0; i < 5; ++i) calls.push_back(sim.exec(leader, 7, {"INCR", key}));
  calls.push_back(sim.exec(leader, 7, {"GET", key}));
  calls.push_back(sim.exec(leader, 7, {"SET", key, "x"}));
  calls.push_back(sim.exec(leader, 7, {"GET", key}));
  ASSERT_TRUE(sim.run_until([&] { return calls.back()->done; }));
  std::vector<std::string> got;
  for (const auto& c : calls) got.push_back(c->str());
  EXPECT_EQ(got, (std::vector<std::string>{":1", ":2", ":3", ":4", ":5", "$5", "+OK", "$x"}));
}

TEST(ClusterNode, AForwardedCommandWaitsForTheClientsEarlierWrites) {
  Sim sim(proxy());
  sim.wait_leaders();
  NodeId n = sim.leader(ShardId(1));
  // A shard n does not lead.
  ShardId remote;
  for (const auto& s : sim.map().shards)
    if (sim.leader(s.id) != n) remote = s.id;
  ASSERT_NE(remote.value(), 0u);
  std::string local_key = sim.key_in(ShardId(1)), remote_key = sim.key_in(remote);

  Call w1 = sim.exec(n, 9, {"SET", local_key, "1"});
  Call w2 = sim.exec(n, 9, {"INCR", local_key});
  Call fwd = sim.exec(n, 9, {"SET", remote_key, "r"});
  EXPECT_EQ(sim.node(n).forwards_started(), 0u);  // held back behind the local writes
  Call after = sim.exec(n, 9, {"INCR", local_key});
  Call read = sim.exec(n, 9, {"MGET", local_key});
  const auto& log = sim.node(n).replica(ShardId(1))->raft().log();
  LogIndex last = log.last_index();
  ASSERT_TRUE(sim.run_until([&] { return w2->done; }));
  ASSERT_TRUE(sim.run_until([&] { return fwd->done; }));
  ASSERT_TRUE(sim.run_until([&] { return read->done; }));
  EXPECT_EQ(sim.node(n).forwards_started(), 1u);
  EXPECT_GT(log.last_index(), last);
  EXPECT_EQ(w1->str(), "+OK");
  EXPECT_EQ(w2->str(), ":2");
  EXPECT_EQ(fwd->str(), "+OK");
  EXPECT_EQ(after->str(), ":3");
  EXPECT_EQ(read->str(), "*1 $3");
}

TEST(ClusterNode, AForwardedCommandHoldsBackTheClientsLaterOnes) {
  Sim sim(proxy());
  sim.wait_leaders();
  NodeId n = sim.leader(ShardId(1));
  ShardId remote;
  for (const auto& s : sim.map().shards)
    if (sim.leader(s.id) != n) remote = s.id;
  std::string local_key = sim.key_in(ShardId(1)), remote_key = sim.key_in(remote);
  // The forward's answer is late: the local write behind it must not start.
  sim.delay(sim.leader(remote), n, 5);
  const auto& log = sim.node(n).replica(ShardId(1))->raft().log();
  LogIndex last = log.last_index();
  Call fwd = sim.exec(n, 9, {"SET", remote_key, "r"});
  Call local = sim.exec(n, 9, {"SET", local_key, "l"});
  sim.settle();
  EXPECT_EQ(sim.node(n).forwards_started(), 1u);
  EXPECT_EQ(log.last_index(), last);
  sim.run(3);
  EXPECT_FALSE(fwd->done);
  EXPECT_EQ(log.last_index(), last);
  ASSERT_TRUE(sim.run_until([&] { return local->done; }));
  EXPECT_EQ(fwd->str(), "+OK");
  EXPECT_EQ(local->str(), "+OK");
}

TEST(ClusterNode, ForgottenClientsQueuedCommandsAreDropped) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(1));
  NodeId leader = sim.leader(ShardId(1));
  Call read = sim.exec(leader, 5, {"GET", key});  // a barrier: what follows waits
  Call queued = sim.exec(leader, 5, {"SET", key, "x"});
  sim.node(leader).forget_client(5);
  ASSERT_TRUE(sim.run_until([&] { return read->done; }));
  sim.run(10);
  EXPECT_EQ(read->str(), "(nil)");
  EXPECT_FALSE(queued->done);
  EXPECT_EQ(sim.call(leader, {"GET", key}), "(nil)");
}

// An idle client's queue is kept for the next client (ClusterNode::queue_of):
// the next one starts empty, never with a command of the client before, and a
// queue is only given up while its client has nothing in flight (giving it up
// at an empty wait list alone, with a write still in flight, fails this test).
TEST(ClusterNode, AClientQueueTakenOverFromAnIdleClientStartsEmpty) {
  Sim sim(SimOptions{});
  sim.wait_leaders();
  std::string key = sim.key_in(ShardId(1));
  NodeId leader = sim.leader(ShardId(1));
  Call read = sim.exec(leader, 5, {"GET", key});
  Call dropped = sim.exec(leader, 5, {"SET", key, "x"});
  sim.node(leader).forget_client(5);
  ASSERT_TRUE(sim.run_until([&] { return read->done; }));  // client 5's queue goes idle
  // Many clients after it, each a write then a read of its own key, both in
  // flight at once: each answers in its own order. More of them than the
  // spare queues kept, so that an idle queue is also freed.
  std::vector<std::pair<Call, Call>> calls;
  for (uint64_t c = 6; c < 90; ++c) {
    std::string k = sim.key_in(ShardId(1), static_cast<int>(c));
    Call set = sim.exec(leader, c, {"SET", k, std::to_string(c)});
    calls.emplace_back(set, sim.exec(leader, c, {"GET", k}));
  }
  ASSERT_TRUE(sim.run_until([&] { return calls.back().second->done; }));
  sim.run(10);
  for (uint64_t c = 6; c < 90; ++c) {
    auto& [set, get] = calls[c - 6];
    EXPECT_EQ(set->str(), "+OK");
    EXPECT_EQ(get->str(), "$" + std::to_string(c));
  }
  EXPECT_FALSE(dropped->done);
  EXPECT_EQ(sim.call(leader, {"GET", key}), "(nil)");
}

}  // namespace
}  // namespace shoal::node
