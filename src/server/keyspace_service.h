// KeyspaceService: runs the node core (node::ClusterNode: the replica host,
// its Raft groups and routing) and the peer network on a dedicated event
// loop - the "raft loop" - and lets client connections on other loops use it.
//
// Standalone (--cluster-enabled no): one shard holding every slot, this node
// its only voter. Cluster (--cluster-enabled yes): the node waits for CLUSTER
// SHOAL-BOOTSTRAP (sent by `shoal-cli cluster create`), then hosts its
// replicas of the map's shards; after a restart it reopens them from
// <data-dir>/cluster.map.
//
// Connections submit a batch of keyspace commands with one post; the raft
// loop executes them, runs one host iteration (one log write and one fsync for
// everything that arrived meanwhile: group commit), and hands each
// connection its completions with one post back. Replies stay in the
// protocol-neutral kv::RecordedReply form until the connection encodes them.
//
// Thread-safety: submit(), cancel() and the counters are safe from any thread;
// everything else runs on the raft loop.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <thread>
#include <vector>

#include "base/status.h"
#include "cluster/cluster_replies.h"
#include "kv/command.h"
#include "kv/recorded_reply.h"
#include "node/cluster_node.h"
#include "replica/rocks_log_store.h"
#include "replica/sync_thread.h"
#include "server/config.h"
#include "transport/peer_network.h"

namespace shoal::server {

struct KeyspaceRequest {
  const kv::CommandSpec* spec;
  std::vector<std::string> args;
  uint64_t tag;           // the submitter's own id for the reply slot
  bool readonly = false;  // the connection sent READONLY
};

// What server commands (CLUSTER ..., INFO) may know about the cluster: a
// snapshot the raft loop publishes whenever it changes.
struct Topology {
  bool clustered = false;
  bool configured = false;  // clustered and bootstrapped
  NodeId myself;
  uint16_t peer_port = 0;
  cluster::ClusterMap map;
  std::vector<std::optional<NodeId>> leaders;  // per map.shards entry
  uint64_t messages_sent = 0, messages_received = 0;
  cluster::LeaderView leader_view() const;
};

struct KeyspaceCompletion {
  uint64_t tag;
  Status status;
  kv::RecordedReply reply;
};

// Implemented by a client connection; called on the raft loop with a batch of
// completions, in the order the commands completed. The sink handles them
// before it returns or moves them away: the caller clears `done` and reuses
// its buffer.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void deliver(std::vector<KeyspaceCompletion>& done) = 0;

 private:
  friend class KeyspaceService;
  static constexpr size_t kNoSlot = SIZE_MAX;
  size_t outbox_slot_ = kNoSlot;  // raft loop only: its entry in the iteration's outbox
};

class KeyspaceService {
 public:
  KeyspaceService(const Config& config, env::Clock& clock);
  ~KeyspaceService();

  // Opens the log store in <data-dir>/raft, replays it, starts the loop.
  Status start();
  void stop();
  // Graceful shutdown, first step: hands every shard this node leads to
  // another live voter (at most about 2 s) while clients are still served,
  // so that in-flight commands complete and new ones are redirected.
  void hand_over_leadership();

  // Hands `requests` over to the raft loop and leaves the vector empty.
  void submit(uint64_t client, std::shared_ptr<CompletionSink> sink,
              std::vector<KeyspaceRequest>& requests);

  // Serves a read on the caller's thread when that is linearizable: this node
  // is the only voter and leads, so every acknowledged write is already
  // applied (a write is acknowledged after it is applied). The caller must
  // have no earlier command of the same client still in flight (per-client
  // order). Returns false - writing nothing - when the read must take the
  // normal path: not a single-voter leader, or the read met an expired key
  // (whose delete the leader must propose first, as Redis deletes on access).
  // `time` is the clock read at the first call with it unset, reused by
  // later calls of one batch of a connection's commands read together while
  // nothing was applied since (the state is then the one it was read with):
  // those reads all take place at that instant, which lies within each of
  // their requests' lifetimes. After an apply the clock is read again, so a
  // read never pairs a newer state with an older time (a key seen alive
  // after a write that came after its expiry: helper review, session 10).
  struct ReadTime {
    int64_t now_ms = -1;      // wall clock, for expiry and access times
    uint64_t generation = 0;  // Replica::apply_generation() when read
  };
  bool try_read_local(const kv::CommandSpec& spec, std::span<const std::string_view> args,
                      kv::ReplySink& out, ReadTime& time);
  // The client went away: drop its queued commands.
  void cancel(uint64_t client);

