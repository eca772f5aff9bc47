// ClusterNode: the node core of a Shoal cluster (DESIGN.md sections 3-5).
// It hosts this node's replicas of the shards the cluster map gives it (one
// replica::Host: one log batch and one fsync per iteration for all of them)
// and executes clients' keyspace commands:
//
//   key -> slot -> shard (cluster map) -> leader (LeaderTable)
//   * this node leads the shard: writes are proposed, reads are linearizable
//     (ReadIndex or lease);
//   * a READONLY connection's read on a local follower: follower ReadIndex;
//   * another node leads it: `redirect` mode answers MOVED slot host:port,
//     `proxy` mode forwards the command and relays the reply;
//   * no known leader: the command waits (bounded) for an election, then
//     answers CLUSTERDOWN.
// Multi-key commands must stay in one slot (CROSSSLOT); in proxy mode the
// per-key ones (MGET, DEL, UNLINK, EXISTS, TOUCH) are split by shard and
// gathered, and keyspace-wide ones (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL,
// FLUSHDB) run on every shard. In redirect mode keyspace-wide commands see
// the shards this node leads, as a Redis Cluster master sees its own slots.
//
// Outcomes (H17, H18): a forwarded command is sent once and never retried
// unless the peer answered that it did not execute it; a forwarded write
// that times out ends as unknown outcome.
//
// Per-client order, as in Redis: consecutive local writes are pipelined;
// anything else (a read, a forward, a fan-out) waits for the client's earlier
// commands and holds back its later ones.
//
// Threading: one thread (the server's raft loop) calls every method and runs
// every callback. The node reaches time, disk and peers only through env,
// replica::LogStore and PeerOutbox.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "cluster/cluster_map.h"
#include "env/clock.h"
#include "kv/command.h"
#include "kv/recorded_reply.h"
#include "node/leader_table.h"
#include "node/snapshot_shipping.h"
#include "replica/host.h"
#include "transport/peer_messages.h"

namespace shoal::node {

enum class RoutingMode : uint8_t { kRedirect, kProxy };

// Where peer messages go. The server implements it with transport::PeerNetwork.
class PeerOutbox {
 public:
  virtual ~PeerOutbox() = default;
  virtual transport::PeerBatch& outgoing(NodeId to) = 0;
};

struct ClientContext {
  bool readonly = false;  // READONLY: reads may be served by a follower replica
};

struct ClusterNodeOptions {
  NodeId id;
  // false: a standalone server (a one-node, one-shard map): no MOVED, every
  // slot local. true: a cluster member.
  bool clustered = true;
  RoutingMode mode = RoutingMode::kRedirect;
  replica::ReplicaOptions replica;
  bool sync = true;  // fsync every batch (the LogStore may relax it)
  // Pipelined sync (replica/host.h): batches are written unsynced and the
  // caller syncs them (sync_ticket/on_synced) while the loop goes on.
  bool defer_sync = false;
  int64_t forward_timeout_ms = 5000;  // a forwarded command's deadline (H22)
  int64_t leader_wait_ms = 2000;      // how long a command waits for an election
  int hint_interval_ticks = 10;       // how often leadership is announced to peers
  // Chunked, throttled, resumable snapshot transfer (snapshot_shipping.h);
  // without a disk, snapshots travel inline in one Raft message.
  SnapshotShippingOptions snapshots;
  // How often a leader hands shards back to their preferred leaders (0: never).
  int balance_interval_ticks = 50;
  // Where replicas keep their data: unset, in memory (a restart rebuilds it
  // from the last snapshot and the log); set, in the durable engines it opens
  // for a shard (RocksLogStore::open_state_engines).
  std::function<Result<replica::StateEngines>(ShardId)> state_engines;
};

using Reply = std::function<void(Status, kv::RecordedReply)>;

class ClusterNode {
 public:
  ClusterNode(ClusterNodeOptions options, replica::LogStore& store, PeerOutbox& peers,
              env::Clock& clock);
  ~ClusterNode();

  // Opens this node's replicas of `map` (bootstrapping groups whose state is
  // not in the store yet, with the map's replica set as initial voters).
  Status open(cluster::ClusterMap map);

