// The behaviours memory_engine_test.cc checks, against RocksEngine, plus
// restart, isolation and "same scan order as MemoryEngine".
#include "storage/rocks_engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "base/crc16.h"
#include "env/clock.h"
#include "storage/memory_engine.h"

namespace shoal::storage {
namespace {

class RocksEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("shoal_rocks_engine_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void close() {
    e_.reset();
    batch_.reset();
    db_.reset();
  }
  void reopen() {
    close();
    auto db = RocksDb::open(RocksDbOptions{.path = dir_.string()});
    ASSERT_TRUE(db.is_ok()) << db.status().to_string();
    db_ = std::move(db).value();
    batch_ =
        std::make_unique<WriteBatchBuilder>(*db_, FsyncPolicy::kNo, env::SystemClock::instance());
    e_ = make(1, "t");
  }
  std::unique_ptr<RocksEngine> make(uint64_t shard, std::string tenant) {
    auto e = RocksEngine::open(*batch_, ShardId(shard), std::move(tenant));
    EXPECT_TRUE(e.is_ok());
    return std::move(e).value();
  }
  void commit() { ASSERT_TRUE(batch_->commit().is_ok()); }
  static void put(Engine& e, const std::string& k, const std::string& v) {
    e.put(key_slot(k), k, v, 0);
  }

  std::filesystem::path dir_;
  std::unique_ptr<RocksDb> db_;
  std::unique_ptr<WriteBatchBuilder> batch_;
  std::unique_ptr<RocksEngine> e_;
};

TEST_F(RocksEngineTest, PutGetDelAndCounts) {
  put(*e_, "foo", "1");
  put(*e_, "foo", "2");
  put(*e_, "bar", "3");
  EXPECT_EQ(e_->get("foo"), "2");
  EXPECT_EQ(e_->size(), 2u);
  EXPECT_EQ(e_->count_in_slot(key_slot("foo")), 1u);
  EXPECT_TRUE(e_->del("foo"));
  EXPECT_FALSE(e_->del("foo"));
  EXPECT_FALSE(e_->get("foo").has_value());
  EXPECT_EQ(e_->count_in_slot(key_slot("foo")), 0u);
  commit();
  reopen();  // counts are rebuilt from disk
  EXPECT_EQ(e_->size(), 1u);
  EXPECT_EQ(e_->get("bar"), "3");
  EXPECT_EQ(e_->count_in_slot(key_slot("bar")), 1u);
  e_->clear();
  EXPECT_EQ(e_->size(), 0u);
  EXPECT_FALSE(e_->get("bar").has_value());
  commit();
  reopen();
  EXPECT_EQ(e_->size(), 0u);
}

TEST_F(RocksEngineTest, UncommittedWritesAreNotDurable) {
  put(*e_, "a", "1");
  commit();
  put(*e_, "b", "2");
  reopen();  // "b" was only staged
  EXPECT_EQ(e_->size(), 1u);
  EXPECT_FALSE(e_->get("b").has_value());
}

TEST_F(RocksEngineTest, ScanVisitsEveryStableKeyDespiteConcurrentChanges) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 4; ++round) {
    e_->clear();
    commit();
    std::set<std::string> stable;
    for (int i = 0; i < 300; ++i) {
      std::string k = "stable:" + std::to_string(i);
      put(*e_, k, "v");
      stable.insert(k);
    }
    if (round % 2 == 0) commit();  // half the rounds scan the DB, half the batch
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int churn = 0;
    do {
      cursor = e_->scan(cursor, 1 + rng() % 20,
                        [&](std::string_view k, std::string_view) { seen.insert(std::string(k)); });
      for (int j = 0; j < 10; ++j) put(*e_, "churn:" + std::to_string(churn++), "x");
      e_->del("churn:" + std::to_string(rng() % (churn + 1)));
      if (rng() % 4 == 0) commit();
    } while (cursor != 0);
    for (const auto& k : stable) EXPECT_TRUE(seen.count(k)) << k;
  }
}

TEST_F(RocksEngineTest, ScanOrderIsDeterministicAndMatchesMemoryEngine) {
  auto b = make(2, "t");
  MemoryEngine m;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) put(*e_, k, k);
  commit();
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) put(*b, *it, *it);
  for (const auto& k : keys) put(m, k, k);
  std::vector<std::string> order_a, order_b, order_m;
  e_->scan(0, 1000, [&](std::string_view k, std::string_view) { order_a.emplace_back(k); });
  b->scan(0, 1000, [&](std::string_view k, std::string_view) { order_b.emplace_back(k); });
  m.scan(0, 1000, [&](std::string_view k, std::string_view) { order_m.emplace_back(k); });
  EXPECT_EQ(order_a, order_b);
  EXPECT_EQ(order_a, order_m);
  EXPECT_EQ(order_a.size(), 200u);
  // Cursors are interchangeable too.
  uint64_t ca = e_->scan(0, 17, [](auto, auto) {});
  uint64_t cm = m.scan(0, 17, [](auto, auto) {});
  EXPECT_EQ(ca, cm);
}

