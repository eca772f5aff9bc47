#include "storage/access_clock.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal::storage {
namespace {

std::string key(int i) { return "key:" + std::to_string(i); }

TEST(AccessClock, RemembersWhatFitsExactly) {
  AccessClock clock;
  EXPECT_FALSE(clock.find("a").has_value());
  clock.note("a", 100);
  clock.note("b", 200);
  clock.note("a", 300);
  EXPECT_EQ(clock.find("a"), 300);
  EXPECT_EQ(clock.find("b"), 200);
  EXPECT_FALSE(clock.find("c").has_value());
  clock.forget("a");
  EXPECT_FALSE(clock.find("a").has_value());
  EXPECT_EQ(clock.find("b"), 200);
  clock.clear();
  EXPECT_FALSE(clock.find("b").has_value());
  EXPECT_EQ(clock.memory_bytes(), 0u);
}

// Growing keeps every time noted so far: no key is lost to a doubling.
TEST(AccessClock, GrowingKeepsEveryEntry) {
  AccessClock clock(1 << 20);
  const int n = 50'000;  // grows from kMinSlots many times, never reaches the cap
  for (int i = 0; i < n; ++i) clock.note(key(i), i);
  EXPECT_GT(clock.slots(), AccessClock::kMinSlots);
  EXPECT_LT(clock.slots(), clock.max_slots());
  for (int i = 0; i < n; ++i) ASSERT_EQ(clock.find(key(i)), i) << key(i);
}

// H24: a million distinct keys touched leave the table at its bound, and the
// most recently touched keys still have exact times.
TEST(AccessClock, MemoryStaysBoundedAndRecentKeysStayExact) {
  AccessClock clock(4096);
  EXPECT_EQ(clock.max_slots(), 4096u);
  for (int i = 0; i < 1'000'000; ++i) clock.note(key(i), i);
  EXPECT_EQ(clock.slots(), 4096u);
  EXPECT_EQ(clock.memory_bytes(), 4096u * 16);
  // A new key evicts the oldest of its bucket, so one of the last 256 keys is
  // lost only if 8 newer keys landed in its bucket of the 512 (hashes are
  // fixed: the count is deterministic).
  int exact = 0;
  for (int i = 1'000'000 - 256; i < 1'000'000; ++i) {
    auto at = clock.find(key(i));
    if (at) {
      EXPECT_EQ(*at, i);
      ++exact;
    }
  }
  EXPECT_GE(exact, 250);
  EXPECT_EQ(clock.find(key(999'999)), 999'999);
  // An old key reads as unknown or with its own time, never another's; and
  // a touch brings it back.
  for (int i = 0; i < 1000; ++i) {
    auto at = clock.find(key(i));
    if (at) {
      EXPECT_EQ(*at, i);
    }
  }
  clock.note(key(0), 2'000'000);
  EXPECT_EQ(clock.find(key(0)), 2'000'000);
}

// Once full, a bucket keeps its most recent keys: touching a key keeps it
// while newer keys come and go.
TEST(AccessClock, FullTableKeepsWhatIsTouched) {
  AccessClock clock(AccessClock::kMinSlots);
  int64_t now = 0, hot_at = 0;
  for (int i = 0; i < 100'000; ++i) {
    clock.note(key(i), ++now);
    // Between two touches 4 new keys arrive: never the 8 newer ones it would
    // take to make "hot" the oldest of its bucket.
    if (i % 4 == 0) clock.note("hot", hot_at = ++now);
  }
  EXPECT_EQ(clock.slots(), AccessClock::kMinSlots);
  EXPECT_EQ(clock.find("hot"), hot_at);
}

TEST(AccessClock, CapacityIsAPowerOfTwoAtLeastTheMinimum) {
  EXPECT_EQ(AccessClock(10).max_slots(), AccessClock::kMinSlots);
  EXPECT_EQ(AccessClock(5000).max_slots(), 4096u);
  AccessClock clock(5000);
  for (int i = 0; i < 100'000; ++i) clock.note(key(i), i);
  EXPECT_EQ(clock.slots(), 4096u);
}

}  // namespace
}  // namespace shoal::storage
