// Snapshot files on env::SimDisk (review of session 6): power losses at random
// points while files are written, staged and collected; a failed WAL sync in
// the collection; a deferred compaction meeting a leader's snapshot; a file
// name repeated across a restart.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "env/rocksdb_fs.h"
#include "env/sim_disk.h"
#include "replica/local_cluster.h"
#include "replica/rocks_log_store.h"

namespace shoal::replica {
namespace {

using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;

// One node's disk: a SimDisk holding /db, RocksDB's Env on it, and the
// options of a store at /db/raft.
struct OneDisk {
  explicit OneDisk(uint64_t seed) : disk(seed) {
    EXPECT_TRUE(disk.create_dir("/db").is_ok());
    EXPECT_TRUE(disk.sync_dir("/").is_ok());
    env = env::new_rocks_env(&disk);
    options.path = "/db/raft";
    options.env = env.get();
  }
  env::SimDisk disk;
  std::unique_ptr<rocksdb::Env> env;
  storage::RocksDbOptions options;
};

// A failed WAL fsync in the collection (the sync before deleting unnamed
// files) must fail that commit: nothing may be acknowledged after a failed
// fsync (group_commit.h).
TEST(SnapshotFilesOnSimDisk, AFailedWalSyncInTheCollectionFailsTheCommit) {
  OneDisk d(7);
  env::SimDisk& disk = d.disk;
  const storage::RocksDbOptions& o = d.options;
  testing::FakeClock clock;
  ShardId shard(1);
  std::string big(100 << 10, 'x');
  raft::ConfState conf{{NodeId(1)}, {}, {}, {}, false};
  Status acked;  // what the SyncThread would report to the host
  {
    auto opened = RocksLogStore::open(o, storage::FsyncPolicy::kAlways, clock);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    auto store = std::move(opened).value();
    ASSERT_TRUE(store->load(shard).is_ok());
    // Two leader snapshots (not our own compaction: written synchronously);
    // the second unnames the first file.
    auto b1 = store->new_batch();
    b1->put_hard_state(shard, raft::HardState{Term(1), NodeId(1), LogIndex(5)});
    b1->put_snapshot(shard, raft::Snapshot{{LogIndex(5), Term(1), conf}, big});
    ASSERT_TRUE(store->commit(*b1, true).is_ok());
    auto b2 = store->new_batch();
    b2->put_hard_state(shard, raft::HardState{Term(2), NodeId(1), LogIndex(10)});
    b2->put_snapshot(shard, raft::Snapshot{{LogIndex(10), Term(2), conf}, big});
    ASSERT_TRUE(store->commit(*b2, /*sync=*/false).is_ok());  // pipelined: synced later
    // The next commit's garbage collection syncs the WAL first: that sync fails.
    disk.fail_next_sync("/db/raft/0");
    auto b3 = store->new_batch();
    b3->append(shard, {raft::Entry{Term(2), LogIndex(11), raft::EntryType::kNormal, "e11"}});
    Status c3 = store->commit(*b3, /*sync=*/false);
    EXPECT_FALSE(c3.is_ok()) << "a failed WAL fsync must fail the commit (and the host)";
    // The SyncThread's sync for b2/b3, after which the host acknowledges them.
    acked = store->sync();
    EXPECT_FALSE(acked.is_ok()) << "sync() reports OK after a failed WAL fsync";
    disk.halt();
  }
  disk.crash(env::CrashMode::kLoseUnsynced);
  if (!acked.is_ok()) return;
  // Acknowledged as durable: term 2, entry 11. What survived?
  auto opened = RocksLogStore::open(o, storage::FsyncPolicy::kAlways, clock);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  auto st = opened.value()->load(shard);
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  ASSERT_TRUE(st.value().has_value());
  EXPECT_EQ(st.value()->hard_state.term, Term(2)) << "acknowledged hard state lost";
  EXPECT_EQ(st.value()->entries.size(), 1u) << "acknowledged entry lost";
}

// Our own compaction's file finishes, and the batch that stages it also
// installs a leader's snapshot: the own file is unnamed in the same batch and
// collected only after a WAL sync; a power loss after the collection restarts
// from the leader's snapshot and its file.
TEST(SnapshotFilesOnSimDisk, DeferredCompactionAndLeaderSnapshotInOneBatch) {
  OneDisk d(9);
  env::SimDisk& disk = d.disk;
  const storage::RocksDbOptions& o = d.options;
  testing::FakeClock clock;
  ShardId shard(1);
  raft::ConfState conf{{NodeId(1)}, {}, {}, {}, false};
  auto list = [&] {
    auto l = disk.list_dir("/db/raft/snapshots");
    return l.is_ok() ? l.value() : std::vector<std::string>{};
  };
  {
    auto store = RocksLogStore::open(o, storage::FsyncPolicy::kEverySec, clock).value();
    ASSERT_TRUE(store->load(shard).is_ok());
    auto b1 = store->new_batch();
    b1->put_hard_state(shard, raft::HardState{Term(1), NodeId(1), LogIndex(20)});
    std::vector<raft::Entry> es;
    for (uint64_t i = 1; i <= 20; ++i)
      es.push_back({Term(1), LogIndex(i), raft::EntryType::kNormal, "e"});
    b1->append(shard, es);
    ASSERT_TRUE(store->commit(*b1, true).is_ok());
    auto b2 = store->new_batch();
    b2->put_snapshot(shard,
                     raft::Snapshot{{LogIndex(10), Term(1), conf}, std::string(100 << 10, 'a')});
    ASSERT_TRUE(store->commit(*b2, true).is_ok());
    store->drain_snapshot_writes();
    ASSERT_EQ(list().size(), 1u);
    auto b3 = store->new_batch();
    b3->put_snapshot(shard,
                     raft::Snapshot{{LogIndex(30), Term(2), conf}, std::string(100 << 10, 'b')});
    b3->put_hard_state(shard, raft::HardState{Term(2), NodeId(2), LogIndex(30)});
    ASSERT_TRUE(store->commit(*b3, /*sync=*/false).is_ok());
    EXPECT_EQ(list().size(), 2u);
    auto b4 = store->new_batch();
    b4->append(shard, {raft::Entry{Term(2), LogIndex(31), raft::EntryType::kNormal, "x"}});
    ASSERT_TRUE(store->commit(*b4, /*sync=*/false).is_ok());
    EXPECT_EQ(list().size(), 1u);
    disk.halt();
  }
  disk.crash(env::CrashMode::kLoseUnsynced);
  auto store = RocksLogStore::open(o, storage::FsyncPolicy::kEverySec, clock).value();
  auto st = store->load(shard);
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  ASSERT_TRUE(st.value().has_value());
  EXPECT_EQ(st.value()->snapshot.meta.index, LogIndex(30));
  EXPECT_EQ(st.value()->snapshot.data, std::string(100 << 10, 'b'));
  EXPECT_TRUE(st.value()->entries.empty());
  EXPECT_EQ(list().size(), 1u);
}

// Power losses at many points while snapshot files are written, staged and
// collected (SimDisk's three crash modes, one node or all): every node must
// restart (no missing or damaged file) and, with fsync=always, keep every
// acknowledged write.
void power_loss_trial(uint64_t seed, storage::FsyncPolicy fsync, bool pipelined,
                      bool durable_engine, size_t value_bytes = 2000) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::map<NodeId, std::unique_ptr<env::SimDisk>> disks;
  std::map<NodeId, std::unique_ptr<rocksdb::Env>> envs;
  LocalClusterOptions o;
  o.host.defer_sync = pipelined;
  o.store = StoreKind::kRocks;
  o.durable_engine = durable_engine;
  o.dir = "/db";
  o.fsync = fsync;
  o.replica.compact_after_writes = 20;
  for (int i = 1; i <= 3; ++i) {
    NodeId id(i);
    disks[id] = std::make_unique<env::SimDisk>(seed * 31 + i);
    ASSERT_TRUE(disks[id]->create_dir("/db").is_ok());
    ASSERT_TRUE(disks[id]->sync_dir("/").is_ok());
    envs[id] = env::new_rocks_env(disks[id].get());
    o.rocks_envs[id] = envs[id].get();
  }
  auto cr = LocalCluster::create(std::move(o));
  ASSERT_TRUE(cr.is_ok()) << cr.status().to_string();
  auto cluster = std::move(cr).value();
  LocalCluster& c = *cluster;
  std::map<std::string, std::string> acked;
  std::mt19937_64 rng(seed);
  const std::string value(value_bytes, 'v');  // 40 keys: ~80 KB snapshots
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(c.wait_leader().has_value());
    int n = 30 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      std::string key = "k" + std::to_string(rng() % 40);
      std::string v = value + std::to_string(round) + "-" + std::to_string(i);
      auto out = c.write({"SET", key, v});
      if (out.status.is_ok()) acked[key] = v;
    }
    // Sometimes let the writers finish so the next pump stages, sometimes not.
    if (rng() % 2) {
      for (NodeId id : c.nodes()) c.rocks_store(id)->drain_snapshot_writes();
      c.pump_round();
    }
    for (int i = 0; i < 5; ++i) {
      std::string key = "f" + std::to_string(round) + "-" + std::to_string(i);
      std::string v = "vf" + std::to_string(round) + "-" + std::to_string(i);
      c.propose({"SET", key, v}, 0, 0, 1, [&acked, key, v](const testing::Outcome& out) {
        if (out.status.is_ok()) acked[key] = v;
      });
    }
    c.pump_round();
    auto mode = static_cast<env::CrashMode>(rng() % 3);
    std::vector<NodeId> victims;
    if (rng() % 2)
      victims = c.nodes();
    else
      victims = {NodeId(1 + rng() % 3)};
    for (NodeId id : victims) disks[id]->halt();
    for (NodeId id : victims) c.crash(id);
    for (NodeId id : victims) disks[id]->crash(mode);
    for (NodeId id : victims) {
      Status s = c.start(id, /*bootstrap=*/false);
      ASSERT_TRUE(s.is_ok()) << "node " << id.value() << ": " << s.to_string();
    }
    auto l = c.wait_leader();
    if (fsync != storage::FsyncPolicy::kAlways) {
      // Without fsync a whole-cluster power loss may lose terms and votes
      // (pre-existing, also with inline snapshots): only the restart is
      // checked here.
      if (!l || !c.converge().is_ok()) break;
      acked.clear();
      continue;
    }
    ASSERT_TRUE(l.has_value());
    if (fsync == storage::FsyncPolicy::kAlways) {
      for (const auto& [key, v] : acked) {
        std::string got = c.read(*l, {"GET", key});
        ASSERT_TRUE(got == "$" + v)
            << key << ": got " << got.substr(got.size() > 20 ? got.size() - 20 : 0);
      }
    } else {
      // Lost writes are allowed; re-read what the cluster holds as acked.
      for (auto& [key, v] : acked) {
        std::string got = c.read(*l, {"GET", key});
        v = got.size() > 1 ? got.substr(1) : v;
      }
    }
    Status conv = c.converge();
    ASSERT_TRUE(conv.is_ok()) << conv.to_string();
  }
  cluster.reset();
}

