// Replies of the Redis Cluster topology commands, built from the cluster map
// and the current leaders, in Redis 7's exact formats (redis.io/commands/
// cluster-slots, cluster-shards, cluster-nodes, cluster-info).
//
// Shoal's model differs from Redis's: a node leads some shards and follows
// others. Topology is expressed per shard: CLUSTER SLOTS / SHARDS list each
// shard's range with its leader as master and its other replicas as
// replicas; CLUSTER NODES (used by redis-benchmark --cluster and some
// clients) lists every node as a master owning the slots of the shards it
// leads now.
//
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "cluster/cluster_map.h"
#include "kv/reply_sink.h"

namespace shoal::cluster {

// The leader of a shard as this node currently knows it (nullopt: unknown).
using LeaderView = std::function<std::optional<NodeId>(ShardId)>;

// CLUSTER SLOTS. Shards whose leader is unknown list their replicas in map
// order (clients then get MOVED or CLUSTERDOWN and refresh).
void reply_cluster_slots(const ClusterMap& map, const LeaderView& leaders, kv::ReplySink& out);
// CLUSTER SHARDS (maps in RESP3, flat arrays in RESP2, as Redis does).
void reply_cluster_shards(const ClusterMap& map, const LeaderView& leaders, kv::ReplySink& out);
// CLUSTER NODES: the bulk string body ("\n"-terminated lines).
std::string cluster_nodes_text(const ClusterMap& map, const LeaderView& leaders, NodeId myself);
// CLUSTER INFO: the bulk string body ("\r\n"-terminated lines).
// cluster_state is ok iff every shard has a known leader.
std::string cluster_info_text(const ClusterMap& map, const LeaderView& leaders, NodeId myself,
                              uint64_t messages_sent, uint64_t messages_received);

}  // namespace shoal::cluster
