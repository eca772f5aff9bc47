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
// Pipelined sync (HostOptions::defer_sync, the server's mode with fsync
// always): step 2 writes the batch without syncing and step 3 waits for a
// sync the caller runs elsewhere (another thread: LogStore::sync), so the
// loop takes and writes the next batches meanwhile instead of idling in
// fsync (Raft's host contract allows (b)+(c) to run asynchronously, in
// order). The protocol: after run_once, if wants_sync(), take a ticket with
// take_sync_request(), call store.sync() anywhere, then on_synced(ticket,
// status) on the host's thread; step 3 then runs for every batch written
// before the ticket was taken, in order. Batches that need no sync wait
// behind earlier ones that do. A failed sync stops the host like a failed
// commit. Invariant (H16): what depends on a batch's own durability - the
// persistence ack to Raft, votes, append responses - waits for a sync that
// began after the batch was written. Committed entries are applied (and
// their clients answered) without waiting: they are durable on a quorum
// already, and a leader counts its own copy only once it is synced.
//
// Thread-safety: none; one thread (an event loop) drives the host.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "replica/replica.h"

namespace shoal::replica {

struct HostOptions {
  bool sync = true;  // fsync every batch (the default; H16)
  // With sync: write batches unsynced and hand the fsync to the caller (see
  // "Pipelined sync" above). Off: run_once syncs each batch itself.
  bool defer_sync = false;
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

  // Pipelined sync (defer_sync): whether batches were written since the last
  // take_sync_request(); the ticket covers all of them.
  bool wants_sync() const { return written_ > requested_; }
  uint64_t take_sync_request() { return requested_ = written_; }
  // The sync taken as `ticket` finished (on the host's thread): finishes the
  // batches it covers, or stops the host if it failed.
  Status on_synced(uint64_t ticket, const Status& status);

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
  using Readies = std::vector<std::pair<ShardId, raft::Ready>>;
  void apply(ShardId shard, raft::Ready& rd);
  Status fail(const Status& s);

  std::map<ShardId, std::unique_ptr<Replica>> replicas_;
  // Pipelined sync: batches written (tickets), asked to be synced, synced;
  // and the Readies of written batches waiting for their sync, in order.
  uint64_t written_ = 0, requested_ = 0, synced_ = 0;
  uint64_t term_vote_ticket_ = 0;  // the last written batch that changed a term or vote
  std::deque<std::pair<uint64_t, Readies>> awaiting_;
  Status failure_;
  uint64_t batches_ = 0;
  uint64_t bad_snapshots_ = 0;
};

}  // namespace shoal::replica