  std::shared_ptr<const Topology> topology() const;
  // The raft loop: client connections may live on it (connection.h).
  asio::io_context& loop() { return loop_; }
  // CLUSTER SHOAL-BOOTSTRAP: makes this node a member of the cluster `map`
  // (persisted before returning; the replicas open on the raft loop).
  // Idempotent for the same map; another map is refused.
  Status bootstrap(const std::string& encoded_map);

  uint64_t dbsize() const { return dbsize_.load(std::memory_order_relaxed); }
  uint64_t expires() const { return expires_.load(std::memory_order_relaxed); }
  uint64_t expired_total() const { return expired_total_.load(std::memory_order_relaxed); }
  uint64_t log_batches() const { return batches_.load(std::memory_order_relaxed); }
  // Log compactions that only freed memory, and those that stored a snapshot.
  uint64_t compactions_memory_only() const {
    return compactions_memory_only_.load(std::memory_order_relaxed);
  }
  uint64_t compactions_stored() const {
    return compactions_stored_.load(std::memory_order_relaxed);
  }
  // The fsync thread's work (fsync always; zeros otherwise): see
  // replica::SyncThread::stats().
  replica::SyncThread::Stats wal_syncs() const {
    return {.syncs = wal_syncs_.load(std::memory_order_relaxed),
            .sync_us = wal_sync_us_.load(std::memory_order_relaxed),
            .wait_us = wal_sync_wait_us_.load(std::memory_order_relaxed)};
  }
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

 private:
  class Outbox;
  void sync_inline();
  Status open_node(cluster::ClusterMap map);
  void publish_topology();
  bool leaders_changed();
  void shutdown_gracefully(std::function<void()> then, int rounds_left);
  void step_shutdown(std::function<void()> then, int rounds_left, uint64_t generation);
  // submit()'s work, on the raft loop.
  void run_requests(uint64_t client, std::shared_ptr<CompletionSink> sink,
                    std::vector<KeyspaceRequest>& requests);
  void schedule_iteration();
  void iterate();
  // Hands each connection the completions gathered since the last call.
  void deliver_outbox();
  void schedule_tick();
  void schedule_expiry();
  void publish_counters();

  Config config_;
  env::Clock& clock_;
  asio::io_context loop_{1};
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::unique_ptr<replica::RocksLogStore> store_;
  // Bound at start (cluster mode) and handed to network_ at the join.
  std::optional<asio::ip::tcp::acceptor> peer_port_;
  std::unique_ptr<transport::PeerNetwork> network_;
  std::unique_ptr<Outbox> outbox_peers_;
  std::unique_ptr<node::ClusterNode> node_;
  // With --fsync always: fsyncs the log on its own thread while this loop
  // writes the next batches (pipelined sync, replica/host.h). Null otherwise.
  std::unique_ptr<replica::SyncThread> syncer_;
  NodeId node_id_{1};
  std::mutex bootstrap_mu_;
  mutable std::mutex topology_mu_;
  std::shared_ptr<const Topology> topology_;
  asio::steady_timer tick_timer_{loop_};
  asio::steady_timer expiry_timer_{loop_};
  asio::steady_timer shutdown_timer_{loop_};
  bool iteration_scheduled_ = false;
  uint64_t ticks_ = 0;
  bool stopped_ = false;  // the loop is leaving: no more iterations
  uint64_t shutdown_generation_ = 0;
  // Completions gathered during one iteration, per connection. The entries
  // (and their buffers) are reused from one iteration to the next: two
  // vectors, one filling while the other is delivered, since a delivery on
  // the raft loop may complete new commands at once.
  struct OutboxEntry {
    std::shared_ptr<CompletionSink> sink;
    std::vector<KeyspaceCompletion> done;
  };
  std::vector<OutboxEntry> outbox_, delivering_;
  size_t outbox_used_ = 0;  // outbox_[0, outbox_used_) belong to this iteration
  bool in_delivery_ = false;
  OutboxEntry& outbox_entry(const std::shared_ptr<CompletionSink>& sink);
  size_t take_outbox();
  std::atomic<uint64_t> dbsize_{0}, expires_{0}, expired_total_{0}, batches_{0};
  std::atomic<uint64_t> compactions_memory_only_{0}, compactions_stored_{0};
  std::atomic<uint64_t> wal_syncs_{0}, wal_sync_us_{0}, wal_sync_wait_us_{0};
  static constexpr int64_t kPublishIntervalNs = 10'000'000;
  int64_t last_publish_ns_ = 0;  // raft loop only
  std::atomic<bool> healthy_{true};
  std::atomic<bool> local_reads_{false};
  // Shared by local readers, exclusive while the raft loop applies entries.
  std::shared_mutex state_mu_;
};

}  // namespace shoal::server
