#include "storage/key_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace shoal::storage {
namespace {

// Every key the model holds is found with its value, and no other key is.
void expect_same(const KeyTable& t, const std::map<std::string, std::string>& model, int universe) {
  ASSERT_EQ(t.size(), model.size());
  for (int k = 0; k < universe; ++k) {
    std::string key = "k" + std::to_string(k);
    auto it = model.find(key);
    const KeyTable::Item* item = t.find(key);
    if (it == model.end()) {
      EXPECT_EQ(item, nullptr) << key;
    } else {
      ASSERT_NE(item, nullptr) << key;
      EXPECT_EQ(item->value, it->second) << key;
    }
  }
}

// Random inserts and erases against a std::map model. Small universes keep
// the table small, so probe runs wrap around the end of the slot array and
// the backward shift on erase meets every case; large ones make it grow.
TEST(KeyTable, MatchesAModelUnderRandomInsertsAndErases) {
  for (int universe : {8, 11, 40, 3000}) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      std::mt19937_64 rng(seed * 1000 + universe);
      KeyTable t;
      std::map<std::string, std::string> model;
      for (int step = 0; step < 4000; ++step) {
        std::string key = "k" + std::to_string(rng() % universe);
        if (rng() % 3 == 0) {
          EXPECT_EQ(t.erase(key), model.erase(key) == 1) << key;
        } else if (KeyTable::Item* item = t.find(key)) {
          item->value = std::to_string(step);
          model[key] = item->value;
        } else {
          auto [inserted, stored] = t.insert(key, std::to_string(step), step, 0);
          EXPECT_EQ(stored, key);
          EXPECT_EQ(inserted, t.find(key));
          model[key] = std::to_string(step);
        }
        if (step % 500 == 0) expect_same(t, model, universe);
      }
      expect_same(t, model, universe);
    }
  }
}

TEST(KeyTable, ItemsAndKeysStayPutWhileTheTableGrowsAndShrinks) {
  KeyTable t;
  auto [item, key] = t.insert("anchor", "value", 7, 11);
  for (int i = 0; i < 100000; ++i) t.insert("key" + std::to_string(i), "v", i, 0);
  for (int i = 0; i < 100000; i += 2) ASSERT_TRUE(t.erase("key" + std::to_string(i)));
  EXPECT_EQ(t.find("anchor"), item);
  EXPECT_EQ(key, "anchor");
  EXPECT_EQ(item->value, "value");
  EXPECT_EQ(item->order, 7u);
  EXPECT_EQ(item->access_ms.load(), 11);
  EXPECT_EQ(t.size(), 50001u);
  EXPECT_EQ(t.find("key2"), nullptr);
  ASSERT_NE(t.find("key3"), nullptr);
}

TEST(KeyTable, BinaryAndEmptyKeysAndClear) {
  KeyTable t;
  std::string zero("a\0b", 3);
  t.insert(zero, "1", 0, 0);
  t.insert("", "2", 0, 0);
  t.insert(std::string(100000, 'x'), "3", 0, 0);
  EXPECT_EQ(t.find(zero)->value, "1");
  EXPECT_EQ(t.find("")->value, "2");
  EXPECT_EQ(t.find(std::string(100000, 'x'))->value, "3");
  EXPECT_EQ(t.find("a"), nullptr);
  EXPECT_EQ(t.find(std::string("a\0c", 3)), nullptr);
  t.clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(zero), nullptr);
  t.insert(zero, "again", 0, 0);
  EXPECT_EQ(t.find(zero)->value, "again");
}

}  // namespace
}  // namespace shoal::storage