TEST(SnapshotFilesOnSimDisk, PowerLossKeepsAcknowledgedWrites) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    power_loss_trial(seed, storage::FsyncPolicy::kAlways, false, false);
  }
}
TEST(SnapshotFilesOnSimDisk, PowerLossKeepsAcknowledgedWritesWithPipelinedSync) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    power_loss_trial(seed, storage::FsyncPolicy::kAlways, true, false);
  }
}
TEST(SnapshotFilesOnSimDisk, PowerLossWithoutFsyncStillRestarts) {
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    power_loss_trial(seed, storage::FsyncPolicy::kNo, false, false);
  }
}

// File names must not repeat across restarts (the numbering continues after
// the highest on disk): with a repeated name the collection of the superseded
// file would delete the one that replaced it. The clock is frozen so that only
// the numbering keeps the names apart.
class FrozenClockEnv : public rocksdb::EnvWrapper {
 public:
  explicit FrozenClockEnv(rocksdb::Env* t) : rocksdb::EnvWrapper(t) {}
  const char* Name() const override { return "FrozenClockEnv"; }
  uint64_t NowMicros() override { return 1234567; }
};

TEST(SnapshotFilesOnSimDisk, ASnapshotAtTheSameIndexAfterARestartKeepsItsFile) {
  OneDisk d(11);
  FrozenClockEnv frozen(d.env.get());
  storage::RocksDbOptions o = d.options;
  o.env = &frozen;
  testing::FakeClock clock;
  ShardId shard(1);
  raft::ConfState conf{{NodeId(1)}, {}, {}, {}, false};
  raft::Snapshot snap{{LogIndex(5), Term(1), conf}, std::string(100 << 10, 's')};
  {
    auto store = RocksLogStore::open(o, storage::FsyncPolicy::kAlways, clock).value();
    ASSERT_TRUE(store->load(shard).is_ok());
    auto b = store->new_batch();
    b->put_hard_state(shard, raft::HardState{Term(1), NodeId(1), LogIndex(5)});
    b->put_snapshot(shard, snap);
    ASSERT_TRUE(store->commit(*b, true).is_ok());
  }
  {
    auto store = RocksLogStore::open(o, storage::FsyncPolicy::kAlways, clock).value();
    ASSERT_TRUE(store->load(shard).is_ok());
    auto b = store->new_batch();
    b->put_snapshot(shard, snap);  // same index and term, and a frozen clock
    ASSERT_TRUE(store->commit(*b, true).is_ok());
    auto b2 = store->new_batch();
    b2->put_hard_state(shard, raft::HardState{Term(2), NodeId(1), LogIndex(5)});
    ASSERT_TRUE(store->commit(*b2, true).is_ok());  // collects
  }
  auto store = RocksLogStore::open(o, storage::FsyncPolicy::kAlways, clock).value();
  auto st = store->load(shard);
  EXPECT_TRUE(st.is_ok()) << st.status().to_string();
}

}  // namespace
}  // namespace shoal::replica
