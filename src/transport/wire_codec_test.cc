#include "transport/wire_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace shoal::transport {
namespace {

using namespace std::string_literals;

// ---- builders and comparisons (the plain structs have no operator==)

raft::Message full_message(raft::MessageType type, uint64_t seed) {
  raft::Message m;
  m.type = type;
  m.from = NodeId(seed + 1);
  m.to = NodeId(seed + 2);
  m.term = Term(seed + 3);
  m.log_term = Term(seed + 4);
  m.index = LogIndex(seed + 5);
  m.commit = LogIndex(seed + 6);
  m.reject_hint = LogIndex(seed + 7);
  m.hint_term = Term(seed + 8);
  m.reject = true;
  m.force = true;
  m.seq = seed + 9;
  m.context = ~uint64_t{0} - seed;  // the full 64 bits must survive
  m.entries.push_back({Term(seed), LogIndex(seed + 6), raft::EntryType::kNormal, "set k v"});
  m.entries.push_back(
      {Term(seed), LogIndex(seed + 7), raft::EntryType::kConfChange, "\x00\xff\x80 binary"s});
  m.entries.push_back({Term(seed + 1), LogIndex(seed + 8), raft::EntryType::kNormal, ""});
  m.snapshot.meta.index = LogIndex(seed + 100);
  m.snapshot.meta.term = Term(seed + 101);
  m.snapshot.meta.conf = raft::ConfState{.voters = {NodeId(1), NodeId(2), NodeId(3)},
                                         .voters_outgoing = {NodeId(1), NodeId(4)},
                                         .learners = {NodeId(5)},
                                         .learners_next = {NodeId(4)},
                                         .auto_leave = true};
  m.snapshot.data = "snapshot\x00\xfe bytes"s + std::string(1000, 'z');
  return m;
}

void expect_same(const raft::Message& a, const raft::Message& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.term, b.term);
  EXPECT_EQ(a.log_term, b.log_term);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.commit, b.commit);
  EXPECT_EQ(a.reject_hint, b.reject_hint);
  EXPECT_EQ(a.hint_term, b.hint_term);
  EXPECT_EQ(a.reject, b.reject);
  EXPECT_EQ(a.force, b.force);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.context, b.context);
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].term, b.entries[i].term);
    EXPECT_EQ(a.entries[i].index, b.entries[i].index);
    EXPECT_EQ(a.entries[i].type, b.entries[i].type);
    EXPECT_EQ(a.entries[i].data, b.entries[i].data);
  }
  EXPECT_EQ(a.snapshot.meta.index, b.snapshot.meta.index);
  EXPECT_EQ(a.snapshot.meta.term, b.snapshot.meta.term);
  EXPECT_EQ(a.snapshot.meta.conf, b.snapshot.meta.conf);
  EXPECT_EQ(a.snapshot.data, b.snapshot.data);
}

