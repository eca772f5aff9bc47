// Host: all replicas of one node, driven together so that a loop iteration
// costs one storage write and one fsync however many shards are busy (group
// commit, DESIGN.md section 5; TiKV's async write batch is the model).
//
// One iteration (run_once):
//   1. take every replica's Ready and send the messages that don't depend on
//      local durability;
//   2. stage every replica's snapshot / hard state / entries into ONE batch
//      and commit it (sync per the fsync policy);
//   3. only then send the messages that do depend on it, acknowledge the
//      persistence to Raft, apply committed entries and answer clients.
// If the commit fails the host stops: it never acknowledges a write it could
// not make durable (H16); pending requests end as unknown outcome.
//
// Thread-safety: none; one thread (an event loop) drives the host.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "replica/replica.h"

namespace shoal::replica {

struct HostOptions {
  bool sync = true;  // fsync every batch (the default; H16)
};

class Host {
 public:
  Host(NodeId node, LogStore& store, Transport& transport, env::Clock& clock,
       HostOptions options = {});

  // Opens (or bootstraps, see Replica::open) a replica of `shard`; a durable
  // `engine` needs a durable `sessions` engine (Replica::open).
  Status add_replica(ShardId shard, ReplicaOptions options,
                     std::optional<std::vector<NodeId>> bootstrap_voters,
                     std::unique_ptr<storage::Engine> engine,
                     std::unique_ptr<storage::Engine> sessions = nullptr);
  Replica* replica(ShardId shard);
  void remove_replica(ShardId shard);

  void tick();
  // A message from a peer; messages for unknown shards are dropped, and so
  // are kSnap messages whose snapshot fails verification (counted in
  // bad_snapshots(): input from a peer is validated, never asserted on).
  // Returns false if the message was dropped.
  bool step(ShardId shard, raft::Message msg);
  // The outcome of a chunked snapshot transfer that the Transport started
  // (SnapshotSend::kStarted) to `to`; ignored if this node no longer leads.
  void report_snapshot(ShardId shard, NodeId to, bool ok);
  // One iteration (see above). Returns the error that stopped the host.
  Status run_once();

  NodeId node() const { return node_; }
  bool failed() const { return !failure_.is_ok(); }
  uint64_t batches_committed() const { return batches_; }
  uint64_t bad_snapshots() const { return bad_snapshots_; }

 private:
  NodeId node_;
  LogStore& store_;
  Transport& transport_;
  env::Clock& clock_;
  HostOptions options_;
  std::map<ShardId, std::unique_ptr<Replica>> replicas_;
  Status failure_;
  uint64_t batches_ = 0;
  uint64_t bad_snapshots_ = 0;
};

}  // namespace shoal::replica
