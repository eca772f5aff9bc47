#include "server/keyspace_service.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <future>

#include "base/assert.h"
#include "base/thread_name.h"
#include "env/posix_disk.h"
#include "replica/sync_thread.h"
#include "server/cluster_files.h"

namespace shoal::server {
namespace {
constexpr auto kTick = std::chrono::milliseconds(10);
constexpr size_t kExpiryBatch = 64;

storage::FsyncPolicy policy_of(const std::string& s) {
  if (s == "everysec") return storage::FsyncPolicy::kEverySec;
  if (s == "no") return storage::FsyncPolicy::kNo;
  return storage::FsyncPolicy::kAlways;
}
}  // namespace

// Peer messages go to the network; a standalone node has none to send (its
// one shard has a single voter), so they land in a scratch batch that is
// dropped.
class KeyspaceService::Outbox final : public node::PeerOutbox {
 public:
  explicit Outbox(transport::PeerNetwork* net) : net_(net) {}
  transport::PeerBatch& outgoing(NodeId to) override {
    if (net_) return net_->outgoing(to);
    scratch_ = {};
    return scratch_;
  }

 private:
  transport::PeerNetwork* net_;
  transport::PeerBatch scratch_;
};

cluster::LeaderView Topology::leader_view() const {
  return [this](ShardId shard) -> std::optional<NodeId> {
    for (size_t i = 0; i < map.shards.size(); ++i) {
      if (map.shards[i].id == shard) return leaders[i];
    }
    return std::nullopt;
  };
}

KeyspaceService::KeyspaceService(const Config& config, env::Clock& clock)
    : config_(config), clock_(clock) {}

KeyspaceService::~KeyspaceService() { stop(); }

namespace {
// A standalone server: one node, one shard with every slot, RF 1. The ids are
// fixed (node 1, shard 1) so that its data directory reopens as it was.
cluster::ClusterMap standalone_map(const Config& c) {
  cluster::ClusterMap map;
  map.cluster_id = 1;
  map.version = 1;
  map.replication_factor = 1;
  map.nodes.push_back(cluster::NodeInfo{NodeId(1), c.bind, static_cast<uint16_t>(c.port), 0});
  map.shards.push_back(cluster::ShardInfo{ShardId(1), 0, kSlotCount - 1, {NodeId(1)}, 1, 1});
  map.meta_replicas.push_back(NodeId(1));  // unused: no meta shard when standalone
  return map;
}
}  // namespace

Status KeyspaceService::start() {
  storage::RocksDbOptions db;
  db.path = (std::filesystem::path(config_.data_dir) / "raft").string();
  // With the pipelined sync every acknowledged write waits for sync_wal().
  db.manual_wal_flush = policy_of(config_.fsync) == storage::FsyncPolicy::kAlways;
  if (db.manual_wal_flush) db.wal_prewrite_bytes = config_.wal_prewrite_bytes;
  auto store = replica::RocksLogStore::open(db, policy_of(config_.fsync), clock_);
  if (!store.is_ok()) return store.status();
  store_ = std::move(store).value();
  if (policy_of(config_.fsync) == storage::FsyncPolicy::kAlways) {
    syncer_ = std::make_unique<replica::SyncThread>(*store_, [this](uint64_t ticket, Status s) {
      asio::post(loop_, [this, ticket, s = std::move(s)] {
        if (!node_ || stopped_) return;
        if (Status r = node_->on_synced(ticket, s); !r.is_ok()) healthy_ = false;
        schedule_iteration();
      });
    });
  }
  if (!config_.cluster_enabled) {
    if (Status s = open_node(standalone_map(config_)); !s.is_ok()) return s;
  } else {
    auto id = load_or_create_node_id(config_.data_dir);
    if (!id.is_ok()) return id.status();
    node_id_ = id.value();
    // The peer port is bound now, while a taken port can still fail the
    // start; a failed bind at the join would leave a member no peer reaches.
    auto port =
        transport::open_peer_port(loop_, config_.bind, static_cast<uint16_t>(config_.cluster_port));
    if (!port.is_ok()) return port.status();
    peer_port_.emplace(std::move(port).value());
    auto map = load_cluster_map(config_.data_dir);
    if (!map.is_ok()) return map.status();
    if (map.value()) {
      if (Status s = open_node(std::move(*map.value())); !s.is_ok()) return s;
    } else {
      spdlog::info("node {} is waiting to be added to a cluster (shoal-cli cluster create)",
                   cluster::node_name(node_id_));
      publish_topology();
    }
  }
  guard_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      loop_.get_executor());
  schedule_tick();
  schedule_expiry();
  thread_ = std::thread([this] {
    set_thread_name("shoal-raft");
    // No busy polling here (server/loop_runner.h): measured, it gained
    // nothing on the raft loop and cost SET -P 16 about 2%.
    loop_.run();
  });
  return Status::ok();
}

