// Snapshot transfer: sender throttle and resume, receiver verification and
// crash recovery on SimDisk, orphan GC, the budget (H8, H15, H16), and one
// end-to-end run on the real disk from a RocksDB point-in-time view.
#include "replica/snapshot_transfer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "env/posix_disk.h"
#include "env/sim_disk.h"
#include "kv/state_machine.h"
#include "storage/memory_engine.h"
#include "storage/rocks_db.h"

namespace shoal::replica {
namespace {

constexpr int64_t kSec = 1'000'000'000;
const std::string kDir = "/node";

storage::SnapshotHeader test_header() {
  storage::ConfRecord conf;
  conf.voters = {NodeId(1), NodeId(2), NodeId(3)};
  return storage::SnapshotHeader{ShardId(7), LogIndex(1234), Term(5), conf};
}

// Values are pseudo-random so that LZ4 cannot shrink frames to nothing.
SnapshotRecords make_records(int n, size_t value_bytes = 40) {
  std::mt19937_64 rng(n);
  SnapshotRecords r;
  for (int i = 0; i < n; ++i) {
    std::string v(value_bytes, '\0');
    for (char& c : v) c = static_cast<char>('a' + rng() % 26);
    r.emplace_back("key:" + std::to_string(i), std::move(v));
  }
  return r;
}

SnapshotSenderOptions fast_options(size_t chunk_bytes = 512) {
  SnapshotSenderOptions o;
  o.chunk_bytes = chunk_bytes;
  o.bytes_per_sec = uint64_t{1} << 40;  // the throttle is tested on its own
  o.retain_frames = 2;
  o.skip_frames_per_call = 3;
  return o;
}

struct Transfer {
  SnapshotBudget send_budget{4};
  SnapshotBudget recv_budget{4};
  int64_t now = 0;

