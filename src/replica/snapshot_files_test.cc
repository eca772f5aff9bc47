// Snapshots large enough for files (RocksLogStore::kSnapshotFileBytes):
// written in the background, staged with their compaction, read back at a
// restart, garbage-collected, and refused when damaged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "replica/local_cluster.h"
#include "replica/rocks_log_store.h"

namespace shoal::replica {
namespace {

using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;

constexpr int kKeys = 300;
const std::string kValue(400, 'v');  // 300 keys: a ~130 KB snapshot

std::unique_ptr<LocalCluster> rocks_cluster() {
  LocalClusterOptions o;
  o.nodes = 3;
  o.shards = 1;
  o.replica.compact_after_writes = 50;
  o.store = StoreKind::kRocks;
  auto c = LocalCluster::create(std::move(o));
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return std::move(c).value();
}

std::string node_dir(LocalCluster& c, NodeId id) {
  return c.dir() + "/node" + std::to_string(id.value());
}

// The .snap and .tmp files in a node's snapshot directory.
std::vector<std::string> snapshot_files(LocalCluster& c, NodeId id) {
  std::vector<std::string> out;
  std::filesystem::path dir = node_dir(c, id) + "/snapshots";
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One round of overwrites of every key: with as many writes as keys since
// the last snapshot, each replica compacts (Replica::maybe_compact).
void overwrite_all(LocalCluster& c, int round) {
  for (int i = 0; i < kKeys; ++i) {
    auto o = c.write({"SET", "k" + std::to_string(i), kValue + std::to_string(round)});
    ASSERT_TRUE(o.status.is_ok()) << o.status.to_string();
  }
}

// Lets every node's writer finish and the next iterations stage and commit
// (and then collect) what it wrote.
void settle(LocalCluster& c) {
  for (int r = 0; r < 3; ++r) {
    for (uint64_t id = 1; id <= 3; ++id) {
      if (c.running(NodeId(id))) c.rocks_store(NodeId(id))->drain_snapshot_writes();
    }
    c.tick(2);
  }
}

void expect_all_keys(LocalCluster& c, int round) {
  auto leader = c.wait_leader();
  ASSERT_TRUE(leader.has_value());
  for (int i = 0; i < kKeys; i += 37) {
    EXPECT_EQ(c.read(*leader, {"GET", "k" + std::to_string(i)}),
              "$" + kValue + std::to_string(round));
  }
}

TEST(SnapshotFiles, ALargeSnapshotGoesToAFileThatARestartReads) {
  auto c = rocks_cluster();
  overwrite_all(*c, 0);
  overwrite_all(*c, 1);
  settle(*c);
  std::map<uint64_t, std::vector<std::string>> first;
  for (uint64_t id = 1; id <= 3; ++id) {
    first[id] = snapshot_files(*c, NodeId(id));
    ASSERT_EQ(first[id].size(), 1u) << "node " << id;
  }
  // The next snapshot replaces the file; the old one goes once unnamed.
  overwrite_all(*c, 2);
  settle(*c);
  for (uint64_t id = 1; id <= 3; ++id) {
    auto now = snapshot_files(*c, NodeId(id));
    ASSERT_EQ(now.size(), 1u) << "node " << id;
    EXPECT_NE(now, first[id]) << "node " << id;
  }
  for (uint64_t id = 1; id <= 3; ++id) c->crash(NodeId(id));
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(c->start(NodeId(id)).is_ok());
  expect_all_keys(*c, 2);
  EXPECT_TRUE(c->converge(1).is_ok());
}

TEST(SnapshotFiles, ACrashBeforeTheCompactionCommitsKeepsTheLogAndDropsTheFile) {
  auto c = rocks_cluster();
  overwrite_all(*c, 0);
  overwrite_all(*c, 1);
  // The writers may finish, but no iteration stages their compactions.
  for (uint64_t id = 1; id <= 3; ++id) c->rocks_store(NodeId(id))->drain_snapshot_writes();
  std::map<uint64_t, size_t> before;
  for (uint64_t id = 1; id <= 3; ++id) before[id] = snapshot_files(*c, NodeId(id)).size();
  for (uint64_t id = 1; id <= 3; ++id) c->crash(NodeId(id));
  // A stray from an interrupted write, too.
  std::ofstream(node_dir(*c, NodeId(1)) + "/snapshots/s1-i7-n1-1.snap.tmp") << "partial";
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(c->start(NodeId(id)).is_ok());
  expect_all_keys(*c, 1);
  EXPECT_TRUE(c->converge(1).is_ok());
  for (uint64_t id = 1; id <= 3; ++id) {
    // Whatever was written but never named is gone; at most the named file.
    auto files = snapshot_files(*c, NodeId(id));
    EXPECT_LE(files.size(), 1u) << "node " << id << ", had " << before[id];
    for (const auto& f : files) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
  }
}

TEST(SnapshotFiles, ADamagedSnapshotFileRefusesTheRestart) {
  auto c = rocks_cluster();
  overwrite_all(*c, 0);
  overwrite_all(*c, 1);
  settle(*c);
  NodeId victim(2);
  auto files = snapshot_files(*c, victim);
  ASSERT_EQ(files.size(), 1u);
  c->crash(victim);
  std::string path = node_dir(*c, victim) + "/snapshots/" + files[0];
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x5a');
  }
  Status s = c->start(victim);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  std::filesystem::remove(path);
  s = c->start(victim);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.to_string();
  // The other two still serve.
  expect_all_keys(*c, 1);
}

}  // namespace
}  // namespace shoal::replica
