// SimDisk: the page-cache and namespace model, and crashes.
#include "env/sim_disk.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace shoal::env {
namespace {

// Appends `data` to `path` (created if missing) and optionally syncs it.
void write(SimDisk& disk, const std::string& path, std::string_view data, bool sync) {
  auto file = disk.open_append(path, {});
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  ASSERT_TRUE(file.value()->append(data).is_ok());
  if (sync) {
    ASSERT_TRUE(file.value()->sync().is_ok());
  }
  ASSERT_TRUE(file.value()->close().is_ok());
}

std::string contents(SimDisk& disk, const std::string& path) {
  auto data = read_file(disk, path);
  return data.is_ok() ? data.value() : "<" + data.status().to_string() + ">";
}

bool exists(SimDisk& disk, const std::string& path) {
  auto e = disk.exists(path);
  return e.is_ok() && e.value();
}

class SimDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(disk_.create_dir("/d").is_ok());
    ASSERT_TRUE(disk_.sync_dir("/").is_ok());
  }
  SimDisk disk_{42};
};

TEST_F(SimDiskTest, ReadsSeeUnsyncedWrites) {
  write(disk_, "/d/f", "hello ", false);
  write(disk_, "/d/f", "world", false);
  EXPECT_EQ(contents(disk_, "/d/f"), "hello world");
  auto file = disk_.open_read("/d/f");
  ASSERT_TRUE(file.is_ok());
  char buf[5];
  auto n = file.value()->read_at(6, buf);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(std::string(buf, n.value()), "world");
  n = file.value()->read_at(100, buf);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(n.value(), 0u);
  EXPECT_EQ(disk_.file_size("/d/f").value(), 11u);
  EXPECT_EQ(disk_.stats().bytes_written, 11u);
}

TEST_F(SimDiskTest, CrashLosesUnsyncedData) {
  write(disk_, "/d/f", "durable", true);
  ASSERT_TRUE(disk_.sync_dir("/d").is_ok());
  write(disk_, "/d/f", "-volatile", false);
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_EQ(contents(disk_, "/d/f"), "durable");
}

TEST_F(SimDiskTest, CrashTearsTheUnsyncedTail) {
  // Over many seeds the surviving tail is always a prefix of what was
  // written, and both extremes (none, all) occur.
  bool saw_none = false, saw_all = false, saw_part = false;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SimDisk disk(seed);
    write(disk, "/f", "base", true);
    ASSERT_TRUE(disk.sync_dir("/").is_ok());
    write(disk, "/f", "0123456789", false);
    disk.crash(CrashMode::kTornTail);
    std::string got = contents(disk, "/f");
    ASSERT_TRUE(std::string("base0123456789").starts_with(got)) << got;
    ASSERT_GE(got.size(), 4u);
    saw_none |= got.size() == 4;
    saw_all |= got.size() == 14;
    saw_part |= got.size() > 4 && got.size() < 14;
  }
  EXPECT_TRUE(saw_none && saw_all && saw_part);
}

TEST_F(SimDiskTest, TornTailGarbageKeepsTheSyncedPrefix) {
  bool saw_garbage = false;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SimDisk disk(seed);
    write(disk, "/f", "base", true);
    ASSERT_TRUE(disk.sync_dir("/").is_ok());
    write(disk, "/f", "0123456789", false);
    disk.crash(CrashMode::kTornTailGarbage);
    std::string got = contents(disk, "/f");
    ASSERT_TRUE(got.starts_with("base"));
    ASSERT_LE(got.size(), 14u);
    saw_garbage |= !std::string("base0123456789").starts_with(got);
  }
  EXPECT_TRUE(saw_garbage);
}

TEST_F(SimDiskTest, NewFileIsLostWithoutDirSync) {
  write(disk_, "/d/f", "data", true);
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_FALSE(exists(disk_, "/d/f"));

  write(disk_, "/d/f", "data", true);
  ASSERT_TRUE(disk_.sync_dir("/d").is_ok());
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_EQ(contents(disk_, "/d/f"), "data");
}

TEST_F(SimDiskTest, RenameIsUndoneWithoutDirSync) {
  write(disk_, "/d/old", "v1", true);
  write(disk_, "/d/tmp", "v2", true);
  ASSERT_TRUE(disk_.sync_dir("/d").is_ok());
  ASSERT_TRUE(disk_.rename("/d/tmp", "/d/old").is_ok());
  EXPECT_EQ(contents(disk_, "/d/old"), "v2");
  EXPECT_FALSE(exists(disk_, "/d/tmp"));
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_EQ(contents(disk_, "/d/old"), "v1");
  EXPECT_EQ(contents(disk_, "/d/tmp"), "v2");

  ASSERT_TRUE(disk_.rename("/d/tmp", "/d/old").is_ok());
  ASSERT_TRUE(disk_.sync_dir("/d").is_ok());
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_EQ(contents(disk_, "/d/old"), "v2");
  EXPECT_FALSE(exists(disk_, "/d/tmp"));
}

