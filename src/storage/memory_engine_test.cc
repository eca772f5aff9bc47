#include "storage/memory_engine.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "base/crc16.h"

namespace shoal::storage {
namespace {

void put(MemoryEngine& e, const std::string& k, const std::string& v) {
  e.put(key_slot(k), k, v, 0);
}

TEST(MemoryEngine, PutGetDelAndCounts) {
  MemoryEngine e;
  put(e, "foo", "1");
  put(e, "foo", "2");
  put(e, "bar", "3");
  EXPECT_EQ(e.get("foo"), "2");
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(e.count_in_slot(key_slot("foo")), 1u);
  EXPECT_TRUE(e.del("foo"));
  EXPECT_FALSE(e.del("foo"));
  EXPECT_FALSE(e.get("foo").has_value());
  EXPECT_EQ(e.count_in_slot(key_slot("foo")), 0u);
  e.clear();
  EXPECT_EQ(e.size(), 0u);
}

TEST(MemoryEngine, ExchangeReturnsTheReplacedValueAndKeepsTheIndex) {
  MemoryEngine e;
  EXPECT_EQ(e.exchange(key_slot("k"), "k", "1", 5), std::nullopt);
  EXPECT_EQ(e.exchange(key_slot("k"), "k", "2", 7), "1");
  EXPECT_EQ(e.get("k"), "2");
  EXPECT_EQ(e.access_time("k"), 7);
  EXPECT_EQ(e.size(), 1u);
  EXPECT_EQ(e.count_in_slot(key_slot("k")), 1u);
  std::vector<std::pair<std::string, std::string>> seen;
  e.for_each([&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"k", "2"}}));
}

TEST(MemoryEngine, ForEachUnorderedVisitsEveryKeyOnce) {
  MemoryEngine e;
  std::map<std::string, std::string> want;
  for (int i = 0; i < 500; ++i) {
    std::string k = "k" + std::to_string(i * 7919 % 1000);
    want[k] = "v" + std::to_string(i);
    put(e, k, want[k]);
  }
  for (int i = 0; i < 100; ++i) {
    std::string k = "k" + std::to_string(i * 7919 % 1000);
    e.del(k);
    want.erase(k);
  }
  std::map<std::string, std::string> seen;
  size_t visits = 0;
  e.for_each_unordered([&](std::string_view k, std::string_view v) {
    seen.emplace(k, v);
    ++visits;
  });
  EXPECT_EQ(visits, want.size());
  EXPECT_EQ(seen, want);
}

TEST(MemoryEngine, ScanVisitsEveryStableKeyDespiteConcurrentChanges) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    MemoryEngine e;
    std::set<std::string> stable;
    for (int i = 0; i < 500; ++i) {
      std::string k = "stable:" + std::to_string(i);
      put(e, k, "v");
      stable.insert(k);
    }
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int churn = 0;
    do {
      cursor = e.scan(cursor, 1 + rng() % 20,
                      [&](std::string_view k, std::string_view) { seen.insert(std::string(k)); });
      // Add and remove other keys between calls.
      for (int j = 0; j < 10; ++j) put(e, "churn:" + std::to_string(churn++), "x");
      e.del("churn:" + std::to_string(rng() % (churn + 1)));
    } while (cursor != 0);
    for (const auto& k : stable) EXPECT_TRUE(seen.count(k)) << k;
  }
}

TEST(MemoryEngine, ScanOrderIsDeterministicAcrossInsertionOrders) {
  MemoryEngine a, b;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) put(a, k, k);
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) put(b, *it, *it);
  std::vector<std::string> order_a, order_b;
  a.scan(0, 1000, [&](std::string_view k, std::string_view) { order_a.emplace_back(k); });
  b.scan(0, 1000, [&](std::string_view k, std::string_view) { order_b.emplace_back(k); });
  EXPECT_EQ(order_a, order_b);
  EXPECT_EQ(order_a.size(), 200u);
}

TEST(MemoryEngine, ScanSlotAndRandomKey) {
  MemoryEngine e;
  EXPECT_FALSE(e.random_key(7).has_value());
  put(e, "{t}a", "1");
  put(e, "{t}b", "2");
  put(e, "other", "3");
  std::set<std::string> in_slot;
  e.scan_slot(key_slot("t"), 10, [&](std::string_view k, std::string_view) { in_slot.emplace(k); });
  EXPECT_EQ(in_slot, (std::set<std::string>{"{t}a", "{t}b"}));
  for (uint64_t bits : {0ull, 1ull << 40, ~0ull}) {
    auto k = e.random_key(bits);
    ASSERT_TRUE(k.has_value());
    EXPECT_TRUE(e.get(*k).has_value());
  }
}

}  // namespace
}  // namespace shoal::storage
