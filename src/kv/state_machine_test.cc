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

// The first item is kept inline and the rest in a vector: the value, its
// items, copies, moves and equality must not show the seam.
TEST(RecordedReply, OneItemAndManyItemsBehaveAlike) {
  RecordedReply empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(RecordedReply::decode(empty.encode()), empty);

  RecordedReply one;
  one.ok();
  EXPECT_FALSE(one.empty());
  EXPECT_FALSE(one.is_error());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.item(0).text, "OK");
  EXPECT_EQ(RecordedReply::decode(one.encode()), one);
  EXPECT_NE(one, empty);

  RecordedReply three;
  three.array(2);
  three.bulk("a");
  EXPECT_EQ(three.size(), 2u);
  three.null();
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three.item(0).kind, RecordedReply::Kind::kArray);
  EXPECT_EQ(three.item(1).text, "a");
  EXPECT_EQ(three.item(2).kind, RecordedReply::Kind::kNull);
  EXPECT_EQ(text(three), "*2 $a (nil)");
  RecordedReply copy = three;
  EXPECT_EQ(copy, three);
  RecordedReply moved = std::move(copy);
  EXPECT_EQ(moved, three);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(RecordedReply::decode(three.encode()), three);

  RecordedReply err;
  err.error("ERR x");
  EXPECT_TRUE(err.is_error());
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
  WriteEntryBuilder pending;
  constexpr size_t kBatchSizes[] = {1, 2, 3, 5, 31, 32, 33, 64, 100};
  size_t batch = 5;
  std::vector<std::string> expected;  // a's replies to the commands pending for b
  auto flush = [&] {
    if (pending.empty()) return;
    std::vector<RecordedReply> rb;
    b.apply_entry(pending.finish(), rb);
    ASSERT_EQ(rb.size(), expected.size());
    for (size_t j = 0; j < rb.size(); ++j) EXPECT_EQ(text(rb[j]), expected[j]) << j;
    expected.clear();
  };
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
    // `a` applies single-command entries, `b` the same commands in batches
    // of varied sizes, some across apply_entry's chunks of 32 (decoded and
    // prefetched together): the state and the replies must not differ.
    std::vector<RecordedReply> ra;
    a.apply_entry(encode_write_command(cmd), ra);
    pending.add(cmd);
    expected.push_back(text(ra.at(0)));
    if (pending.count() >= batch) {
      flush();
      batch = kBatchSizes[rng() % std::size(kBatchSizes)];
    }
  }
  flush();
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
  std::vector<RecordedReply> replies;
  sm.apply_entry("garbage", replies);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(text(replies[0]).substr(0, 24), "-ERR corrupt log entry: ");
}

TEST(WriteEntryBuilder, OneCommandIsAPlainEntryAndABatchSplitsInOrder) {
  WriteEntryBuilder b;
  WriteCommand one = w(7, 9, 1234, {"SET", "k", std::string("v\0x", 3)});
  b.add(one);
  EXPECT_EQ(b.finish(), encode_write_command(one));
  EXPECT_TRUE(b.empty());
  std::vector<WriteCommand> cmds;
  for (int i = 0; i < 200; ++i) {
    cmds.push_back(w(i, i + 1, 1000 + i, {"SET", "key" + std::to_string(i), std::string(i, 'v')}));
    b.add(cmds.back());
  }
  EXPECT_EQ(b.count(), 200u);
  std::string entry = b.finish();
  auto parts = split_write_entry(entry);
  ASSERT_TRUE(parts.is_ok()) << parts.status().message();
  ASSERT_EQ(parts.value().size(), cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    auto back = decode_write_command(parts.value()[i]);
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(back.value(), cmds[i]);
  }
  EXPECT_TRUE(b.empty());
}

// The log record's CRC catches flipped bits; the frame must still never
// read past its bytes or yield a command from a cut entry.
TEST(WriteEntryBuilder, EveryTruncationOfABatchIsRejected) {
  WriteEntryBuilder b;
  b.add(w(1, 1, 5, {"SET", "a", "1"}));
  b.add(w(1, 2, 6, {"INCR", "n"}));
  b.add(w(0, 0, 7, {"APPEND", "s", "xyz"}));
  std::string entry = b.finish();
  for (size_t cut = 0; cut < entry.size(); ++cut) {
    auto parts = split_write_entry(entry.substr(0, cut));
    if (!parts.is_ok()) continue;
    bool all_decode = true;
    for (auto p : parts.value()) all_decode &= decode_write_command(p).is_ok();
    EXPECT_FALSE(all_decode) << cut;
  }
  EXPECT_FALSE(split_write_entry(entry + "x").is_ok());
  auto sm = make();
  std::vector<RecordedReply> replies;
  sm.apply_entry(entry, replies);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(text(replies[0]), "+OK");
  EXPECT_EQ(text(replies[1]), ":1");
  EXPECT_EQ(text(replies[2]), ":3");
}

}  // namespace
}  // namespace shoal::kv
