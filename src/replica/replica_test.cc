// A 3-replica shard in one process over an in-memory network: writes, reads,
// leader crash and restart, catch-up by snapshot, group commit, log write
// failure, exactly-once retries. Hazards covered are named (H11, H16, H17, H18).
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

#include "kv/test_sink.h"
#include "replica/host.h"
#include "replica/rocks_log_store.h"

#include <filesystem>
#include "storage/memory_engine.h"

namespace shoal::replica {
namespace {

class FakeClock final : public env::Clock {
 public:
  int64_t now_ms() const override { return ms; }
  int64_t monotonic_ns() const override { return ms * 1'000'000; }
  int64_t ms = 1'700'000'000'000;
};

struct Envelope {
  ShardId shard;
  raft::Message msg;
};

struct Network {
  std::deque<Envelope> queue;
  std::set<NodeId> down;
};

class NetTransport final : public Transport {
 public:
  NetTransport(Network& net, NodeId self) : net_(net), self_(self) {}
  void send(ShardId shard, raft::Message msg) override {
    if (!net_.down.count(self_)) net_.queue.push_back({shard, std::move(msg)});
  }

 private:
  Network& net_;
  NodeId self_;
};

// Where a node keeps its Raft log: in memory (with simulated power loss) or
// in a real RocksDB in a temporary directory (a crash closes and reopens it).
enum class StoreKind { kMemory, kRocks };

struct Node {
  std::unique_ptr<MemoryLogStore> memory;
  std::unique_ptr<RocksLogStore> rocks;
  std::unique_ptr<NetTransport> transport;
  std::unique_ptr<Host> host;
  LogStore& store() { return memory ? static_cast<LogStore&>(*memory) : *rocks; }
};

std::string text(const kv::RecordedReply& r) {
  kv::testing::TextSink sink;
  r.replay(sink);
  return sink.text;
}

class Cluster {
 public:
  explicit Cluster(int shards = 1, uint64_t compact_after = 10000, HostOptions host = {},
                   StoreKind kind = StoreKind::kMemory)
      : shards_(shards), host_options_(host), kind_(kind) {
    char tmpl[] = "/tmp/shoal-replica-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    options_.compact_after_entries = compact_after;
    for (uint64_t i = 1; i <= 3; ++i) voters_.push_back(NodeId(i));
    for (auto id : voters_) start(id, true);
  }

  ~Cluster() {
    nodes_.clear();
    std::filesystem::remove_all(dir_);
  }

