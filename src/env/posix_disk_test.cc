// PosixDisk against a real file system, in a fresh directory under /tmp.
#include "env/posix_disk.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace shoal::env {
namespace {

class PosixDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shoal-posix-disk-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  PosixDisk& disk_ = PosixDisk::instance();
  std::string dir_;
};

TEST_F(PosixDiskTest, AppendSyncReadBack) {
  auto file = disk_.open_append(path("f"), {});
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  ASSERT_TRUE(file.value()->append("hello ").is_ok());
  ASSERT_TRUE(file.value()->append(std::string(100000, 'x')).is_ok());
  ASSERT_TRUE(file.value()->sync().is_ok());
  EXPECT_EQ(file.value()->size(), 100006u);
  ASSERT_TRUE(file.value()->close().is_ok());
  EXPECT_FALSE(file.value()->append("x").is_ok());  // closed

  auto reader = disk_.open_read(path("f"));
  ASSERT_TRUE(reader.is_ok());
  char buf[6];
  auto n = reader.value()->read_at(0, buf);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(std::string(buf, n.value()), "hello ");
  n = reader.value()->read_at(100003, buf);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(n.value(), 3u);  // short only at end of file
  EXPECT_EQ(disk_.file_size(path("f")).value(), 100006u);
  EXPECT_EQ(read_file(disk_, path("f")).value().size(), 100006u);
}

TEST_F(PosixDiskTest, AppendOptions) {
  ASSERT_TRUE(write_file_atomically(disk_, path("f"), "abc").is_ok());
  EXPECT_EQ(disk_.open_append(path("missing"), {.create = false}).status().code(),
            StatusCode::kNotFound);
  auto file = disk_.open_append(path("f"), {.create = false});
  ASSERT_TRUE(file.is_ok());
  EXPECT_EQ(file.value()->size(), 3u);
  ASSERT_TRUE(file.value()->append("d").is_ok());
  EXPECT_EQ(read_file(disk_, path("f")).value(), "abcd");
  auto truncated = disk_.open_append(path("f"), {.truncate = true});
  ASSERT_TRUE(truncated.is_ok());
  EXPECT_EQ(read_file(disk_, path("f")).value(), "");
}

TEST_F(PosixDiskTest, NamespaceOperations) {
  ASSERT_TRUE(disk_.create_dir(path("sub")).is_ok());
  ASSERT_TRUE(disk_.create_dir(path("sub")).is_ok());  // exists: fine
  ASSERT_TRUE(write_file_atomically(disk_, path("sub/a"), "1").is_ok());
  ASSERT_TRUE(disk_.rename(path("sub/a"), path("sub/b")).is_ok());
  ASSERT_TRUE(disk_.sync_dir(path("sub")).is_ok());
  EXPECT_FALSE(disk_.exists(path("sub/a")).value());
  EXPECT_TRUE(disk_.exists(path("sub/b")).value());
  EXPECT_TRUE(disk_.is_dir(path("sub")).value());
  EXPECT_FALSE(disk_.is_dir(path("sub/b")).value());
  auto names = disk_.list_dir(path("sub"));
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(names.value(), std::vector<std::string>{"b"});
  EXPECT_FALSE(disk_.remove_dir(path("sub")).is_ok());  // not empty
  ASSERT_TRUE(disk_.remove(path("sub/b")).is_ok());
  EXPECT_EQ(disk_.remove(path("sub/b")).code(), StatusCode::kNotFound);
  ASSERT_TRUE(disk_.remove_dir(path("sub")).is_ok());
  EXPECT_EQ(disk_.open_read(path("nope")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(disk_.list_dir(path("nope")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(disk_.sync_dir(path("nope")).code(), StatusCode::kNotFound);
}

TEST_F(PosixDiskTest, LockIsExclusiveWithinTheProcess) {
  auto first = disk_.lock(path("LOCK"));
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(disk_.lock(path("LOCK")).status().code(), StatusCode::kBusy);
  first.value().reset();
  EXPECT_TRUE(disk_.lock(path("LOCK")).is_ok());
}

}  // namespace
}  // namespace shoal::env
