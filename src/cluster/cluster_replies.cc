// The topology replies, checked field by field against redis-server 7.0.15
// (docs/cluster-map.md). Where Redis has state Shoal does not keep, we give
// the value a healthy Redis node shows: replication-offset 0, health
// "online", ping-sent 0 and pong-received 0 in CLUSTER NODES.
//
// Epochs: Redis keeps a config epoch per master. Shoal's closest notion is
// the map version, so it is every node's config epoch, cluster_current_epoch
// and cluster_my_epoch.
#include "cluster/cluster_replies.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace shoal::cluster {
namespace {

// The shard's leader, if known and a node of the map (a leader we cannot
// give an address for is as good as unknown to a client).
std::optional<NodeId> known_leader(const ClusterMap& map, const LeaderView& leaders,
                                   const ShardInfo& shard) {
  if (!leaders) return std::nullopt;
  std::optional<NodeId> l = leaders(shard.id);
  if (!l || map.node(*l) == nullptr) return std::nullopt;
  return l;
}

// The nodes a client sees for `shard`: the leader first (when known), then
// the other replicas in map order; nodes missing from the map are skipped.
std::vector<const NodeInfo*> shard_members(const ClusterMap& map, const LeaderView& leaders,
                                           const ShardInfo& shard) {
  std::vector<const NodeInfo*> out;
  std::optional<NodeId> leader = known_leader(map, leaders, shard);
  if (leader) out.push_back(map.node(*leader));
  for (NodeId r : shard.replicas) {
    if (r == leader) continue;
    if (const NodeInfo* n = map.node(r)) out.push_back(n);
  }
  return out;
}

void reply_slots_node(const NodeInfo& n, kv::ReplySink& out) {
  out.array(4);
  out.bulk(n.host);
  out.integer(n.client_port);
  out.bulk(node_name(n.id));
  // Redis 7.0 sends the (empty) metadata as an array in RESP2, a map in RESP3.
  if (out.protocol() >= 3) {
    out.map(0);
  } else {
    out.array(0);
  }
}

// Starts a field-value aggregate: a map in RESP3, a flat array in RESP2.
void begin_fields(size_t pairs, kv::ReplySink& out) {
  if (out.protocol() >= 3) {
    out.map(pairs);
  } else {
    out.array(2 * pairs);
  }
}

void reply_shards_node(const NodeInfo& n, bool leader, kv::ReplySink& out) {
  begin_fields(7, out);  // Redis 7.0's order
  out.bulk("id");
  out.bulk(node_name(n.id));
  out.bulk("port");
  out.integer(n.client_port);
  out.bulk("ip");
  out.bulk(n.host);
  out.bulk("endpoint");
  out.bulk(n.host);
  out.bulk("role");
  out.bulk(leader ? "master" : "replica");
  out.bulk("replication-offset");
  out.integer(0);
  out.bulk("health");
  out.bulk("online");
}

// " a-b c d-e": the slot ranges of the shards `node` leads, adjacent ones
// merged, as CLUSTER NODES prints them.
std::string led_ranges(const ClusterMap& map, const LeaderView& leaders, NodeId node) {
  std::vector<std::pair<uint16_t, uint16_t>> ranges;
  for (const ShardInfo& s : map.shards) {  // ordered by first_slot
    if (known_leader(map, leaders, s) != node) continue;
    if (!ranges.empty() && ranges.back().second + 1 == s.first_slot) {
      ranges.back().second = s.last_slot;
    } else {
      ranges.emplace_back(s.first_slot, s.last_slot);
    }
  }
  std::string out;
  for (auto [a, b] : ranges) {
    out += a == b ? fmt::format(" {}", a) : fmt::format(" {}-{}", a, b);
  }
  return out;
}

}  // namespace

void reply_cluster_slots(const ClusterMap& map, const LeaderView& leaders, kv::ReplySink& out) {
  out.array(map.shards.size());
  for (const ShardInfo& s : map.shards) {
    std::vector<const NodeInfo*> members = shard_members(map, leaders, s);
    out.array(2 + members.size());
    out.integer(s.first_slot);
    out.integer(s.last_slot);
    for (const NodeInfo* n : members) reply_slots_node(*n, out);
  }
}

void reply_cluster_shards(const ClusterMap& map, const LeaderView& leaders, kv::ReplySink& out) {
  out.array(map.shards.size());
  for (const ShardInfo& s : map.shards) {
    std::vector<const NodeInfo*> members = shard_members(map, leaders, s);
    // With no known leader the first replica stands in as master, as in
    // CLUSTER SLOTS; a client sent there gets MOVED or CLUSTERDOWN.
    begin_fields(2, out);
    out.bulk("slots");
    out.array(2);
    out.integer(s.first_slot);
    out.integer(s.last_slot);
    out.bulk("nodes");
    out.array(members.size());
    for (size_t i = 0; i < members.size(); ++i) reply_shards_node(*members[i], i == 0, out);
  }
}

std::string cluster_nodes_text(const ClusterMap& map, const LeaderView& leaders, NodeId myself) {
  std::string out;
  for (const NodeInfo& n : map.nodes) {
    // <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link> <slot>*
    out += fmt::format("{} {}:{}@{} {} - 0 0 {} connected{}\n", node_name(n.id), n.host,
                       n.client_port, n.peer_port, n.id == myself ? "myself,master" : "master",
                       map.version, led_ranges(map, leaders, n.id));
  }
  return out;
}

std::string cluster_info_text(const ClusterMap& map, const LeaderView& leaders, NodeId myself,
                              uint64_t messages_sent, uint64_t messages_received) {
  uint32_t assigned = 0;
  uint32_t ok = 0;
  std::set<NodeId> leading;
  for (const ShardInfo& s : map.shards) {
    uint32_t n = uint32_t{s.last_slot} - s.first_slot + 1;
    assigned += n;
    if (std::optional<NodeId> l = known_leader(map, leaders, s)) {
      ok += n;
      leading.insert(*l);
    }
  }
  // Slots without a known leader count as failed: they are what makes the
  // state "fail", as FAIL slots do in Redis. Redis omits per-type message
  // counters that are zero; Shoal does not count per type, so only the
  // totals appear.
  bool all_led = ok == assigned && !map.shards.empty();
  return fmt::format(
      "cluster_state:{}\r\n"
      "cluster_slots_assigned:{}\r\n"
      "cluster_slots_ok:{}\r\n"
      "cluster_slots_pfail:0\r\n"
      "cluster_slots_fail:{}\r\n"
      "cluster_known_nodes:{}\r\n"
      "cluster_size:{}\r\n"
      "cluster_current_epoch:{}\r\n"
      "cluster_my_epoch:{}\r\n"
      "cluster_stats_messages_sent:{}\r\n"
      "cluster_stats_messages_received:{}\r\n"
      "total_cluster_links_buffer_limit_exceeded:0\r\n",
      all_led ? "ok" : "fail", assigned, ok, assigned - ok, map.nodes.size(), leading.size(),
      map.version, map.node(myself) ? map.version : 0, messages_sent, messages_received);
}

}  // namespace shoal::cluster
