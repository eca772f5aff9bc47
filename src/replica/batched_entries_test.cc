// Batched entries (docs/durable-shards.md, "Batched entries"): the writes
// proposed to a shard's leader during one host iteration are proposed to Raft
// as one log entry (kv::WriteEntryBuilder), cut at 1024 writes or 256 KiB;
// each write still gets its own reply, and every outcome reaches every write
// of the batch exactly once. Hazards named: H16, H17, H18.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "replica/local_cluster.h"

namespace shoal::replica {
namespace {

using testing::LocalCluster;
using testing::LocalClusterOptions;
using testing::StoreKind;

// A LocalCluster for the tests below; `tweak` adjusts the replica options.
std::unique_ptr<LocalCluster> batch_cluster(
    std::function<void(LocalClusterOptions&)> tweak = nullptr) {
  LocalClusterOptions o;
  if (tweak) tweak(o);
  auto c = LocalCluster::create(std::move(o));
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return c.is_ok() ? std::move(c).value() : nullptr;
}

// The leader, after one write through the cluster helper (so that it has
// committed an entry of its own term and serves at once).
NodeId warm_leader(LocalCluster& c) {
  NodeId l = c.wait_leader().value_or(NodeId(1));
  EXPECT_TRUE(c.write({"SET", "warm", "up"}).status.is_ok());
  return l;
}

// Writes proposed directly on one replica (not through the cluster helper,
// which proposes on whichever node leads), with how often each callback ran.
// The callbacks share the state, so one that runs after a failed assertion
// left the test early writes nowhere dangerous.
class Batch {
 public:
  void propose(Replica& r, std::vector<std::string> args, int64_t now, uint64_t client = 0,
               uint64_t seq = 0) {
    size_t i = st_->calls.size();
    st_->calls.push_back(0);
    st_->outcomes.emplace_back();
    r.propose(kv::WriteCommand{client, seq, now, std::move(args)},
              [st = st_, i](Status s, kv::RecordedReply reply) {
                ++st->calls[i];
                st->outcomes[i] = {std::move(s), testing::reply_text(reply)};
              });
  }
  size_t size() const { return st_->calls.size(); }
  size_t answered() const {
    return std::count_if(st_->calls.begin(), st_->calls.end(), [](int n) { return n > 0; });
  }
  bool all_answered() const { return answered() == size(); }
  // Ticks `c` until every write was answered (bounded).
  void wait(LocalCluster& c, int max_ticks = 300) {
    for (int t = 0; t < max_ticks && !all_answered(); ++t) c.tick();
  }
  int calls(size_t i) const { return st_->calls[i]; }
  const testing::Outcome& operator[](size_t i) const { return st_->outcomes[i]; }

 private:
  struct State {
    std::vector<int> calls;
    std::vector<testing::Outcome> outcomes;
  };
  std::shared_ptr<State> st_ = std::make_shared<State>();
};

// Every write was answered exactly once.
void expect_each_answered_once(const Batch& b) {
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b.calls(i), 1) << "write " << i;
}

// Every write of `b` from `from` on was answered, once, with `code`.
void expect_all_failed_with(const Batch& b, StatusCode code, size_t from = 0) {
  ASSERT_TRUE(b.all_answered());
  expect_each_answered_once(b);
  for (size_t i = from; i < b.size(); ++i) {
    EXPECT_EQ(b[i].status.code(), code) << "write " << i << ": " << b[i].status.to_string();
  }
}

// The first `n` writes of `b` were INCRs of one counter, each answered once:
// OK with 1..n in order.
void expect_counted(const Batch& b, int n) {
  ASSERT_TRUE(b.all_answered());
  expect_each_answered_once(b);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(b[i].status.is_ok()) << i << ": " << b[i].status.to_string();
    ASSERT_EQ(b[i].reply, ":" + std::to_string(i + 1)) << "write " << i;
  }
}

LogIndex last_index(LocalCluster& c, NodeId id) { return c.replica(id)->raft().log().last_index(); }