TEST_F(RocksEngineTest, ScanSlotAndRandomKey) {
  EXPECT_FALSE(e_->random_key(7).has_value());
  put(*e_, "{t}a", "1");
  put(*e_, "{t}b", "2");
  put(*e_, "other", "3");
  std::set<std::string> in_slot;
  e_->scan_slot(key_slot("t"), 10,
                [&](std::string_view k, std::string_view) { in_slot.emplace(k); });
  EXPECT_EQ(in_slot, (std::set<std::string>{"{t}a", "{t}b"}));
  in_slot.clear();
  e_->scan_slot(key_slot("t"), 1,
                [&](std::string_view k, std::string_view) { in_slot.emplace(k); });
  EXPECT_EQ(in_slot.size(), 1u);
  for (uint64_t bits : {0ull, 1ull << 40, ~0ull}) {
    auto k = e_->random_key(bits);
    ASSERT_TRUE(k.has_value());
    EXPECT_TRUE(e_->get(*k).has_value());
  }
}

TEST_F(RocksEngineTest, ShardsAndTenantsAreIsolated) {
  auto other_tenant = make(1, "u");
  auto other_shard = make(2, "t");
  put(*e_, "k", "mine");
  put(*other_tenant, "k", "tenant u");
  put(*other_shard, "k", "shard 2");
  commit();
  e_->clear();
  commit();
  EXPECT_FALSE(e_->get("k").has_value());
  EXPECT_EQ(other_tenant->get("k"), "tenant u");
  EXPECT_EQ(other_shard->get("k"), "shard 2");
  EXPECT_EQ(other_tenant->size(), 1u);
  EXPECT_FALSE(RocksEngine::open(*batch_, ShardId(1), std::string(256, 'x')).is_ok());
}

TEST_F(RocksEngineTest, AccessTimesAndReadViews) {
  e_->put(key_slot("a"), "a", "va", 100);
  e_->put(key_slot("b"), "b", "vb", 100);
  EXPECT_EQ(e_->access_time("a"), 100);
  EXPECT_EQ(e_->get_and_touch("a", 250), "va");
  EXPECT_EQ(e_->access_time("a"), 250);
  EXPECT_FALSE(e_->access_time("zzz").has_value());
  // Two views held at once stay valid.
  auto va = e_->get("a");
  auto vb = e_->get("b");
  EXPECT_EQ(*va, "va");
  EXPECT_EQ(*vb, "vb");
}

// H24: access times take bounded memory however many keys are touched; a
// key the clock lost reads as idle since the engine's first activity.
TEST_F(RocksEngineTest, AccessTimesStayBoundedInMemory) {
  const int n = 200'000;                          // more than the clock's default slots
  e_->put(key_slot("first"), "first", "v", 500);  // the engine's first activity
  for (int i = 0; i < n; ++i) {
    std::string k = "k" + std::to_string(i);
    e_->put(key_slot(k), k, "v", 1000 + i);
  }
  commit();
  EXPECT_EQ(e_->size(), static_cast<size_t>(n) + 1);
  EXPECT_LE(e_->access_clock().memory_bytes(), AccessClock::kDefaultMaxSlots * 16);
  std::string last = "k" + std::to_string(n - 1);
  EXPECT_EQ(e_->access_time(last), 1000 + n - 1);
  int lost = 0;
  for (int i = 0; i < n; i += 97) {
    std::string k = "k" + std::to_string(i);
    auto at = e_->access_time(k);
    ASSERT_TRUE(at.has_value()) << k;  // present keys always have a time
    if (*at == 500)
      ++lost;  // the first activity's time: forgotten
    else
      EXPECT_EQ(*at, 1000 + i) << k;
  }
  EXPECT_GT(lost, 0);  // the clock is full: early keys were displaced
  EXPECT_TRUE(e_->del(last));
  commit();
  EXPECT_FALSE(e_->access_time(last).has_value());
}

TEST_F(RocksEngineTest, ExchangeReturnsTheReplacedValue) {
  EXPECT_EQ(e_->exchange(key_slot("k"), "k", "1", 5), std::nullopt);
  EXPECT_EQ(e_->exchange(key_slot("k"), "k", "2", 7), "1");
  EXPECT_EQ(e_->get("k"), "2");
  EXPECT_EQ(e_->size(), 1u);
  EXPECT_EQ(e_->count_in_slot(key_slot("k")), 1u);
}

}  // namespace
}  // namespace shoal::storage
