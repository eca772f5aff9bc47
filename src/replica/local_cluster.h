// LocalCluster: the replicas of one or more shards on several nodes, all in
// this process, over an in-memory network that the caller pumps. For tests
// (replica_test, disk_fault_test) and the crash-loop binary (tests/crash).
//
// Every node is a replica::Host with its own LogStore: in memory (with a
// simulated power loss) or a RocksLogStore in `dir`/node<id>, optionally on
// its own rocksdb::Env (an env::SimDisk through env::new_rocks_env). Nothing
// runs by itself: tick() ticks every host and pumps; pump() delivers queued
// messages and runs every host's loop iteration; the blocking helpers
// (wait_leader, write, read, converge) tick until they have an answer or
// their tick budget runs out, so they are bounded.
//
// Time is pluggable: by default an owned FakeClock that tick() advances by
// `tick_ms`; or any env::Clock (the crash binary uses env::SystemClock), which
// tick() leaves alone. Raft itself only counts ticks.
//
// No gtest here: failures are returned as Status / Result for the caller to
// assert on. Thread-safety: none; one thread drives the cluster.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "env/clock.h"
#include "replica/host.h"
#include "replica/log_store.h"
#include "replica/rocks_log_store.h"
#include "replica/sync_thread.h"
#include "storage/group_commit.h"

namespace rocksdb {
class Env;
}

namespace shoal::replica::testing {

// A clock that moves only when told to.
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

// Messages in flight between the nodes; a node in `down` neither sends nor
// receives.
struct Network {
  std::deque<Envelope> queue;
  std::set<NodeId> down;
  int drop_snapshots = 0;  // lose this many kSnap messages (a broken link)
};

class NetTransport final : public Transport {
 public:
  NetTransport(Network& net, NodeId self) : net_(net), self_(self) {}
  void send(ShardId shard, raft::Message msg) override;

 private:
  Network& net_;
  NodeId self_;
};

// Where a node keeps its Raft log: in memory (MemoryLogStore::crash() models
// power loss) or in RocksDB (a crash closes it; start() reopens it from disk).
enum class StoreKind { kMemory, kRocks };

struct LocalClusterOptions {
  int shards = 1;
  int nodes = 3;  // every node is a voter of every shard
  // create() bootstraps shards that have no stored state. Off: a node with
  // no state starts empty and waits for a snapshot (so a restart that lost
  // its data can't pass for a new cluster, H11).
  bool bootstrap = true;
  StoreKind store = StoreKind::kMemory;
  // kRocks: node N lives in `dir`/nodeN. Empty: a fresh directory under /tmp,
  // removed with the cluster. A given dir is neither created nor removed.
  std::string dir;
  // kRocks: the Env of node N's RocksDB (e.g. over its own SimDisk); missing
  // or null: RocksDB's default Env. Not owned; must outlive the cluster.
  std::map<NodeId, rocksdb::Env*> rocks_envs;
  storage::FsyncPolicy fsync = storage::FsyncPolicy::kAlways;
  // kRocks: the state machines keep their data in RocksDB (RocksEngine, in
  // the node's group-commit batch) instead of in memory.
  bool durable_engine = false;
  // host.defer_sync: pump() syncs each node's store one round after the
  // batches were written (pipelined sync with a lag, replica/host.h), so the
  // tests also run with writes waiting for their sync across rounds.
  HostOptions host;
  // With host.defer_sync: each node syncs on its own SyncThread (as the
  // server does) instead of one pump round late; pump() hands completed
  // syncs to the host at the start of its next round.
  bool sync_threads = false;
  // kRocks: RocksDbOptions::manual_wal_flush (the server's mode with its
  // pipelined sync): WAL records wait in RocksDB's buffer until a sync.
  bool manual_wal_flush = false;
  // kRocks: RocksDbOptions::wal_prewrite_bytes (the server's mode with fsync
  // always). With rocks_envs, their Envs must carry the same setting.
  uint64_t wal_prewrite_bytes = 0;
  ReplicaOptions replica;  // raft.id and raft.seed are set per node by the host
  // Not owned. nullptr: an owned FakeClock, advanced by tick_ms per tick().
  env::Clock* clock = nullptr;
  int64_t tick_ms = 10;
};

// A write's or read's outcome, with the reply as compact text ("+OK", ":1",
// "$v", "(nil)": kv::testing::TextSink).
struct Outcome {
  Status status;
  std::string reply;
};

// The reply rendered as text, as above.
std::string reply_text(const kv::RecordedReply& reply);

class LocalCluster {
 public:
  // Creates the cluster and starts every node (see `bootstrap`).
  static Result<std::unique_ptr<LocalCluster>> create(LocalClusterOptions options);
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Starts node `id`: opens its store (reopening it from disk after a crash)
  // and its replicas; `bootstrap` bootstraps shards with no stored state.
  Status start(NodeId id, bool bootstrap = false);
  // Process crash of node `id`: the host is gone, the node is cut off. A
  // MemoryLogStore loses what was not synced (power loss); a RocksLogStore is
  // closed (for a power loss, halt its SimDisk first and crash it after).
  void crash(NodeId id);
  bool running(NodeId id) const;

