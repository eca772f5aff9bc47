// Pre-written space (AppendOptions::prewrite_bytes) on both disks: appends
// overwrite zeros written ahead of the data, size() counts the data, close()
// cuts the zeros off; on SimDisk, what a crash leaves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "env/posix_disk.h"
#include "env/sim_disk.h"

namespace shoal::env {
namespace {

constexpr uint64_t kPrewrite = 4096;

std::string contents(Disk& disk, const std::string& path) {
  auto data = read_file(disk, path);
  return data.is_ok() ? data.value() : "<" + data.status().to_string() + ">";
}

// A fresh directory under /tmp, removed at the end of the scope.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/shoal-prewrite-XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

bool all_zero(std::string_view s) { return s.find_first_not_of('\0') == std::string_view::npos; }

// The behaviour both disks share.
void check_prewritten_appends(Disk& disk, const std::string& path) {
  auto opened = disk.open_append(path, {.truncate = true, .prewrite_bytes = kPrewrite});
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  WritableFile& file = *opened.value();
  ASSERT_TRUE(file.append("hello").is_ok());
  EXPECT_EQ(file.size(), 5u);
  // The zeros are written ahead of the data: the file on disk is longer.
  EXPECT_EQ(disk.file_size(path).value(), 5 + kPrewrite);
  std::string on_disk = contents(disk, path);
  EXPECT_EQ(on_disk.substr(0, 5), "hello");
  EXPECT_TRUE(all_zero(on_disk.substr(5)));

  // Appends go over the zeros; more are written once fewer than half are left.
  std::string expected = "hello";
  for (int i = 0; i < 100; ++i) {
    std::string chunk(97, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(file.append(chunk).is_ok());
    expected += chunk;
    ASSERT_TRUE(file.sync().is_ok());
    const uint64_t physical = disk.file_size(path).value();
    ASSERT_GE(physical, expected.size() + kPrewrite / 2) << i;
    ASSERT_LE(physical, expected.size() + kPrewrite) << i;
  }
  EXPECT_EQ(file.size(), expected.size());
  on_disk = contents(disk, path);
  EXPECT_EQ(on_disk.substr(0, expected.size()), expected);
  EXPECT_TRUE(all_zero(on_disk.substr(expected.size())));

  // close() cuts the zeros off.
  ASSERT_TRUE(file.close().is_ok());
  EXPECT_EQ(contents(disk, path), expected);

  // Only for a fresh (truncated) file: zeros inside old data would be a gap.
  EXPECT_EQ(disk.open_append(path, {.prewrite_bytes = kPrewrite}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PrewriteTest, PosixDiskWritesZerosAheadAndCutsThemAtClose) {
  TempDir dir;
  check_prewritten_appends(PosixDisk::instance(), dir.path + "/wal.log");
}

TEST(PrewriteTest, SimDiskWritesZerosAheadAndCutsThemAtClose) {
  SimDisk disk(7);
  ASSERT_TRUE(disk.create_dir("/d").is_ok());
  check_prewritten_appends(disk, "/d/wal.log");
}

// Opens /d/wal.log with pre-written space on a fresh SimDisk, its name durable.
std::unique_ptr<WritableFile> open_prewritten(SimDisk& disk) {
  EXPECT_TRUE(disk.create_dir("/d").is_ok());
  EXPECT_TRUE(disk.sync_dir("/").is_ok());
  auto file = disk.open_append("/d/wal.log", {.truncate = true, .prewrite_bytes = kPrewrite});
  EXPECT_TRUE(file.is_ok());
  EXPECT_TRUE(disk.sync_dir("/d").is_ok());
  return file.is_ok() ? std::move(file).value() : nullptr;
}

// A crash keeps what was synced, zeros included; the unsynced overwrite
// survives as a prefix (torn), possibly ending in garbage, and then zeros.
TEST(PrewriteTest, SimDiskCrashLeavesSyncedDataThenATornOverwriteThenZeros) {
  bool saw_none = false, saw_part = false, saw_all = false, saw_garbage = false;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SimDisk disk(seed);
    auto file = open_prewritten(disk);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(file->append("synced|").is_ok());
    ASSERT_TRUE(file->sync().is_ok());
    ASSERT_TRUE(file->append("0123456789").is_ok());
    const CrashMode mode = seed % 2 ? CrashMode::kTornTailGarbage : CrashMode::kTornTail;
    disk.crash(mode);
    const std::string got = contents(disk, "/d/wal.log");
    ASSERT_EQ(got.size(), 7 + kPrewrite) << "the synced zeros survive";
    ASSERT_EQ(got.substr(0, 7), "synced|");
    const std::string written = "0123456789";
    size_t kept = 0;
    while (kept < written.size() && got[7 + kept] == written[kept]) ++kept;
    const size_t nonzero_end = got.find_last_not_of('\0') + 1;
    ASSERT_LE(nonzero_end, 7 + written.size()) << "bytes past the overwrite";
    if (mode == CrashMode::kTornTail) {
      ASSERT_EQ(nonzero_end, std::max<size_t>(7 + kept, 7)) << "a torn tail is a prefix";
      saw_none |= kept == 0;
      saw_part |= kept > 0 && kept < written.size();
      saw_all |= kept == written.size();
    } else {
      saw_garbage |= nonzero_end > 7 + kept;
    }
  }
  EXPECT_TRUE(saw_none && saw_part && saw_all && saw_garbage);
}

// kUnorderedOverwrites: the pages of an unsynced overwrite survive each on
// its own, so a later page can survive over an earlier one's zeros (a hole).
TEST(PrewriteTest, SimDiskUnorderedOverwritesCanLeaveAHole) {
  bool saw_hole = false, saw_all = false;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    SimDisk disk(seed);
    auto file = open_prewritten(disk);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(file->append("synced|").is_ok());
    ASSERT_TRUE(file->sync().is_ok());
    const std::string written(6000, 'x');  // over the zeros of pages 0 and 1
    ASSERT_TRUE(file->append(written).is_ok());
    disk.crash(CrashMode::kUnorderedOverwrites);
    const std::string got = contents(disk, "/d/wal.log");
    ASSERT_EQ(got.substr(0, 7), "synced|");
    const bool page0 = got[7] == 'x', page1 = got[4096] == 'x';
    // Each page is all or nothing.
    ASSERT_EQ(got.substr(7, 4096 - 7), page0 ? written.substr(0, 4089) : std::string(4089, '\0'));
    saw_hole |= !page0 && page1;
    saw_all |= page0 && page1;
  }
  EXPECT_TRUE(saw_hole && saw_all);
}

TEST(PrewriteTest, SimDiskCrashLosesAnUnsyncedOverwrite) {
  SimDisk disk(1);
  auto file = open_prewritten(disk);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->append("synced|").is_ok());
  ASSERT_TRUE(file->sync().is_ok());
  ASSERT_TRUE(file->append("lost").is_ok());
  disk.crash(CrashMode::kLoseUnsynced);
  EXPECT_EQ(contents(disk, "/d/wal.log"), "synced|" + std::string(kPrewrite, '\0'));
}

// Zeros that do not fit are skipped; the data's own appends fail only when
// they need space themselves.
TEST(PrewriteTest, SimDiskWithoutSpaceForZerosStillAppends) {
  SimDisk disk(3);
  auto file = open_prewritten(disk);
  ASSERT_NE(file, nullptr);
  disk.enospc_after_bytes(100);
  ASSERT_TRUE(file->append(std::string(60, 'a')).is_ok());  // zeros do not fit
  EXPECT_EQ(disk.file_size("/d/wal.log").value(), 60u);
  ASSERT_TRUE(file->append(std::string(40, 'b')).is_ok());
  EXPECT_FALSE(file->append("c").is_ok()) << "no space left";
  EXPECT_EQ(file->size(), 100u);
  EXPECT_EQ(contents(disk, "/d/wal.log"), std::string(60, 'a') + std::string(40, 'b'));
}

// Disk::truncate, which cuts pre-written zeros off a WAL after a crash
// (storage/wal_tail.h): durable on return, never a way to grow a file.
void check_truncate(Disk& disk, const std::string& path) {
  ASSERT_TRUE(write_file_atomically(disk, path, "abcdef").is_ok());
  ASSERT_TRUE(disk.truncate(path, 3).is_ok());
  EXPECT_EQ(contents(disk, path), "abc");
  EXPECT_EQ(disk.truncate(path, 4).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(disk.truncate(path + ".missing", 0).code(), StatusCode::kNotFound);
}

TEST(PrewriteTest, PosixDiskTruncate) {
  TempDir dir;
  check_truncate(PosixDisk::instance(), dir.path + "/f");
}

TEST(PrewriteTest, SimDiskTruncateIsDurable) {
  SimDisk disk(5);
  ASSERT_TRUE(disk.create_dir("/d").is_ok());
  ASSERT_TRUE(disk.sync_dir("/").is_ok());
  check_truncate(disk, "/d/f");
  disk.crash(CrashMode::kTornTail);
  EXPECT_EQ(contents(disk, "/d/f"), "abc");
}

}  // namespace
}  // namespace shoal::env