// Opens the node core for `map`: before the loop runs (restart) or on it
// (bootstrap).
Status KeyspaceService::open_node(cluster::ClusterMap map) {
  node::ClusterNodeOptions opts;
  opts.id = config_.cluster_enabled ? node_id_ : NodeId(1);
  opts.clustered = config_.cluster_enabled;
  opts.mode =
      config_.cluster_routing == "proxy" ? node::RoutingMode::kProxy : node::RoutingMode::kRedirect;
  opts.replica.compact_after_writes = config_.compact_after_writes;
  opts.replica.snapshot_in_child = config_.snapshot_in_child;
  opts.replica.snapshot_in_child_min_keys = config_.snapshot_in_child_min_keys;
  opts.replica.snapshot_min_log_bytes = config_.snapshot_min_log_bytes;
  opts.defer_sync = syncer_ != nullptr;
  if (config_.engine == "rocksdb") {
    opts.state_engines = [store = store_.get()](ShardId shard) {
      return store->open_state_engines(shard);
    };
  }
  // Snapshots for followers travel chunked and throttled; received ones are
  // written to <data-dir>/snap (node/snapshot_shipping.h).
  opts.snapshots.disk = &env::PosixDisk::instance();
  opts.snapshots.data_dir = config_.data_dir;
  if (config_.cluster_enabled) {
    // Heartbeats every 50 ms, elections after 0.5-1 s of silence; reads
    // served from the leader lease (check-quorum keeps it safe: H12).
    opts.replica.raft.heartbeat_ticks = 5;
    opts.replica.raft.election_ticks = 50;
    opts.replica.raft.lease_drift_ticks = 10;
    opts.replica.raft.read_mode = raft::ReadMode::kLease;
    transport::PeerNetworkOptions net;
    net.self = node_id_;
    net.cluster_id = map.cluster_id;
    net.bind_host = config_.bind;
    net.port = static_cast<uint16_t>(config_.cluster_port);
    network_ = std::make_unique<transport::PeerNetwork>(loop_, net, [this](transport::PeerBatch b) {
      if (node_) node_->on_peer_batch(std::move(b));
      schedule_iteration();
    });
    SHOAL_ASSERT(peer_port_.has_value());
    Status listening = network_->listen(std::move(*peer_port_));
    peer_port_.reset();
    if (!listening.is_ok()) return listening;
    std::vector<transport::PeerAddress> peers;
    for (const auto& n : map.nodes) {
      if (n.id != node_id_) peers.push_back({n.id, n.host, n.peer_port});
    }
    network_->set_peers(peers);
  }
  outbox_peers_ = std::make_unique<Outbox>(network_.get());
  node_ = std::make_unique<node::ClusterNode>(opts, *store_, *outbox_peers_, clock_);
  if (Status s = node_->open(std::move(map)); !s.is_ok()) return s;
  if (!config_.cluster_enabled) {
    node_->replica(ShardId(1))->set_apply_lock(&state_mu_);
  }
  // Replay to the end of the log before serving. With pipelined sync the
  // iteration ClusterNode::open ran is still waiting for its sync, and so is
  // the restarted leader's entry of its term: until that commits, has_ready()
  // is false although acknowledged writes above the (lazily persisted) stored
  // commit index are unapplied - and a single-voter leader serves reads
  // locally as soon as this returns (H11/H12). So sync before looking.
  for (int i = 0; i < 1000; ++i) {
    sync_inline();
    if (!node_->has_ready()) break;
    if (Status s = node_->run_once(); !s.is_ok()) return s;
  }
  sync_inline();
  if (!node_->healthy()) return Status::io_error("raft log sync failed during replay");
  if (network_) network_->flush();
  publish_counters();
  publish_topology();
  return Status::ok();
}