  void open_store(NodeId id) {
    Node& n = nodes_[id];
    if (kind_ == StoreKind::kMemory) {
      if (!n.memory) n.memory = std::make_unique<MemoryLogStore>();
      return;
    }
    storage::RocksDbOptions o;
    o.path = dir_ + "/node" + std::to_string(id.value());
    auto s = RocksLogStore::open(o, storage::FsyncPolicy::kAlways, clock_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    n.rocks = std::move(s).value();
  }

  void start(NodeId id, bool bootstrap) {
    open_store(id);
    Node& n = nodes_[id];
    net_.down.erase(id);
    n.transport = std::make_unique<NetTransport>(net_, id);
    n.host = std::make_unique<Host>(id, n.store(), *n.transport, clock_, host_options_);
    for (int s = 1; s <= shards_; ++s) {
      auto voters = bootstrap ? std::optional(voters_) : std::nullopt;
      ASSERT_TRUE(
          n.host
              ->add_replica(ShardId(s), options_, voters, std::make_unique<storage::MemoryEngine>())
              .is_ok());
    }
  }

  // Power loss: the process is gone and unsynced log writes with it.
  void crash(NodeId id) {
    Node& n = nodes_[id];
    n.host.reset();
    if (n.memory) n.memory->crash();
    n.rocks.reset();  // closed; reopened from disk by start()
    net_.down.insert(id);
  }

  void pump() {
    for (int round = 0; round < 4; ++round) {
      std::deque<Envelope> q;
      q.swap(net_.queue);
      for (auto& env : q) {
        NodeId to = env.msg.to;
        if (net_.down.count(to) || !nodes_[to].host) continue;
        nodes_[to].host->step(env.shard, std::move(env.msg));
      }
      for (auto& [id, n] : nodes_) {
        if (n.host) (void)n.host->run_once();
      }
    }
  }

  void tick(int n = 1) {
    for (int i = 0; i < n; ++i) {
      clock_.ms += 10;
      for (auto& [id, node] : nodes_) {
        if (node.host) node.host->tick();
      }
      pump();
    }
  }

  Replica* replica(NodeId id, int shard = 1) {
    auto& n = nodes_[id];
    return n.host ? n.host->replica(ShardId(shard)) : nullptr;
  }

  std::optional<NodeId> leader(int shard = 1) {
    for (auto id : voters_) {
      Replica* r = replica(id, shard);
      if (r && r->is_leader()) return id;
    }
    return std::nullopt;
  }

  NodeId wait_leader(int shard = 1) {
    for (int i = 0; i < 500 && !leader(shard); ++i) tick();
    auto l = leader(shard);
    EXPECT_TRUE(l.has_value());
    return l.value_or(NodeId(1));
  }

  // Proposes on the leader and runs until the outcome is known.
  std::pair<Status, std::string> write(std::vector<std::string> args, uint64_t client = 0,
                                       uint64_t seq = 0, int shard = 1) {
    NodeId l = wait_leader(shard);
    std::optional<std::pair<Status, std::string>> out;
    replica(l, shard)->propose(kv::WriteCommand{client, seq, clock_.ms, std::move(args)},
                               [&](Status s, kv::RecordedReply r) { out.emplace(s, text(r)); });
    for (int i = 0; i < 200 && !out; ++i) tick();
    EXPECT_TRUE(out.has_value());
    return out.value_or(std::pair{Status::internal("no outcome"), ""});
  }

  std::string read(NodeId on, std::vector<std::string> args, int shard = 1) {
    const kv::CommandSpec* spec = kv::CommandTable::instance().find(args[0]);
    std::optional<std::string> out;
    replica(on, shard)->read(*spec, std::move(args), [&](Status s, kv::RecordedReply r) {
      out = s.is_ok() ? text(r) : "<" + s.message() + ">";
    });
    for (int i = 0; i < 200 && !out; ++i) tick();
    return out.value_or("<no answer>");
  }

  // Runs until every live replica applied the same index; then compares state.
  void expect_converged(int shard = 1) {
    for (int i = 0; i < 300; ++i) {
      std::set<uint64_t> applied;
      for (auto id : voters_) {
        if (Replica* r = replica(id, shard)) applied.insert(r->applied().value());
      }
      if (applied.size() == 1) break;
      tick();
    }
    std::set<uint64_t> hashes, applied;
    for (auto id : voters_) {
      if (Replica* r = replica(id, shard)) {
        hashes.insert(r->state_machine().state_hash());
        applied.insert(r->applied().value());
      }
    }
    EXPECT_EQ(applied.size(), 1u);
    EXPECT_EQ(hashes.size(), 1u) << "replicas diverged at the same applied index (H19)";
  }

  MemoryLogStore& store(NodeId id) { return *nodes_[id].memory; }
  FakeClock& clock() { return clock_; }

 private:
  int shards_;
  HostOptions host_options_;
  StoreKind kind_;
  std::string dir_;
  ReplicaOptions options_;
  std::vector<NodeId> voters_;
  FakeClock clock_;
  Network net_;
  std::map<NodeId, Node> nodes_;
};

TEST(ReplicatedShard, WritesAndLinearizableReads) {
  Cluster c;
  NodeId l = c.wait_leader();
  EXPECT_EQ(c.write({"SET", "k", "v"}).second, "+OK");
  EXPECT_EQ(c.write({"INCR", "n"}).second, ":1");
  EXPECT_EQ(c.write({"INCR", "n"}).second, ":2");
  EXPECT_EQ(c.read(l, {"GET", "k"}), "$v");
  EXPECT_EQ(c.read(l, {"GET", "n"}), "$2");
  c.expect_converged();
}

// H11: a leader crash loses nothing acknowledged; the old leader restarts from
// its durable log and catches up.
TEST(ReplicatedShard, H11_LeaderCrashLosesNoAcknowledgedWrite) {
  Cluster c;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), std::to_string(i)}).first.is_ok());
  }
  NodeId old = c.wait_leader();
  c.crash(old);
  NodeId fresh = c.wait_leader();
  ASSERT_NE(fresh, old);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(c.read(fresh, {"GET", "k" + std::to_string(i)}), "$" + std::to_string(i));
  }
  ASSERT_TRUE(c.write({"SET", "after", "crash"}).first.is_ok());
  c.start(old, false);
  c.expect_converged();
  EXPECT_EQ(c.replica(old)->state_machine().store().size(), 51u);
}