PeerBatch full_batch() {
  PeerBatch b;
  for (int t = 0; t <= static_cast<int>(raft::MessageType::kReadIndexResp); ++t) {
    b.raft.push_back(RaftEnvelope{.shard = ShardId(10 + t),
                                  .epoch = ShardEpoch{.conf_ver = 3, .version = uint64_t(t)},
                                  .msg = full_message(static_cast<raft::MessageType>(t), t)});
  }
  b.requests.push_back(ForwardRequest{.id = 77,
                                      .shard = ShardId(5),
                                      .epoch = ShardEpoch{.conf_ver = 9, .version = 2},
                                      .args = {"SET", "k\x00\xff"s, "", std::string(300, 'v')},
                                      .allow_follower = true});
  b.requests.push_back(ForwardRequest{.id = 78, .shard = ShardId(6), .args = {"GET", "x"}});
  for (uint8_t c = 0; c <= static_cast<uint8_t>(ForwardCode::kStaleEpoch); ++c) {
    b.responses.push_back(ForwardResponse{.id = 100u + c,
                                          .code = static_cast<ForwardCode>(c),
                                          .reply = "+OK\r\n\x00\xc3"s,
                                          .message = "key \xff\xfe not valid utf-8",
                                          .leader_hint = NodeId(c)});
  }
  b.hints.push_back(LeaderHint{.shard = ShardId(1), .term = Term(4), .leader = NodeId(2)});
  b.hints.push_back(
      LeaderHint{.shard = ShardId(~uint64_t{0}), .term = Term(~uint64_t{0}), .leader = NodeId(3)});
  b.snapshot_chunks.push_back(SnapshotChunk{.shard = ShardId(7),
                                            .epoch = ShardEpoch{.conf_ver = 2, .version = 5},
                                            .term = Term(9),
                                            .index = LogIndex(1234),
                                            .round = 3,
                                            .frame = 0,
                                            .bytes = "frame\x00\xff\x80"s + std::string(500, 'f'),
                                            .last = false});
  b.snapshot_chunks.push_back(SnapshotChunk{.shard = ShardId(~uint64_t{0}),
                                            .term = Term(~uint64_t{0}),
                                            .index = LogIndex(~uint64_t{0}),
                                            .round = ~uint64_t{0},
                                            .frame = ~uint64_t{0},
                                            .last = true});
  for (uint8_t c = 0; c <= static_cast<uint8_t>(SnapshotAckCode::kAbort); ++c) {
    b.snapshot_acks.push_back(SnapshotAck{.shard = ShardId(7),
                                          .index = LogIndex(1234 + c),
                                          .round = uint64_t{c} * 11,
                                          .next_frame = ~uint64_t{0} - c,
                                          .code = static_cast<SnapshotAckCode>(c)});
  }
  return b;
}

void expect_same(const PeerBatch& a, const PeerBatch& b) {
  ASSERT_EQ(a.raft.size(), b.raft.size());
  for (size_t i = 0; i < a.raft.size(); ++i) {
    EXPECT_EQ(a.raft[i].shard, b.raft[i].shard);
    EXPECT_EQ(a.raft[i].epoch, b.raft[i].epoch);
    expect_same(a.raft[i].msg, b.raft[i].msg);
  }
  ASSERT_EQ(a.requests.size(), b.requests.size());
  for (size_t i = 0; i < a.requests.size(); ++i) {
    EXPECT_EQ(a.requests[i].id, b.requests[i].id);
    EXPECT_EQ(a.requests[i].shard, b.requests[i].shard);
    EXPECT_EQ(a.requests[i].epoch, b.requests[i].epoch);
    EXPECT_EQ(a.requests[i].args, b.requests[i].args);
    EXPECT_EQ(a.requests[i].allow_follower, b.requests[i].allow_follower);
  }
  ASSERT_EQ(a.responses.size(), b.responses.size());
  for (size_t i = 0; i < a.responses.size(); ++i) {
    EXPECT_EQ(a.responses[i].id, b.responses[i].id);
    EXPECT_EQ(a.responses[i].code, b.responses[i].code);
    EXPECT_EQ(a.responses[i].reply, b.responses[i].reply);
    EXPECT_EQ(a.responses[i].message, b.responses[i].message);
    EXPECT_EQ(a.responses[i].leader_hint, b.responses[i].leader_hint);
  }
  ASSERT_EQ(a.hints.size(), b.hints.size());
  for (size_t i = 0; i < a.hints.size(); ++i) {
    EXPECT_EQ(a.hints[i].shard, b.hints[i].shard);
    EXPECT_EQ(a.hints[i].term, b.hints[i].term);
    EXPECT_EQ(a.hints[i].leader, b.hints[i].leader);
  }
  ASSERT_EQ(a.snapshot_chunks.size(), b.snapshot_chunks.size());
  for (size_t i = 0; i < a.snapshot_chunks.size(); ++i) {
    const SnapshotChunk& x = a.snapshot_chunks[i];
    const SnapshotChunk& y = b.snapshot_chunks[i];
    EXPECT_EQ(x.shard, y.shard);
    EXPECT_EQ(x.epoch, y.epoch);
    EXPECT_EQ(x.term, y.term);
    EXPECT_EQ(x.index, y.index);
    EXPECT_EQ(x.round, y.round);
    EXPECT_EQ(x.frame, y.frame);
    EXPECT_EQ(x.bytes, y.bytes);
    EXPECT_EQ(x.last, y.last);
  }
  ASSERT_EQ(a.snapshot_acks.size(), b.snapshot_acks.size());
  for (size_t i = 0; i < a.snapshot_acks.size(); ++i) {
    const SnapshotAck& x = a.snapshot_acks[i];
    const SnapshotAck& y = b.snapshot_acks[i];
    EXPECT_EQ(x.shard, y.shard);
    EXPECT_EQ(x.index, y.index);
    EXPECT_EQ(x.round, y.round);
    EXPECT_EQ(x.next_frame, y.next_frame);
    EXPECT_EQ(x.code, y.code);
  }
}

