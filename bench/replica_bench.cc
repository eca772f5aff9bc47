// Committed replicated writes per second, and their latency, through the
// replica host: 3 nodes in this process (replica::testing::LocalCluster) over
// the in-memory network, each node's Raft log in its own RocksDB on the real
// disk (a temporary directory under /tmp, removed at exit). Issue 4's benchmark.
//
//   ./build-bench/bin/replica_bench                      # everything, < 2 min
//   ./build-bench/bin/replica_bench --benchmark_filter='shards:1/'
//
// Arguments: shards (every node hosts a replica of each), fsync_no (0 =
// always, 1 = no; storage::FsyncPolicy), inflight (proposals kept outstanding
// across the whole cluster, spread round-robin over the shards), compact_k
// (ReplicaOptions::compact_after_writes, in thousands) and pipe (1: the
// server's pipelined sync, a sync thread per node). The
// workload is SET of random keys out of 100,000 with 64-byte values, as
// redis-benchmark `-d 64 -r 100000` sends them.
//
// One benchmark iteration is one committed write: the driver keeps
// `inflight` proposals on the shards' leaders, pumps the cluster (deliver
// messages, run every host's loop iteration: one RocksDB write and, with
// fsync=always, one fsync per node per iteration), and consumes completions.
// Time per iteration is therefore 1 / throughput. Counters:
//   writes_per_s      committed (applied on the leader, callback run) writes/s
//   p50_us, p99_us    propose -> callback latency of those writes
//   log_writes_per_w  RocksDB log commits on all 3 nodes per committed write
//                     (with fsync=always each is one WAL fsync): group commit
//                     makes it fall as more shards share a node's iteration.
//   errors            writes that did not commit (must be 0)
//
// The cluster is built once per argument set and reused across Google
// Benchmark's calibration runs (setup of 64 shards costs ~200 fsyncs), so a
// run measures a warm, steady pipeline. Single-threaded, like the host.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "replica/local_cluster.h"

namespace shoal::replica {
namespace {

using Clock = std::chrono::steady_clock;
using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::Outcome;

constexpr int kKeySpace = 100'000;
constexpr size_t kValueBytes = 64;

struct RigConfig {
  int shards;
  storage::FsyncPolicy fsync;
  int inflight;
  uint64_t compact_after_writes;
  bool pipelined;  // the server's pipelined sync: each node fsyncs on its own thread
  bool operator==(const RigConfig&) const = default;
};

// A cluster plus the driver state that outlives one benchmark run.
class Rig {
 public:
  static std::unique_ptr<Rig> make(const RigConfig& config, std::string* error) {
    std::unique_ptr<Rig> rig(new Rig(config));
    LocalClusterOptions o;
    o.shards = config.shards;
    o.nodes = 3;
    o.store = testing::StoreKind::kRocks;
    o.fsync = config.fsync;
    o.dir = rig->dir_;
    o.replica.compact_after_writes = config.compact_after_writes;
    o.host.defer_sync = config.pipelined;
    o.sync_threads = config.pipelined;
    o.manual_wal_flush = config.pipelined && config.fsync == storage::FsyncPolicy::kAlways;
    auto c = LocalCluster::create(o);
    if (!c.is_ok()) {
      *error = "LocalCluster::create: " + c.status().message();
      return nullptr;
    }
    rig->cluster_ = std::move(c).value();
    for (int s = 1; s <= config.shards; ++s) {
      if (!rig->cluster_->wait_leader(s, 2000)) {
        *error = "no leader for shard " + std::to_string(s);
        return nullptr;
      }
    }
    return rig;
  }

