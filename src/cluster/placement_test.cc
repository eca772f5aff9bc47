#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "cluster/cluster_map.h"

namespace shoal::cluster {
namespace {

std::vector<NodeInfo> make_nodes(int n) {
  std::vector<NodeInfo> nodes;
  for (int i = 0; i < n; ++i) {
    // Ids deliberately not 1..n and not sorted.
    nodes.push_back({NodeId(1000 - 7 * i), "10.0.0." + std::to_string(i + 1), 6379, 16379});
  }
  return nodes;
}

int spread(const std::map<NodeId, int>& counts, const std::vector<NodeInfo>& nodes) {
  int lo = INT32_MAX, hi = 0;
  for (const NodeInfo& n : nodes) {
    auto it = counts.find(n.id);
    int c = it == counts.end() ? 0 : it->second;
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  return hi - lo;
}

void check_plan(int node_count, int shard_count, int rf) {
  SCOPED_TRACE(testing::Message() << "nodes=" << node_count << " shards=" << shard_count
                                  << " rf=" << rf);
  std::vector<NodeInfo> nodes = make_nodes(node_count);
  Result<ClusterMap> r = plan_cluster(nodes, shard_count, rf, 77);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const ClusterMap& m = r.value();
  ASSERT_TRUE(validate(m).is_ok());
  EXPECT_EQ(m.cluster_id, 77u);
  EXPECT_EQ(m.version, 1u);
  EXPECT_EQ(m.replication_factor, rf);
  EXPECT_EQ(m.nodes, nodes);
  ASSERT_EQ(m.shards.size(), static_cast<size_t>(shard_count));

  std::map<NodeId, int> replicas, leaders;
  for (size_t i = 0; i < m.shards.size(); ++i) {
    const ShardInfo& s = m.shards[i];
    EXPECT_EQ(s.id, ShardId(i + 1));
    EXPECT_EQ(s.first_slot, i * kSlotCount / shard_count);
    EXPECT_EQ(s.last_slot, (i + 1) * kSlotCount / shard_count - 1);
    EXPECT_EQ(s.conf_ver, 1u);
    EXPECT_EQ(s.version, 1u);
    ASSERT_EQ(s.replicas.size(), static_cast<size_t>(rf));
    EXPECT_EQ(std::set<NodeId>(s.replicas.begin(), s.replicas.end()).size(), s.replicas.size());
    for (NodeId n : s.replicas) ++replicas[n];
    ++leaders[s.replicas.front()];
  }
  EXPECT_LE(spread(replicas, nodes), 1);
  EXPECT_LE(spread(leaders, nodes), 1);

  size_t meta = std::min(3, node_count);
  ASSERT_EQ(m.meta_replicas.size(), meta);
  for (size_t i = 0; i < meta; ++i) EXPECT_EQ(m.meta_replicas[i], nodes[i].id);

  // Deterministic: the same inputs give the same map, byte for byte.
  Result<ClusterMap> again = plan_cluster(nodes, shard_count, rf, 77);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(encode_cluster_map(again.value()), encode_cluster_map(m));
}

TEST(Placement, PropertiesForManyShapes) {
  for (int nodes = 1; nodes <= 7; ++nodes) {
    for (int shards = 1; shards <= 128; ++shards) {
      for (int rf = 1; rf <= std::min(3, nodes); ++rf) check_plan(nodes, shards, rf);
    }
  }
}

TEST(Placement, LargerShapes) {
  for (auto [nodes, shards, rf] : {std::tuple{9, 1000, 3},
                                   {16, 4096, 5},
                                   {5, 16384, 3},
                                   {12, 30, 12},
                                   {40, 7, 3},
                                   {3, 16384, 1}}) {
    check_plan(nodes, shards, rf);
  }
}

TEST(Placement, ThreeNodesThreeShards) {
  // The common first cluster: each node leads one shard and follows two.
  Result<ClusterMap> r = plan_cluster(make_nodes(3), 3, 3, 1);
  ASSERT_TRUE(r.is_ok());
  const auto& s = r.value().shards;
  NodeId a(1000), b(993), c(986);
  EXPECT_EQ(s[0].replicas, (std::vector<NodeId>{a, b, c}));
  EXPECT_EQ(s[1].replicas, (std::vector<NodeId>{b, c, a}));
  EXPECT_EQ(s[2].replicas, (std::vector<NodeId>{c, a, b}));
  EXPECT_EQ(s[0].last_slot, 5460);
  EXPECT_EQ(s[1].last_slot, 10921);
  EXPECT_EQ(s[2].first_slot, 10922);
}

TEST(Placement, RejectsBadInputs) {
  auto bad = [](std::vector<NodeInfo> nodes, int shards, int rf) {
    Result<ClusterMap> r = plan_cluster(std::move(nodes), shards, rf, 1);
    return !r.is_ok() && r.status().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(bad({}, 1, 1));
  EXPECT_TRUE(bad(make_nodes(3), 3, 0));
  EXPECT_TRUE(bad(make_nodes(3), 3, -1));
  EXPECT_TRUE(bad(make_nodes(3), 3, 4));
  EXPECT_TRUE(bad(make_nodes(3), 0, 1));
  EXPECT_TRUE(bad(make_nodes(3), -5, 1));
  EXPECT_TRUE(bad(make_nodes(3), kSlotCount + 1, 1));
  EXPECT_FALSE(bad(make_nodes(3), kSlotCount, 1));

  auto dup_id = make_nodes(3);
  dup_id[2].id = dup_id[0].id;
  EXPECT_TRUE(bad(dup_id, 3, 1));
  auto zero_id = make_nodes(3);
  zero_id[1].id = NodeId(0);
  EXPECT_TRUE(bad(zero_id, 3, 1));
  auto dup_client = make_nodes(3);
  dup_client[1].host = dup_client[0].host;
  EXPECT_TRUE(bad(dup_client, 3, 1));
  auto client_is_peer = make_nodes(3);
  client_is_peer[1].host = client_is_peer[0].host;
  client_is_peer[1].client_port = 16379;
  client_is_peer[1].peer_port = 16380;
  EXPECT_TRUE(bad(client_is_peer, 3, 1));
  auto same_port_twice = make_nodes(1);
  same_port_twice[0].peer_port = same_port_twice[0].client_port;
  EXPECT_TRUE(bad(same_port_twice, 1, 1));
  auto empty_host = make_nodes(2);
  empty_host[1].host = "";
  EXPECT_TRUE(bad(empty_host, 1, 1));

  auto same_host_other_ports = make_nodes(2);
  same_host_other_ports[1].host = same_host_other_ports[0].host;
  same_host_other_ports[1].client_port = 6380;
  same_host_other_ports[1].peer_port = 16380;
  EXPECT_FALSE(bad(same_host_other_ports, 2, 2));
}

}  // namespace
}  // namespace shoal::cluster
