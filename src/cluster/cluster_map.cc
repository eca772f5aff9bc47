// ClusterMap lookups, validation and node names. The binary form is in
// cluster_map_codec.cc, placement in placement.cc.
#include "cluster/cluster_map.h"

#include <xxhash.h>

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

namespace shoal::cluster {

const NodeInfo* ClusterMap::node(NodeId id) const {
  for (const NodeInfo& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

const ShardInfo* ClusterMap::shard(ShardId id) const {
  for (const ShardInfo& s : shards) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

const ShardInfo* ClusterMap::shard_for_slot(Slot slot) const {
  // The last shard whose first_slot <= slot; shards are ordered by first_slot.
  auto it = std::upper_bound(shards.begin(), shards.end(), slot.value(),
                             [](uint16_t s, const ShardInfo& sh) { return s < sh.first_slot; });
  if (it == shards.begin()) return nullptr;
  --it;
  return slot.value() <= it->last_slot ? &*it : nullptr;
}

std::vector<ShardId> ClusterMap::shards_on(NodeId node) const {
  std::vector<ShardId> out;
  for (const ShardInfo& s : shards) {
    if (std::find(s.replicas.begin(), s.replicas.end(), node) != s.replicas.end()) {
      out.push_back(s.id);
    }
  }
  return out;
}

namespace {

Status invalid(std::string msg) { return Status::invalid_argument("cluster map: " + msg); }

// `replicas` are non-empty, distinct, and all nodes of the map.
Status check_replica_set(const std::vector<NodeId>& replicas,
                         const std::unordered_set<NodeId>& node_ids, const std::string& what) {
  if (replicas.empty()) return invalid(what + " has no replicas");
  std::unordered_set<NodeId> seen;
  for (NodeId r : replicas) {
    if (!node_ids.contains(r)) {
      return invalid(what + " has replica " + std::to_string(r.value()) + " not in the map");
    }
    if (!seen.insert(r).second) {
      return invalid(what + " lists node " + std::to_string(r.value()) + " twice");
    }
  }
  return Status::ok();
}

Status check_nodes(const ClusterMap& map, std::unordered_set<NodeId>* ids) {
  if (map.nodes.empty()) return invalid("no nodes");
  for (const NodeInfo& n : map.nodes) {
    if (n.id.value() == 0) return invalid("node id 0");
    if (!ids->insert(n.id).second) {
      return invalid("duplicate node id " + std::to_string(n.id.value()));
    }
  }
  return Status::ok();
}

// Ranges ordered, disjoint, contiguous, covering 0..16383; ids distinct, non-zero.
Status check_shards(const ClusterMap& map, const std::unordered_set<NodeId>& node_ids) {
  if (map.shards.empty()) return invalid("no shards");
  std::unordered_set<ShardId> shard_ids;
  uint32_t next_slot = 0;
  for (const ShardInfo& s : map.shards) {
    std::string what = "shard " + std::to_string(s.id.value());
    if (s.id == kMetaShard) return invalid("shard id 0 is reserved for the meta shard");
    if (!shard_ids.insert(s.id).second) return invalid("duplicate " + what);
    if (s.first_slot != next_slot) {
      return invalid(what + " starts at slot " + std::to_string(s.first_slot) + ", expected " +
                     std::to_string(next_slot));
    }
    if (s.last_slot < s.first_slot || s.last_slot >= kSlotCount) {
      return invalid(what + " has a bad range");
    }
    next_slot = uint32_t{s.last_slot} + 1;
    if (Status st = check_replica_set(s.replicas, node_ids, what); !st.is_ok()) return st;
  }
  if (next_slot != kSlotCount) {
    return invalid("slots " + std::to_string(next_slot) + "..16383 are not covered");
  }
  return Status::ok();
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

}  // namespace

Status validate(const ClusterMap& map) {
  std::unordered_set<NodeId> node_ids;
  if (Status st = check_nodes(map, &node_ids); !st.is_ok()) return st;
  if (map.replication_factor < 1) return invalid("replication factor < 1");
  if (Status st = check_shards(map, node_ids); !st.is_ok()) return st;
  return check_replica_set(map.meta_replicas, node_ids, "the meta shard");
}

std::string node_name(NodeId id) {
  // 16 hex digits of the id itself make names distinct; 24 more from two
  // seeded XXH64s of its little-endian bytes (a fixed, portable function)
  // make them look like Redis's random names. Stable across releases: node
  // names are what clients key their topology on.
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(id.value() >> (8 * i));
  uint64_t h1 = XXH64(le, sizeof le, 0x53686f616c4e4d31ULL);
  uint64_t h2 = XXH64(le, sizeof le, 0x53686f616c4e4d32ULL);
  std::string name = hex64(id.value()) + hex64(h1) + hex64(h2).substr(0, 8);
  SHOAL_ASSERT(name.size() == 40);
  return name;
}

}  // namespace shoal::cluster
