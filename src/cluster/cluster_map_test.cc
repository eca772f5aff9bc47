#include "cluster/cluster_map.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "base/coding.h"
#include "base/crc32c.h"

namespace shoal::cluster {
namespace {

ClusterMap sample_map() {
  ClusterMap m;
  m.cluster_id = 0xfeedfacecafebeefULL;
  m.version = 9;
  m.replication_factor = 2;
  m.nodes = {{NodeId(1), "10.0.0.1", 6379, 16379},
             {NodeId(2), "10.0.0.2", 6379, 16379},
             {NodeId(300), "node-c.example", 7000, 17000}};
  m.shards = {{ShardId(1), 0, 99, {NodeId(1), NodeId(2)}, 3, 1},
              {ShardId(2), 100, 100, {NodeId(2), NodeId(300)}, 1, 2},
              {ShardId(7), 101, 16383, {NodeId(300), NodeId(1)}, 1, 1}};
  m.meta_replicas = {NodeId(1), NodeId(2), NodeId(300)};
  return m;
}

TEST(ClusterMap, SampleIsValid) { EXPECT_TRUE(validate(sample_map()).is_ok()); }

TEST(ClusterMap, Lookups) {
  ClusterMap m = sample_map();
  ASSERT_NE(m.node(NodeId(300)), nullptr);
  EXPECT_EQ(m.node(NodeId(300))->host, "node-c.example");
  EXPECT_EQ(m.node(NodeId(4)), nullptr);
  ASSERT_NE(m.shard(ShardId(7)), nullptr);
  EXPECT_EQ(m.shard(ShardId(7))->first_slot, 101);
  EXPECT_EQ(m.shard(ShardId(3)), nullptr);
  EXPECT_EQ(m.shards_on(NodeId(1)), (std::vector<ShardId>{ShardId(1), ShardId(7)}));
  EXPECT_EQ(m.shards_on(NodeId(2)), (std::vector<ShardId>{ShardId(1), ShardId(2)}));
  EXPECT_TRUE(m.shards_on(NodeId(5)).empty());
}

TEST(ClusterMap, ShardForEverySlot) {
  ClusterMap m = sample_map();
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    const ShardInfo* s = m.shard_for_slot(Slot(static_cast<uint16_t>(slot)));
    ASSERT_NE(s, nullptr) << slot;
    EXPECT_LE(s->first_slot, slot);
    EXPECT_GE(s->last_slot, slot);
    ShardId want = slot < 100 ? ShardId(1) : slot == 100 ? ShardId(2) : ShardId(7);
    EXPECT_EQ(s->id, want) << slot;
  }
  EXPECT_EQ(m.shard_for_slot(Slot(kSlotCount)), nullptr);
  EXPECT_EQ(ClusterMap().shard_for_slot(Slot(0)), nullptr);
}

TEST(ClusterMap, ShardForSlotOnAMapWithAHole) {
  ClusterMap m = sample_map();
  m.shards[1].first_slot = 101;  // slot 100 uncovered: invalid, but no crash
  m.shards[1].last_slot = 101;
  m.shards[2].first_slot = 102;
  EXPECT_EQ(m.shard_for_slot(Slot(100)), nullptr);
  EXPECT_EQ(m.shard_for_slot(Slot(101))->id, ShardId(2));
}

struct Breakage {
  const char* name;
  std::function<void(ClusterMap&)> apply;
};

TEST(ClusterMap, ValidateCatchesEachInvariantBreak) {
  const std::vector<Breakage> cases = {
      {"no nodes", [](ClusterMap& m) { m.nodes.clear(); }},
      {"node id 0", [](ClusterMap& m) { m.nodes[0].id = NodeId(0); }},
      {"duplicate node id", [](ClusterMap& m) { m.nodes[1].id = NodeId(1); }},
      {"no shards", [](ClusterMap& m) { m.shards.clear(); }},
      {"shard id 0", [](ClusterMap& m) { m.shards[0].id = kMetaShard; }},
      {"duplicate shard id", [](ClusterMap& m) { m.shards[2].id = ShardId(1); }},
      {"gap", [](ClusterMap& m) { m.shards[1].first_slot = 101, m.shards[1].last_slot = 101; }},
      {"overlap", [](ClusterMap& m) { m.shards[0].last_slot = 100; }},
      {"not starting at 0", [](ClusterMap& m) { m.shards[0].first_slot = 1; }},
      {"not reaching 16383", [](ClusterMap& m) { m.shards[2].last_slot = 16382; }},
      {"past 16383", [](ClusterMap& m) { m.shards[2].last_slot = 16384; }},
      {"inverted range", [](ClusterMap& m) { m.shards[1].last_slot = 99; }},
      {"out of order", [](ClusterMap& m) { std::swap(m.shards[0], m.shards[1]); }},
      {"no replicas", [](ClusterMap& m) { m.shards[1].replicas.clear(); }},
      {"duplicate replica",
       [](ClusterMap& m) {
         m.shards[1].replicas = {NodeId(2), NodeId(2)};
       }},
      {"unknown replica", [](ClusterMap& m) { m.shards[1].replicas.push_back(NodeId(9)); }},
      {"no meta replicas", [](ClusterMap& m) { m.meta_replicas.clear(); }},
      {"duplicate meta replica", [](ClusterMap& m) { m.meta_replicas.push_back(NodeId(1)); }},
      {"unknown meta replica", [](ClusterMap& m) { m.meta_replicas[2] = NodeId(9); }},
      {"replication factor 0", [](ClusterMap& m) { m.replication_factor = 0; }},
  };
  for (const Breakage& b : cases) {
    ClusterMap m = sample_map();
    b.apply(m);
    Status st = validate(m);
    EXPECT_FALSE(st.is_ok()) << b.name;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << b.name;
    // An invalid map never decodes either.
    EXPECT_FALSE(decode_cluster_map(encode_cluster_map(m)).is_ok()) << b.name;
  }
}

TEST(ClusterMapCodec, RoundTrip) {
  ClusterMap m = sample_map();
  std::string bytes = encode_cluster_map(m);
  EXPECT_EQ(bytes.substr(0, 5), std::string("SHCM\x01", 5));
  Result<ClusterMap> back = decode_cluster_map(bytes);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back.value(), m);
  EXPECT_EQ(encode_cluster_map(back.value()), bytes);

