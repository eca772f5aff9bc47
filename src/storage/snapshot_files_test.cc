#include "storage/snapshot_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/state_codec.h"

namespace shoal::storage {
namespace {

class SnapshotFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("shoal_snapshot_files_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto f = SnapshotFiles::open(nullptr, dir_.string());
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    files_ = std::move(f).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out.insert(e.path().filename().string());
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SnapshotFiles> files_;
};

std::string big(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 131 % 251);
  return s;
}

TEST_F(SnapshotFilesTest, WrittenFileReadsBackAndLeavesNoTemporary) {
  std::string data = big(3 << 20, 'a');  // several appends
  auto ref = files_->write(ShardId(7), LogIndex(42), data);
  ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
  EXPECT_EQ(ref.value().size, data.size());
  EXPECT_EQ(names(), std::set<std::string>{ref.value().name});
  auto back = files_->read(ref.value());
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back.value(), data);
}

TEST_F(SnapshotFilesTest, TwoWritesAtOneIndexGetDistinctFiles) {
  auto a = files_->write(ShardId(1), LogIndex(5), "one");
  auto b = files_->write(ShardId(1), LogIndex(5), "two");
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_NE(a.value().name, b.value().name);
  EXPECT_EQ(files_->read(a.value()).value(), "one");
  EXPECT_EQ(files_->read(b.value()).value(), "two");
}

TEST_F(SnapshotFilesTest, AFlippedByteOrATruncationIsCorruption) {
  auto ref = files_->write(ShardId(1), LogIndex(5), big(100000, 'x'));
  ASSERT_TRUE(ref.is_ok());
  auto path = dir_ / ref.value().name;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);
    f.put('\xff');
  }
  EXPECT_EQ(files_->read(ref.value()).status().code(), StatusCode::kCorruption);
  std::filesystem::resize_file(path, 10);
  EXPECT_EQ(files_->read(ref.value()).status().code(), StatusCode::kCorruption);
  std::filesystem::remove(path);
  EXPECT_EQ(files_->read(ref.value()).status().code(), StatusCode::kNotFound);
}

TEST_F(SnapshotFilesTest, RemoveUnreferencedKeepsOtherShardsAndNamedFiles) {
  auto s1a = files_->write(ShardId(1), LogIndex(5), "a").value();
  auto s1b = files_->write(ShardId(1), LogIndex(9), "b").value();
  auto s10 = files_->write(ShardId(10), LogIndex(9), "c").value();  // "s10-" is not "s1-"
  std::ofstream(dir_ / ("s1-i11-n99-1.snap.tmp")) << "partial";
  std::ofstream(dir_ / "unrelated") << "x";
  files_->remove_unreferenced(ShardId(1), {s1b.name});
  EXPECT_EQ(names(), (std::set<std::string>{s1b.name, s10.name, "unrelated"}));
  files_->remove_unreferenced(ShardId(1), {});
  EXPECT_EQ(names(), (std::set<std::string>{s10.name, "unrelated"}));
  (void)s1a;
}

TEST(SnapshotFileRef, RoundTripsAndRejectsDamage) {
  SnapshotFileRef ref{"s1-i5-n1-2.snap", 12345, 0xdeadbeef};
  std::string bytes = encode_snapshot_file_ref(ref);
  auto back = decode_snapshot_file_ref(bytes);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back.value(), ref);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_FALSE(decode_snapshot_file_ref(bad).is_ok()) << "byte " << i;
  }
  // A name that could leave the directory is refused even with a good CRC.
  EXPECT_FALSE(decode_snapshot_file_ref(encode_snapshot_file_ref({"../x", 1, 1})).is_ok());
}

TEST_F(SnapshotFilesTest, WriterWritesInTheBackgroundAndKeepsOnlyTheNewestQueuedJob) {
  SnapshotFileWriter writer(*files_);
  for (uint64_t i = 1; i <= 20; ++i) {
    writer.submit({ShardId(3), SnapshotRecord{LogIndex(i), Term(1), {}}, big(200000, 'a' + i)});
  }
  writer.submit({ShardId(4), SnapshotRecord{LogIndex(1), Term(1), {}}, "four"});
  writer.drain();
  auto done = writer.take_done();
  ASSERT_FALSE(done.empty());
  // Every job either ran or was replaced by a newer one of its shard; the
  // newest of each shard always runs, and jobs of one shard finish in order.
  EXPECT_LE(done.size(), 21u);
  uint64_t last3 = 0;
  bool saw4 = false;
  for (auto& d : done) {
    ASSERT_TRUE(d.ref.is_ok()) << d.ref.status().to_string();
    auto bytes = files_->read(d.ref.value());
    ASSERT_TRUE(bytes.is_ok());
    if (d.shard == ShardId(3)) {
      EXPECT_GT(d.meta.index.value(), last3);
      last3 = d.meta.index.value();
      EXPECT_EQ(bytes.value(), big(200000, 'a' + last3));
    } else {
      saw4 = true;
      EXPECT_EQ(bytes.value(), "four");
    }
  }
  EXPECT_EQ(last3, 20u);
  EXPECT_TRUE(saw4);
  EXPECT_TRUE(writer.take_done().empty());
}

}  // namespace
}  // namespace shoal::storage