// Writes acknowledged before a power loss of every node, in a cluster with
// fsync on; returns how many of them are readable after all restart.
int survivors_of_total_power_loss(HostOptions host) {
  Cluster c(1, 10000, host);
  int acked = 0;
  for (int i = 0; i < 30; ++i) {
    acked += c.write({"SET", "k" + std::to_string(i), "v"}).first.is_ok();
  }
  EXPECT_EQ(acked, 30);
  for (uint64_t id = 1; id <= 3; ++id) c.crash(NodeId(id));
  for (uint64_t id = 1; id <= 3; ++id) c.start(NodeId(id), false);
  NodeId l = c.wait_leader();
  int found = 0;
  for (int i = 0; i < 30; ++i) found += c.read(l, {"GET", "k" + std::to_string(i)}) == "$v";
  return found;
}

// H11/H16: with fsync on, a power loss of the whole cluster keeps every
// acknowledged write. The same scenario without fsync loses them, which shows
// the test can tell the difference.
TEST(ReplicatedShard, H16_TotalPowerLossKeepsAcknowledgedWrites) {
  EXPECT_EQ(survivors_of_total_power_loss(HostOptions{.sync = true}), 30);
  EXPECT_LT(survivors_of_total_power_loss(HostOptions{.sync = false}), 30);
}

TEST(ReplicatedShard, FollowerFarBehindCatchesUpBySnapshot) {
  Cluster c(1, /*compact_after=*/20);
  NodeId l = c.wait_leader();
  NodeId follower = l == NodeId(1) ? NodeId(2) : NodeId(1);
  c.crash(follower);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(c.write({"INCR", "counter"}).first.is_ok());
  }
  // The leader compacted far past the follower's log: only a snapshot helps.
  EXPECT_GT(c.replica(c.wait_leader())->raft().log().first_index().value(), 100u);
  c.start(follower, false);
  c.expect_converged();
  EXPECT_EQ(c.read(c.wait_leader(), {"GET", "counter"}), "$200");
}

TEST(ReplicatedShard, GroupCommitSharesOneSyncAcrossShards) {
  Cluster c(8);
  for (int s = 1; s <= 8; ++s) c.wait_leader(s);
  uint64_t before =
      c.store(NodeId(1)).syncs() + c.store(NodeId(2)).syncs() + c.store(NodeId(3)).syncs();
  // One proposal on every shard's leader, then run: the entries of all shards
  // are persisted in shared batches, not one fsync each.
  int done = 0;
  for (int s = 1; s <= 8; ++s) {
    NodeId l = c.wait_leader(s);
    c.replica(l, s)->propose(kv::WriteCommand{0, 0, c.clock().ms, {"SET", "k", "v"}},
                             [&](Status st, kv::RecordedReply) { done += st.is_ok(); });
  }
  for (int i = 0; i < 50 && done < 8; ++i) c.tick();
  EXPECT_EQ(done, 8);
  uint64_t after =
      c.store(NodeId(1)).syncs() + c.store(NodeId(2)).syncs() + c.store(NodeId(3)).syncs();
  // 8 shards x 3 replicas, each needing its entry synced: far fewer syncs.
  EXPECT_LT(after - before, 8u * 3u);
}