  std::unique_ptr<SnapshotSender> sender(const SnapshotRecords& recs,
                                         SnapshotSenderOptions o = fast_options()) {
    auto t = send_budget.acquire();
    EXPECT_TRUE(t.is_ok());
    auto s = SnapshotSender::start(std::move(t).value(), test_header(),
                                   std::make_unique<VectorRecordSource>(recs), o, now);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return std::move(s).value();
  }
  std::unique_ptr<SnapshotReceiver> receiver(env::Disk& disk, uint64_t sync_every = 1 << 20) {
    auto t = recv_budget.acquire();
    EXPECT_TRUE(t.is_ok());
    auto r = SnapshotReceiver::open(std::move(t).value(), disk, kDir, ShardId(7), LogIndex(1234),
                                    SnapshotReceiverOptions{.sync_every_bytes = sync_every});
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : nullptr;
  }
  // The next chunk, advancing simulated time to when the throttle allows it.
  SnapshotChunk pull(SnapshotSender& s) {
    for (int i = 0; i < 100000; ++i) {
      auto c = s.next_chunk(now);
      EXPECT_TRUE(c.is_ok()) << c.status().to_string();
      if (c.value()) return std::move(*c.value());
      now = std::max(now, s.ready_at());
    }
    ADD_FAILURE() << "sender never produced a chunk";
    return {};
  }
  // Delivers chunks until `stop_after` frames were received or the end.
  void pump(SnapshotSender& s, SnapshotReceiver& r, uint64_t stop_after = UINT64_MAX) {
    while (!s.done() && r.resume_point() < stop_after) {
      SnapshotChunk c = pull(s);
      ASSERT_TRUE(r.receive(c.index, c.bytes).is_ok()) << "frame " << c.index;
      EXPECT_EQ(c.last, r.complete());
    }
  }
};

std::vector<std::string> all_frames(const SnapshotRecords& recs) {
  Transfer t;
  auto s = t.sender(recs);
  std::vector<std::string> frames;
  while (!s->done()) frames.push_back(t.pull(*s).bytes);
  return frames;
}

void expect_loaded(env::Disk& disk, const SnapshotRecords& recs) {
  auto loaded = load_snapshot(disk, kDir, ShardId(7), LogIndex(1234));
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded.value().header, test_header());
  EXPECT_EQ(loaded.value().records, recs);
}

void init_disk(env::SimDisk& disk) {
  SHOAL_ASSERT(disk.create_dir(kDir).is_ok() && disk.sync_dir("/").is_ok());
}

TEST(SnapshotTransfer, RoundTrip) {
  SnapshotRecords recs = make_records(300);
  env::SimDisk disk(1);
  init_disk(disk);
  Transfer t;
  auto s = t.sender(recs);
  auto r = t.receiver(disk);
  t.pump(*s, *r);
  ASSERT_TRUE(r->complete());
  EXPECT_GT(s->next_index(), 10u);  // many chunks, not one blob
  EXPECT_FALSE(disk.exists(kDir + "/snap/7-1234.tmp").value());
  EXPECT_TRUE(disk.durable_contents(r->snap_path()).is_ok());  // survives power loss
  expect_loaded(disk, recs);
  // Empty state: header and trailer only.
  env::SimDisk disk2(2);
  init_disk(disk2);
  auto s2 = t.sender({});
  auto r2 = t.receiver(disk2);
  t.pump(*s2, *r2);
  EXPECT_EQ(s2->next_index(), 2u);
  expect_loaded(disk2, {});
}

TEST(SnapshotTransfer, ThrottleHoldsTheRate) {
  const uint64_t rate = 100'000, burst = 10'000;
  SnapshotSenderOptions o = fast_options(2000);
  o.bytes_per_sec = rate;
  o.burst_bytes = burst;
  Transfer t;
  auto s = t.sender(make_records(20000), o);  // ~800 KB: 8 s at this rate
  uint64_t sent = 0, max_frame = 0;
  for (int64_t ms = 0; ms <= 6000; ++ms) {
    int64_t now = ms * 1'000'000;
    while (true) {
      auto c = s->next_chunk(now);
      ASSERT_TRUE(c.is_ok());
      if (!c.value()) {
        EXPECT_GT(s->ready_at(), now);  // nothing before ready_at
        break;
      }
      sent += c.value()->bytes.size();
      max_frame = std::max<uint64_t>(max_frame, c.value()->bytes.size());
    }
    if (ms % 1000 == 0 && ms > 0) {
      uint64_t ideal = rate * static_cast<uint64_t>(ms / 1000);
      EXPECT_LE(sent, ideal + burst + max_frame) << "at " << ms << " ms";  // not faster
      EXPECT_GE(sent + max_frame, ideal) << "at " << ms << " ms";          // about N per second
    }
  }
  ASSERT_FALSE(s->done());
  // At ready_at exactly, a chunk comes out.
  int64_t at = s->ready_at();
  auto c = s->next_chunk(at);
  ASSERT_TRUE(c.is_ok() && c.value());
}

TEST(SnapshotTransfer, ResumeAfterDisconnectAtEveryChunk) {
  SnapshotRecords recs = make_records(200);
  std::vector<std::string> frames = all_frames(recs);
  ASSERT_GT(frames.size(), 8u);
  for (uint64_t k = 0; k < frames.size(); ++k) {
    for (uint64_t in_flight : {0, 1, 5}) {  // chunks sent but lost with the connection
      SCOPED_TRACE("k=" + std::to_string(k) + " lost=" + std::to_string(in_flight));
      env::SimDisk disk(k);
      init_disk(disk);
      Transfer t;
      auto s = t.sender(recs);
      auto r = t.receiver(disk);
      t.pump(*s, *r, k);
      for (uint64_t i = 0; i < in_flight && !s->done(); ++i) (void)t.pull(*s);
      ASSERT_TRUE(s->resume_at(r->resume_point()).is_ok());
      while (!s->done()) {
        SnapshotChunk c = t.pull(*s);
        ASSERT_EQ(c.bytes, frames[c.index]);  // regenerated bytes are identical
        ASSERT_TRUE(r->receive(c.index, c.bytes).is_ok());
      }
      ASSERT_TRUE(r->complete());
      expect_loaded(disk, recs);
    }
  }
  // A different sender (a new leader at the same index) resumes too, and a
  // resume point past the end is refused.
  env::SimDisk disk(99);
  init_disk(disk);
  Transfer t;
  auto first = t.sender(recs);
  auto r = t.receiver(disk);
  t.pump(*first, *r, 5);
  auto second = t.sender(recs);
  ASSERT_TRUE(second->resume_at(r->resume_point()).is_ok());
  t.pump(*second, *r);
  EXPECT_TRUE(r->complete());
  EXPECT_FALSE(second->resume_at(frames.size() + 1).is_ok());
}

TEST(SnapshotTransfer, ReceiverCrashMidTransferResumes) {
  SnapshotRecords recs = make_records(300);
  std::vector<std::string> frames = all_frames(recs);
  const std::string tmp = kDir + "/snap/7-1234.tmp";
  const uint64_t sync_every = 2000;  // about 4 frames, not aligned with them
  for (env::CrashMode mode : {env::CrashMode::kLoseUnsynced, env::CrashMode::kTornTail,
                              env::CrashMode::kTornTailGarbage}) {
    uint64_t resumed_past_zero = 0, torn_tails_cut = 0;
    for (uint64_t k = 1; k < frames.size(); ++k) {
      SCOPED_TRACE("mode=" + std::to_string(int(mode)) + " k=" + std::to_string(k));
      env::SimDisk disk(1000 + k);
      init_disk(disk);
      Transfer t;
      auto s = t.sender(recs);
      auto r = t.receiver(disk, sync_every);
      t.pump(*s, *r, k);
      disk.crash(mode);  // power loss mid-transfer
      r.reset();
      uint64_t after_crash = disk.file_size(tmp).is_ok() ? disk.file_size(tmp).value() : 0;
      r = t.receiver(disk, sync_every);
      ASSERT_NE(r, nullptr);
      ASSERT_LE(r->resume_point(), k);
      if (r->resume_point() > 0) ++resumed_past_zero;
      if (r->resume_point() > 0 && disk.file_size(tmp).value() < after_crash) ++torn_tails_cut;
      ASSERT_TRUE(s->resume_at(r->resume_point()).is_ok());
      t.pump(*s, *r);
      ASSERT_TRUE(r->complete());
      expect_loaded(disk, recs);
    }
    EXPECT_GT(resumed_past_zero, frames.size() / 2);  // synced progress survived
    if (mode != env::CrashMode::kLoseUnsynced) {
      EXPECT_GT(torn_tails_cut, 0u);
    }
  }
}

TEST(SnapshotTransfer, CorruptOrMisplacedChunkIsRejected) {
  SnapshotRecords recs = make_records(200);
  std::vector<std::string> frames = all_frames(recs);
  env::SimDisk disk(3);
  init_disk(disk);
  Transfer t;
  auto r = t.receiver(disk);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(r->receive(i, frames[i]).is_ok());
  const std::string tmp = kDir + "/snap/7-1234.tmp";
  uint64_t size = disk.file_size(tmp).value();
  std::string bad = frames[3];
  bad[bad.size() / 2] ^= 0x10;
  EXPECT_EQ(r->receive(3, bad).code(), StatusCode::kCorruption);
  EXPECT_EQ(r->receive(3, frames[3].substr(0, 20)).code(), StatusCode::kCorruption);
  EXPECT_EQ(r->receive(3, frames[4]).code(), StatusCode::kCorruption);  // wrong position
  EXPECT_EQ(r->receive(4, frames[4]).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->receive(2, frames[2]).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->resume_point(), 3u);
  EXPECT_EQ(disk.file_size(tmp).value(), size);  // nothing written
  // The receiver carries on with the good frame.
  for (uint64_t i = 3; i < frames.size(); ++i) ASSERT_TRUE(r->receive(i, frames[i]).is_ok());
  EXPECT_TRUE(r->complete());
  expect_loaded(disk, recs);
  // Another snapshot's header is refused.
  storage::SnapshotHeader other = test_header();
  other.shard = ShardId(8);
  storage::SnapshotWriter w(other);
  env::SimDisk disk2(4);
  init_disk(disk2);
  auto r2 = t.receiver(disk2);
  EXPECT_EQ(r2->receive(0, w.take_frame()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r2->resume_point(), 0u);
}

// Fails sync_dir of one directory; everything else goes to the SimDisk.
class DirSyncFailingDisk final : public env::Disk {
 public:
  DirSyncFailingDisk(env::SimDisk& d, std::string dir) : d_(d), dir_(std::move(dir)) {}
  Result<std::unique_ptr<env::ReadableFile>> open_read(const std::string& p) override {
    return d_.open_read(p);
  }
  Result<std::unique_ptr<env::WritableFile>> open_append(const std::string& p,
                                                         env::AppendOptions o) override {
    return d_.open_append(p, o);
  }
  Status rename(const std::string& a, const std::string& b) override { return d_.rename(a, b); }
  Status remove(const std::string& p) override { return d_.remove(p); }
  Status truncate(const std::string& p, uint64_t n) override { return d_.truncate(p, n); }
  Status create_dir(const std::string& p) override { return d_.create_dir(p); }
  Status remove_dir(const std::string& p) override { return d_.remove_dir(p); }
  Status sync_dir(const std::string& p) override {
    if (fail && p == dir_) return Status::io_error("fsync " + p + ": injected");
    return d_.sync_dir(p);
  }
  Result<std::vector<std::string>> list_dir(const std::string& p) override {
    return d_.list_dir(p);
  }
  Result<uint64_t> file_size(const std::string& p) override { return d_.file_size(p); }
  Result<bool> exists(const std::string& p) override { return d_.exists(p); }
  Result<bool> is_dir(const std::string& p) override { return d_.is_dir(p); }
  Result<std::unique_ptr<env::FileLock>> lock(const std::string& p) override { return d_.lock(p); }
  bool fail = false;

 private:
  env::SimDisk& d_;
  std::string dir_;
};

TEST(SnapshotTransfer, CompletedFileWithoutDirectorySyncIsNotComplete) {
  SnapshotRecords recs = make_records(100);
  std::vector<std::string> frames = all_frames(recs);
  env::SimDisk sim(5);
  init_disk(sim);
  DirSyncFailingDisk disk(sim, kDir + "/snap");
  Transfer t;
  auto r = t.receiver(disk);
  for (size_t i = 0; i + 1 < frames.size(); ++i) ASSERT_TRUE(r->receive(i, frames[i]).is_ok());
  disk.fail = true;
  EXPECT_EQ(r->receive(frames.size() - 1, frames.back()).code(), StatusCode::kIoError);
  EXPECT_FALSE(r->complete());
  r.reset();
  sim.crash(env::CrashMode::kLoseUnsynced);
  // The rename did not survive: no .snap, and nothing to load.
  EXPECT_FALSE(sim.exists(kDir + "/snap/7-1234.snap").value());
  EXPECT_FALSE(load_snapshot(sim, kDir, ShardId(7), LogIndex(1234)).is_ok());
  // A new receiver finds the fully synced .tmp and finishes the job.
  disk.fail = false;
  r = t.receiver(disk);
  EXPECT_TRUE(r->complete());
  sim.crash(env::CrashMode::kLoseUnsynced);
  expect_loaded(sim, recs);
}

TEST(SnapshotTransfer, FailedFsyncDiscardsThePartialFile) {
  SnapshotRecords recs = make_records(100);
  std::vector<std::string> frames = all_frames(recs);
  env::SimDisk disk(6);
  init_disk(disk);
  Transfer t;
  auto r = t.receiver(disk, /*sync_every=*/1);
  ASSERT_TRUE(r->receive(0, frames[0]).is_ok());
  disk.fail_next_sync(kDir + "/snap/7-1234.tmp");
  EXPECT_EQ(r->receive(1, frames[1]).code(), StatusCode::kIoError);
  EXPECT_EQ(r->receive(2, frames[2]).code(), StatusCode::kIoError);  // stays failed
  r.reset();
  r = t.receiver(disk, 1);
  EXPECT_EQ(r->resume_point(), 0u);  // starts over
}

TEST(SnapshotTransfer, GcRemovesOrphansAndKeepsListed) {
  env::SimDisk disk(7);
  init_disk(disk);
  EXPECT_TRUE(gc_snapshot_files(disk, kDir, {}).value().empty());  // no snap dir yet
  ASSERT_TRUE(disk.create_dir(kDir + "/snap").is_ok() && disk.sync_dir(kDir).is_ok());
  for (const char* name :
       {"1-5.tmp", "1-9.snap", "2-3.snap", "2-3.tmp.rewrite", "3-4.tmp", "notes.txt"}) {
    ASSERT_TRUE(env::write_file_atomically(disk, kDir + "/snap/" + name, "x").is_ok());
  }
  auto removed = gc_snapshot_files(disk, kDir, {"1-9.snap", "3-4.tmp"});
  ASSERT_TRUE(removed.is_ok());
  std::set<std::string> got(removed.value().begin(), removed.value().end());
  EXPECT_EQ(got, (std::set<std::string>{"1-5.tmp", "2-3.snap", "2-3.tmp.rewrite"}));
  disk.crash(env::CrashMode::kLoseUnsynced);  // the removals are durable
  auto left = disk.list_dir(kDir + "/snap").value();
  EXPECT_EQ(std::set<std::string>(left.begin(), left.end()),
            (std::set<std::string>{"1-9.snap", "3-4.tmp", "notes.txt"}));
}

TEST(SnapshotTransfer, BudgetRefusesTheNPlusFirst) {
  SnapshotBudget budget(2);
  auto a = budget.acquire();
  auto b = budget.acquire();
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  auto c = budget.acquire();
  EXPECT_EQ(c.status().code(), StatusCode::kBusy);
  EXPECT_EQ(budget.in_use(), 2u);
  {
    auto s = SnapshotSender::start(std::move(a).value(), test_header(),
                                   std::make_unique<VectorRecordSource>(SnapshotRecords{}),
                                   fast_options(), 0);
    ASSERT_TRUE(s.is_ok());
    EXPECT_EQ(budget.acquire().status().code(), StatusCode::kBusy);
  }  // the sender is gone: its place is free
  EXPECT_EQ(budget.in_use(), 1u);
  EXPECT_TRUE(budget.acquire().is_ok());
}

TEST(SnapshotTransfer, PosixEndToEndFromRocksPointInTime) {
  char tmpl[] = "/tmp/shoal-snap-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  {
    auto db = storage::RocksDb::open({.path = root + "/db"});
    ASSERT_TRUE(db.is_ok()) << db.status().to_string();
    rocksdb::DB* rdb = db.value()->db();
    auto* cf = db.value()->data();
    SnapshotRecords recs = make_records(500);
    for (const auto& [k, v] : recs) ASSERT_TRUE(rdb->Put({}, cf, "S7/" + k, v).ok());
    ASSERT_TRUE(rdb->Put({}, cf, "S8/other", "shard").ok());
    auto source = std::make_unique<RocksRangeSource>(rdb, cf, "S7/");
    // Writes after the snapshot point are not part of it.
    ASSERT_TRUE(rdb->Put({}, cf, "S7/key:1", "changed").ok());
    ASSERT_TRUE(rdb->Put({}, cf, "S7/new", "new").ok());
    ASSERT_TRUE(rdb->Delete({}, cf, "S7/key:2").ok());
    std::sort(recs.begin(), recs.end());  // RocksDB key order

    env::Disk& disk = env::PosixDisk::instance();
    ASSERT_TRUE(disk.create_dir(root + "/node").is_ok());
    Transfer t;
    auto s = SnapshotSender::start(t.send_budget.acquire().value(), test_header(),
                                   std::move(source), fast_options(4096), 0);
    ASSERT_TRUE(s.is_ok());
    auto r = SnapshotReceiver::open(t.recv_budget.acquire().value(), disk, root + "/node",
                                    ShardId(7), LogIndex(1234));
    ASSERT_TRUE(r.is_ok());
    t.pump(*s.value(), *r.value(), 4);
    ASSERT_TRUE(s.value()->resume_at(2).is_ok());  // past the window: regenerated
    EXPECT_EQ(r.value()->receive(2, t.pull(*s.value()).bytes).code(), StatusCode::kInvalidArgument);
    ASSERT_TRUE(s.value()->resume_at(r.value()->resume_point()).is_ok());
    t.pump(*s.value(), *r.value());
    ASSERT_TRUE(r.value()->complete());
    auto loaded = load_snapshot(disk, root + "/node", ShardId(7), LogIndex(1234));
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_EQ(loaded.value().records, recs);
  }
  std::filesystem::remove_all(root);
}

TEST(SnapshotTransfer, StateMachineBlobRoundTrip) {
  kv::StateMachine sm(std::make_unique<storage::MemoryEngine>());
  for (int i = 0; i < 200; ++i) {
    (void)sm.apply(kv::WriteCommand{
        1, uint64_t(i + 1), 1000 + i, {"SET", "k" + std::to_string(i), std::string(100, 'v')}});
  }
  auto source = state_machine_source(sm, 1000);
  SnapshotRecords recs;
  while (auto rec = source->next().value()) recs.emplace_back(rec->first, rec->second);
  ASSERT_GT(recs.size(), 10u);
  kv::StateMachine copy(std::make_unique<storage::MemoryEngine>());
  ASSERT_TRUE(restore_state_machine(copy, recs).is_ok());
  EXPECT_EQ(copy.state_hash(), sm.state_hash());
  std::swap(recs[1], recs[2]);
  EXPECT_FALSE(restore_state_machine(copy, recs).is_ok());
}

}  // namespace
}  // namespace shoal::replica
