// Golden-shape tests of the topology replies. The expected shapes were taken
// from redis-server 7.0.15 in cluster mode (docs/cluster-map.md).
#include "cluster/cluster_replies.h"

#include <gtest/gtest.h>

#include <map>

namespace shoal::cluster {
namespace {

// Records replies as compact RESP-like text ("*2 :0 :5 $a %0"), speaking
// either protocol.
class RecordingSink : public kv::ReplySink {
 public:
  explicit RecordingSink(int protocol) : protocol_(protocol) {}
  void simple(std::string_view s) override { add("+" + std::string(s)); }
  void error(std::string_view m) override { add("-" + std::string(m)); }
  void integer(int64_t v) override { add(":" + std::to_string(v)); }
  void bulk(std::string_view s) override { add("$" + std::string(s)); }
  void null() override { add("(nil)"); }
  void null_array() override { add("(nil-array)"); }
  void array(size_t n) override { add("*" + std::to_string(n)); }
  void map(size_t n) override { add("%" + std::to_string(n)); }
  void set(size_t n) override { add("~" + std::to_string(n)); }
  void dbl(double v) override { add("," + std::to_string(v)); }
  int protocol() const override { return protocol_; }
  std::string text;

 private:
  void add(const std::string& s) { text += (text.empty() ? "" : " ") + s; }
  int protocol_;
};

const std::string kName1 = node_name(NodeId(1));
const std::string kName2 = node_name(NodeId(2));
const std::string kName3 = node_name(NodeId(3));

// Three nodes, three shards, RF 2; shard 2 is led by its second replica.
ClusterMap golden_map() {
  ClusterMap m;
  m.cluster_id = 1;
  m.version = 5;
  m.replication_factor = 2;
  m.nodes = {{NodeId(1), "127.0.0.1", 30001, 40001},
             {NodeId(2), "127.0.0.1", 30002, 40002},
             {NodeId(3), "127.0.0.1", 30003, 40003}};
  m.shards = {{ShardId(1), 0, 5460, {NodeId(1), NodeId(2)}},
              {ShardId(2), 5461, 10922, {NodeId(2), NodeId(3)}},
              {ShardId(3), 10923, 16383, {NodeId(3), NodeId(1)}}};
  m.meta_replicas = {NodeId(1), NodeId(2), NodeId(3)};
  EXPECT_TRUE(validate(m).is_ok());
  return m;
}

LeaderView view(std::map<uint64_t, uint64_t> leaders) {
  return [leaders](ShardId s) -> std::optional<NodeId> {
    auto it = leaders.find(s.value());
    if (it == leaders.end()) return std::nullopt;
    return NodeId(it->second);
  };
}

const LeaderView kGoldenLeaders = view({{1, 1}, {2, 3}, {3, 3}});

std::string slots_reply(const ClusterMap& m, const LeaderView& l, int protocol) {
  RecordingSink sink(protocol);
  reply_cluster_slots(m, l, sink);
  return sink.text;
}

std::string shards_reply(const ClusterMap& m, const LeaderView& l, int protocol) {
  RecordingSink sink(protocol);
  reply_cluster_shards(m, l, sink);
  return sink.text;
}

// [host, port, name, metadata] as Redis 7.0 sends it.
std::string slots_node(int port, const std::string& name, const char* meta) {
  return "*4 $127.0.0.1 :" + std::to_string(port) + " $" + name + " " + meta;
}

TEST(ClusterSlots, Resp2) {
  std::string want = "*3 *4 :0 :5460 " + slots_node(30001, kName1, "*0") + " " +
                     slots_node(30002, kName2, "*0") + " *4 :5461 :10922 " +
                     slots_node(30003, kName3, "*0") + " " + slots_node(30002, kName2, "*0") +
                     " *4 :10923 :16383 " + slots_node(30003, kName3, "*0") + " " +
                     slots_node(30001, kName1, "*0");
  EXPECT_EQ(slots_reply(golden_map(), kGoldenLeaders, 2), want);
}

TEST(ClusterSlots, Resp3MetadataIsAnEmptyMap) {
  std::string want = "*3 *4 :0 :5460 " + slots_node(30001, kName1, "%0") + " " +
                     slots_node(30002, kName2, "%0") + " *4 :5461 :10922 " +
                     slots_node(30003, kName3, "%0") + " " + slots_node(30002, kName2, "%0") +
                     " *4 :10923 :16383 " + slots_node(30003, kName3, "%0") + " " +
                     slots_node(30001, kName1, "%0");
  EXPECT_EQ(slots_reply(golden_map(), kGoldenLeaders, 3), want);
}

TEST(ClusterSlots, UnknownLeaderListsReplicasInMapOrder) {
  // Shard 2's leader unknown; shard 3's "leader" is not a node of the map.
  LeaderView l = view({{1, 1}, {3, 99}});
  std::string want = "*3 *4 :0 :5460 " + slots_node(30001, kName1, "*0") + " " +
                     slots_node(30002, kName2, "*0") + " *4 :5461 :10922 " +
                     slots_node(30002, kName2, "*0") + " " + slots_node(30003, kName3, "*0") +
                     " *4 :10923 :16383 " + slots_node(30003, kName3, "*0") + " " +
                     slots_node(30001, kName1, "*0");
  EXPECT_EQ(slots_reply(golden_map(), l, 2), want);
  EXPECT_EQ(slots_reply(golden_map(), LeaderView(), 2), slots_reply(golden_map(), view({}), 2));
}

TEST(ClusterSlots, LeaderOutsideTheReplicaSetComesFirst) {
  // A stale map: node 3 leads shard 1 though the map doesn't list it yet.
  LeaderView l = view({{1, 3}, {2, 2}, {3, 3}});
  std::string text = slots_reply(golden_map(), l, 2);
  std::string want_head = "*3 *5 :0 :5460 " + slots_node(30003, kName3, "*0") + " " +
                          slots_node(30001, kName1, "*0") + " " + slots_node(30002, kName2, "*0");
  EXPECT_EQ(text.substr(0, want_head.size()), want_head);
}

// One node of CLUSTER SHARDS, fields in Redis 7.0's order.
std::string shards_node(int port, const std::string& name, const char* role, int protocol) {
  std::string head = protocol == 3 ? "%7" : "*14";
  return head + " $id $" + name + " $port :" + std::to_string(port) +
         " $ip $127.0.0.1 $endpoint $127.0.0.1 $role $" + role +
         " $replication-offset :0 $health $online";
}

std::string shard_head(int protocol) { return protocol == 3 ? "%2" : "*4"; }

TEST(ClusterShards, Resp2AndResp3) {
  for (int p : {2, 3}) {
    SCOPED_TRACE(p);
    std::string want =
        "*3 " + shard_head(p) + " $slots *2 :0 :5460 $nodes *2 " +
        shards_node(30001, kName1, "master", p) + " " + shards_node(30002, kName2, "replica", p) +
        " " + shard_head(p) + " $slots *2 :5461 :10922 $nodes *2 " +
        shards_node(30003, kName3, "master", p) + " " + shards_node(30002, kName2, "replica", p) +
        " " + shard_head(p) + " $slots *2 :10923 :16383 $nodes *2 " +
        shards_node(30003, kName3, "master", p) + " " + shards_node(30001, kName1, "replica", p);
    EXPECT_EQ(shards_reply(golden_map(), kGoldenLeaders, p), want);
  }
}

TEST(ClusterShards, UnknownLeaderFirstReplicaStandsIn) {
  std::string text = shards_reply(golden_map(), view({{1, 1}, {3, 3}}), 2);
  std::string want_mid = " $slots *2 :5461 :10922 $nodes *2 " +
                         shards_node(30002, kName2, "master", 2) + " " +
                         shards_node(30003, kName3, "replica", 2) + " ";
  EXPECT_NE(text.find(want_mid), std::string::npos) << text;
}

TEST(ClusterNodes, GoldenText) {
  std::string want = kName1 + " 127.0.0.1:30001@40001 master - 0 0 5 connected 0-5460\n" +  //
                     kName2 + " 127.0.0.1:30002@40002 myself,master - 0 0 5 connected\n" +  //
                     kName3 + " 127.0.0.1:30003@40003 master - 0 0 5 connected 5461-16383\n";
  EXPECT_EQ(cluster_nodes_text(golden_map(), kGoldenLeaders, NodeId(2)), want);
}

TEST(ClusterNodes, SingleSlotsAndGaps) {
  ClusterMap m = golden_map();
  m.shards = {{ShardId(1), 0, 99, {NodeId(1)}},    {ShardId(2), 100, 100, {NodeId(2)}},
              {ShardId(3), 101, 101, {NodeId(1)}}, {ShardId(4), 102, 200, {NodeId(1)}},
              {ShardId(5), 201, 202, {NodeId(3)}}, {ShardId(6), 203, 16383, {NodeId(1)}}};
  ASSERT_TRUE(validate(m).is_ok());
  LeaderView l = view({{1, 1}, {2, 2}, {3, 1}, {4, 1}, {6, 1}});  // shard 5: no leader
  std::string want =
      kName1 + " 127.0.0.1:30001@40001 myself,master - 0 0 5 connected 0-99 101-200 203-16383\n" +
      kName2 + " 127.0.0.1:30002@40002 master - 0 0 5 connected 100\n" +  //
      kName3 + " 127.0.0.1:30003@40003 master - 0 0 5 connected\n";
  EXPECT_EQ(cluster_nodes_text(m, l, NodeId(1)), want);
}

TEST(ClusterInfo, GoldenTextAllLed) {
  std::string want =
      "cluster_state:ok\r\n"
      "cluster_slots_assigned:16384\r\n"
      "cluster_slots_ok:16384\r\n"
      "cluster_slots_pfail:0\r\n"
      "cluster_slots_fail:0\r\n"
      "cluster_known_nodes:3\r\n"
      "cluster_size:2\r\n"
      "cluster_current_epoch:5\r\n"
      "cluster_my_epoch:5\r\n"
      "cluster_stats_messages_sent:120\r\n"
      "cluster_stats_messages_received:118\r\n"
      "total_cluster_links_buffer_limit_exceeded:0\r\n";
  EXPECT_EQ(cluster_info_text(golden_map(), kGoldenLeaders, NodeId(1), 120, 118), want);
}

TEST(ClusterInfo, GoldenTextOneShardLeaderless) {
  std::string want =
      "cluster_state:fail\r\n"
      "cluster_slots_assigned:16384\r\n"
      "cluster_slots_ok:10923\r\n"
      "cluster_slots_pfail:0\r\n"
      "cluster_slots_fail:5461\r\n"
      "cluster_known_nodes:3\r\n"
      "cluster_size:2\r\n"
      "cluster_current_epoch:5\r\n"
      "cluster_my_epoch:5\r\n"
      "cluster_stats_messages_sent:0\r\n"
      "cluster_stats_messages_received:0\r\n"
      "total_cluster_links_buffer_limit_exceeded:0\r\n";
  EXPECT_EQ(cluster_info_text(golden_map(), view({{1, 1}, {2, 3}}), NodeId(3), 0, 0), want);
}

TEST(ClusterInfo, NoLeadersKnown) {
  std::string text = cluster_info_text(golden_map(), LeaderView(), NodeId(1), 0, 0);
  EXPECT_EQ(text.substr(0, text.find("\r\n")), "cluster_state:fail");
  EXPECT_NE(text.find("\r\ncluster_slots_ok:0\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\ncluster_size:0\r\n"), std::string::npos);
}

}  // namespace
}  // namespace shoal::cluster