  void execute(uint64_t client, ClientContext ctx, const kv::CommandSpec& spec,
               std::vector<std::string> args, Reply done);
  // Writes started while a RequestBatch lives (a batch of requests that
  // arrived together) share one reading of the wall clock as their command
  // time, instead of a reading each (~2% of the raft loop at SET -P 16).
  // Nests: the outer batch's time comes back when an inner one ends. On the
  // node's thread only.
  class RequestBatch {
   public:
    explicit RequestBatch(ClusterNode* node)
        : node_(node), outer_(node ? node->request_time_ms_ : std::nullopt) {
      if (node_) node_->request_time_ms_ = node_->clock_.now_ms();
    }
    ~RequestBatch() {
      if (node_) node_->request_time_ms_ = outer_;
    }
    RequestBatch(const RequestBatch&) = delete;
    RequestBatch& operator=(const RequestBatch&) = delete;

   private:
    ClusterNode* node_;
    std::optional<int64_t> outer_;
  };
  void forget_client(uint64_t client);
  void on_peer_batch(transport::PeerBatch batch);

  void tick();
  // One host iteration (group commit), then routing upkeep.
  Status run_once();
  // Pipelined sync (defer_sync): a ticket covering the batches written since
  // the last one, if any; sync the store (any thread), then on_synced() on
  // the node's thread.
  std::optional<uint64_t> sync_ticket() {
    if (!host_.wants_sync()) return std::nullopt;
    return host_.take_sync_request();
  }
  Status on_synced(uint64_t ticket, const Status& status) {
    return host_.on_synced(ticket, status);
  }
  // A ticket covering every batch written so far (new or not).
  uint64_t newest_sync_ticket() { return host_.take_sync_request(); }
  bool has_ready();
  // Proposes deletions of expired keys on the shards this node leads.
  size_t expire_cycle(size_t limit);
  // Asks every shard this node leads to hand leadership to another voter
  // (graceful shutdown). Returns how many shards are still being handed over
  // (shards with no live voter to take over are not counted).
  size_t transfer_leaderships();

  bool healthy() const { return !host_.failed(); }
  const cluster::ClusterMap& map() const { return map_; }
  NodeId id() const { return options_.id; }
  std::optional<NodeId> leader_of(ShardId shard) const;
  // Keys and keys with an expiry in the shards this node leads.
  size_t dbsize();
  size_t expires_count();
  // Compactions on this node's replicas: {memory-only, stored} (replica.h).
  std::pair<uint64_t, uint64_t> compactions();
  replica::Replica* replica(ShardId shard) { return host_.replica(shard); }
  uint64_t forwards_started() const { return forwards_started_; }
  const SnapshotShipping& snapshots() const { return *snapshots_; }

 private:
  // A client command on its way.
  struct Op {
    const kv::CommandSpec* spec;
    std::vector<std::string> args;
    ClientContext ctx;
    Reply done;
    bool internal = false;  // part of a fan-out or split: forwarded, never redirected
    // The keys' slots, hashed once per op (routing asks more than once).
    struct Slots {
      bool has_keys = false;
      bool one_slot = true;  // every key hashes to `first`
      Slot first;
    };
    std::optional<Slots> slots;
  };
  struct ClientQueue {
    std::deque<Op> waiting;
    int writes_in_flight = 0;
    bool barrier_in_flight = false;
    bool pumping = false;  // pump() is running for this client (re-entrancy guard)
    bool idle() const { return writes_in_flight == 0 && !barrier_in_flight; }
  };
  // A command forwarded to a shard's leader, awaiting its response.
  struct Forward {
    ShardId shard;
    Slot slot;
    Op op;
    int attempt = 0;
    int64_t deadline_ms = 0;
    NodeId to;  // the leader it was sent to
  };
  // A command waiting for its shard to elect a leader.
  struct Waiting {
    ShardId shard;
    Slot slot;
    Op op;
    int attempt = 0;
    int64_t deadline_ms = 0;
    int64_t not_before_ms = 0;  // a retry after a refusal backs off a little
  };
  // A WAIT in progress (replica_wait.cc).
  struct ReplicaWait {
    uint64_t client = 0;
    Op op;
    int64_t needed = 0;
    int64_t deadline_ms = 0;  // 0: none
    std::vector<std::pair<ShardId, LogIndex>> targets;
  };
  // A callback with a deadline (with_deadline).
  struct Deadline {
    int64_t at_ms = 0;
    std::shared_ptr<Reply> done;  // null once answered
  };
  class HostTransport;