// H16/H18: when the log write fails the host stops and the client is told the
// outcome is unknown - never OK.
TEST(ReplicatedShard, H16_FailedLogWriteIsNeverAcknowledged) {
  Cluster c;
  NodeId l = c.wait_leader();
  c.store(l).fail_next_commit();
  std::optional<Status> outcome;
  c.replica(l)->propose(kv::WriteCommand{0, 0, c.clock().ms, {"SET", "x", "1"}},
                        [&](Status s, kv::RecordedReply) { outcome = s; });
  for (int i = 0; i < 50 && !outcome; ++i) c.tick();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->code(), StatusCode::kUnknownOutcome);
}

// H17: a client that retries the same request (same id and seq) after a
// leader change gets it applied once.
TEST(ReplicatedShard, H17_RetryAfterLeaderChangeAppliesOnce) {
  Cluster c;
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 1).second, ":1");
  NodeId old = c.wait_leader();
  c.crash(old);
  c.wait_leader();
  // The client did not see the reply and retries on the new leader.
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 1).second, ":1");
  EXPECT_EQ(c.write({"INCR", "n"}, 42, 2).second, ":2");
}

TEST(ReplicatedShard, LeaderProposesExpiryDeletes) {
  Cluster c;
  NodeId l = c.wait_leader();
  ASSERT_TRUE(c.write({"SET", "t", "v", "PX", "50"}).first.is_ok());
  c.tick(10);  // 100 ms later
  EXPECT_EQ(c.read(l, {"GET", "t"}), "(nil)");
  c.tick(5);
  // The read found it expired; the leader proposed the delete; all replicas
  // applied it.
  c.expect_converged();
  EXPECT_EQ(c.replica(l)->state_machine().store().size(), 0u);
}

// The same scenarios with the Raft log in RocksDB: restart reads the log back
// from disk (CRC-checked) and replays it into the in-memory state machine.
TEST(ReplicatedShardOnRocksDB, RestartFromDiskKeepsEveryAcknowledgedWrite) {
  Cluster c(2, /*compact_after=*/25, HostOptions{}, StoreKind::kRocks);
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), std::to_string(i)}, 0, 0, 1 + i % 2)
                    .first.is_ok());
  }
  for (uint64_t id = 1; id <= 3; ++id) c.crash(NodeId(id));
  for (uint64_t id = 1; id <= 3; ++id) c.start(NodeId(id), false);
  for (int i = 0; i < 60; ++i) {
    int shard = 1 + i % 2;
    EXPECT_EQ(c.read(c.wait_leader(shard), {"GET", "k" + std::to_string(i)}, shard),
              "$" + std::to_string(i));
  }
  c.expect_converged(1);
  c.expect_converged(2);
}

TEST(ReplicatedShardOnRocksDB, FollowerCatchesUpBySnapshotAfterRestart) {
  Cluster c(1, /*compact_after=*/20, HostOptions{}, StoreKind::kRocks);
  NodeId l = c.wait_leader();
  NodeId follower = l == NodeId(1) ? NodeId(2) : NodeId(1);
  c.crash(follower);
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(c.write({"INCR", "n"}).first.is_ok());
  c.start(follower, false);
  c.expect_converged();
  // And once more from its own disk, now holding the installed snapshot.
  c.crash(follower);
  c.start(follower, false);
  c.expect_converged();
  EXPECT_EQ(c.read(c.wait_leader(), {"GET", "n"}), "$150");
}

}  // namespace
}  // namespace shoal::replica