TEST_F(SimDiskTest, RemoveIsUndoneWithoutDirSync) {
  write(disk_, "/d/f", "data", true);
  ASSERT_TRUE(disk_.sync_dir("/d").is_ok());
  ASSERT_TRUE(disk_.remove("/d/f").is_ok());
  EXPECT_FALSE(exists(disk_, "/d/f"));
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_EQ(contents(disk_, "/d/f"), "data");
}

TEST_F(SimDiskTest, NewDirNeedsParentSync) {
  ASSERT_TRUE(disk_.create_dir("/d/sub").is_ok());
  write(disk_, "/d/sub/f", "x", true);
  ASSERT_TRUE(disk_.sync_dir("/d/sub").is_ok());
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_FALSE(exists(disk_, "/d/sub"));
  EXPECT_FALSE(exists(disk_, "/d/sub/f"));
}

TEST_F(SimDiskTest, TruncateIsUndoneWithoutSync) {
  write(disk_, "/d/f", "old contents", true);
  ASSERT_TRUE(disk_.sync_dir("/d").is_ok());
  auto file = disk_.open_append("/d/f", {.create = false, .truncate = true});
  ASSERT_TRUE(file.is_ok());
  ASSERT_TRUE(file.value()->append("new").is_ok());
  EXPECT_EQ(contents(disk_, "/d/f"), "new");
  disk_.crash(CrashMode::kTornTail);
  EXPECT_EQ(contents(disk_, "/d/f"), "old contents");
}

TEST_F(SimDiskTest, HandlesFromBeforeACrashFail) {
  auto file = disk_.open_append("/d/f", {});
  ASSERT_TRUE(file.is_ok());
  disk_.crash();
  EXPECT_EQ(file.value()->append("x").code(), StatusCode::kIoError);
  EXPECT_EQ(file.value()->sync().code(), StatusCode::kIoError);
}

TEST_F(SimDiskTest, HaltFailsEverythingUntilCrash) {
  write(disk_, "/d/f", "x", true);
  disk_.halt();
  EXPECT_FALSE(disk_.open_append("/d/g", {}).is_ok());
  EXPECT_FALSE(disk_.sync_dir("/d").is_ok());
  disk_.crash();
  EXPECT_TRUE(disk_.open_append("/d/g", {}).is_ok());
}

TEST_F(SimDiskTest, ListDirAndErrors) {
  write(disk_, "/d/a", "", false);
  ASSERT_TRUE(disk_.create_dir("/d/b").is_ok());
  auto names = disk_.list_dir("/d/");
  ASSERT_TRUE(names.is_ok());
  std::sort(names.value().begin(), names.value().end());
  EXPECT_EQ(names.value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(disk_.list_dir("/nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(disk_.open_read("/d/zz").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(disk_.open_append("/nope/f", {}).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(disk_.remove_dir("/d").is_ok());  // not empty
  EXPECT_TRUE(disk_.is_dir("/d/b").value());
  EXPECT_FALSE(disk_.is_dir("/d/a").value());
}

TEST_F(SimDiskTest, LocksAreExclusiveAndDieInACrash) {
  auto first = disk_.lock("/d/LOCK");
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(disk_.lock("/d/LOCK").status().code(), StatusCode::kBusy);
  first.value().reset();
  auto second = disk_.lock("/d/LOCK");
  ASSERT_TRUE(second.is_ok());
  disk_.crash();
  auto third = disk_.lock("/d/LOCK");
  EXPECT_TRUE(third.is_ok());
  second.value().reset();  // must not free the lock held by `third`
  EXPECT_EQ(disk_.lock("/d/LOCK").status().code(), StatusCode::kBusy);
}

TEST_F(SimDiskTest, WriteFileAtomicallySurvivesCrash) {
  ASSERT_TRUE(write_file_atomically(disk_, "/d/state", "v1").is_ok());
  disk_.crash(CrashMode::kLoseUnsynced);
  EXPECT_EQ(contents(disk_, "/d/state"), "v1");
}

}  // namespace
}  // namespace shoal::env
