#include "kv/store.h"

#include <gtest/gtest.h>

#include "storage/memory_engine.h"

namespace shoal::kv {
namespace {

Record str(std::string_view v, int64_t expire = kNoExpiry) {
  return Record{ValueType::kString, Encoding::kRaw, expire, v};
}

TEST(Store, ReadsTreatExpiredAsAbsentWithoutMutating) {
  Store s(std::make_unique<storage::MemoryEngine>());
  s.put("k", str("v", 1000));
  EXPECT_TRUE(s.find("k", 999).has_value());
  EXPECT_FALSE(s.find("k", 1000).has_value());
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.take_expired_seen(), std::vector<std::string>{"k"});
  EXPECT_FALSE(s.find_for_write("k", 1000).has_value());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.expires_count(), 0u);
}

TEST(Store, ExpireIfDueIsIdempotentAndIgnoresRewrittenKeys) {
  Store s(std::make_unique<storage::MemoryEngine>());
  s.put("k", str("v", 1000));
  s.put("k", str("v2", 5000));  // rewritten with a new expiry before the op applies
  EXPECT_FALSE(s.expire_if_due("k", 1000, 2000));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.expire_if_due("k", 5000, 5000));
  EXPECT_FALSE(s.expire_if_due("k", 5000, 5000));
  EXPECT_EQ(s.expires_count(), 0u);
}

TEST(Store, PutOverAnExpiredKeyReplacesItsExpiry) {
  Store s(std::make_unique<storage::MemoryEngine>());
  s.put("k", str("v", 1000));
  s.put("k", str("v2"));  // a plain SET after the expiry, without a lookup first
  EXPECT_EQ(s.expires_count(), 0u);
  ASSERT_TRUE(s.find("k", 2000).has_value());
  EXPECT_EQ(s.find("k", 2000)->payload, "v2");
  s.put("k", str("v3", 3000));
  s.put("k", str("v4", 4000));
  EXPECT_EQ(s.expires_count(), 1u);
  EXPECT_FALSE(s.expire_if_due("k", 3000, 5000));
  EXPECT_TRUE(s.expire_if_due("k", 4000, 5000));
  EXPECT_EQ(s.size(), 0u);
}

TEST(Store, CollectExpiredOldestFirstBounded) {
  Store s(std::make_unique<storage::MemoryEngine>());
  for (int i = 0; i < 10; ++i) s.put("k" + std::to_string(i), str("v", 100 + i));
  s.put("forever", str("v"));
  auto due = s.collect_expired(104, 3);
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0], (std::pair<std::string, int64_t>{"k0", 100}));
  EXPECT_EQ(s.collect_expired(104, 100).size(), 5u);
}

}  // namespace
}  // namespace shoal::kv
