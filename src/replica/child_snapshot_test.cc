// ChildSnapshot (a compaction snapshot serialized in a forked child) and the
// replica's use of it: the bytes come back whole or not at all, a child that
// dies or is cut off is a failure, and a replica restarts from what a child
// wrote.
#include "replica/child_snapshot.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "replica/replica_test_support.h"

namespace shoal::replica {
namespace {

using State = ChildSnapshot::State;
using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;

// Polls until the child is done or failed (bounded: 20 s).
State wait(ChildSnapshot& c, size_t per_poll = ChildSnapshot::kPollBytes) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (c.poll(per_poll) == State::kRunning && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return c.state();
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

TEST(ChildSnapshot, BytesLargerThanThePipeComeBackWhole) {
  // 24 MiB through a pipe of at most 1 MiB, read 64 KiB per poll: the child
  // blocks on the full pipe between polls and goes on after each.
  const std::string want = pattern(24 << 20);
  auto c = ChildSnapshot::start([&] { return want; });
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(wait(*c, 64 << 10), State::kDone) << c->error();
  EXPECT_TRUE(c->take_bytes() == want);
  EXPECT_EQ(c->pid(), -1);  // reaped
}

TEST(ChildSnapshot, AnEmptyStateIsASnapshotToo) {
  auto c = ChildSnapshot::start([] { return std::string(); });
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(wait(*c), State::kDone) << c->error();
  EXPECT_EQ(c->take_bytes(), "");
}

TEST(ChildSnapshot, TheChildSeesTheStateAtTheFork) {
  std::string state = "before";
  auto c = ChildSnapshot::start([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return state;
  });
  ASSERT_NE(c, nullptr);
  state = "after";  // the parent goes on changing its copy
  ASSERT_EQ(wait(*c), State::kDone) << c->error();
  EXPECT_EQ(c->take_bytes(), "before");
}

TEST(ChildSnapshot, TheChildHoldsNoOtherDescriptorAndTakesSigterm) {
  // As in the server: a descriptor of the parent's (a listening socket, a
  // client) and SIGTERM blocked in every thread (main.cc).
  int parents = ::dup(STDERR_FILENO);
  ASSERT_GE(parents, 3);
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  auto c = ChildSnapshot::start([&] {
    sigset_t now;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
    std::string seen = ::fcntl(parents, F_GETFD) == -1 ? "closed" : "open";
    seen += sigismember(&now, SIGTERM) ? " blocked" : " deliverable";
    return seen;
  });
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  ::close(parents);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(wait(*c), State::kDone) << c->error();
  EXPECT_EQ(c->take_bytes(), "closed deliverable");
}

TEST(ChildSnapshot, AChildThatExitsWithAnErrorIsAFailure) {
  auto c = ChildSnapshot::start([]() -> std::string { ::_exit(7); });
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(wait(*c), State::kFailed);
  EXPECT_NE(c->error().find("status 7"), std::string::npos) << c->error();
  EXPECT_EQ(c->take_bytes(), "");
}

TEST(ChildSnapshot, AStreamCutOffHalfwayIsAFailureNotASnapshot) {
  // The child has streamed part of its bytes and waits on the full pipe
  // when it dies: what arrived has no footer.
  auto c = ChildSnapshot::start([] { return pattern(24 << 20); });
  ASSERT_NE(c, nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (c->poll(64 << 10) == State::kRunning && std::chrono::steady_clock::now() < deadline &&
         c->pid() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    break;  // one poll's worth is enough
  }
  ASSERT_EQ(c->state(), State::kRunning);
  ASSERT_EQ(::kill(c->pid(), SIGKILL), 0);
  ASSERT_EQ(wait(*c), State::kFailed);
  EXPECT_NE(c->error().find("signal 9"), std::string::npos) << c->error();
  EXPECT_EQ(c->take_bytes(), "");
}

TEST(ChildSnapshot, DestroyingKillsAndReapsARunningChild) {
  auto c = ChildSnapshot::start([]() -> std::string {
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return "late";
  });
  ASSERT_NE(c, nullptr);
  pid_t pid = c->pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(c->poll(), State::kRunning);
  auto t0 = std::chrono::steady_clock::now();
  c.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  // Reaped: no such child any more (not a zombie).
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// One node on RocksDB whose every compaction (after 16 writes, or as many as
// there are keys) goes through a child.
std::unique_ptr<LocalCluster> one_node_with_snapshot_children() {
  LocalClusterOptions o;
  o.nodes = 1;
  o.store = StoreKind::kRocks;
  o.replica.compact_after_writes = 16;
  o.replica.snapshot_in_child = true;
  o.replica.snapshot_in_child_min_keys = 0;
  return cluster_with_leader(std::move(o));
}

// Pumps the node until its running child (if any) finished or failed (20 s).
void finish_child(LocalCluster& c, Replica& r) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (r.child_snapshot_running() && std::chrono::steady_clock::now() < deadline) {
    c.pump_round();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_FALSE(r.child_snapshot_running());
}

// A single node whose compaction snapshots are taken by a child: the log is
// compacted at the child's index, and a restart from the stored snapshot plus
// the rest of the log has every write, each applied once.
TEST(ChildSnapshotCompaction, ANodeRestartsFromWhatItsChildWrote) {
  auto cluster = one_node_with_snapshot_children();
  ASSERT_NE(cluster, nullptr);
  LocalCluster& c = *cluster;
  // Big enough to take the file path (RocksLogStore::kSnapshotFileBytes).
  const std::string value(1000, 'v');
  Replica* r = c.replica(NodeId(1));
  for (int i = 0; i < 400; ++i) {
    auto o = c.write({"SET", "k" + std::to_string(i), value + std::to_string(i)});
    ASSERT_TRUE(o.status.is_ok()) << o.status.to_string();
    // Not idempotent: a snapshot whose recorded index is older than its
    // state would have some of these applied twice after the restart.
    ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":" + std::to_string(i + 1));
    // Now and then let a running child finish, so that several compactions
    // go through children while writes continue (others finish on their own).
    if (i % 50 == 49) finish_child(c, *r);
  }
  finish_child(c, *r);
  EXPECT_GE(r->child_snapshots_done(), 3u);
  EXPECT_EQ(r->child_snapshots_failed(), 0u);
  // Compacted at a child's index, well past the start.
  EXPECT_GT(r->raft().log().first_index(), LogIndex(100));
  // The last snapshot file written and its compaction stored (with the next
  // batch), so that the restart starts from a child's snapshot.
  c.rocks_store(NodeId(1))->drain_snapshot_writes();
  ASSERT_TRUE(c.write({"SET", "last", "1"}).status.is_ok());
  c.crash(NodeId(1));
  ASSERT_TRUE(c.start(NodeId(1)).is_ok());
  ASSERT_TRUE(c.wait_leader().has_value());
  EXPECT_GT(c.replica(NodeId(1))->raft().log().first_index(), LogIndex(100));
  EXPECT_EQ(c.read(NodeId(1), {"GET", "last"}), "$1");
  EXPECT_EQ(c.read(NodeId(1), {"GET", "counter"}), "$400");
  for (int i = 0; i < 400; ++i) {
    EXPECT_EQ(c.read(NodeId(1), {"GET", "k" + std::to_string(i)}), "$" + value + std::to_string(i))
        << i;
  }
}

// A child killed while it streams (its state is bigger than the pipe, so it
// waits for the parent's next poll): nothing is staged from it, the replica
// serializes in-process at once and from then on, and a restart has every
// write.
TEST(ChildSnapshotCompaction, AKilledChildFallsBackToInProcessSnapshots) {
  auto cluster = one_node_with_snapshot_children();
  ASSERT_NE(cluster, nullptr);
  LocalCluster& c = *cluster;
  Replica* r = c.replica(NodeId(1));
  const std::string value(1000, 'v');
  bool killed = false;
  LogIndex killed_at;
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), value}).status.is_ok());
    ASSERT_EQ(c.write({"INCR", "counter"}).reply, ":" + std::to_string(i + 1));
    // A child of a state over 1.5 MB can't have finished: it waits on the
    // full pipe (1 MiB at most) for the next poll.
    if (r->child_snapshot_running() && r->state_machine().store().size() > 1500) {
      ASSERT_EQ(::kill(r->child_snapshot_pid(), SIGKILL), 0);
      killed = true;
      killed_at = r->applied();
      break;
    }
  }
  ASSERT_TRUE(killed);
  finish_child(c, *r);
  EXPECT_EQ(r->child_snapshots_failed(), 1u);
  // Compacted in-process at once, at the index the host had reached (not a
  // full compaction interval later).
  EXPECT_GE(r->raft().log().first_index(), killed_at);
  uint64_t done = r->child_snapshots_done();
  // And in-process from then on: no child through several more compactions.
  for (int i = 0; i < 8000; ++i) {
    ASSERT_TRUE(c.write({"INCR", "counter"}).status.is_ok());
    ASSERT_FALSE(r->child_snapshot_running());
  }
  EXPECT_EQ(r->child_snapshots_done(), done);
  EXPECT_FALSE(r->child_snapshot_running());
  c.rocks_store(NodeId(1))->drain_snapshot_writes();
  ASSERT_TRUE(c.write({"SET", "last", "1"}).status.is_ok());
  std::string counter = c.read(NodeId(1), {"GET", "counter"});
  c.crash(NodeId(1));
  ASSERT_TRUE(c.start(NodeId(1)).is_ok());
  ASSERT_TRUE(c.wait_leader().has_value());
  EXPECT_EQ(c.read(NodeId(1), {"GET", "counter"}), counter);
  EXPECT_EQ(c.read(NodeId(1), {"GET", "last"}), "$1");
  EXPECT_EQ(c.read(NodeId(1), {"GET", "k1499"}), "$" + value);
}

}  // namespace
}  // namespace shoal::replica