TEST(BatchedEntries, WritesOfOneIterationShareOneEntryAndEachGetsItsOwnReply) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId l = warm_leader(*c);
  LogIndex before = last_index(*c, l);
  // INCR n returns 1..N and APPEND s returns the growing length: a reply
  // given to the wrong write of the batch shows.
  Batch b;
  constexpr int kWrites = 60;
  for (int i = 0; i < kWrites; ++i) {
    if (i % 2 == 0)
      b.propose(*c->replica(l), {"INCR", "n"}, c->clock().now_ms());
    else
      b.propose(*c->replica(l), {"APPEND", "s", "abc"}, c->clock().now_ms());
  }
  EXPECT_EQ(last_index(*c, l), before) << "collected, not proposed yet";
  EXPECT_EQ(b.answered(), 0u);
  c->pump_round();
  EXPECT_EQ(last_index(*c, l).value(), before.value() + 1) << "one entry for the whole batch";
  b.wait(*c);
  ASSERT_TRUE(b.all_answered());
  expect_each_answered_once(b);
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_TRUE(b[i].status.is_ok()) << i << ": " << b[i].status.to_string();
    int k = i / 2 + 1;  // the k-th INCR, or the k-th APPEND
    EXPECT_EQ(b[i].reply, ":" + std::to_string(i % 2 == 0 ? k : 3 * k)) << "write " << i;
  }
  EXPECT_EQ(c->read(l, {"GET", "n"}), "$" + std::to_string(kWrites / 2));
}

TEST(BatchedEntries, FollowersApplyTheBatchAsOneEntryToTheSameState) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId l = warm_leader(*c);
  ASSERT_TRUE(c->converge().is_ok());
  LogIndex before = last_index(*c, l);
  Batch b;
  int64_t now = c->clock().now_ms();
  for (int i = 0; i < 40; ++i) {
    std::string key = "k" + std::to_string(i % 7);
    switch (i % 5) {
      case 0:
        b.propose(*c->replica(l), {"SET", key, std::to_string(i), "PX", "100000"}, now);
        break;
      case 1:
        b.propose(*c->replica(l), {"INCR", "n" + std::to_string(i % 3)}, now);
        break;
      case 2:
        b.propose(*c->replica(l), {"APPEND", key, "x"}, now);
        break;
      case 3:
        b.propose(*c->replica(l), {"DEL", "k" + std::to_string(i % 4)}, now);
        break;
      default:
        b.propose(*c->replica(l), {"HSET", "h", key, std::to_string(i)}, now);
        break;
    }
  }
  c->pump_round();
  b.wait(*c);
  ASSERT_TRUE(b.all_answered());
  expect_each_answered_once(b);
  Status same = c->converge();
  EXPECT_TRUE(same.is_ok()) << same.to_string();
  uint64_t leader_hash = c->replica(l)->state_machine().state_hash();
  for (NodeId id : c->nodes()) {
    // The same single entry at the same index, applied to the same state.
    EXPECT_EQ(last_index(*c, id).value(), before.value() + 1) << "node " << id.value();
    EXPECT_EQ(c->replica(id)->applied().value(), before.value() + 1) << "node " << id.value();
    EXPECT_EQ(c->replica(id)->state_machine().state_hash(), leader_hash) << "node " << id.value();
  }
}

TEST(BatchedEntries, MoreThan1024WritesAreCutIntoSeveralEntries) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId l = warm_leader(*c);
  LogIndex before = last_index(*c, l);
  Batch b;
  constexpr int kWrites = 2 * 1024 + 452;
  for (int i = 0; i < kWrites; ++i) b.propose(*c->replica(l), {"INCR", "n"}, c->clock().now_ms());
  // Two full batches were proposed as they filled up; the rest waits.
  EXPECT_EQ(last_index(*c, l).value(), before.value() + 2);
  c->pump_round();
  EXPECT_EQ(last_index(*c, l).value(), before.value() + 3);
  b.wait(*c);
  expect_counted(b, kWrites);
  EXPECT_TRUE(c->converge().is_ok());
}

TEST(BatchedEntries, ABatchIsCutAt256KiB) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId l = warm_leader(*c);
  LogIndex before = last_index(*c, l);
  Batch b;
  const std::string value(4096, 'v');
  // 100 x ~4 KiB: the 64th write takes the batch past 256 KiB.
  for (int i = 0; i < 100; ++i) {
    b.propose(*c->replica(l), {"SET", "k" + std::to_string(i), value}, c->clock().now_ms());
    if (i == 62) {
      EXPECT_EQ(last_index(*c, l), before) << "cut before 256 KiB";
    }
  }
  EXPECT_EQ(last_index(*c, l).value(), before.value() + 1);
  c->pump_round();
  EXPECT_EQ(last_index(*c, l).value(), before.value() + 2);
  b.wait(*c);
  ASSERT_TRUE(b.all_answered());
  expect_each_answered_once(b);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i].reply, "+OK") << i;
  EXPECT_EQ(c->read(l, {"DBSIZE"}), ":101");
  EXPECT_TRUE(c->converge().is_ok());
}