std::string_view body_of(const std::string& frame) {
  return std::string_view(frame).substr(kFrameHeaderBytes);
}

// ---- hand-built protobuf, for values our encoder never produces

std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string field_varint(int field, uint64_t v) { return varint(field << 3) + varint(v); }
std::string field_bytes(int field, const std::string& payload) {
  return varint((field << 3) | 2) + varint(payload.size()) + payload;
}
// PeerFrame{batch{...}}
std::string batch_body(const std::string& batch_payload) { return field_bytes(2, batch_payload); }

// ---- round trips

TEST(WireCodec, RaftMessageOfEveryTypeRoundTrips) {
  for (int t = 0; t <= static_cast<int>(raft::MessageType::kReadIndexResp); ++t) {
    SCOPED_TRACE(t);
    raft::Message m = full_message(static_cast<raft::MessageType>(t), t * 1000);
    Result<raft::Message> back = decode_raft_message(encode_raft_message(m));
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    expect_same(m, back.value());
  }
}

TEST(WireCodec, DefaultRaftMessageRoundTripsAndIsSmall) {
  raft::Message m;
  std::string bytes = encode_raft_message(m);
  EXPECT_TRUE(bytes.empty());  // proto3 omits defaults, and an empty snapshot
  Result<raft::Message> back = decode_raft_message(bytes);
  ASSERT_TRUE(back.is_ok());
  expect_same(m, back.value());
}

TEST(WireCodec, SnapshotWithOnlyDataRoundTrips) {
  raft::Message m;
  m.type = raft::MessageType::kSnap;
  m.snapshot.data = "only data";
  Result<raft::Message> back = decode_raft_message(encode_raft_message(m));
  ASSERT_TRUE(back.is_ok());
  expect_same(m, back.value());
}

TEST(WireCodec, BatchFrameRoundTrips) {
  PeerBatch b = full_batch();
  b.from = NodeId(42);  // not on the wire: the receiver takes it from the hello
  std::string frame = encode_batch_frame(b);
  ASSERT_GT(frame.size(), kFrameHeaderBytes);
  uint32_t len = (uint32_t(uint8_t(frame[0])) << 24) | (uint32_t(uint8_t(frame[1])) << 16) |
                 (uint32_t(uint8_t(frame[2])) << 8) | uint32_t(uint8_t(frame[3]));
  EXPECT_EQ(len, frame.size() - kFrameHeaderBytes);
  Result<Frame> back = decode_frame_body(body_of(frame));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  const PeerBatch* got = std::get_if<PeerBatch>(&back.value());
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->from, NodeId());
  expect_same(b, *got);
}

TEST(WireCodec, HelloRoundTrips) {
  Hello h{.node = NodeId(7), .cluster_id = 0xdeadbeefcafeULL, .protocol_version = 3};
  Result<Frame> back = decode_frame_body(body_of(encode_hello_frame(h)));
  ASSERT_TRUE(back.is_ok());
  ASSERT_TRUE(std::holds_alternative<Hello>(back.value()));
  EXPECT_EQ(std::get<Hello>(back.value()), h);
}

TEST(WireCodec, EmptyBatchIsABatch) {
  Result<Frame> back = decode_frame_body(body_of(encode_batch_frame(PeerBatch())));
  ASSERT_TRUE(back.is_ok());
  ASSERT_TRUE(std::holds_alternative<PeerBatch>(back.value()));
  EXPECT_TRUE(std::get<PeerBatch>(back.value()).empty());
}

