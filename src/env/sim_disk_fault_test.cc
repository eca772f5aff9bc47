// SimDisk: injected faults (fsync failure, bit flips, ENOSPC) and determinism.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "env/sim_disk.h"

namespace shoal::env {
namespace {

std::unique_ptr<WritableFile> open(SimDisk& disk, const std::string& path) {
  auto file = disk.open_append(path, {});
  SHOAL_ASSERT(file.is_ok());
  return std::move(file).value();
}

std::string contents(SimDisk& disk, const std::string& path) {
  auto data = read_file(disk, path);
  return data.is_ok() ? data.value() : "<" + data.status().to_string() + ">";
}

TEST(SimDiskFaultTest, FailNextSyncMatchesPrefixOnce) {
  SimDisk disk(1);
  auto wal = open(disk, "/wal");
  auto other = open(disk, "/other");
  ASSERT_TRUE(wal->append("a").is_ok());
  disk.fail_next_sync("/wal");
  EXPECT_TRUE(other->sync().is_ok());  // prefix does not match
  Status s = wal->sync();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_TRUE(wal->sync().is_ok());  // one-shot
  EXPECT_EQ(disk.stats().failed_syncs, 1u);
  EXPECT_EQ(disk.stats().file_syncs, 2u);
}

// After a failed sync the dropped bytes stay visible in the cache, a later
// successful sync does not persist them, and a crash shows the damage.
TEST(SimDiskFaultTest, FailedSyncLosesDataEvenAfterALaterSync) {
  int damaged = 0;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    SimDisk disk(seed);
    auto f = open(disk, "/f");
    ASSERT_TRUE(disk.sync_dir("/").is_ok());
    ASSERT_TRUE(f->append("AAAAAAAAAA").is_ok());
    disk.fail_next_sync("/f");
    ASSERT_FALSE(f->sync().is_ok());
    ASSERT_EQ(contents(disk, "/f"), "AAAAAAAAAA");  // still in the cache
    ASSERT_TRUE(f->append("BBBB").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    disk.crash(CrashMode::kLoseUnsynced);
    std::string got = contents(disk, "/f");
    ASSERT_EQ(got.size(), 14u);
    EXPECT_TRUE(got.ends_with("BBBB"));
    if (got != "AAAAAAAAAABBBB") {
      ++damaged;
      // The dropped bytes read as zeros: a hole, as on a real file system.
      EXPECT_NE(got.find('\0'), std::string::npos);
    }
  }
  EXPECT_GT(damaged, 16);  // all but the seeds that happened to write back everything
}

TEST(SimDiskFaultTest, SyncFailureProbability) {
  SimDisk disk(7);
  disk.set_sync_failure_probability(0.5);
  auto f = open(disk, "/f");
  int failed = 0;
  for (int i = 0; i < 200; ++i) failed += f->sync().is_ok() ? 0 : 1;
  EXPECT_GT(failed, 60);
  EXPECT_LT(failed, 140);
  EXPECT_EQ(disk.stats().failed_syncs, static_cast<uint64_t>(failed));
}

TEST(SimDiskFaultTest, FailedDirSyncPersistsNothing) {
  SimDisk disk(3);
  auto f = open(disk, "/f");
  ASSERT_TRUE(f->sync().is_ok());
  disk.fail_next_sync("/");
  EXPECT_FALSE(disk.sync_dir("/").is_ok());
  disk.crash();
  EXPECT_FALSE(disk.exists("/f").value());
}

TEST(SimDiskFaultTest, BitFlipCorruptsReadsNotStorage) {
  SimDisk disk(5);
  const std::string data(4096, 'x');
  auto f = open(disk, "/f");
  ASSERT_TRUE(f->append(data).is_ok());
  disk.flip_bit_on_read(1.0);
  auto got = read_file(disk, "/f");
  ASSERT_TRUE(got.is_ok());
  ASSERT_EQ(got.value().size(), data.size());
  int differing_bits = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    differing_bits += __builtin_popcount(static_cast<unsigned char>(got.value()[i] ^ data[i]));
  }
  EXPECT_EQ(differing_bits, 1);
  EXPECT_EQ(disk.stats().bit_flips, 1u);
  disk.flip_bit_on_read(0);
  EXPECT_EQ(contents(disk, "/f"), data);  // the stored bytes are intact
}

TEST(SimDiskFaultTest, EnospcFailsAppendsAndWritesNothing) {
  SimDisk disk(9);
  auto f = open(disk, "/f");
  disk.enospc_after_bytes(10);
  EXPECT_TRUE(f->append("12345678").is_ok());
  Status s = f->append("abc");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("no space"), std::string::npos);
  EXPECT_EQ(contents(disk, "/f"), "12345678");
  EXPECT_TRUE(f->append("ab").is_ok());
  disk.clear_enospc();
  EXPECT_TRUE(f->append("more").is_ok());
  EXPECT_EQ(f->size(), 14u);
}

// RocksDB calls from several threads at once.
TEST(SimDiskFaultTest, ConcurrentWritersAndReaders) {
  SimDisk disk(13);
  constexpr int kThreads = 4, kAppends = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&disk, t] {
      auto f = open(disk, "/f" + std::to_string(t));
      for (int i = 0; i < kAppends; ++i) {
        SHOAL_ASSERT(f->append("0123456789").is_ok());
        if (i % 50 == 0) SHOAL_ASSERT(f->sync().is_ok());
        auto size = disk.file_size("/f" + std::to_string((t + 1) % kThreads));
        SHOAL_ASSERT(size.is_ok() || size.status().code() == StatusCode::kNotFound);
        (void)disk.list_dir("/");
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(disk.file_size("/f" + std::to_string(t)).value(), 10u * kAppends);
  }
  EXPECT_EQ(disk.stats().bytes_written, 10u * kAppends * kThreads);
}

// Same seed, same operations, same outcome.
TEST(SimDiskFaultTest, DeterministicGivenTheSeed) {
  auto run = [](uint64_t seed) {
    SimDisk disk(seed);
    disk.set_sync_failure_probability(0.3);
    std::string trace;
    auto f = open(disk, "/f");
    (void)disk.sync_dir("/");
    for (int i = 0; i < 20; ++i) {
      (void)f->append(std::string(7, static_cast<char>('a' + i)));
      trace += f->sync().is_ok() ? 'S' : 'F';
    }
    (void)f->append("tail-tail-tail");
    disk.crash(CrashMode::kTornTailGarbage);
    return trace + "|" + contents(disk, "/f");
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

}  // namespace
}  // namespace shoal::env