// H17 inside one entry: a retried request (same client and seq) in the same
// batch as its first attempt gets the recorded reply, not a second apply.
TEST(BatchedEntries, H17_RetryInTheSameBatchAppliesOnce) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId l = *c->wait_leader();
  Batch b;
  int64_t now = c->clock().now_ms();
  b.propose(*c->replica(l), {"INCR", "n"}, now, 7, 1);
  b.propose(*c->replica(l), {"INCR", "n"}, now, 7, 1);  // the retry
  b.propose(*c->replica(l), {"INCR", "n"}, now, 7, 2);
  b.propose(*c->replica(l), {"INCR", "n"}, now, 8, 1);
  b.propose(*c->replica(l), {"INCR", "n"}, now, 7, 1);  // a stale retry
  b.wait(*c);
  ASSERT_TRUE(b.all_answered());
  expect_each_answered_once(b);
  EXPECT_EQ(b[0].reply, ":1");
  EXPECT_EQ(b[1].reply, ":1");
  EXPECT_EQ(b[2].reply, ":2");
  EXPECT_EQ(b[3].reply, ":3");
  EXPECT_EQ(b[4].reply.substr(0, 4), "-ERR");
  EXPECT_EQ(c->read(l, {"GET", "n"}), "$3");
  EXPECT_TRUE(c->converge().is_ok());
}

// Cuts `old` off and ticks until another node leads (bounded).
std::optional<NodeId> isolate_until_another_leads(LocalCluster& c, NodeId old) {
  c.network().down.insert(old);
  for (int t = 0; t < 500; ++t) {
    c.tick();
    for (NodeId id : c.nodes()) {
      if (id != old && c.replica(id)->is_leader()) return id;
    }
  }
  return std::nullopt;
}

// A settled cluster whose leader proposed 20 SETs ("lost0".."lost19") as one
// batch and was then cut off before its appends left.
struct CutOffBatch {
  std::unique_ptr<LocalCluster> c;
  NodeId old;
  Batch b;
};
void cut_off_leader_after_a_batch(CutOffBatch& t) {
  t.c = batch_cluster();
  ASSERT_TRUE(t.c);
  t.old = *t.c->wait_leader();
  ASSERT_TRUE(t.c->write({"SET", "warm", "up"}).status.is_ok());
  ASSERT_TRUE(t.c->converge().is_ok());
  for (int i = 0; i < 20; ++i) {
    t.b.propose(*t.c->replica(t.old), {"SET", "lost" + std::to_string(i), "v"},
                t.c->clock().now_ms());
  }
  t.c->network().down.insert(t.old);  // its appends go nowhere
  t.c->pump_round();
}

// H18: the leader is cut off after proposing a batch, before any follower
// got it; another node leads and writes over it. Every write of the batch
// is answered once, none OK, and none was applied anywhere.
TEST(BatchedEntries, H18_BatchLostWithLeadershipIsAnsweredOnceAndNeverOK) {
  CutOffBatch t;
  ASSERT_NO_FATAL_FAILURE(cut_off_leader_after_a_batch(t));
  auto& c = t.c;
  NodeId old = t.old;
  Batch& b = t.b;
  ASSERT_TRUE(c->replica(old)->raft().log().last_index() > c->replica(old)->applied());
  ASSERT_TRUE(isolate_until_another_leads(*c, old).has_value());
  c->network().down.erase(old);
  b.wait(*c);
  ASSERT_TRUE(b.all_answered());
  expect_each_answered_once(b);
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_TRUE(b[i].status.code() == StatusCode::kUnavailable ||
                b[i].status.code() == StatusCode::kUnknownOutcome)
        << i << ": " << b[i].status.to_string();
  }
  EXPECT_TRUE(c->converge().is_ok());
  for (NodeId id : c->nodes()) {
    EXPECT_EQ(c->replica(id)->state_machine().store().size(), 1u) << "node " << id.value();
  }
}