  ~Rig() {
    cluster_.reset();  // closes the RocksDBs before their directory goes
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const RigConfig& config() const { return config_; }

  // Blocks (pumping) until at least one write completed; consumes one.
  void next_write() {
    while (ready_ == 0) {
      refill();
      cluster_->pump();
    }
    --ready_;
  }

  // Starts a measurement window: only writes completed from now on count.
  void reset_window() {
    latencies_ns_.clear();
    errors_ = 0;
    ready_ = 0;
    commits_at_start_ = total_log_commits();
  }

  uint64_t log_commits_since_reset() const { return total_log_commits() - commits_at_start_; }
  uint64_t errors() const { return errors_; }
  // q in [0, 1]: the latency quantile of the writes completed in the window.
  double latency_us(double q) {
    if (latencies_ns_.empty()) return 0;
    size_t k = std::min(latencies_ns_.size() - 1, static_cast<size_t>(q * latencies_ns_.size()));
    std::nth_element(latencies_ns_.begin(), latencies_ns_.begin() + k, latencies_ns_.end());
    return latencies_ns_[k] / 1e3;
  }

  // Lets every outstanding write finish, so none of them runs its callback
  // after the driver state is gone (bounded).
  void drain() {
    for (int i = 0; i < 10'000 && outstanding_ > 0; ++i) cluster_->pump();
  }

 private:
  explicit Rig(const RigConfig& config) : config_(config), rng_(42) {
    char tmpl[] = "/tmp/shoal-replica-bench-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
    value_.assign(kValueBytes, 'v');
  }

  uint64_t total_log_commits() const {
    uint64_t n = 0;
    for (NodeId id : cluster_->nodes()) {
      if (RocksLogStore* s = cluster_->rocks_store(id)) n += s->commits();
    }
    return n;
  }

  void refill() {
    char key[16];
    while (outstanding_ < config_.inflight) {
      int shard = 1 + static_cast<int>(next_shard_++ % static_cast<uint64_t>(config_.shards));
      std::snprintf(key, sizeof key, "key:%06d", static_cast<int>(rng_() % kKeySpace));
      ++outstanding_;
      Clock::time_point start = Clock::now();
      cluster_->propose({"SET", key, value_}, /*client=*/0, /*seq=*/0, shard,
                        [this, start](const Outcome& o) { on_done(o, start); });
    }
  }

  void on_done(const Outcome& o, Clock::time_point start) {
    --outstanding_;
    if (!o.status.is_ok()) {
      ++errors_;
      return;
    }
    ++ready_;
    latencies_ns_.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
  }

  RigConfig config_;
  std::string dir_;
  std::unique_ptr<LocalCluster> cluster_;
  std::mt19937_64 rng_;
  std::string value_;
  uint64_t next_shard_ = 0;
  int outstanding_ = 0;
  uint64_t ready_ = 0;  // completed, not yet consumed by an iteration
  uint64_t errors_ = 0;
  uint64_t commits_at_start_ = 0;
  std::vector<int64_t> latencies_ns_;
};

// One rig at a time: kept across the calibration runs of one argument set,
// replaced when the arguments change, released at the end of main().
std::unique_ptr<Rig>& current_rig() {
  static std::unique_ptr<Rig> rig;
  return rig;
}

void BM_ReplicatedSet(benchmark::State& state) {
  RigConfig config{static_cast<int>(state.range(0)),
                   state.range(1) == 0 ? storage::FsyncPolicy::kAlways : storage::FsyncPolicy::kNo,
                   static_cast<int>(state.range(2)), static_cast<uint64_t>(state.range(3)) * 1000,
                   state.range(4) != 0};
  auto& rig = current_rig();
  if (!rig || !(rig->config() == config)) {
    if (rig) rig->drain();
    rig.reset();
    std::string error;
    rig = Rig::make(config, &error);
    if (!rig) {
      state.SkipWithError(error.c_str());
      return;
    }
  }
  rig->reset_window();
  for (auto _ : state) rig->next_write();
  uint64_t writes = state.iterations();
  state.counters["writes_per_s"] =
      benchmark::Counter(static_cast<double>(writes), benchmark::Counter::kIsRate);
  state.counters["p50_us"] = rig->latency_us(0.50);
  state.counters["p99_us"] = rig->latency_us(0.99);
  state.counters["log_writes_per_w"] =
      writes ? static_cast<double>(rig->log_commits_since_reset()) / writes : 0;
  state.counters["errors"] = static_cast<double>(rig->errors());
}

// {shards, fsync (0 always, 1 no), inflight, compact_k, pipe}. compact_k:
// snapshot and compact a shard's log every compact_k thousand writes (10 is
// the server's default, --compact-after-writes); the 1000 rows show what the
// whole-state snapshots cost. pipe 1: the server's pipelined sync (fsync on a
// thread per node while the loop goes on; host.h); pipe 0: each iteration
// syncs before it goes on. MinTime keeps the run under ~3 minutes.
BENCHMARK(BM_ReplicatedSet)
    ->ArgNames({"shards", "fsync_no", "inflight", "compact_k", "pipe"})
    ->Args({1, 0, 256, 10, 0})
    ->Args({1, 0, 256, 10, 1})
    ->Args({1, 1, 256, 10, 0})
    ->Args({1, 0, 256, 1000, 0})
    ->Args({1, 0, 256, 1000, 1})
    ->Args({1, 1, 256, 1000, 0})
    ->Args({1, 0, 4096, 1000, 0})
    ->Args({1, 0, 4096, 1000, 1})
    ->Args({64, 0, 256, 10, 0})
    ->Args({64, 1, 256, 10, 0})
    ->Args({64, 0, 1024, 10, 0})
    ->Args({64, 0, 1024, 10, 1})
    ->Args({64, 1, 1024, 10, 0})
    ->MinTime(4.0)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace shoal::replica

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  if (auto& rig = shoal::replica::current_rig()) rig->drain();
  shoal::replica::current_rig().reset();
  benchmark::Shutdown();
  return 0;
}