Status KeyspaceService::bootstrap(const std::string& encoded_map) {
  if (!config_.cluster_enabled) {
    return Status::invalid_argument("This instance has cluster support disabled");
  }
  auto map = cluster::decode_cluster_map(encoded_map);
  if (!map.is_ok()) return Status::invalid_argument("bad cluster map: " + map.status().message());
  if (!map.value().node(node_id_)) {
    return Status::invalid_argument("this node (" + cluster::node_name(node_id_) +
                                    ") is not in the cluster map");
  }
  std::lock_guard lock(bootstrap_mu_);
  auto topo = topology();
  if (topo && topo->configured) {
    if (topo->map == map.value()) return Status::ok();
    return Status::invalid_argument("this node is already a member of another cluster");
  }
  if (Status s = save_cluster_map(config_.data_dir, map.value()); !s.is_ok()) return s;
  {
    // Visible at once, so that a repeated bootstrap is answered consistently.
    auto t = std::make_shared<Topology>(*topo);
    t->configured = true;
    t->map = map.value();
    t->leaders.assign(t->map.shards.size(), std::nullopt);
    std::lock_guard tl(topology_mu_);
    topology_ = std::move(t);
  }
  asio::post(loop_, [this, m = std::move(map).value()]() mutable {
    if (Status s = open_node(std::move(m)); !s.is_ok()) {
      spdlog::error("joining the cluster failed: {}", s.message());
      healthy_ = false;
    }
  });
  return Status::ok();
}

std::shared_ptr<const Topology> KeyspaceService::topology() const {
  std::lock_guard lock(topology_mu_);
  return topology_;
}

void KeyspaceService::publish_topology() {
  auto t = std::make_shared<Topology>();
  t->clustered = config_.cluster_enabled;
  t->myself = config_.cluster_enabled ? node_id_ : NodeId(1);
  t->peer_port = static_cast<uint16_t>(config_.cluster_port);
  if (node_) {
    t->configured = true;
    t->map = node_->map();
    for (const auto& s : t->map.shards) t->leaders.push_back(node_->leader_of(s.id));
  }
  if (network_) {
    t->messages_sent = network_->stats().frames_sent;
    t->messages_received = network_->stats().frames_received;
  }
  std::lock_guard lock(topology_mu_);
  topology_ = std::move(t);
}

void KeyspaceService::hand_over_leadership() {
  if (!thread_.joinable()) return;
  // Shared: if the wait below gives up, the loop may still finish later.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(loop_, [this, done] { shutdown_gracefully([done] { done->set_value(); }, 40); });
  // shutdown_gracefully ends within 40 x 50 ms; the margin covers a busy loop.
  finished.wait_for(std::chrono::seconds(5));
}

void KeyspaceService::stop() {
  if (!thread_.joinable()) return;
  asio::post(loop_, [this] {
    shutdown_gracefully(
        [this] {
          tick_timer_.cancel();
          expiry_timer_.cancel();
          // Make whatever was accepted durable before leaving.
          if (node_) (void)node_->run_once();
          sync_inline();
          if (network_) {
            network_->flush();
            network_->close();
          }
          // Peers may still be connected to us and timers may be armed:
          // leave the loop now rather than wait for all of them to drain.
          stopped_ = true;
          guard_.reset();
          loop_.stop();
        },
        40);
  });
  thread_.join();
  syncer_.reset();  // joins; its last completion lands in the loop's queue
  loop_.stop();
  // Handlers posted after the loop left (submissions, cancellations) and the
  // node's pending callbacks hold client connections. Release them now,
  // while the client loops still exist: the handlers run as no-ops
  // (stopped_), then the node and the outbox go.
  loop_.restart();
  loop_.poll();
  take_outbox();
  delivering_.clear();
  outbox_.clear();
  node_.reset();
}

// SIGTERM: hand leadership of every shard this node leads to another voter
// before leaving (DESIGN.md section 7), for at most `rounds_left` x 50 ms.
void KeyspaceService::shutdown_gracefully(std::function<void()> then, int rounds_left) {
  // One hand-over at a time: a newer one (stop() after hand_over_leadership
  // gave up waiting) ends the older one, whose `then` still runs.
  uint64_t generation = ++shutdown_generation_;
  step_shutdown(std::move(then), rounds_left, generation);
}

void KeyspaceService::step_shutdown(std::function<void()> then, int rounds_left,
                                    uint64_t generation) {
  if (generation != shutdown_generation_) return then();
  size_t still = (node_ && network_) ? node_->transfer_leaderships() : 0;
  if (still == 0 || rounds_left == 0) {
    if (still) spdlog::warn("shutting down while leading {} shards", still);
    return then();
  }
  iterate();
  shutdown_timer_.expires_after(std::chrono::milliseconds(50));
  shutdown_timer_.async_wait(
      [this, then = std::move(then), rounds_left, generation](const asio::error_code&) {
        step_shutdown(then, rounds_left - 1, generation);
      });
}