// H18: the old leader, still cut off, cannot learn the batch's fate: after
// its proposal deadline every write is answered unknown, once.
TEST(BatchedEntries, H18_BatchOfACutOffLeaderIsAnsweredUnknownOnce) {
  CutOffBatch t;
  ASSERT_NO_FATAL_FAILURE(cut_off_leader_after_a_batch(t));
  auto& c = t.c;
  NodeId old = t.old;
  Batch& b = t.b;
  ASSERT_TRUE(isolate_until_another_leads(*c, old).has_value());
  b.wait(*c, 1000);
  expect_all_failed_with(b, StatusCode::kUnknownOutcome);
  c->network().down.erase(old);
  EXPECT_TRUE(c->converge().is_ok());
  expect_each_answered_once(b);
  EXPECT_EQ(c->replica(old)->state_machine().store().size(), 1u);
}

// The followers got the batch before the leader was cut off; the next leader
// commits it. The old leader, back, learns it committed, applies it and
// gives each write its own reply.
TEST(BatchedEntries, BatchCommittedByTheNextLeaderGetsEachWriteItsOwnReply) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId old = *c->wait_leader();
  ASSERT_TRUE(c->write({"SET", "warm", "up"}).status.is_ok());
  ASSERT_TRUE(c->converge().is_ok());
  LogIndex before = last_index(*c, old);
  Batch b;
  for (int i = 0; i < 30; ++i) b.propose(*c->replica(old), {"INCR", "n"}, c->clock().now_ms());
  c->pump_round();  // proposed; the appends are on the wire
  ASSERT_EQ(last_index(*c, old).value(), before.value() + 1);
  c->network().down.insert(old);
  c->pump_round();  // the followers take them; their answers are lost
  auto fresh = isolate_until_another_leads(*c, old);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(b.answered(), 0u);
  EXPECT_EQ(c->read(*fresh, {"GET", "n"}), "$30") << "the next leader committed the batch";
  c->network().down.erase(old);
  b.wait(*c);
  expect_counted(b, 30);
  EXPECT_TRUE(c->converge().is_ok());
}

// A batch collected on a leader that starts handing over leadership before
// the batch is proposed: Raft refuses it, and every write hears so at once.
TEST(BatchedEntries, RefusedBatchAnswersEveryWriteUnavailable) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId l = warm_leader(*c);
  ASSERT_TRUE(c->converge().is_ok());
  Batch b;
  for (int i = 0; i < 10; ++i) {
    b.propose(*c->replica(l), {"SET", "r" + std::to_string(i), "v"}, c->clock().now_ms());
  }
  NodeId target = l == NodeId(1) ? NodeId(2) : NodeId(1);
  ASSERT_TRUE(c->replica(l)->raft().transfer_leadership(target).is_ok());
  c->pump_round();
  ASSERT_TRUE(b.all_answered()) << "refused in take_ready, answered there";
  expect_all_failed_with(b, StatusCode::kUnavailable);
  c->tick(50);
  expect_each_answered_once(b);
  EXPECT_TRUE(c->converge().is_ok());
  EXPECT_EQ(c->replica(l)->state_machine().store().size(), 1u);
}

// Raft's bound on uncommitted bytes refuses the second batch of an
// iteration: all of its writes get kBusy and none is applied; the first
// batch (full, proposed at once) commits.
TEST(BatchedEntries, BusyBatchAnswersEveryWriteAndAppliesNone) {
  auto c = batch_cluster([](LocalClusterOptions& o) {
    o.replica.raft.max_uncommitted_bytes = 40 << 10;  // one full batch of INCRs fits
  });
  ASSERT_TRUE(c);
  NodeId l = warm_leader(*c);
  Batch b;
  for (int i = 0; i < 1024 + 300; ++i) {
    b.propose(*c->replica(l), {"INCR", "n"}, c->clock().now_ms());
  }
  c->pump_round();
  b.wait(*c);
  expect_counted(b, 1024);
  expect_all_failed_with(b, StatusCode::kBusy, /*from=*/1024);
  EXPECT_EQ(c->read(l, {"GET", "n"}), "$1024");
  EXPECT_TRUE(c->converge().is_ok());
}

