#include "storage/snapshot_format.h"

#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

namespace shoal::storage {
namespace {

using Records = std::vector<std::pair<std::string, std::string>>;

SnapshotHeader test_header() {
  ConfRecord conf;
  conf.voters = {NodeId(1), NodeId(2), NodeId(3)};
  conf.learners = {NodeId(9)};
  return SnapshotHeader{ShardId(7), LogIndex(1234), Term(5), conf};
}

Records make_records(int n) {
  Records r;
  for (int i = 0; i < n; ++i) {
    r.emplace_back("key:" + std::to_string(i), std::string(i % 37, 'v') + std::to_string(i));
  }
  return r;
}

std::vector<std::string> write_frames(const Records& recs, size_t chunk_bytes) {
  SnapshotWriter w(test_header(), chunk_bytes);
  for (const auto& [k, v] : recs) w.add(k, v);
  w.finish();
  std::vector<std::string> frames;
  while (w.has_frame()) frames.push_back(w.take_frame());
  return frames;
}

std::string join(const std::vector<std::string>& frames) {
  std::string s;
  for (const auto& f : frames) s += f;
  return s;
}

struct Collect {
  Records got;
  SnapshotReader::RecordVisitor visitor() {
    return [this](std::string_view k, std::string_view v) { got.emplace_back(k, v); };
  }
};

TEST(SnapshotFormat, RoundtripInArbitrarySplits) {
  Records recs = make_records(500);
  std::string stream = join(write_frames(recs, 1024));
  std::mt19937 rng(1);
  for (int round = 0; round < 5; ++round) {
    SnapshotReader r;
    Collect c;
    for (size_t pos = 0; pos < stream.size();) {
      size_t n = std::min(stream.size() - pos, size_t{1} + rng() % 300);
      ASSERT_TRUE(r.feed(std::string_view(stream).substr(pos, n), c.visitor()).is_ok());
      pos += n;
    }
    ASSERT_TRUE(r.finish().is_ok());
    EXPECT_EQ(r.header(), test_header());
    EXPECT_EQ(c.got, recs);
    EXPECT_EQ(r.records(), recs.size());
  }
}

TEST(SnapshotFormat, EmptySnapshot) {
  std::string stream = join(write_frames({}, 1024));
  SnapshotReader r;
  Collect c;
  ASSERT_TRUE(r.feed(stream, c.visitor()).is_ok());
  EXPECT_TRUE(r.finish().is_ok());
  EXPECT_TRUE(c.got.empty());
}

TEST(SnapshotFormat, EverySingleByteCorruptionIsDetected) {
  Records recs = make_records(60);
  std::string stream = join(write_frames(recs, 256));
  for (size_t i = 0; i < stream.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80}) {
      std::string bad = stream;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      SnapshotReader r;
      Collect c;
      Status fed = r.feed(bad, c.visitor());
      EXPECT_FALSE(fed.is_ok() && r.finish().is_ok()) << "byte " << i;
      // Whatever was delivered is an intact prefix of the real records.
      ASSERT_LE(c.got.size(), recs.size());
      for (size_t j = 0; j < c.got.size(); ++j) ASSERT_EQ(c.got[j], recs[j]) << "byte " << i;
    }
  }
}

TEST(SnapshotFormat, TruncatedStreamIsRejected) {
  std::string stream = join(write_frames(make_records(40), 200));
  for (size_t len = 0; len < stream.size(); ++len) {
    SnapshotReader r;
    Collect c;
    (void)r.feed(std::string_view(stream).substr(0, len), c.visitor());
    EXPECT_FALSE(r.finish().is_ok()) << len;
  }
}

TEST(SnapshotFormat, ReorderedOrRepeatedFramesAreRejected) {
  auto frames = write_frames(make_records(100), 200);
  ASSERT_GT(frames.size(), 4u);
  auto swapped = frames;
  std::swap(swapped[1], swapped[2]);
  auto repeated = frames;
  repeated.insert(repeated.begin() + 2, frames[1]);
  for (const auto& fs : {swapped, repeated}) {
    SnapshotReader r;
    Collect c;
    Status s = r.feed(join(fs), c.visitor());
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
  }
  SnapshotReader r;
  Collect c;
  EXPECT_FALSE(r.feed(join(frames) + "x", c.visitor()).is_ok() && r.finish().is_ok());
}

TEST(SnapshotFormat, ResumeFromChunkK) {
  Records recs = make_records(300);
  auto frames = write_frames(recs, 512);
  ASSERT_GT(frames.size(), 5u);
  for (size_t k = 1; k < frames.size(); ++k) {
    SnapshotReader first;
    Collect c;
    for (size_t i = 0; i < k; ++i) ASSERT_TRUE(first.feed(frames[i], c.visitor()).is_ok());
    // The connection breaks; the sender regenerates the same stream and
    // restarts at frame k.
    auto again = write_frames(recs, 512);
    ASSERT_EQ(again, frames);
    SnapshotReader resumed(first.checkpoint());
    for (size_t i = k; i < again.size(); ++i) {
      ASSERT_TRUE(resumed.feed(again[i], c.visitor()).is_ok());
    }
    ASSERT_TRUE(resumed.finish().is_ok());
    EXPECT_EQ(c.got, recs);
    EXPECT_EQ(resumed.header(), test_header());
  }
}

}  // namespace
}  // namespace shoal::storage
