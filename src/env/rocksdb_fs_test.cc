// A real RocksDB on SimDisk: what survives a power cut, and how disk faults
// reach RocksDB's callers.
#include "env/rocksdb_fs.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <stdlib.h>

#include <filesystem>
#include <optional>

#include "env/posix_disk.h"
#include "env/sim_disk.h"

namespace shoal::env {
namespace {

constexpr char kDbPath[] = "/data/db";

class RocksOnSimDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(disk_.create_dir("/data").is_ok());
    ASSERT_TRUE(disk_.sync_dir("/").is_ok());
    ASSERT_NO_FATAL_FAILURE(open());
  }

  Status open_status() {
    rocksdb::Options options;
    options.env = rocks_env_.get();
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, kDbPath, &db);
    if (!s.ok()) return Status::io_error(s.ToString());
    db_.reset(db);
    return Status::ok();
  }
  void open() {
    Status s = open_status();
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }

  // Power cut under a running RocksDB: its shutdown writes fail, then the
  // disk loses what was not durable.
  void power_cut(CrashMode mode) {
    disk_.halt();
    db_.reset();
    disk_.crash(mode);
  }

  rocksdb::Status put(const std::string& key, const std::string& value, bool sync) {
    if (!db_) return rocksdb::Status::Aborted("no open DB");
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return db_->Put(wo, key, value);
  }
  std::optional<std::string> get(const std::string& key) {
    if (!db_) {
      ADD_FAILURE() << "no open DB";
      return std::nullopt;
    }
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }

  SimDisk disk_{2024};
  std::unique_ptr<rocksdb::Env> rocks_env_ = new_rocks_env(&disk_);
  std::unique_ptr<rocksdb::DB> db_;
};

std::string key(const char* prefix, int i) { return prefix + std::to_string(1000 + i); }

TEST_F(RocksOnSimDiskTest, SyncedWritesSurviveUnsyncedAreLost) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(put(key("s", i), "v", true).ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(put(key("u", i), "v", false).ok());
  EXPECT_EQ(get(key("u", 49)), "v");  // visible before the crash
  power_cut(CrashMode::kLoseUnsynced);
  ASSERT_NO_FATAL_FAILURE(open());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(get(key("s", i)), "v") << i;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(get(key("u", i)), std::nullopt) << i;
  ASSERT_TRUE(put("after", "crash", true).ok());
  EXPECT_GT(disk_.stats().file_syncs, 50u);
}

// A torn WAL tail (with or without garbage) is cut by RocksDB's recovery: the
// DB opens, every synced write is there, and the unsynced ones that survive
// are a prefix of the order they were written in.
TEST_F(RocksOnSimDiskTest, TornWalTailRecoversAPrefix) {
  int partial = 0;
  for (int round = 0; round < 8; ++round) {
    const std::string tag = "r" + std::to_string(round) + "-";
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(put(tag + key("s", i), "v", true).ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(tag + key("u", i), "v", false).ok());
    power_cut(round % 2 ? CrashMode::kTornTailGarbage : CrashMode::kTornTail);
    ASSERT_NO_FATAL_FAILURE(open());
    for (int i = 0; i < 20; ++i) ASSERT_EQ(get(tag + key("s", i)), "v") << round << " " << i;
    int survived = 0;
    while (survived < 100 && get(tag + key("u", survived))) ++survived;
    for (int i = survived; i < 100; ++i) {
      ASSERT_EQ(get(tag + key("u", i)), std::nullopt)
          << "hole at " << survived << " round " << round;
    }
    partial += survived > 0 && survived < 100;
  }
  EXPECT_GT(partial, 0);  // the torn tail really was torn
}

TEST_F(RocksOnSimDiskTest, FlushedDataSurvives) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(key("k", i), "v", false).ok());
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  power_cut(CrashMode::kLoseUnsynced);
  ASSERT_NO_FATAL_FAILURE(open());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(get(key("k", i)), "v") << i;
}

// H16: a failed fsync must fail the write, and the DB must not accept
// further writes it cannot make durable.
TEST_F(RocksOnSimDiskTest, FailedFsyncFailsTheWrite) {
  ASSERT_TRUE(put("before", "v", true).ok());
  disk_.fail_next_sync(std::string(kDbPath) + "/");
  rocksdb::Status s = put("k", "v", true);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(disk_.stats().failed_syncs, 1u);
  EXPECT_FALSE(put("k2", "v", true).ok()) << "DB kept acknowledging after a failed fsync";
  power_cut(CrashMode::kTornTail);
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(get("before"), "v");
}

TEST_F(RocksOnSimDiskTest, SecondOpenIsLockedOut) {
  rocksdb::Options options;
  options.env = rocks_env_.get();
  rocksdb::DB* second = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, kDbPath, &second);
  EXPECT_FALSE(s.ok());
  delete second;
}

// H19: flipped bits on read are caught by RocksDB's block checksums and
// reported, never served as data.
TEST_F(RocksOnSimDiskTest, BitFlipsAreDetectedNotServed) {
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(put(key("k", i), "value", false).ok());
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  db_.reset();
  ASSERT_NO_FATAL_FAILURE(open());  // fresh block cache: reads go to the disk
  disk_.flip_bit_on_read(1.0);
  int corrupt = 0;
  for (int i = 0; i < 200; ++i) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key("k", i), &value);
    if (s.ok()) {
      EXPECT_EQ(value, "value");
    } else {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      ++corrupt;
    }
  }
  EXPECT_GT(corrupt, 0);
  EXPECT_GT(disk_.stats().bit_flips, 0u);
  disk_.flip_bit_on_read(0);
}

// The same adapter over the real disk.
TEST(RocksOnPosixDiskTest, WritesSurviveReopen) {
  char tmpl[] = "/tmp/shoal-rocks-posix-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto rocks_env = new_rocks_env(&PosixDisk::instance());
  rocksdb::Options options;
  options.env = rocks_env.get();
  options.create_if_missing = true;
  for (int round = 0; round < 2; ++round) {
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir + "/db", &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<rocksdb::DB> db(raw);
    if (round == 0) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      ASSERT_TRUE(db->Put(wo, "k", "v").ok());
      ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    } else {
      std::string value;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "k", &value).ok());
      EXPECT_EQ(value, "v");
    }
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/db/CURRENT"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shoal::env
