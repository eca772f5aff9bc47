#include <gtest/gtest.h>

#include "base/crc16.h"
#include "base/crc32c.h"

namespace shoal {

TEST(Crc16, MatchesRedisClusterSpecVector) {
  // The Redis Cluster specification gives CRC16("123456789") == 0x31C3.
  EXPECT_EQ(crc16("123456789"), 0x31C3);
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

}  // namespace shoal
