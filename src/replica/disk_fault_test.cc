// Disk faults under a 3-replica shard: every node's RocksDB runs on its own
// env::SimDisk, which loses unsynced bytes at a power cut, tears the tail,
// flips bits on read, fails an fsync or runs out of space. Hazards: H11, H15,
// H16, H18, H19.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "env/rocksdb_fs.h"
#include "env/sim_disk.h"
#include "replica/local_cluster.h"

namespace shoal::replica {
namespace {

using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::Outcome;
using testing::StoreKind;

constexpr int kNodes = 3;

// Three SimDisks, a RocksDB Env on each, and the cluster on top. Members are
// destroyed in reverse order: the cluster (and its DBs) before the Envs and
// the disks they use.
class SimCluster {
 public:
  explicit SimCluster(uint64_t seed, storage::FsyncPolicy fsync = storage::FsyncPolicy::kAlways,
                      uint64_t compact_after = 10000, bool durable_engine = false,
                      bool pipelined_sync = false, bool manual_wal_flush = false) {
    LocalClusterOptions o;
    o.host.defer_sync = pipelined_sync;
    o.manual_wal_flush = manual_wal_flush;
    // The server's mode with fsync always: the manual WAL flush and the WAL's
    // pre-written space (one 32 KiB block, so that it is extended often).
    o.wal_prewrite_bytes = manual_wal_flush ? 32 << 10 : 0;
    o.store = StoreKind::kRocks;
    o.durable_engine = durable_engine;
    o.dir = "/db";
    o.fsync = fsync;
    o.replica.compact_after_writes = compact_after;
    for (int i = 1; i <= kNodes; ++i) {
      NodeId id(i);
      disks_[id] = std::make_unique<env::SimDisk>(seed * 31 + i);
      EXPECT_TRUE(disks_[id]->create_dir("/db").is_ok());
      EXPECT_TRUE(disks_[id]->sync_dir("/").is_ok());
      envs_[id] = env::new_rocks_env(disks_[id].get(), o.wal_prewrite_bytes);
      o.rocks_envs[id] = envs_[id].get();
    }
    auto c = LocalCluster::create(std::move(o));
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    if (c.is_ok()) cluster_ = std::move(c).value();
  }

  LocalCluster& c() { return *cluster_; }
  bool ok() const { return cluster_ != nullptr; }
  env::SimDisk& disk(NodeId id) { return *disks_.at(id); }
  static std::string prefix(NodeId id) { return "/db/node" + std::to_string(id.value()) + "/"; }

  // Power loss of one node: its process dies (shutdown writes fail on the
  // halted disk), then the disk keeps only what `mode` lets survive.
  void power_cut(NodeId id, env::CrashMode mode) {
    disk(id).halt();
    cluster_->crash(id);
    disk(id).crash(mode);
  }

