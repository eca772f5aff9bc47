// The files that make a data directory a cluster member: `node.id` (this
// node's id, chosen at random on first start and never reused: H13) and
// `cluster.map` (the map the cluster was created with, written once by
// CLUSTER SHOAL-BOOTSTRAP). Both are written to a temporary file, fsync'd,
// renamed into place and the directory fsync'd, so a crash leaves the old
// file or the new one.
//
// Thread-safety: plain functions; callers serialize writes to one directory.
#pragma once

#include <optional>
#include <string>

#include "base/ids.h"
#include "base/status.h"
#include "cluster/cluster_map.h"

namespace shoal::server {

// Reads <dir>/node.id, creating it with a random non-zero id when missing.
Result<NodeId> load_or_create_node_id(const std::string& dir);
// nullopt when the node was never bootstrapped.
Result<std::optional<cluster::ClusterMap>> load_cluster_map(const std::string& dir);
Status save_cluster_map(const std::string& dir, const cluster::ClusterMap& map);

}  // namespace shoal::server