  m.shards[0].conf_ver = UINT64_MAX;  // extreme values survive
  m.cluster_id = 0;
  m.version = UINT64_MAX;
  m.nodes[0].client_port = 65535;
  Result<ClusterMap> back2 = decode_cluster_map(encode_cluster_map(m));
  ASSERT_TRUE(back2.is_ok()) << back2.status().to_string();
  EXPECT_EQ(back2.value(), m);
}

TEST(ClusterMapCodec, RejectsEveryFlippedBit) {
  std::string bytes = encode_cluster_map(sample_map());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      Result<ClusterMap> r = decode_cluster_map(b);
      ASSERT_FALSE(r.is_ok()) << i << ":" << bit;
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    }
  }
}

TEST(ClusterMapCodec, RejectsTruncationAndGarbage) {
  std::string bytes = encode_cluster_map(sample_map());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_cluster_map(bytes.substr(0, n)).is_ok()) << n;
  }
  EXPECT_FALSE(decode_cluster_map(bytes + "x").is_ok());
  EXPECT_FALSE(decode_cluster_map("").is_ok());
  EXPECT_FALSE(decode_cluster_map(std::string(64, '\xff')).is_ok());
  // Deterministic pseudo-random garbage.
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 2000; ++i) {
    std::string g;
    size_t len = i % 97;
    for (size_t j = 0; j < len; ++j) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      g.push_back(static_cast<char>(x));
    }
    EXPECT_FALSE(decode_cluster_map(g).is_ok());
  }
}

// Re-signs a body (everything before the CRC) so that the structural checks,
// not the checksum, have to catch the problem.
std::string signed_bytes(std::string body) {
  put_fixed32(body, crc32c(body));
  return body;
}

std::string body_of(const std::string& bytes) { return bytes.substr(0, bytes.size() - 4); }

TEST(ClusterMapCodec, RejectsStructuralProblemsWithAValidChecksum) {
  std::string body = body_of(encode_cluster_map(sample_map()));
  // Unknown format version.
  std::string v2 = body;
  v2[4] = 2;
  EXPECT_FALSE(decode_cluster_map(signed_bytes(v2)).is_ok());
  // Bad magic.
  std::string magic = body;
  magic[0] = 'X';
  EXPECT_FALSE(decode_cluster_map(signed_bytes(magic)).is_ok());
  // Trailing byte inside the checksummed part.
  EXPECT_FALSE(decode_cluster_map(signed_bytes(body + '\0')).is_ok());
  // Truncated body, re-signed.
  for (size_t n = 5; n < body.size(); ++n) {
    EXPECT_FALSE(decode_cluster_map(signed_bytes(body.substr(0, n))).is_ok()) << n;
  }
  // A huge node count must be refused before anything is allocated.
  std::string huge(body.substr(0, 5));
  put_fixed64(huge, 1);
  put_varint64(huge, 1);                  // version
  put_varint64(huge, 1);                  // rf
  put_varint64(huge, uint64_t{1} << 40);  // node count
  EXPECT_FALSE(decode_cluster_map(signed_bytes(huge)).is_ok());
}

TEST(ClusterMapCodec, DecodeRejectsAnInvalidMapWithAValidChecksum) {
  ClusterMap m = sample_map();
  m.shards[2].last_slot = 16000;  // slots uncovered
  Result<ClusterMap> r = decode_cluster_map(encode_cluster_map(m));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("not covered"), std::string::npos);
}

TEST(NodeName, FortyLowercaseHexDistinctAndStable) {
  std::set<std::string> seen;
  std::set<uint64_t> ids;
  for (uint64_t id : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{255}, uint64_t{256},
                      uint64_t{1} << 32, UINT64_MAX - 300}) {
    for (uint64_t delta = 0; delta < 200; ++delta) {
      std::string name = node_name(NodeId(id + delta));
      ASSERT_EQ(name.size(), 40u);
      for (char c : name) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << name;
      EXPECT_EQ(name, node_name(NodeId(id + delta)));
      seen.insert(name);
      ids.insert(id + delta);
    }
  }
  EXPECT_EQ(seen.size(), ids.size());
  EXPECT_GT(ids.size(), 800u);
  // Pinned: clients key their topology on names, so they must never change.
  EXPECT_EQ(node_name(NodeId(1)).substr(0, 16), "0000000000000001");
  EXPECT_EQ(node_name(NodeId(1)), "00000000000000016e2883c2a0b72f24a72901b3");
}

}  // namespace
}  // namespace shoal::cluster