// ---- validation of what the network sends

TEST(WireCodec, UnknownEnumValuesAreErrors) {
  // RaftMessage.type = 12 (one past kReadIndexResp).
  EXPECT_EQ(decode_raft_message(field_varint(1, 12)).status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(decode_raft_message(field_varint(1, 11)).is_ok());
  // Batch.raft[0].msg.type = 99.
  std::string raft_env = field_bytes(3, field_varint(1, 99));
  EXPECT_FALSE(decode_frame_body(batch_body(field_bytes(1, raft_env))).is_ok());
  // Batch.raft[0].msg.entries[0].type = 2.
  std::string entry = field_bytes(14, field_varint(3, 2));
  EXPECT_FALSE(decode_frame_body(batch_body(field_bytes(1, field_bytes(3, entry)))).is_ok());
  entry = field_bytes(14, field_varint(3, 1));
  EXPECT_TRUE(decode_frame_body(batch_body(field_bytes(1, field_bytes(3, entry)))).is_ok());
  // Batch.responses[0].code = 5, and a negative enum value (10-byte varint).
  EXPECT_FALSE(decode_frame_body(batch_body(field_bytes(3, field_varint(2, 5)))).is_ok());
  EXPECT_FALSE(
      decode_frame_body(batch_body(field_bytes(3, field_varint(2, ~uint64_t{0})))).is_ok());
  EXPECT_TRUE(decode_frame_body(batch_body(field_bytes(3, field_varint(2, 4)))).is_ok());
}

TEST(WireCodec, SnapshotMessagesRoundTripAlone) {
  PeerBatch b;
  b.snapshot_chunks.push_back(SnapshotChunk{.shard = ShardId(1), .frame = 4, .bytes = "x"});
  EXPECT_FALSE(b.empty());
  Result<Frame> back = decode_frame_body(body_of(encode_batch_frame(b)));
  ASSERT_TRUE(back.is_ok());
  expect_same(b, std::get<PeerBatch>(back.value()));
  PeerBatch acks;
  acks.snapshot_acks.push_back(SnapshotAck{.shard = ShardId(1), .code = SnapshotAckCode::kDone});
  EXPECT_FALSE(acks.empty());
  back = decode_frame_body(body_of(encode_batch_frame(acks)));
  ASSERT_TRUE(back.is_ok());
  expect_same(acks, std::get<PeerBatch>(back.value()));
}

TEST(WireCodec, UnknownSnapshotAckCodeIsAnError) {
  // Batch.snapshot_acks[0].code = 4 (one past kAbort).
  EXPECT_EQ(decode_frame_body(batch_body(field_bytes(6, field_varint(5, 4)))).status().code(),
            StatusCode::kCorruption);
  EXPECT_TRUE(decode_frame_body(batch_body(field_bytes(6, field_varint(5, 3)))).is_ok());
}

TEST(WireCodec, GarbageIsRejected) {
  EXPECT_FALSE(decode_frame_body("").is_ok());  // neither hello nor batch
  EXPECT_FALSE(decode_frame_body("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").is_ok());
  EXPECT_FALSE(decode_frame_body("\x12\x05"
                                 "ab")
                   .is_ok());                                   // truncated batch
  EXPECT_FALSE(decode_frame_body("\x0f").is_ok());              // group end tag
  EXPECT_FALSE(decode_frame_body(field_varint(2, 1)).is_ok());  // batch as a varint
  EXPECT_FALSE(decode_raft_message("\x72\x7f"
                                   "short")
                   .is_ok());  // entries overrun
}

TEST(WireCodec, RandomBytesNeverCrash) {
  std::mt19937_64 rng(12345);
  std::string valid = encode_batch_frame(full_batch()).substr(kFrameHeaderBytes);
  for (int i = 0; i < 3000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng() % 64);
      for (char& c : bytes) c = static_cast<char>(rng());
    } else {
      bytes = valid;  // a valid frame with a few bytes flipped
      for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    Result<Frame> f = decode_frame_body(bytes);
    (void)f;  // ok or an error, never a crash
    Result<raft::Message> m = decode_raft_message(bytes);
    (void)m;
  }
}

