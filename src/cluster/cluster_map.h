// ClusterMap: which nodes form the cluster, how slots are split into shards,
// and which nodes hold each shard's replicas (DESIGN.md section 2). It is the
// state of the meta shard; every node caches a copy, versioned by `version`.
//
// Leaders are NOT part of the map: they change with every election and are
// learned at run time (LeaderView, cluster_replies.h).
//
// Invariants (checked by validate()): node ids are non-zero and distinct;
// shards' slot ranges are disjoint, contiguous and cover 0..16383; each
// shard's replicas are distinct nodes of the map; the meta replicas are
// distinct nodes of the map.
//
// Thread-safety: a plain value; no internal locking.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"

namespace shoal::cluster {

inline constexpr ShardId kMetaShard{0};

struct NodeInfo {
  NodeId id;
  std::string host;          // address clients and peers use
  uint16_t client_port = 0;  // RESP
  uint16_t peer_port = 0;    // transport
  bool operator==(const NodeInfo&) const = default;
};

struct ShardInfo {
  ShardId id;  // 1.. (0 is the meta shard)
  uint16_t first_slot = 0;
  uint16_t last_slot = 0;  // inclusive
  std::vector<NodeId> replicas;
  uint64_t conf_ver = 1;
  uint64_t version = 1;
  bool operator==(const ShardInfo&) const = default;
};

struct ClusterMap {
  uint64_t cluster_id = 0;  // random, chosen at creation; peers must agree
  uint64_t version = 0;     // bumped by every change
  int replication_factor = 3;
  std::vector<NodeInfo> nodes;
  std::vector<ShardInfo> shards;  // ordered by first_slot
  std::vector<NodeId> meta_replicas;
  bool operator==(const ClusterMap&) const = default;

  const NodeInfo* node(NodeId id) const;
  const ShardInfo* shard(ShardId id) const;
  // The shard owning `slot`; nullptr only for an invalid map. O(log shards).
  const ShardInfo* shard_for_slot(Slot slot) const;
  // Shards with a replica on `node`.
  std::vector<ShardId> shards_on(NodeId node) const;
};

[[nodiscard]] Status validate(const ClusterMap& map);

// Binary form with a version byte and a CRC32C; decode validates.
std::string encode_cluster_map(const ClusterMap& map);
Result<ClusterMap> decode_cluster_map(std::string_view bytes);

// Redis Cluster's 40-character hex node name for `id` (stable, distinct for
// distinct ids).
std::string node_name(NodeId id);

// Placement for a new cluster: `shard_count` shards of (nearly) equal slot
// ranges; each shard's `rf` replicas on distinct nodes, replica counts per
// node differing by at most one, and each node first in the replica list
// (its preferred leader) of a near-equal number of shards. The meta shard's
// replicas are the first min(3, nodes) nodes. Deterministic for its inputs.
// Errors: no nodes, rf < 1 or rf > nodes, shard_count < 1 or > 16384,
// duplicate node ids or addresses.
Result<ClusterMap> plan_cluster(std::vector<NodeInfo> nodes, int shard_count, int rf,
                                uint64_t cluster_id);

}  // namespace shoal::cluster
