#include "kv/state_machine.h"

#include <gtest/gtest.h>

#include <random>

#include "kv/test_sink.h"
#include "storage/memory_engine.h"

namespace shoal::kv {
namespace {

std::string text(const RecordedReply& r) {
  testing::TextSink sink;
  r.replay(sink);
  return sink.text;
}

WriteCommand w(uint64_t client, uint64_t seq, int64_t now, std::vector<std::string> args) {
  return WriteCommand{client, seq, now, std::move(args)};
}

StateMachine make(StateMachineOptions o = {}) {
  return StateMachine(std::make_unique<storage::MemoryEngine>(), o);
}

TEST(WriteCommand, RoundTripAndRejectsCorruption) {
  WriteCommand c = w(7, 9, 1234, {"SET", "k", std::string("v\0x", 3)});
  std::string bytes = encode_write_command(c);
  auto back = decode_write_command(bytes);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back.value(), c);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decode_write_command(bytes.substr(0, cut)).is_ok()) << cut;
  }
  EXPECT_FALSE(decode_write_command(bytes + "x").is_ok());
}

TEST(RecordedReply, EncodeDecodeReplay) {
  RecordedReply r;
  r.map(2);
  r.bulk("matches");
  r.array(0);
  r.bulk("len");
  r.integer(6);
  auto back = RecordedReply::decode(r.encode());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(text(*back), "%2 $matches *0 $len :6");
  EXPECT_FALSE(RecordedReply::decode("\xff\xff\xff\xff\x0f").has_value());
}

// H17: a retried INCR/APPEND (same client id and seq) applies once and gets
// the first reply again.
TEST(StateMachine, H17_RetriedWriteAppliesOnce) {
  auto sm = make();
  EXPECT_EQ(text(sm.apply(w(1, 1, 1000, {"INCR", "n"}))), ":1");
  EXPECT_EQ(text(sm.apply(w(1, 1, 1001, {"INCR", "n"}))), ":1");  // retry
  EXPECT_EQ(text(sm.apply(w(1, 2, 1002, {"APPEND", "s", "ab"}))), ":2");
  EXPECT_EQ(text(sm.apply(w(1, 2, 1003, {"APPEND", "s", "ab"}))), ":2");  // retry
  EXPECT_EQ(text(sm.apply(w(1, 1, 1004, {"INCR", "n"}))),
            "-ERR request already applied (stale retry)");
  EXPECT_EQ(text(sm.apply(w(2, 1, 1005, {"INCR", "n"}))), ":2");  // another client
  auto v = sm.store().find("s", 2000);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->payload, "ab");
}

TEST(StateMachine, SessionsAreBoundedDeterministically) {
  StateMachineOptions o;
  o.max_sessions = 3;
  o.session_ttl_ms = 1000;
  auto sm = make(o);
  for (uint64_t c = 1; c <= 5; ++c) sm.apply(w(c, 1, 100 + c, {"INCR", "n"}));
  EXPECT_EQ(sm.session_count(), 3u);
  sm.apply(w(9, 1, 5000, {"INCR", "n"}));  // everything else idle > ttl
  EXPECT_EQ(sm.session_count(), 1u);
}

// H19: replicas applying the same entries agree, whatever their own clocks;
// expiry is decided by the entries' time.
TEST(StateMachine, H19_ReplicasAgreeOnStateAndExpiry) {
  std::mt19937_64 rng(7);
  auto a = make();
  auto b = make();
  int64_t now = 1'700'000'000'000;
  std::vector<std::string> ops = {"SET", "INCR", "APPEND", "PEXPIRE", "DEL", "shoal.expire"};
  for (int i = 0; i < 3000; ++i) {
    now += rng() % 7;
    std::string key = "k" + std::to_string(rng() % 20);
    std::vector<std::string> args;
    switch (rng() % 6) {
      case 0:
        args = {"SET", key, std::to_string(rng() % 100), "PX", std::to_string(1 + rng() % 50)};
        break;
      case 1:
        args = {"INCR", key};
        break;
      case 2:
        args = {"APPEND", key, "x"};
        break;
      case 3:
        args = {"PEXPIRE", key, std::to_string(rng() % 30)};
        break;
      case 4:
        args = {"DEL", key};
        break;
      default: {
        // The leader proposes deletions of keys it saw expire.
        auto due = a.store().collect_expired(now, 4);
        if (due.empty()) continue;
        args = {"shoal.expire", due[0].first, std::to_string(due[0].second)};
      }
    }
    WriteCommand cmd = w(1 + rng() % 3, static_cast<uint64_t>(i + 1), now, args);
    std::string entry = encode_write_command(cmd);
    EXPECT_EQ(text(a.apply_bytes(entry)), text(b.apply_bytes(entry))) << i;
  }
  EXPECT_EQ(a.state_hash(), b.state_hash());
  EXPECT_EQ(a.store().size(), b.store().size());
}

TEST(StateMachine, SnapshotRestoreRoundTripAndCorruption) {
  auto a = make();
  a.apply(w(1, 1, 1000, {"SET", "k", "v", "PX", "100000"}));
  a.apply(w(1, 2, 1001, {"INCR", "n"}));
  a.apply(w(0, 0, 1002, {"APPEND", "s", std::string("x\0y", 3)}));
  std::string snap = a.snapshot_data();
  auto b = make();
  ASSERT_TRUE(b.restore(snap).is_ok());
  EXPECT_EQ(a.state_hash(), b.state_hash());
  EXPECT_EQ(text(b.apply(w(1, 2, 1003, {"INCR", "n"}))), ":1");  // session came along
  EXPECT_EQ(b.store().expires_count(), 1u);
  for (size_t i = 0; i < snap.size(); ++i) {
    std::string bad = snap;
    bad[i] ^= 0x20;
    auto c = make();
    c.apply(w(0, 0, 1, {"SET", "keep", "me"}));
    EXPECT_FALSE(c.restore(bad).is_ok()) << i;
    EXPECT_TRUE(c.store().find("keep", 2).has_value());  // untouched on failure
  }
}

TEST(StateMachine, StateHashDetectsDivergence) {
  auto a = make();
  auto b = make();
  a.apply(w(0, 0, 1, {"SET", "k", "v"}));
  b.apply(w(0, 0, 1, {"SET", "k", "w"}));
  EXPECT_NE(a.state_hash(), b.state_hash());
}

TEST(StateMachine, RejectsReadsAndCorruptEntries) {
  auto sm = make();
  EXPECT_EQ(text(sm.apply(w(0, 0, 1, {"GET", "k"}))), "-ERR not a replicated write command");
  EXPECT_EQ(text(sm.apply(w(0, 0, 1, {"SET", "k"}))), "-ERR not a replicated write command");
  EXPECT_EQ(text(sm.apply(w(0, 0, 1, {"shoal.expire", "k"}))),
            "-ERR not a replicated write command");
  EXPECT_EQ(text(sm.apply_bytes("garbage")).substr(0, 24), "-ERR corrupt log entry: ");
}

}  // namespace
}  // namespace shoal::kv
