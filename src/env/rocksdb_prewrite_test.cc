// RocksDB with pre-written WAL space (RocksFileSystem's wal_prewrite_bytes):
// a WAL left with a zero tail by a crash replays in full, even under
// RocksDB's strictest recovery mode, on SimDisk and on the real disk.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

#include "env/posix_disk.h"
#include "env/rocksdb_fs.h"
#include "env/sim_disk.h"

namespace shoal::env {
namespace {

constexpr uint64_t kPrewrite = 64 << 10;
constexpr char kDbPath[] = "/data/db";

std::string key(const std::string& prefix, int i) { return prefix + std::to_string(1000 + i); }

// Opens `path` as the server does (storage::RocksDb::open): a clean WAL
// first (kAbsoluteConsistency), and only if that reports corruption, a cut
// at the last intact batch. `strict_ok` tells which one opened it.
rocksdb::Status open_db(rocksdb::Env* env, const std::string& path,
                        std::unique_ptr<rocksdb::DB>& db, bool* strict_ok = nullptr) {
  rocksdb::Options options;
  options.env = env;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (strict_ok) *strict_ok = s.ok();
  if (s.IsCorruption()) {
    options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    s = rocksdb::DB::Open(options, path, &raw);
  }
  if (s.ok()) db.reset(raw);
  return s;
}

std::optional<std::string> get(rocksdb::DB& db, const std::string& k) {
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), k, &value);
  if (s.IsNotFound()) return std::nullopt;
  EXPECT_TRUE(s.ok()) << s.ToString();
  return value;
}

rocksdb::Status put(rocksdb::DB& db, const std::string& k, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return db.Put(wo, k, "v");
}

class RocksOnSimDiskWithPrewrittenWal : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(disk_.create_dir("/data").is_ok());
    ASSERT_TRUE(disk_.sync_dir("/").is_ok());
  }
  void open(bool* strict_ok = nullptr) {
    rocksdb::Status s = open_db(env_.get(), kDbPath, db_, strict_ok);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void power_cut(CrashMode mode) {
    disk_.halt();
    db_.reset();
    disk_.crash(mode);
  }
  // The size on disk of the newest WAL file, and whether it ends in zeros.
  std::pair<uint64_t, bool> newest_wal() {
    std::string newest;
    const std::vector<std::string> names = disk_.list_dir(kDbPath).value();
    for (const auto& name : names) {
      if (name.ends_with(".log") && name > newest) newest = name;
    }
    const std::string data = read_file(disk_, std::string(kDbPath) + "/" + newest).value();
    return {data.size(), data.size() > 0 && data.back() == '\0'};
  }

  SimDisk disk_{2026};
  std::unique_ptr<rocksdb::Env> env_ = new_rocks_env(&disk_, kPrewrite);
  std::unique_ptr<rocksdb::DB> db_;
};