// H16/H18 with batches: a failed log write fails the proposed batch as
// unknown; a batch collected afterwards on the failed host was never
// proposed and is answered unavailable - each write once, none OK.
TEST(BatchedEntries, H16_FailedLogWriteAnswersProposedAndCollectedBatches) {
  auto c = batch_cluster();
  ASSERT_TRUE(c);
  NodeId l = warm_leader(*c);
  c->memory_store(l)->fail_next_commit();
  Batch proposed;
  for (int i = 0; i < 5; ++i) {
    proposed.propose(*c->replica(l), {"SET", "a" + std::to_string(i), "v"}, c->clock().now_ms());
  }
  c->pump_round();
  ASSERT_TRUE(c->host(l)->failed());
  expect_all_failed_with(proposed, StatusCode::kUnknownOutcome);
  // Raft on the failed host still thinks it leads and takes the writes.
  ASSERT_TRUE(c->replica(l)->is_leader());
  Batch collected;
  for (int i = 0; i < 3; ++i) {
    collected.propose(*c->replica(l), {"SET", "b" + std::to_string(i), "v"}, c->clock().now_ms());
  }
  c->pump_round();
  expect_all_failed_with(collected, StatusCode::kUnavailable);
  NodeId fresh = *c->wait_leader();
  ASSERT_NE(fresh, l);
  ASSERT_TRUE(c->write({"SET", "after", "1"}).status.is_ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c->read(fresh, {"GET", "b" + std::to_string(i)}), "(nil)");
  c->tick(20);
  expect_each_answered_once(proposed);
  expect_each_answered_once(collected);
}

// Batches in the log survive a restart of every node: the log is read back
// from RocksDB and replayed, every write of every batch in order.
TEST(BatchedEntries, BatchesReplayAfterARestart) {
  auto c = batch_cluster([](LocalClusterOptions& o) { o.store = StoreKind::kRocks; });
  ASSERT_TRUE(c);
  NodeId l = *c->wait_leader();
  Batch b;
  for (int i = 0; i < 30; ++i) {
    b.propose(*c->replica(l), {"INCR", "n"}, c->clock().now_ms());
    b.propose(*c->replica(l), {"APPEND", "s", std::to_string(i % 10)}, c->clock().now_ms());
    if (i % 10 == 9) c->pump_round();  // three batches
  }
  b.wait(*c);
  ASSERT_TRUE(b.all_answered());
  for (size_t i = 0; i < b.size(); ++i) ASSERT_TRUE(b[i].status.is_ok()) << i;
  ASSERT_TRUE(c->converge().is_ok());
  for (NodeId id : c->nodes()) c->crash(id);
  for (NodeId id : c->nodes()) ASSERT_TRUE(c->start(id, false).is_ok());
  NodeId again = *c->wait_leader();
  EXPECT_EQ(c->read(again, {"GET", "n"}), "$30");
  EXPECT_EQ(c->read(again, {"GET", "s"}), "$012345678901234567890123456789");
  EXPECT_TRUE(c->converge().is_ok());
}

// Compaction follows the writes applied, not the entries: 150 writes in one
// entry reach compact_after_writes = 100; 90 don't.
TEST(BatchedEntries, CompactionCountsWritesNotEntries) {
  auto c = batch_cluster([](LocalClusterOptions& o) { o.replica.compact_after_writes = 100; });
  ASSERT_TRUE(c);
  NodeId l = *c->wait_leader();
  ASSERT_TRUE(c->converge().is_ok());
  auto propose_incrs = [&](int n) {
    Batch b;
    for (int i = 0; i < n; ++i) b.propose(*c->replica(l), {"INCR", "n"}, c->clock().now_ms());
    b.wait(*c);
    ASSERT_TRUE(b.all_answered());
    ASSERT_TRUE(c->converge().is_ok());
  };
  propose_incrs(90);  // with the leader's first entry: 91 writes
  for (NodeId id : c->nodes()) {
    EXPECT_EQ(c->replica(id)->raft().log().first_index().value(), 2u)
        << "node " << id.value() << " compacted before 100 writes";
  }
  LogIndex before = last_index(*c, l);
  propose_incrs(20);
  for (NodeId id : c->nodes()) {
    Replica* r = c->replica(id);
    EXPECT_GT(r->raft().log().first_index(), before)
        << "node " << id.value() << " did not compact after 111 writes in 3 entries";
  }
  EXPECT_EQ(c->read(l, {"GET", "n"}), "$110");
}

}  // namespace
}  // namespace shoal::replica
