#include "replica/local_cluster.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "kv/test_sink.h"
#include "storage/memory_engine.h"

namespace shoal::replica::testing {

void NetTransport::send(ShardId shard, raft::Message msg) {
  if (net_.down.count(self_)) return;
  if (msg.type == raft::MessageType::kSnap && net_.drop_snapshots > 0) {
    --net_.drop_snapshots;
    return;
  }
  net_.queue.push_back({shard, std::move(msg)});
}

std::string reply_text(const kv::RecordedReply& reply) {
  kv::testing::TextSink sink;
  reply.replay(sink);
  return sink.text;
}

LocalCluster::LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {
  if (options_.clock == nullptr) owned_clock_ = std::make_unique<FakeClock>();
  clock_ = options_.clock ? options_.clock : owned_clock_.get();
  for (int i = 1; i <= options_.nodes; ++i) voters_.push_back(NodeId(i));
}

Result<std::unique_ptr<LocalCluster>> LocalCluster::create(LocalClusterOptions options) {
  if (options.nodes < 1 || options.shards < 1) {
    return Status::invalid_argument("LocalCluster: need at least one node and one shard");
  }
  std::unique_ptr<LocalCluster> c(new LocalCluster(std::move(options)));
  c->dir_ = c->options_.dir;
  if (c->options_.store == StoreKind::kRocks && c->dir_.empty()) {
    char tmpl[] = "/tmp/shoal-local-cluster-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Status::io_error("mkdtemp failed");
    c->dir_ = tmpl;
    c->remove_dir_ = true;
  }
  for (NodeId id : c->voters_) {
    if (Status s = c->start(id, c->options_.bootstrap); !s.is_ok()) return s;
  }
  return c;
}

LocalCluster::~LocalCluster() {
  nodes_.clear();  // close every store before its directory goes
  if (remove_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string LocalCluster::node_dir(NodeId id) const {
  return dir_ + "/node" + std::to_string(id.value());
}

Status LocalCluster::open_store(NodeId id) {
  Node& n = nodes_[id];
  if (options_.store == StoreKind::kMemory) {
    // The same MemoryLogStore across crashes: it keeps what was synced.
    if (!n.memory) n.memory = std::make_unique<MemoryLogStore>();
    return Status::ok();
  }
  storage::RocksDbOptions o;
  o.path = node_dir(id);
  auto env = options_.rocks_envs.find(id);
  if (env != options_.rocks_envs.end()) o.env = env->second;
  // Three instances share the process (and, in CI, a small machine).
  o.write_buffer_bytes = 4 << 20;
  o.block_cache_bytes = 8 << 20;
  o.background_jobs = 1;
  o.manual_wal_flush = options_.manual_wal_flush;
  o.wal_prewrite_bytes = options_.wal_prewrite_bytes;
  auto s = RocksLogStore::open(o, options_.fsync, *clock_);
  if (!s.is_ok()) return s.status();
  n.rocks = std::move(s).value();
  return Status::ok();
}

Status LocalCluster::start(NodeId id, bool bootstrap) {
  if (running(id)) return Status::invalid_argument("node already running");
  if (Status s = open_store(id); !s.is_ok()) return s;
  Node& n = nodes_[id];
  LogStore& store = store_of(n);
  net_.down.erase(id);
  n.transport = std::make_unique<NetTransport>(net_, id);
  n.host = std::make_unique<Host>(id, store, *n.transport, *clock_, options_.host);
  if (options_.host.defer_sync && options_.sync_threads) {
    n.completed = std::make_shared<Node::Completed>();
    n.syncer =
        std::make_unique<SyncThread>(store, [c = n.completed](uint64_t ticket, Status status) {
          std::lock_guard lock(c->mu);
          c->syncs.emplace_back(ticket, std::move(status));
          c->last = std::max(c->last, ticket);
        });
  }
  for (int s = 1; s <= options_.shards; ++s) {
    auto voters = bootstrap ? std::optional(voters_) : std::nullopt;
    Status st;
    if (options_.durable_engine && n.rocks) {
      auto engines = n.rocks->open_state_engines(ShardId(s));
      st = engines.is_ok() ? n.host->add_replica(ShardId(s), options_.replica, voters,
                                                 std::move(engines.value().data),
                                                 std::move(engines.value().sessions))
                           : engines.status();
    } else {
      st = n.host->add_replica(ShardId(s), options_.replica, voters,
                               std::make_unique<storage::MemoryEngine>());
    }
    if (!st.is_ok()) {
      crash(id);  // leave the node down, not half started
      return st;
    }
  }
  return Status::ok();
}

void LocalCluster::crash(NodeId id) {
  Node& n = nodes_[id];
  n.host.reset();
  n.syncer.reset();  // a sync in progress completes first: a crash just after it
  n.completed.reset();
  n.asked = 0;
  n.sync_ticket.reset();
  n.transport.reset();
  if (n.memory) n.memory->crash();
  n.rocks.reset();  // closed; reopened from disk by start()
  net_.down.insert(id);
}

bool LocalCluster::running(NodeId id) const {
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second.host != nullptr;
}

void LocalCluster::pump() {
  for (int round = 0; round < 4; ++round) pump_round();
}

void LocalCluster::pump_round() {
  std::deque<Envelope> q;
  q.swap(net_.queue);
  for (auto& e : q) {
    NodeId to = e.msg.to;
    if (net_.down.count(to) || !running(to) || paused(to)) continue;
    nodes_[to].host->step(e.shard, std::move(e.msg));
  }
  for (auto& [id, n] : nodes_) {
    if (!n.host || paused(id)) continue;
    if (n.syncer) {
      std::vector<std::pair<uint64_t, Status>> done;
      {
        std::lock_guard lock(n.completed->mu);
        done.swap(n.completed->syncs);
      }
      for (auto& [ticket, status] : done) (void)n.host->on_synced(ticket, status);
      (void)n.host->run_once();
      if (n.host->wants_sync() && !held(id)) {
        n.asked = n.host->take_sync_request();
        n.syncer->request(n.asked);
      }
      continue;
    }
    (void)n.host->run_once();  // a failed host stays failed; tests look at it
    if (!options_.host.defer_sync || held(id)) continue;
    // Syncs what last round's ticket covers, then takes this round's: writes
    // wait one round for their sync.
    if (n.sync_ticket) {
      (void)n.host->on_synced(*n.sync_ticket, store_of(n).sync());
      n.sync_ticket.reset();
    }
    if (n.host->wants_sync()) n.sync_ticket = n.host->take_sync_request();
  }
}

void LocalCluster::wait_for_syncs() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (auto& [id, n] : nodes_) {
    if (!n.syncer) continue;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(n.completed->mu);
        if (n.completed->last >= n.asked) break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
}

void LocalCluster::tick(int n) {
  for (int i = 0; i < n; ++i) {
    if (options_.sync_threads) wait_for_syncs();
    if (owned_clock_) owned_clock_->ms += options_.tick_ms;
    for (auto& [id, node] : nodes_) {
      if (node.host && !paused(id)) node.host->tick();
    }
    pump();
  }
}

Replica* LocalCluster::replica(NodeId id, int shard) {
  Host* h = host(id);
  return h ? h->replica(ShardId(shard)) : nullptr;
}

Host* LocalCluster::host(NodeId id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.host.get();
}

std::optional<NodeId> LocalCluster::leader(int shard) {
  for (NodeId id : voters_) {
    if (paused(id)) continue;  // may still think it leads; serves nothing meanwhile
    Replica* r = replica(id, shard);
    // A failed host's Raft may still think it leads; it serves nothing.
    if (r && r->is_leader() && !host(id)->failed()) return id;
  }
  return std::nullopt;
}

std::optional<NodeId> LocalCluster::wait_leader(int shard, int max_ticks) {
  for (int i = 0; i < max_ticks && !leader(shard); ++i) tick();
  return leader(shard);
}

void LocalCluster::propose(std::vector<std::string> args, uint64_t client, uint64_t seq, int shard,
                           std::function<void(const Outcome&)> done) {
  auto l = leader(shard);
  if (!l) return done({Status::unavailable("no leader"), ""});
  replica(*l, shard)->propose(kv::WriteCommand{client, seq, clock_->now_ms(), std::move(args)},
                              [done = std::move(done)](Status s, kv::RecordedReply r) {
                                done({s, reply_text(r)});
                              });
}

Outcome LocalCluster::write(std::vector<std::string> args, uint64_t client, uint64_t seq,
                            int shard) {
  if (!wait_leader(shard)) return {Status::unavailable("no leader"), ""};
  std::optional<Outcome> out;
  propose(std::move(args), client, seq, shard, [&](const Outcome& o) { out = o; });
  for (int i = 0; i < 200 && !out; ++i) tick();
  return out.value_or(Outcome{Status::internal("no outcome within 200 ticks"), ""});
}

void LocalCluster::read_async(NodeId on, std::vector<std::string> args, int shard,
                              std::function<void(const Outcome&)> done) {
  Replica* r = replica(on, shard);
  const kv::CommandSpec* spec = args.empty() ? nullptr : kv::CommandTable::instance().find(args[0]);
  if (!r) return done({Status::unavailable("node not running"), ""});
  if (!spec) return done({Status::invalid_argument("unknown command"), ""});
  r->read(*spec, std::move(args), [done = std::move(done)](Status s, kv::RecordedReply reply) {
    done({s, reply_text(reply)});
  });
}

std::string LocalCluster::read(NodeId on, std::vector<std::string> args, int shard) {
  // A new leader refuses reads until it has committed an entry of its term;
  // like a client, retry those (bounded) rather than report them.
  constexpr std::string_view kNotReady = "leader has not committed in its term yet";
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::optional<Outcome> out;
    read_async(on, args, shard, [&](const Outcome& o) { out = o; });
    for (int i = 0; i < 200 && !out; ++i) tick();
    if (!out) return "<no answer>";
    if (out->status.is_ok()) return out->reply;
    if (out->status.message() != kNotReady || attempt == 19) {
      return "<" + out->status.message() + ">";
    }
    tick();
  }
  return "<no answer>";
}

Status LocalCluster::converge(int shard, int max_ticks) {
  std::set<uint64_t> applied;
  for (int i = 0;; ++i) {
    applied.clear();
    for (NodeId id : voters_) {
      if (Replica* r = replica(id, shard)) applied.insert(r->applied().value());
    }
    if (applied.size() <= 1 || i >= max_ticks) break;
    tick();
  }
  if (applied.empty()) return Status::unavailable("no replica of the shard is running");
  if (applied.size() != 1) {
    return Status::unavailable("replicas did not reach the same applied index within " +
                               std::to_string(max_ticks) + " ticks");
  }
  std::set<uint64_t> hashes;
  for (NodeId id : voters_) {
    if (Replica* r = replica(id, shard)) hashes.insert(r->state_machine().state_hash());
  }
  if (hashes.size() != 1) {
    return Status::corruption("replicas diverged at the same applied index " +
                              std::to_string(*applied.begin()) + " (H19)");
  }
  return Status::ok();
}

MemoryLogStore* LocalCluster::memory_store(NodeId id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.memory.get();
}

RocksLogStore* LocalCluster::rocks_store(NodeId id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.rocks.get();
}

}  // namespace shoal::replica::testing