void KeyspaceService::submit(uint64_t client, std::shared_ptr<CompletionSink> sink,
                             std::vector<KeyspaceRequest>& requests) {
  // A connection living on the raft loop (loop affinity) hands its commands
  // over with a call, not a post to its own loop; it keeps its vector's
  // buffer for the next batch.
  if (loop_.get_executor().running_in_this_thread()) {
    run_requests(client, std::move(sink), requests);
    requests.clear();
    return;
  }
  asio::post(loop_, [this, client, sink = std::move(sink), reqs = std::move(requests)]() mutable {
    run_requests(client, std::move(sink), reqs);
  });
  requests.clear();  // moved from: valid but unspecified
}

void KeyspaceService::run_requests(uint64_t client, std::shared_ptr<CompletionSink> sink,
                                   std::vector<KeyspaceRequest>& reqs) {
  if (stopped_) return;  // shutting down: the client gets no reply
  node::ClusterNode::RequestBatch same_time(node_.get());
  for (auto& r : reqs) {
    auto done = [this, sink, tag = r.tag](Status s, kv::RecordedReply reply) {
      // Gathered per connection and handed over once per iteration.
      auto& replies = outbox_entry(sink).done;
      // A second reply means a pipeline: room for a -P 16 batch at once (a
      // sink off the raft loop takes the buffer away with each delivery).
      if (replies.size() == 1) replies.reserve(16);
      replies.push_back({tag, std::move(s), std::move(reply)});
      schedule_iteration();
    };
    if (!node_) {
      // A cluster node not bootstrapped yet owns no slot.
      kv::RecordedReply reply;
      reply.error("CLUSTERDOWN Hash slot not served");
      done(Status::ok(), std::move(reply));
      continue;
    }
    node_->execute(client, node::ClientContext{r.readonly}, *r.spec, std::move(r.args),
                   std::move(done));
  }
  schedule_iteration();
}

void KeyspaceService::cancel(uint64_t client) {
  asio::post(loop_, [this, client] {
    if (node_ && !stopped_) node_->forget_client(client);
  });
}

// Runs after everything already queued on the loop: requests that arrived
// together share one log write (group commit).
void KeyspaceService::schedule_iteration() {
  if (iteration_scheduled_) return;
  iteration_scheduled_ = true;
  asio::post(loop_, [this] { iterate(); });
}

void KeyspaceService::iterate() {
  iteration_scheduled_ = false;
  if (stopped_) return;
  // A cluster node not bootstrapped yet has no node core, but it answers
  // (CLUSTERDOWN, run_requests): those replies still go out.
  if (!node_) return deliver_outbox();
  for (int round = 0; round < 4; ++round) {
    if (Status s = node_->run_once(); !s.is_ok()) {
      healthy_ = false;
      break;
    }
    if (!node_->has_ready()) break;
  }
  if (syncer_) {
    if (auto ticket = node_->sync_ticket()) syncer_->request(*ticket);
  }
  if (network_) network_->flush();
  batches_ = store_->commits();
  // Counters and the topology walk every shard: with hundreds of shards and
  // an iteration per peer batch, a cluster node refreshes them at most once
  // per tick (INFO and CLUSTER SLOTS may lag by that much).
  int64_t now_ns = clock_.monotonic_ns();
  if (!config_.cluster_enabled || now_ns - last_publish_ns_ >= kPublishIntervalNs) {
    last_publish_ns_ = now_ns;
    publish_counters();
    if (leaders_changed()) publish_topology();
  }
  deliver_outbox();
}

KeyspaceService::OutboxEntry& KeyspaceService::outbox_entry(
    const std::shared_ptr<CompletionSink>& sink) {
  if (sink->outbox_slot_ != CompletionSink::kNoSlot) return outbox_[sink->outbox_slot_];
  size_t slot = outbox_used_++;
  if (slot == outbox_.size()) outbox_.emplace_back();
  OutboxEntry& entry = outbox_[slot];
  entry.sink = sink;
  sink->outbox_slot_ = slot;
  return entry;
}

// Moves this iteration's entries to delivering_[0, n) and frees their sinks'
// slots: completions produced from now on start a fresh outbox_.
size_t KeyspaceService::take_outbox() {
  std::swap(outbox_, delivering_);
  size_t n = std::exchange(outbox_used_, 0);
  for (size_t i = 0; i < n; ++i) delivering_[i].sink->outbox_slot_ = CompletionSink::kNoSlot;
  return n;
}

