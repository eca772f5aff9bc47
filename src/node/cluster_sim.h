// Test-only: an in-process cluster of ClusterNodes driven by one thread.
//
// Every node has its own replica::MemoryLogStore and an outbox that collects
// its outgoing transport::PeerBatch per destination; all share one FakeClock.
// Nothing runs by itself:
//   * deliver() hands every collected batch to its destination's
//     on_peer_batch() with `from` set, unless the link is cut; a filter may
//     edit a batch on its way (drop responses, hints...) and a link may hold
//     its batches back for a number of steps;
//   * settle() runs every node's loop iteration and delivers until nothing
//     moves (bounded);
//   * step() advances the clock by one tick, ticks every node and settles.
// No real time, no threads, fixed seeds: every run is the same run.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/crc16.h"
#include "cluster/cluster_map.h"
#include "kv/test_sink.h"
#include "node/cluster_node.h"
#include "replica/log_store.h"
#include "replica/rocks_log_store.h"

namespace shoal::node::testing {

inline constexpr int64_t kTickMs = 10;

class FakeClock final : public env::Clock {
 public:
  int64_t now_ms() const override { return ms; }
  int64_t monotonic_ns() const override { return ms * 1'000'000; }
  int64_t ms = 1'700'000'000'000;
};

class MemoryOutbox final : public PeerOutbox {
 public:
  transport::PeerBatch& outgoing(NodeId to) override { return out_[to]; }
  std::map<NodeId, transport::PeerBatch> take() { return std::exchange(out_, {}); }

 private:
  std::map<NodeId, transport::PeerBatch> out_;
};

inline std::string text(const kv::RecordedReply& r) {
  kv::testing::TextSink sink;
  r.replay(sink);
  return sink.text;
}

inline const kv::CommandSpec& spec_of(const std::vector<std::string>& args) {
  const auto& table = kv::CommandTable::instance();
  const kv::CommandSpec* spec = table.find(args.at(0));
  if (spec && table.is_container(*spec)) spec = table.find_sub(*spec, args.at(1));
  SHOAL_ASSERT_MSG(spec && spec->handler, "not a keyspace command");
  return *spec;
}

// A command's outcome, filled in when the node answers.
struct Answer {
  bool done = false;
  Status status;
  std::string reply;  // TextSink rendering when status is ok
  // "!<code>" when the status is not ok, else the reply text.
  std::string str() const {
    if (!done) return "<pending>";
    if (status.is_ok()) return reply;
    return "!" + std::to_string(static_cast<int>(status.code())) + " " + status.message();
  }
};
using Call = std::shared_ptr<Answer>;

struct SimOptions {
  int nodes = 3;
  int shards = 3;
  int rf = 3;
  RoutingMode mode = RoutingMode::kRedirect;
  // A standalone server: one node, one shard over every slot, RF 1.
  bool standalone = false;
  // Applied to every node's options after the defaults below.
  std::function<void(ClusterNodeOptions&)> tweak;
  // Non-empty: each node's Raft log is a RocksLogStore in rocks_dir/node<id>
  // (real RocksDB on the real disk; stop() closes it, start() reopens it)
  // instead of a MemoryLogStore; store() is then not available.
  std::string rocks_dir;
  // With rocks_dir: the state machines' data in RocksDB too (RocksEngine).
  bool durable_engine = false;
};

class Sim {
 public:
  // A batch on its way from `from` to `to`; may be edited in place.
  using Filter = std::function<void(NodeId from, NodeId to, transport::PeerBatch&)>;

  explicit Sim(SimOptions o) : options_(std::move(o)) {
    map_ = options_.standalone ? standalone_map() : planned_map();
    for (const auto& n : map_.nodes) {
      members_[n.id] = std::make_unique<Member>();
      start(n.id);
    }
  }

  static cluster::ClusterMap standalone_map() {
    cluster::ClusterMap map;
    map.cluster_id = 1;
    map.version = 1;
    map.replication_factor = 1;
    map.nodes.push_back(cluster::NodeInfo{NodeId(1), "127.0.0.1", 6379, 0});
    map.shards.push_back(cluster::ShardInfo{ShardId(1), 0, kSlotCount - 1, {NodeId(1)}, 1, 1});
    map.meta_replicas.push_back(NodeId(1));
    return map;
  }

  cluster::ClusterMap planned_map() const {
    std::vector<cluster::NodeInfo> nodes;
    for (int i = 1; i <= options_.nodes; ++i) {
      nodes.push_back(cluster::NodeInfo{NodeId(i), "127.0.0.1", static_cast<uint16_t>(7000 + i),
                                        static_cast<uint16_t>(17000 + i)});
    }
    auto map = cluster::plan_cluster(nodes, options_.shards, options_.rf, 42);
    SHOAL_ASSERT(map.is_ok());
    return std::move(map).value();
  }

