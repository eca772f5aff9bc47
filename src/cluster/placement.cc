// plan_cluster: the initial placement of a new cluster (cluster_map.h).
//
// Nodes are numbered 0..n-1 in input order. Shard i's replicas are the
// window of rf consecutive nodes (mod n) starting at start(i), the first of
// them being the preferred leader:
//   - the first q*n shards (q = shards / n, full rounds) start at i mod n, so
//     every node leads q of them and holds exactly q*rf replicas;
//   - the r = shards mod n remaining shards start at floor(t*n/r), t = 0..r-1:
//     r distinct nodes, so leader counts differ by at most one, and windows
//     spread evenly around the ring. These starts form a balanced (Sturmian)
//     sequence: any rf consecutive positions hold floor or ceil of rf*r/n of
//     them, so per-node replica counts differ by at most one as well.
// Windows of rf <= n consecutive nodes hold distinct nodes.
#include <set>
#include <unordered_set>
#include <utility>

#include "cluster/cluster_map.h"

namespace shoal::cluster {
namespace {

Status check_inputs(const std::vector<NodeInfo>& nodes, int shard_count, int rf) {
  if (nodes.empty()) return Status::invalid_argument("plan_cluster: no nodes");
  if (rf < 1 || static_cast<size_t>(rf) > nodes.size()) {
    return Status::invalid_argument("plan_cluster: replication factor " + std::to_string(rf) +
                                    " must be in 1.." + std::to_string(nodes.size()));
  }
  if (shard_count < 1 || shard_count > kSlotCount) {
    return Status::invalid_argument("plan_cluster: shard count " + std::to_string(shard_count) +
                                    " must be in 1..16384");
  }
  std::unordered_set<NodeId> ids;
  std::set<std::pair<std::string, uint16_t>> addresses;
  for (const NodeInfo& n : nodes) {
    std::string who = "plan_cluster: node " + std::to_string(n.id.value());
    if (n.id.value() == 0) return Status::invalid_argument("plan_cluster: node id 0");
    if (!ids.insert(n.id).second) return Status::invalid_argument(who + " listed twice");
    if (n.host.empty()) return Status::invalid_argument(who + " has no host");
    // Client and peer ports share one address space per host.
    if (!addresses.emplace(n.host, n.client_port).second ||
        !addresses.emplace(n.host, n.peer_port).second) {
      return Status::invalid_argument(who + " reuses an address (" + n.host + ")");
    }
  }
  return Status::ok();
}

size_t window_start(size_t shard, size_t shards, size_t nodes) {
  size_t full = shards / nodes * nodes;
  if (shard < full) return shard % nodes;
  size_t r = shards - full;  // 0 < r < nodes
  return (shard - full) * nodes / r;
}

}  // namespace

Result<ClusterMap> plan_cluster(std::vector<NodeInfo> nodes, int shard_count, int rf,
                                uint64_t cluster_id) {
  if (Status st = check_inputs(nodes, shard_count, rf); !st.is_ok()) return st;
  const size_t n = nodes.size();
  const auto shards = static_cast<size_t>(shard_count);

  ClusterMap map;
  map.cluster_id = cluster_id;
  map.version = 1;
  map.replication_factor = rf;
  for (size_t i = 0; i < shards; ++i) {
    ShardInfo s;
    s.id = ShardId(i + 1);
    s.first_slot = static_cast<uint16_t>(i * kSlotCount / shards);
    s.last_slot = static_cast<uint16_t>((i + 1) * kSlotCount / shards - 1);
    size_t start = window_start(i, shards, n);
    for (size_t j = 0; j < static_cast<size_t>(rf); ++j) {
      s.replicas.push_back(nodes[(start + j) % n].id);
    }
    s.conf_ver = 1;
    s.version = 1;
    map.shards.push_back(std::move(s));
  }
  for (size_t i = 0; i < std::min<size_t>(3, n); ++i) map.meta_replicas.push_back(nodes[i].id);
  map.nodes = std::move(nodes);

  // Our own construction: a failure here is a bug, not bad input.
  Status st = validate(map);
  SHOAL_ASSERT_MSG(st.is_ok(), st.message().c_str());
  return map;
}

}  // namespace shoal::cluster