// H16: every synced write is back after a power cut, and the WAL's zero tail
// reads as its end, not as corruption.
TEST_F(RocksOnSimDiskWithPrewrittenWal, ZeroTailReplaysUnderStrictRecovery) {
  ASSERT_NO_FATAL_FAILURE(open());
  for (int round = 0; round < 4; ++round) {
    const std::string tag = "r" + std::to_string(round) + "-";
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(put(*db_, key(tag + "s", i), true).ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(put(*db_, key(tag + "u", i), false).ok());
    auto [wal_bytes, zero_tail] = newest_wal();
    EXPECT_TRUE(zero_tail) << "the WAL has no pre-written zeros";
    EXPECT_GE(wal_bytes, kPrewrite / 2);
    power_cut(CrashMode::kLoseUnsynced);
    bool strict_ok = false;
    ASSERT_NO_FATAL_FAILURE(open(&strict_ok));
    EXPECT_TRUE(strict_ok) << "round " << round << ": the zero tail read as corruption";
    for (int r = 0; r <= round; ++r) {
      const std::string t = "r" + std::to_string(r) + "-";
      for (int i = 0; i < 300; ++i) ASSERT_EQ(get(*db_, key(t + "s", i)), "v") << r << " " << i;
    }
    for (int i = 0; i < 20; ++i) EXPECT_EQ(get(*db_, key(tag + "u", i)), std::nullopt);
  }
}

// A torn overwrite followed by zeros: the DB opens (after the strict attempt
// if it saw the tear), every synced write is there, and the unsynced ones
// that survive are a prefix of the order they were written in.
TEST_F(RocksOnSimDiskWithPrewrittenWal, TornOverwriteThenZerosRecoversAPrefix) {
  ASSERT_NO_FATAL_FAILURE(open());
  int partial = 0;
  for (int round = 0; round < 12; ++round) {
    const std::string tag = "r" + std::to_string(round) + "-";
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(put(*db_, key(tag + "s", i), true).ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(*db_, key(tag + "u", i), false).ok());
    power_cut(round % 2 ? CrashMode::kTornTailGarbage : CrashMode::kTornTail);
    ASSERT_NO_FATAL_FAILURE(open());
    for (int i = 0; i < 20; ++i) ASSERT_EQ(get(*db_, key(tag + "s", i)), "v") << round << " " << i;
    int survived = 0;
    while (survived < 100 && get(*db_, key(tag + "u", survived))) ++survived;
    for (int i = survived; i < 100; ++i) {
      ASSERT_EQ(get(*db_, key(tag + "u", i)), std::nullopt)
          << "hole at " << survived << " round " << round;
    }
    partial += survived > 0 && survived < 100;
  }
  EXPECT_GT(partial, 0);  // the tail really was torn
}

// At most one WAL holds unsynced bytes: a new WAL's first append syncs the
// one before it, so a power loss cannot keep batches of the newer WAL and
// lose the end of the older one (each file is then cut on its own).
TEST(RocksFileSystemWithPrewrittenWal, ANewWalsFirstAppendSyncsThePreviousOne) {
  SimDisk disk(3);
  ASSERT_TRUE(disk.create_dir("/d").is_ok());
  ASSERT_TRUE(disk.sync_dir("/").is_ok());
  RocksFileSystem fs(&disk, kPrewrite);
  rocksdb::FileOptions fo;
  std::unique_ptr<rocksdb::FSWritableFile> first, second, log;
  ASSERT_TRUE(fs.NewWritableFile("/d/000001.log", fo, &first, nullptr).ok());
  ASSERT_TRUE(disk.sync_dir("/d").is_ok());
  ASSERT_TRUE(first->Append("older", rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(disk.durable_contents("/d/000001.log").value(), "") << "synced too early";
  // Not a WAL: no sync of the WAL.
  ASSERT_TRUE(fs.NewWritableFile("/d/MANIFEST-000003", fo, &log, nullptr).ok());
  ASSERT_TRUE(log->Append("x", rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(disk.durable_contents("/d/000001.log").value(), "");
  ASSERT_TRUE(fs.NewWritableFile("/d/000004.log", fo, &second, nullptr).ok());
  ASSERT_TRUE(disk.sync_dir("/d").is_ok());
  EXPECT_EQ(disk.durable_contents("/d/000001.log").value(), "") << "synced before any write";
  ASSERT_TRUE(second->Append("newer", rocksdb::IOOptions(), nullptr).ok());
  const std::string durable = disk.durable_contents("/d/000001.log").value();
  EXPECT_EQ(durable.substr(0, 5), "older") << "the older WAL was not synced first";
  // Closing syncs too; a closed predecessor is not synced again.
  ASSERT_TRUE(second->Close(rocksdb::IOOptions(), nullptr).ok());
  ASSERT_TRUE(first->Close(rocksdb::IOOptions(), nullptr).ok());
  std::unique_ptr<rocksdb::FSWritableFile> third;
  ASSERT_TRUE(fs.NewWritableFile("/d/000005.log", fo, &third, nullptr).ok());
  EXPECT_TRUE(third->Append("third", rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(disk.durable_contents("/d/000004.log").value().substr(0, 5), "newer");
}

// The server's Env on the real disk: a process SIGKILLed right after its
// synced writes leaves its WAL with a zero tail; all of them replay, strict.
TEST(RocksOnPosixDiskWithPrewrittenWal, SigkilledWriterReplaysUnderStrictRecovery) {
  char tmpl[] = "/tmp/shoal-rocks-prewrite-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/db";
  constexpr int kKeys = 500;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Forked beside RocksDB threads of earlier tests: should anything hang,
    // SIGALRM ends the child and the parent's check below fails.
    ::alarm(60);
    auto env = new_default_env_with_prewritten_wal(kPrewrite);
    std::unique_ptr<rocksdb::DB> db;
    if (!open_db(env.get(), dir, db).ok()) ::_exit(2);
    for (int i = 0; i < kKeys; ++i) {
      if (!put(*db, key("k", i), true).ok()) ::_exit(3);
    }
    ::kill(::getpid(), SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

  std::string wal;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") wal = entry.path();
  }
  ASSERT_FALSE(wal.empty());
  std::ifstream in(wal, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), kPrewrite / 2);
  EXPECT_EQ(bytes.substr(bytes.size() - kPrewrite / 4), std::string(kPrewrite / 4, '\0'))
      << "the killed writer's WAL has no zero tail";

  auto env = new_default_env_with_prewritten_wal(kPrewrite);
  std::unique_ptr<rocksdb::DB> db;
  bool strict_ok = false;
  rocksdb::Status s = open_db(env.get(), dir, db, &strict_ok);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(strict_ok) << "the zero tail read as corruption";
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(get(*db, key("k", i)), "v") << i;
  db.reset();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace shoal::env