void KeyspaceService::deliver_outbox() {
  SHOAL_ASSERT(!in_delivery_);
  in_delivery_ = true;
  // Completions produced while delivering (a connection on the raft loop can
  // complete commands at once) go to the next iteration.
  size_t n = take_outbox();
  for (size_t i = 0; i < n; ++i) {
    OutboxEntry& entry = delivering_[i];
    entry.sink->deliver(entry.done);
    entry.done.clear();
    entry.sink.reset();
  }
  in_delivery_ = false;
}

// Syncs on the raft loop itself and finishes what waited for it: start-up
// replay and the last iteration before stopping.
void KeyspaceService::sync_inline() {
  if (!syncer_ || !node_) return;
  uint64_t ticket = node_->newest_sync_ticket();
  if (Status s = node_->on_synced(ticket, store_->sync()); !s.is_ok()) healthy_ = false;
}

void KeyspaceService::schedule_tick() {
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    if (node_) {
      node_->tick();
      // Refreshes the counters CLUSTER INFO shows, about once a second.
      if (++ticks_ % 100 == 0) publish_topology();
    }
    schedule_iteration();
    schedule_tick();
  });
}

void KeyspaceService::schedule_expiry() {
  expiry_timer_.expires_after(std::chrono::milliseconds(1000 / std::max(1, config_.hz)));
  expiry_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    size_t n = node_ ? node_->expire_cycle(kExpiryBatch) : 0;
    if (n) {
      expired_total_.fetch_add(n, std::memory_order_relaxed);
      schedule_iteration();
    }
    schedule_expiry();
  });
}

bool KeyspaceService::try_read_local(const kv::CommandSpec& spec,
                                     std::span<const std::string_view> args, kv::ReplySink& out,
                                     ReadTime& time) {
  if (!local_reads_.load(std::memory_order_acquire)) return false;
  // RANDOMKEY's bits: a per-thread sequence spread by the golden ratio, as
  // the raft loop's reads do (the monotonic clock, used until session 10,
  // varied only in its low bits and cost a clock reading per read).
  thread_local uint64_t read_sequence = 0;
  uint64_t random_bits =
      (++read_sequence + reinterpret_cast<uintptr_t>(&read_sequence)) * 0x9E3779B97F4A7C15ull;
  kv::RecordedReply reply;
  std::vector<std::string> expired;
  {
    std::shared_lock lock(state_mu_);
    replica::Replica* r = node_->replica(ShardId(1));
    // Two clock readings per read were 9% of the CPU at GET -P 16 here.
    if (time.now_ms < 0 || time.generation != r->apply_generation()) {
      time.now_ms = clock_.now_ms();
      time.generation = r->apply_generation();
    }
    kv::Store::ExpiredCollector collect(&expired);
    r->state_machine().read(spec, args, time.now_ms, random_bits, reply);
  }
  if (!expired.empty()) return false;
  reply.replay(out);
  return true;
}

bool KeyspaceService::leaders_changed() {
  auto topo = topology();
  if (!topo || !node_) return false;
  if (!topo->configured || topo->map.shards.size() != node_->map().shards.size()) return true;
  for (size_t i = 0; i < topo->leaders.size(); ++i) {
    if (topo->leaders[i] != node_->leader_of(topo->map.shards[i].id)) return true;
  }
  return false;
}

void KeyspaceService::publish_counters() {
  replica::Replica* r = config_.cluster_enabled ? nullptr : node_->replica(ShardId(1));
  // A durable engine is read only on the raft loop (engine.h).
  // And only once it applied an entry of its own term: every write
  // acknowledged before (even above a stored commit index that lagged at a
  // power loss) is then applied, which is what try_read_local assumes (H11).
  bool single_voter_leader = r && !r->durable_state() && r->is_leader() &&
                             r->raft().conf().voters.size() == 1 &&
                             r->raft().conf().voters_outgoing.empty() && node_->healthy() &&
                             r->raft().log().term(r->raft().log().applied()) == r->raft().term();
  local_reads_.store(single_voter_leader, std::memory_order_release);
  dbsize_.store(node_->dbsize(), std::memory_order_relaxed);
  expires_.store(node_->expires_count(), std::memory_order_relaxed);
  auto [memory_only, stored] = node_->compactions();
  compactions_memory_only_.store(memory_only, std::memory_order_relaxed);
  compactions_stored_.store(stored, std::memory_order_relaxed);
  if (syncer_) {
    const replica::SyncThread::Stats syncs = syncer_->stats();
    wal_syncs_.store(syncs.syncs, std::memory_order_relaxed);
    wal_sync_us_.store(syncs.sync_us, std::memory_order_relaxed);
    wal_sync_wait_us_.store(syncs.wait_us, std::memory_order_relaxed);
  }
}

}  // namespace shoal::server