// ---- framing

std::vector<std::string> drain(FrameDecoder& d, bool* failed) {
  std::vector<std::string> out;
  for (;;) {
    auto next = d.next();
    if (!next.is_ok()) {
      *failed = true;
      return out;
    }
    if (!next.value()) return out;
    out.emplace_back(*next.value());
  }
}

TEST(FrameDecoder, EverySplitPoint) {
  PeerBatch small;
  small.hints.push_back(LeaderHint{ShardId(1), Term(2), NodeId(3)});
  std::vector<std::string> frames = {encode_hello_frame(Hello{.node = NodeId(1), .cluster_id = 9}),
                                     encode_batch_frame(full_batch()),
                                     encode_batch_frame(PeerBatch()),  // 0-byte body
                                     encode_batch_frame(small)};
  std::string stream;
  for (const std::string& f : frames) stream += f;
  for (size_t cut1 = 0; cut1 <= stream.size(); ++cut1) {
    // A second cut near the first and one far away cover the 3-piece splits
    // that matter (inside the header, inside the body) without O(n^2) runs.
    for (size_t cut2 : {cut1, std::min(stream.size(), cut1 + 3), stream.size()}) {
      FrameDecoder d(1 << 20);
      bool failed = false;
      std::vector<std::string> got;
      for (auto [lo, hi] :
           {std::pair{size_t{0}, cut1}, std::pair{cut1, cut2}, std::pair{cut2, stream.size()}}) {
        d.append(std::string_view(stream).substr(lo, hi - lo));
        for (std::string& body : drain(d, &failed)) got.push_back(std::move(body));
      }
      ASSERT_FALSE(failed);
      ASSERT_EQ(got.size(), frames.size()) << "cuts " << cut1 << "," << cut2;
      for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(got[i], body_of(frames[i]));
      EXPECT_EQ(d.buffered(), 0u);
    }
  }
}

TEST(FrameDecoder, ByteByByte) {
  std::string stream = encode_batch_frame(full_batch()) + encode_hello_frame(Hello{});
  FrameDecoder d(1 << 20);
  bool failed = false;
  size_t frames = 0;
  for (char c : stream) {
    d.append(std::string_view(&c, 1));
    frames += drain(d, &failed).size();
  }
  EXPECT_FALSE(failed);
  EXPECT_EQ(frames, 2u);
}

TEST(FrameDecoder, OversizeLengthFailsBeforeTheBody) {
  const size_t limit = 1000;
  {
    FrameDecoder d(limit);
    d.append("\x00\x00\x03\xe8"s + std::string(limit, 'x'));  // exactly the limit: fine
    bool failed = false;
    EXPECT_EQ(drain(d, &failed).size(), 1u);
    EXPECT_FALSE(failed);
  }
  {
    FrameDecoder d(limit);
    d.append("\x00\x00\x03\xe9"s);  // limit + 1: refused on the header alone
    EXPECT_EQ(d.next().status().code(), StatusCode::kCorruption);
    EXPECT_FALSE(d.next().is_ok());  // and stays failed
    d.append("more");
    EXPECT_FALSE(d.next().is_ok());
    EXPECT_EQ(d.buffered(), 0u);
  }
  {
    FrameDecoder d(256u << 20);
    d.append("\xff\xff\xff\xff"s);  // 4 GiB announced: nothing is reserved for it
    EXPECT_FALSE(d.next().is_ok());
    EXPECT_EQ(d.buffered(), 0u);
  }
  {
    // An oversize frame behind a good one fails when it becomes the next.
    FrameDecoder d(limit);
    d.append(encode_hello_frame(Hello{.node = NodeId(1)}) + "\x7f\x00\x00\x00"s);
    EXPECT_TRUE(d.next().is_ok());
    EXPECT_FALSE(d.next().is_ok());
  }
}

}  // namespace
}  // namespace shoal::transport