  // Delivers queued messages and runs every host's loop, a few rounds.
  void pump();
  // One such round.
  void pump_round();
  // Pipelined sync: while a node's syncs are held its store is not synced
  // (its writes wait). For one node, or for every node.
  void hold_syncs(bool on) {
    for (NodeId id : voters_) hold_syncs(id, on);
  }
  void hold_syncs(NodeId id, bool on) {
    if (on)
      held_nodes_.insert(id);
    else
      held_nodes_.erase(id);
  }
  // A stalled process (SIGSTOP, a long pause): a paused node's host neither
  // ticks nor runs, and what is sent to it is lost.
  void pause(NodeId id, bool on) {
    if (on)
      paused_nodes_.insert(id);
    else
      paused_nodes_.erase(id);
  }
  // Advances the FakeClock (if owned), ticks every host, pumps; n times.
  // With sync_threads a tick first waits (bounded) for the syncs asked for:
  // simulated time must not run ahead of the real disk (a 10 ms tick against
  // a 0.2 ms fsync), or elections would time out while their votes sync.
  void tick(int n = 1);

  Replica* replica(NodeId id, int shard = 1);
  Host* host(NodeId id);
  std::optional<NodeId> leader(int shard = 1);
  // Ticks until a leader is known; nullopt after `max_ticks`.
  std::optional<NodeId> wait_leader(int shard = 1, int max_ticks = 500);

  // Proposes on the current leader; `done` runs later from a pump (or at once
  // with an error). kUnavailable when there is no leader.
  void propose(std::vector<std::string> args, uint64_t client, uint64_t seq, int shard,
               std::function<void(const Outcome&)> done);
  // Proposes on the leader and ticks until the outcome is known (bounded).
  Outcome write(std::vector<std::string> args, uint64_t client = 0, uint64_t seq = 0,
                int shard = 1);
  // A linearizable read on node `on` (its replica asks the leader if needed).
  void read_async(NodeId on, std::vector<std::string> args, int shard,
                  std::function<void(const Outcome&)> done);
  // Ticks until answered; the text of the reply, "<error message>" or
  // "<no answer>".
  std::string read(NodeId on, std::vector<std::string> args, int shard = 1);

  // Ticks until every running replica of `shard` has the same applied index,
  // then compares their state hashes. Error if they never line up, or if the
  // states differ at the same index (H19).
  Status converge(int shard = 1, int max_ticks = 300);

  // Nodes started from now on keep their data in RocksDB (or in memory).
  void set_durable_engine(bool on) { options_.durable_engine = on; }
  MemoryLogStore* memory_store(NodeId id);
  RocksLogStore* rocks_store(NodeId id);
  env::Clock& clock() { return *clock_; }
  FakeClock* fake_clock() { return owned_clock_.get(); }
  // The in-memory network, for tests that lose messages.
  Network& network() { return net_; }
  const std::vector<NodeId>& nodes() const { return voters_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Node {
    std::unique_ptr<MemoryLogStore> memory;
    std::unique_ptr<RocksLogStore> rocks;
    std::unique_ptr<NetTransport> transport;
    std::unique_ptr<Host> host;
    std::optional<uint64_t> sync_ticket;  // pipelined sync: taken last round
    // sync_threads: the node's sync thread and the syncs it completed.
    struct Completed {
      std::mutex mu;
      std::vector<std::pair<uint64_t, Status>> syncs;
      uint64_t last = 0;  // the newest ticket synced
    };
    uint64_t asked = 0;  // the newest ticket handed to `syncer`
    std::shared_ptr<Completed> completed;
    std::unique_ptr<SyncThread> syncer;
  };

  explicit LocalCluster(LocalClusterOptions options);
  Status open_store(NodeId id);
  static LogStore& store_of(Node& n) {
    return n.memory ? static_cast<LogStore&>(*n.memory) : *n.rocks;
  }
  void wait_for_syncs();
  std::string node_dir(NodeId id) const;

  LocalClusterOptions options_;
  std::unique_ptr<FakeClock> owned_clock_;
  env::Clock* clock_;
  std::string dir_;
  bool remove_dir_ = false;
  std::vector<NodeId> voters_;
  Network net_;
  std::map<NodeId, Node> nodes_;
  std::set<NodeId> held_nodes_;
  std::set<NodeId> paused_nodes_;
  bool paused(NodeId id) const { return paused_nodes_.count(id) > 0; }
  bool held(NodeId id) const { return held_nodes_.count(id) > 0; }
};

}  // namespace shoal::replica::testing