  const cluster::ClusterMap& map() const { return map_; }
  ClusterNode& node(NodeId id) { return *members_.at(id)->node; }
  replica::MemoryLogStore& store(NodeId id) { return members_.at(id)->store; }
  FakeClock& clock() { return clock_; }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, m] : members_) out.push_back(id);
    return out;
  }

  // (Re)creates node `id` over its store and opens it with the map.
  void start(NodeId id) {
    Member& m = *members_.at(id);
    ClusterNodeOptions o;
    o.id = id;
    o.clustered = !options_.standalone;
    o.mode = options_.mode;
    o.replica.raft.seed = 7;
    o.balance_interval_ticks = 0;  // leaders stay where elections put them
    replica::LogStore* store = &m.store;
    if (!options_.rocks_dir.empty()) {
      storage::RocksDbOptions db;
      db.path = options_.rocks_dir + "/node" + std::to_string(id.value());
      db.write_buffer_bytes = 4 << 20;
      db.block_cache_bytes = 8 << 20;
      db.background_jobs = 1;
      auto opened = replica::RocksLogStore::open(db, storage::FsyncPolicy::kAlways, clock_);
      ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
      m.rocks = std::move(opened).value();
      store = m.rocks.get();
      if (options_.durable_engine) {
        o.state_engines = [rocks = m.rocks.get()](ShardId s) {
          return rocks->open_state_engines(s);
        };
      }
    }
    if (options_.tweak) options_.tweak(o);
    m.node = std::make_unique<ClusterNode>(o, *store, m.outbox, clock_);
    ASSERT_TRUE(m.node->open(map_).is_ok());
  }
  // Drops node `id` (its unsent messages with it); `crash` also loses what
  // its store did not sync.
  void stop(NodeId id, bool crash) {
    Member& m = *members_.at(id);
    m.node.reset();
    m.outbox.take();
    m.rocks.reset();  // closed: reopened from disk by start()
    if (crash) m.store.crash();
  }

  // ---- faults ----
  void cut(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void cut_both(NodeId a, NodeId b) {
    cut(a, b);
    cut(b, a);
  }
  void isolate(NodeId n) {
    for (NodeId o : ids())
      if (o != n) cut_both(n, o);
  }
  void heal() { cut_.clear(); }
  // Batches from `from` to `to` arrive `steps` steps late (0: on time).
  void delay(NodeId from, NodeId to, int steps) { delay_[{from, to}] = steps; }
  Filter filter;
  // A node's loop iteration may fail (a test of a failing disk).
  bool allow_failures = false;

  // Forward requests put on the wire (dropped or not), per link.
  int requests_sent(NodeId from, NodeId to) const {
    auto it = requests_sent_.find({from, to});
    return it == requests_sent_.end() ? 0 : it->second;
  }

  // ---- running ----
  // Hands every node's outgoing batches to their destinations. Returns
  // whether anything moved.
  bool deliver() {
    std::vector<std::pair<NodeId, std::map<NodeId, transport::PeerBatch>>> outs;
    for (auto& [id, m] : members_) outs.emplace_back(id, m->outbox.take());
    bool moved = false;
    for (auto& [from, batches] : outs) {
      for (auto& [to, batch] : batches) {
        if (batch.empty()) continue;
        moved = true;
        requests_sent_[{from, to}] += static_cast<int>(batch.requests.size());
        if (cut_.count({from, to})) continue;
        if (filter) filter(from, to, batch);
        batch.from = from;
        auto d = delay_.find({from, to});
        if (d != delay_.end() && d->second > 0) {
          held_.push_back(Held{steps_ + d->second, to, std::move(batch)});
          continue;
        }
        hand_to(to, std::move(batch));
      }
    }
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->release_step > steps_) {
        ++it;
        continue;
      }
      Held h = std::move(*it);
      it = held_.erase(it);
      moved = true;
      hand_to(h.to, std::move(h.batch));
    }
    return moved;
  }
  // A batch as if it came from the network (from any claimed sender).
  void hand_to(NodeId to, transport::PeerBatch batch) {
    auto it = members_.find(to);
    if (it != members_.end() && it->second->node) it->second->node->on_peer_batch(std::move(batch));
  }

  void settle() {
    for (int i = 0; i < 200; ++i) {
      bool busy = false;
      for (auto& [id, m] : members_) {
        if (!m->node) continue;
        Status s = m->node->run_once();
        EXPECT_TRUE(s.is_ok() || allow_failures) << "node " << id.value() << ": " << s.message();
      }
      busy |= deliver();
      for (auto& [id, m] : members_) busy |= m->node && m->node->has_ready();
      if (!busy) return;
    }
    ADD_FAILURE() << "the cluster did not settle";
  }
  void step() {
    ++steps_;
    clock_.ms += kTickMs;
    for (auto& [id, m] : members_)
      if (m->node) m->node->tick();
    settle();
  }
  void run(int steps) {
    for (int i = 0; i < steps; ++i) step();
  }
  // Steps until `pred` holds (checked before each step); false after
  // `max_steps`.
  bool run_until(const std::function<bool()>& pred, int max_steps = 1000) {
    for (int i = 0; i < max_steps; ++i) {
      if (pred()) return true;
      step();
    }
    return pred();
  }

  // ---- leaders ----
  // The node whose replica of `shard` leads in the highest term (0 when
  // none does). A deposed leader that has not noticed yet may lead an older
  // term; two leaders of one term would be a Raft safety violation.
  NodeId leader(ShardId shard) {
    NodeId found;
    Term found_term;
    for (auto& [id, m] : members_) {
      if (!m->node) continue;
      replica::Replica* r = m->node->replica(shard);
      if (!r || !r->is_leader()) continue;
      Term t = r->raft().term();
      EXPECT_TRUE(found.value() == 0 || t != found_term)
          << "two leaders of shard " << shard.value() << " in one term";
      if (found.value() == 0 || t > found_term) {
        found = id;
        found_term = t;
      }
    }
    return found;
  }
  // Every shard has a leader and every running node routes to it.
  bool leaders_agree() {
    for (const auto& s : map_.shards) {
      NodeId l = leader(s.id);
      if (l.value() == 0) return false;
      for (auto& [id, m] : members_) {
        if (m->node && m->node->leader_of(s.id) != l) return false;
      }
    }
    return true;
  }
  void wait_leaders() {
    ASSERT_TRUE(run_until([this] { return leaders_agree(); }, 1000)) << "no stable leaders";
  }
  // Shards `node` leads.
  std::vector<ShardId> led_by(NodeId node) {
    std::vector<ShardId> out;
    for (const auto& s : map_.shards)
      if (leader(s.id) == node) out.push_back(s.id);
    return out;
  }
  // A node that does not lead `shard` (and, if asked, holds no replica of it).
  NodeId non_leader(ShardId shard, bool without_replica = false) {
    const cluster::ShardInfo* s = map_.shard(shard);
    for (NodeId id : ids()) {
      bool holds = std::find(s->replicas.begin(), s->replicas.end(), id) != s->replicas.end();
      if (id != leader(shard) && (!without_replica || !holds)) return id;
    }
    return NodeId();
  }

  // ---- keys ----
  ShardId shard_of(const std::string& key) const { return map_.shard_for_slot(key_slot(key))->id; }
  // The `i`-th key ("<prefix><n>") that lands in `shard`.
  std::string key_in(ShardId shard, int i = 0, const std::string& prefix = "k") const {
    for (int n = 0;; ++n) {
      std::string k = prefix + std::to_string(n);
      if (shard_of(k) == shard && i-- == 0) return k;
    }
  }

  // ---- commands ----
  Call exec(NodeId at, uint64_t client, std::vector<std::string> args, ClientContext ctx = {}) {
    auto answer = std::make_shared<Answer>();
    const kv::CommandSpec& spec = spec_of(args);
    members_.at(at)->node->execute(client, ctx, spec, std::move(args),
                                   [answer](Status s, kv::RecordedReply r) {
                                     EXPECT_FALSE(answer->done) << "answered twice";
                                     answer->done = true;
                                     answer->status = std::move(s);
                                     answer->reply = text(r);
                                   });
    return answer;
  }
  // Runs a command to its answer (bounded); a fresh client each time.
  std::string call(NodeId at, std::vector<std::string> args, int max_steps = 1000) {
    Call c = exec(at, next_client_++, std::move(args));
    settle();
    run_until([&] { return c->done; }, max_steps);
    return c->str();
  }

 private:
  struct Member {
    replica::MemoryLogStore store;
    std::unique_ptr<replica::RocksLogStore> rocks;  // SimOptions::rocks_dir
    MemoryOutbox outbox;
    std::unique_ptr<ClusterNode> node;
  };
  struct Held {
    int64_t release_step;
    NodeId to;
    transport::PeerBatch batch;
  };

  SimOptions options_;
  FakeClock clock_;
  cluster::ClusterMap map_;
  std::map<NodeId, std::unique_ptr<Member>> members_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::map<std::pair<NodeId, NodeId>, int> delay_;
  std::map<std::pair<NodeId, NodeId>, int> requests_sent_;
  std::vector<Held> held_;
  int64_t steps_ = 0;
  uint64_t next_client_ = 1'000'000;
};

}  // namespace shoal::node::testing
