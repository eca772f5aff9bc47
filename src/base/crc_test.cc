#include <gtest/gtest.h>

#include <string>

#include "base/crc16.h"
#include "base/crc32c.h"

namespace shoal {

TEST(Crc16, MatchesRedisClusterSpecVector) {
  // The Redis Cluster specification gives CRC16("123456789") == 0x31C3.
  EXPECT_EQ(crc16("123456789"), 0x31C3);
}

// The bitwise definition, one bit at a time: the slicing tables must agree
// with it for every length (the 4-byte steps and the byte tail).
uint16_t crc16_bitwise(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) {
    crc ^= static_cast<uint16_t>(c << 8);
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

TEST(Crc16, MatchesTheBitwiseDefinition) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int len = 0; len <= 70; ++len) {
    for (int trial = 0; trial < 20; ++trial) {
      std::string s(len, '\0');
      for (char& c : s) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        c = static_cast<char>(x >> 56);
      }
      ASSERT_EQ(crc16(s), crc16_bitwise(s)) << "length " << len;
    }
  }
}

TEST(KeySlot, MatchesRedisForKnownKeys) {
  // Values from `redis-cli CLUSTER KEYSLOT` on a Redis 7 cluster node.
  EXPECT_EQ(key_slot("foo").value(), 12182);
  EXPECT_EQ(key_slot("bar").value(), 5061);
  EXPECT_EQ(key_slot("").value(), 0);
}

TEST(KeySlot, HashTags) {
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(key_slot("foo{bar}zap"), key_slot("bar"));
  // Empty tag: the whole key is hashed.
  EXPECT_EQ(key_slot("foo{}{bar}"), Slot(crc16("foo{}{bar}") & 16383));
  // Only the first '{' counts.
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  // No closing brace: the whole key.
  EXPECT_EQ(key_slot("foo{bar"), Slot(crc16("foo{bar") & 16383));
}

TEST(Crc32c, KnownVectors) {
  // RFC 3720 B.4 test vectors.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_extend(crc32c("1234"), "56789"), 0xE3069283u);
}

// The hardware path must agree with a bitwise reference at every length and
// alignment (8-byte steps plus a tail).
TEST(Crc32c, MatchesBitwiseReferenceAtEveryLength) {
  auto reference = [](std::string_view d) {
    uint32_t c = ~0u;
    for (unsigned char ch : d) {
      c ^= ch;
      for (int b = 0; b < 8; ++b) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
  };
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (size_t off = 0; off < 8; ++off) {
    for (size_t len = 0; off + len <= data.size(); len += 7) {
      std::string_view d(data.data() + off, len);
      ASSERT_EQ(crc32c(d), reference(d)) << off << " " << len;
    }
  }
}

}  // namespace shoal
