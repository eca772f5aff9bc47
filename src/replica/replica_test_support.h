// Test support shared by the replica host's gtest files: LocalCluster with
// gtest assertions, and the scenarios more than one suite runs (with and
// without the pipelined sync).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "replica/local_cluster.h"

namespace shoal::replica::testing {

// LocalCluster with gtest assertions on what the tests take for granted (a
// leader, an outcome, convergence).
class Cluster {
 public:
  explicit Cluster(int shards = 1, uint64_t compact_after = 10000, HostOptions host = {},
                   StoreKind kind = StoreKind::kMemory, bool durable_engine = false,
                   int nodes = 3) {
    LocalClusterOptions o;
    o.nodes = nodes;
    o.durable_engine = durable_engine;
    o.shards = shards;
    o.replica.compact_after_writes = compact_after;
    o.host = host;
    o.store = kind;
    auto c = LocalCluster::create(std::move(o));
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    if (c.is_ok()) c_ = std::move(c).value();
  }

  void start(NodeId id, bool bootstrap) {
    Status s = c_->start(id, bootstrap);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void crash(NodeId id) { c_->crash(id); }
  void tick(int n = 1) { c_->tick(n); }
  void pump_once() { c_->pump_round(); }
  void hold_syncs(bool on) { c_->hold_syncs(on); }
  Replica* replica(NodeId id, int shard = 1) { return c_->replica(id, shard); }

  NodeId wait_leader(int shard = 1) {
    auto l = c_->wait_leader(shard);
    EXPECT_TRUE(l.has_value());
    return l.value_or(NodeId(1));
  }

  // Proposes on the leader and runs until the outcome is known.
  std::pair<Status, std::string> write(std::vector<std::string> args, uint64_t client = 0,
                                       uint64_t seq = 0, int shard = 1) {
    wait_leader(shard);
    testing::Outcome o = c_->write(std::move(args), client, seq, shard);
    EXPECT_NE(o.status.code(), StatusCode::kInternal) << o.status.to_string();  // no outcome
    return {o.status, o.reply};
  }

  std::string read(NodeId on, std::vector<std::string> args, int shard = 1) {
    return c_->read(on, std::move(args), shard);
  }

  // Runs until every live replica applied the same index; then compares state.
  void expect_converged(int shard = 1) {
    Status s = c_->converge(shard);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  }

  MemoryLogStore& store(NodeId id) { return *c_->memory_store(id); }
  testing::Network& network() { return c_->network(); }
  testing::FakeClock& clock() { return *c_->fake_clock(); }

 private:
  std::unique_ptr<LocalCluster> c_;
};

// A LocalCluster made from `o`, with shard 1's leader elected; null (and a
// test failure) if it can't be made.
inline std::unique_ptr<LocalCluster> cluster_with_leader(LocalClusterOptions o) {
  auto created = LocalCluster::create(std::move(o));
  EXPECT_TRUE(created.is_ok()) << created.status().to_string();
  if (!created.is_ok()) return nullptr;
  std::unique_ptr<LocalCluster> c = std::move(created).value();
  EXPECT_TRUE(c->wait_leader().has_value());
  return c;
}

// H11: a leader crash loses nothing acknowledged; the old leader restarts from
// its durable log and catches up.
inline void leader_crash_loses_no_acknowledged_write(HostOptions host) {
  Cluster c(1, 10000, host);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c.write({"SET", "k" + std::to_string(i), std::to_string(i)}).first.is_ok());
  }
  NodeId old = c.wait_leader();
  c.crash(old);
  NodeId fresh = c.wait_leader();
  ASSERT_NE(fresh, old);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(c.read(fresh, {"GET", "k" + std::to_string(i)}), "$" + std::to_string(i));
  }
  ASSERT_TRUE(c.write({"SET", "after", "crash"}).first.is_ok());
  c.start(old, false);
  c.expect_converged();
  EXPECT_EQ(c.replica(old)->state_machine().store().size(), 51u);
}

// Writes acknowledged before a power loss of every node, in a cluster with
// fsync on; returns how many of them are readable after all restart.
inline int survivors_of_total_power_loss(HostOptions host, int nodes = 3) {
  Cluster c(1, 10000, host, StoreKind::kMemory, false, nodes);
  int acked = 0;
  for (int i = 0; i < 30; ++i) {
    acked += c.write({"SET", "k" + std::to_string(i), "v"}).first.is_ok();
  }
  EXPECT_EQ(acked, 30);
  for (int id = 1; id <= nodes; ++id) c.crash(NodeId(id));
  for (int id = 1; id <= nodes; ++id) c.start(NodeId(id), false);
  NodeId l = c.wait_leader();
  int found = 0;
  for (int i = 0; i < 30; ++i) found += c.read(l, {"GET", "k" + std::to_string(i)}) == "$v";
  return found;
}

}  // namespace shoal::replica::testing