  void pump(uint64_t client);
  bool is_pipelined(Op& op);
  static const Op::Slots& slots_of(Op& op);
  std::optional<ShardId> single_shard_of(Op& op) const;
  void start(uint64_t client, Op&& op, bool pipelined);
  void finished(uint64_t client, bool pipelined);
  void route(Op&& op);
  void run_on_shard(ShardId shard, Slot slot, Op&& op, int attempt);
  void run_local(replica::Replica& r, Op&& op);
  void forward(NodeId leader, ShardId shard, Slot slot, Op op, int attempt);
  void fan_out(Op op);
  void split_by_shard(Op op);
  std::vector<ShardId> fan_out_targets();
  void serve_forward(NodeId from, transport::ForwardRequest req);
  void on_forward_response(NodeId from, transport::ForwardResponse resp);
  void expire_forwards();
  void reroute_reads();
  void retry_waiting();
  bool serves(replica::Replica& r, const kv::CommandSpec& spec);
  void wait_for_leader(ShardId shard, Slot slot, Op op, int attempt, int64_t delay_ms = 0);
  void announce_leadership();
  void start_wait(uint64_t client, Op op);
  void end_waits_of(uint64_t client);
  bool follower_readable(replica::Replica& r, const kv::CommandSpec& spec, ClientContext ctx);
  Reply with_deadline(Reply done);
  void expire_deadlines();
  int64_t replicas_reached(const ReplicaWait& w);
  void check_waits();
  void balance_leaders();
  void write_map_to_meta_shard();
  transport::ShardEpoch epoch_of(ShardId shard) const;
  int64_t now_ms() const;

  ClusterNodeOptions options_;
  env::Clock& clock_;
  std::optional<int64_t> request_time_ms_;  // while a RequestBatch lives
  PeerOutbox& peers_;
  std::unique_ptr<HostTransport> host_transport_;
  replica::Host host_;
  cluster::ClusterMap map_;
  // This node's replicas of map_'s data shards, in map order (built by
  // open(); the map does not change after it): the per-iteration loops walk
  // this instead of looking every shard up (hundreds of shards per node).
  std::vector<replica::Replica*> local_;
  // map_.shards' positions by shard id (map_.shard() is a linear search, and
  // every Raft message sent looks its shard's epoch up).
  std::unordered_map<uint64_t, size_t> shard_pos_;
  const cluster::ShardInfo* shard_info(ShardId id) const;
  LeaderTable leaders_;
  // Clients with commands waiting or in flight. Node-based: a ClientQueue&
  // stays valid while other clients come and go (iterators may not).
  using ClientQueues = std::unordered_map<uint64_t, ClientQueue>;
  ClientQueues clients_;
  // Nodes of clients_ whose client went idle, kept for reuse (queue_of()).
  static constexpr size_t kSpareClientQueues = 64;
  std::vector<ClientQueues::node_type> spare_clients_;
  ClientQueue& queue_of(uint64_t client);
  void drop_idle_client(ClientQueues::iterator it);
  std::map<uint64_t, Forward> forwards_;  // by request id
  std::deque<Waiting> waiting_;           // commands waiting for a leader
  std::vector<ReplicaWait> waits_;        // WAIT commands
  std::vector<Deadline> deadlines_;       // follower reads
  uint64_t next_forward_id_ = 1;
  uint64_t forwards_started_ = 0;
  uint64_t ticks_ = 0;
  bool map_written_ = false;
  bool map_write_in_flight_ = false;
  std::unique_ptr<SnapshotShipping> snapshots_;  // after host_: it refers to it
};

}  // namespace shoal::node