 private:
  std::map<NodeId, std::unique_ptr<env::SimDisk>> disks_;
  std::map<NodeId, std::unique_ptr<rocksdb::Env>> envs_;
  std::unique_ptr<LocalCluster> cluster_;
};

using Acked = std::map<std::string, std::string>;

// Writes `n` keys `tag`<i>; records the acknowledged ones.
void write_keys(LocalCluster& c, const std::string& tag, int n, Acked& acked) {
  for (int i = 0; i < n; ++i) {
    std::string key = tag + std::to_string(i), value = "v-" + key;
    Outcome o = c.write({"SET", key, value});
    if (o.status.is_ok()) acked[key] = value;
  }
}

// Proposes `n` writes and runs a single pump: some are acknowledged, some are
// persisted on some nodes only, some nowhere, when the power goes.
void write_in_flight(LocalCluster& c, const std::string& tag, int n, Acked& acked) {
  for (int i = 0; i < n; ++i) {
    std::string key = tag + std::to_string(i), value = "v-" + key;
    c.propose({"SET", key, value}, 0, 0, 1, [&acked, key, value](const Outcome& o) {
      if (o.status.is_ok()) acked[key] = value;
    });
  }
  c.pump();
}

// Every acknowledged key, read linearizably on `on`: how many are missing or wrong.
int missing_on(LocalCluster& c, NodeId on, const Acked& acked) {
  int missing = 0;
  for (const auto& [key, value] : acked) {
    std::string got = c.read(on, {"GET", key});
    if (got != "$" + value) {
      ++missing;
      ADD_FAILURE() << "node " << on.value() << ": " << key << " = " << got << ", acked " << value;
    }
  }
  return missing;
}

// H16: with fsync=always a power loss of the whole cluster, in every crash
// mode of the disk, keeps every acknowledged write, including those
// acknowledged in the pump right before the cut; and the replicas restart
// from their own logs (no bootstrap: an empty restart would be caught, H11).
void whole_cluster_power_loss_rounds(SimCluster& sim) {
  ASSERT_TRUE(sim.ok());
  LocalCluster& c = sim.c();
  Acked acked;
  int round = 0;
  for (auto mode : {env::CrashMode::kLoseUnsynced, env::CrashMode::kTornTail,
                    env::CrashMode::kTornTailGarbage, env::CrashMode::kUnorderedOverwrites}) {
    for (int rep = 0; rep < 2; ++rep, ++round) {
      SCOPED_TRACE("round " + std::to_string(round));
      ASSERT_TRUE(c.wait_leader().has_value());
      size_t before = acked.size();
      write_keys(c, "r" + std::to_string(round) + "-", 15, acked);
      ASSERT_EQ(acked.size(), before + 15);
      write_in_flight(c, "f" + std::to_string(round) + "-", 10, acked);
      for (NodeId id : c.nodes()) sim.disk(id).halt();
      for (NodeId id : c.nodes()) c.crash(id);
      for (NodeId id : c.nodes()) sim.disk(id).crash(mode);
      for (NodeId id : c.nodes()) {
        Status s = c.start(id, /*bootstrap=*/false);
        ASSERT_TRUE(s.is_ok()) << "node " << id.value() << ": " << s.to_string();
      }
      auto l = c.wait_leader();
      ASSERT_TRUE(l.has_value()) << "no leader after the power loss";
      EXPECT_EQ(missing_on(c, *l, acked), 0);
      Status conv = c.converge();
      EXPECT_TRUE(conv.is_ok()) << conv.to_string();
    }
  }
  for (NodeId id : c.nodes()) EXPECT_EQ(sim.disk(id).stats().crashes, 8u);
}

TEST(DiskFaults, H16_WholeClusterPowerLossKeepsAcknowledgedWrites) {
  SimCluster sim(1, storage::FsyncPolicy::kAlways, /*compact_after=*/25);
  whole_cluster_power_loss_rounds(sim);
}

// The same with the data in RocksDB (RocksEngine): the data and its applied
// index survive (or are lost) together, and whatever the engine lost is
// replayed from the log.
TEST(DiskFaults, H16_WholeClusterPowerLossWithDurableEngine) {
  SimCluster sim(2, storage::FsyncPolicy::kAlways, /*compact_after=*/25, /*durable_engine=*/true);
  whole_cluster_power_loss_rounds(sim);
}

// The same with pipelined sync (HostOptions::defer_sync, the server's mode):
// batches are written unsynced and synced a pump round later on RocksDB's
// SyncWAL, while committed entries are applied without waiting.
TEST(DiskFaults, H16_WholeClusterPowerLossWithPipelinedSync) {
  SimCluster sim(5, storage::FsyncPolicy::kAlways, /*compact_after=*/25, false,
                 /*pipelined_sync=*/true);
  whole_cluster_power_loss_rounds(sim);
}

TEST(DiskFaults, H16_WholeClusterPowerLossWithPipelinedSyncAndDurableEngine) {
  SimCluster sim(6, storage::FsyncPolicy::kAlways, /*compact_after=*/25, /*durable_engine=*/true,
                 /*pipelined_sync=*/true);
  whole_cluster_power_loss_rounds(sim);
}

// The same with RocksDB's manual WAL flush (shoal-server's mode with
// --fsync always): WAL records wait in RocksDB's buffer until the sync writes
// and syncs them (RocksDb::sync_wal = FlushWAL(true)); a sync that only
// called SyncWAL would sync nothing of them and lose acknowledged writes.
// Also the server's pre-written WAL space: a power loss leaves WALs ending in
// zeros, or in a torn overwrite followed by zeros.
TEST(DiskFaults, H16_WholeClusterPowerLossWithPipelinedSyncAndManualWalFlush) {
  SimCluster sim(7, storage::FsyncPolicy::kAlways, /*compact_after=*/25, false,
                 /*pipelined_sync=*/true, /*manual_wal_flush=*/true);
  whole_cluster_power_loss_rounds(sim);
}

TEST(DiskFaults, H16_WholeClusterPowerLossWithManualWalFlushAndDurableEngine) {
  SimCluster sim(8, storage::FsyncPolicy::kAlways, /*compact_after=*/25, /*durable_engine=*/true,
                 /*pipelined_sync=*/true, /*manual_wal_flush=*/true);
  whole_cluster_power_loss_rounds(sim);
}

// The same power loss with fsync=no loses acknowledged writes: the scenario
// can tell a store that syncs from one that doesn't.
TEST(DiskFaults, H16_WithoutFsyncThePowerLossLosesWrites) {
  SimCluster sim(2, storage::FsyncPolicy::kNo);
  ASSERT_TRUE(sim.ok());
  LocalCluster& c = sim.c();
  Acked acked;
  write_keys(c, "k", 20, acked);
  ASSERT_EQ(acked.size(), 20u);
  for (NodeId id : c.nodes()) sim.disk(id).halt();
  for (NodeId id : c.nodes()) c.crash(id);
  for (NodeId id : c.nodes()) sim.disk(id).crash(env::CrashMode::kLoseUnsynced);
  // Bootstrap again where nothing survived, so that there is a leader to ask.
  for (NodeId id : c.nodes()) ASSERT_TRUE(c.start(id, /*bootstrap=*/true).is_ok());
  auto l = c.wait_leader();
  ASSERT_TRUE(l.has_value());
  int found = 0;
  for (const auto& [key, value] : acked) found += c.read(*l, {"GET", key}) == "$" + value;
  EXPECT_LT(found, 20);
}

// Flushes every column family of node `id`'s RocksDB, so that its restart
// reads SST blocks (where bit flips are caught by block checksums), not only
// the WAL.
void flush(LocalCluster& c, NodeId id) {
  storage::RocksDb& db = c.rocks_store(id)->db();
  rocksdb::FlushOptions fo;
  ASSERT_TRUE(db.db()->Flush(fo, {db.data(), db.raft_log(), db.raft_state()}).ok());
}

// What one bit-flip trial saw at the corrupting node's restart.
enum class FlipResult { kRefused, kStoppedLater, kServedCorrectly, kNoFlip };

// H15/H19: node X restarts on a disk that flips bits on read. It either
// refuses to start (corruption detected) or starts with everything it had
// acknowledged and serves only correct data; the other nodes serve correct
// data throughout; once the disk is healthy X restarts and converges.
FlipResult bit_flip_trial(uint64_t seed, double p) {
  SimCluster sim(seed, storage::FsyncPolicy::kAlways, /*compact_after=*/40);
  EXPECT_TRUE(sim.ok());
  LocalCluster& c = sim.c();
  Acked acked;
  write_keys(c, "a", 100, acked);
  EXPECT_EQ(acked.size(), 100u);
  NodeId x = *c.leader() == NodeId(1) ? NodeId(2) : NodeId(1);  // a follower
  EXPECT_TRUE(c.converge().is_ok());
  flush(c, x);
  write_keys(c, "b", 10, acked);  // and some in the WAL only
  EXPECT_TRUE(c.converge().is_ok());
  LogIndex had = c.replica(x)->raft().log().last_index();
  c.crash(x);
  sim.disk(x).flip_bit_on_read(p);

  FlipResult result = FlipResult::kRefused;
  Status started = c.start(x, /*bootstrap=*/false);
  if (!started.is_ok()) {
    EXPECT_TRUE(started.code() == StatusCode::kCorruption || started.code() == StatusCode::kIoError)
        << started.to_string();
  } else {
    result = FlipResult::kServedCorrectly;
    // A node must not forget log entries it acknowledged (H16): a flipped
    // record is corruption, not the end of the log.
    EXPECT_GE(c.replica(x)->raft().log().last_index(), had) << "node forgot acknowledged entries";
    write_keys(c, "c", 10, acked);
    if (c.host(x)->failed()) {
      // A read after the start failed its checksum: the host stopped.
      result = FlipResult::kStoppedLater;
    } else {
      EXPECT_EQ(missing_on(c, x, acked), 0);  // reads served by X itself
      Status conv = c.converge();
      EXPECT_TRUE(conv.is_ok()) << conv.to_string();
    }
  }
  // Few reads happen at a restart: at low p some trials flip nothing.
  if (sim.disk(x).stats().bit_flips == 0) result = FlipResult::kNoFlip;
  for (NodeId other : c.nodes()) {
    if (other != x) {
      EXPECT_EQ(missing_on(c, other, acked), 0);
    }
  }
  // The stored bytes were never corrupted: with a healthy bus X comes back.
  sim.disk(x).flip_bit_on_read(0);
  c.crash(x);
  Status again = c.start(x, /*bootstrap=*/false);
  EXPECT_TRUE(again.is_ok()) << again.to_string();
  if (again.is_ok()) {
    EXPECT_GE(c.replica(x)->raft().log().last_index(), had)
        << "a read fault at an earlier start made the node forget acknowledged entries";
    Status conv = c.converge();
    EXPECT_TRUE(conv.is_ok()) << conv.to_string();
    EXPECT_EQ(missing_on(c, x, acked), 0);
  }
  return result;
}

TEST(DiskFaults, H15_H19_BitFlipsOnReadAreNeverServed) {
  std::map<FlipResult, int> seen;
  uint64_t seed = 10;
  for (double p : {1.0, 0.3, 0.1, 0.03}) {
    for (int rep = 0; rep < 3; ++rep, ++seed) {
      SCOPED_TRACE("p=" + std::to_string(p) + " seed=" + std::to_string(seed));
      seen[bit_flip_trial(seed, p)]++;
      if (HasFailure()) return;
    }
  }
  // Flips were detected at least once (p=1 flips every read); report the mix.
  EXPECT_GT(seen[FlipResult::kRefused], 0);
  std::cout << "bit-flip trials: refused " << seen[FlipResult::kRefused]
            << ", started then stopped " << seen[FlipResult::kStoppedLater]
            << ", started and served correctly " << seen[FlipResult::kServedCorrectly]
            << ", no flip " << seen[FlipResult::kNoFlip] << "\n";
}

// KNOWN BUG (reported, not fixed here; run with --gtest_also_run_disabled_tests):
// a bit flipped while RocksDB replays the WAL at open makes kPointInTimeRecovery
// stop at that record as if it were a torn tail, and the recovery flush makes
// the cut permanent: the node forgets entries it had fsynced and acknowledged
// (112 -> 107 with this seed) even though the stored bytes are intact, and then
// never catches up (the leader's match index for it is past its log). The
// persisted_ack check can't see it: 'k' is in the same WAL batches. Needs a
// durable watermark outside the WAL (docs/durable-shards.md, persisted_ack).
// Seed 84 once made point-in-time WAL recovery cut acknowledged entries at a
// record that only read corrupt (fixed in storage::RocksDb::open).
TEST(DiskFaults, H16_FlipInWalAtOpenMustNotDropAcknowledgedEntries) { bit_flip_trial(84, 0.3); }

// H16/H18: an fsync that fails on the leader's disk. The pending write is not
// acknowledged OK, the host stops acknowledging anything, a new leader takes
// over, and the old leader, restarted from its crashed disk, has lost nothing
// acknowledged.
TEST(DiskFaults, H16_FailedFsyncOnLeaderIsNeverAcknowledged) {
  SimCluster sim(3);
  ASSERT_TRUE(sim.ok());
  LocalCluster& c = sim.c();
  Acked acked;
  write_keys(c, "a", 20, acked);
  ASSERT_EQ(acked.size(), 20u);
  NodeId old = *c.leader();
  sim.disk(old).fail_next_sync(SimCluster::prefix(old));

  std::optional<Outcome> first;
  c.propose({"SET", "x", "1"}, 0, 0, 1, [&](const Outcome& o) { first = o; });
  for (int i = 0; i < 50 && !first; ++i) c.tick();
  ASSERT_TRUE(first.has_value()) << "the write got no outcome";
  EXPECT_FALSE(first->status.is_ok()) << "acknowledged a write whose fsync failed";
  EXPECT_EQ(first->status.code(), StatusCode::kUnknownOutcome) << first->status.to_string();
  EXPECT_EQ(sim.disk(old).stats().failed_syncs, 1u);
  ASSERT_TRUE(c.host(old)->failed());

  // The failed host acknowledges nothing more, even though its Raft still
  // believes it leads.
  std::optional<Outcome> later;
  c.replica(old)->propose(kv::WriteCommand{0, 0, c.clock().now_ms(), {"SET", "y", "1"}},
                          [&](Status s, kv::RecordedReply) {
                            later = Outcome{s, ""};
                          });
  auto fresh = c.wait_leader();
  ASSERT_TRUE(fresh.has_value());
  EXPECT_NE(*fresh, old);
  write_keys(c, "b", 20, acked);
  EXPECT_EQ(acked.size(), 40u);
  ASSERT_TRUE(later.has_value()) << "a failed host left a write without an answer";
  EXPECT_FALSE(later->status.is_ok()) << "a failed host acknowledged a write";

  sim.power_cut(old, env::CrashMode::kTornTail);
  Status s = c.start(old, /*bootstrap=*/false);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  Status conv = c.converge();
  EXPECT_TRUE(conv.is_ok()) << conv.to_string();
  EXPECT_EQ(missing_on(c, old, acked), 0);
  // The restarted node now counts towards the majority: without the other
  // follower, nothing acknowledged may be missing either.
  NodeId leader = *c.wait_leader();
  for (NodeId id : c.nodes()) {
    if (id != old && id != leader) c.crash(id);
  }
  auto l = c.wait_leader();
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(missing_on(c, *l, acked), 0);
}

// ENOSPC on the leader's disk: its writes are never acknowledged OK, another
// node takes over, and once space is freed the node restarts and catches up.
TEST(DiskFaults, EnospcOnLeaderMovesLeadership) {
  SimCluster sim(4);
  ASSERT_TRUE(sim.ok());
  LocalCluster& c = sim.c();
  Acked acked;
  write_keys(c, "a", 20, acked);
  ASSERT_EQ(acked.size(), 20u);
  NodeId old = *c.leader();
  sim.disk(old).enospc_after_bytes(0);

  std::optional<Outcome> first;
  c.propose({"SET", "x", "1"}, 0, 0, 1, [&](const Outcome& o) { first = o; });
  for (int i = 0; i < 50 && !first; ++i) c.tick();
  ASSERT_TRUE(first.has_value()) << "the write got no outcome";
  EXPECT_FALSE(first->status.is_ok()) << "acknowledged a write with no space to log it";
  EXPECT_TRUE(c.host(old)->failed());

  auto fresh = c.wait_leader();
  ASSERT_TRUE(fresh.has_value());
  EXPECT_NE(*fresh, old);
  write_keys(c, "b", 20, acked);
  EXPECT_EQ(acked.size(), 40u);

  sim.disk(old).clear_enospc();
  c.crash(old);  // a process restart once space is freed
  Status s = c.start(old, /*bootstrap=*/false);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  Status conv = c.converge();
  EXPECT_TRUE(conv.is_ok()) << conv.to_string();
  EXPECT_EQ(missing_on(c, old, acked), 0);
}

}  // namespace
}  // namespace shoal::replica
