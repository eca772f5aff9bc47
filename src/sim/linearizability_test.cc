// Tests of the linearizability checker: hand-made histories with known
// answers, and a randomized cross-check of the fast path against the search.
#include "sim/linearizability.h"

#include <gtest/gtest.h>

#include "sim/rng.h"

namespace shoal::sim {
namespace {

Op w(std::string v, uint64_t call, uint64_t ret) { return Op{true, std::move(v), call, ret, 0}; }
Op r(std::string v, uint64_t call, uint64_t ret) { return Op{false, std::move(v), call, ret, 1}; }

TEST(Linearizability, SequentialHistoryIsOk) {
  std::vector<Op> h{w("a", 1, 2), r("a", 3, 4), w("b", 5, 6), r("b", 7, 8)};
  EXPECT_TRUE(check_register(h).ok);
  EXPECT_TRUE(zone_check(h, nullptr));
  EXPECT_TRUE(wgl_check(h, 1000).ok);
}

TEST(Linearizability, StaleReadIsCaught) {
  // b completed before the read began, yet the read saw a.
  std::vector<Op> h{w("a", 1, 2), w("b", 3, 4), r("a", 5, 6)};
  EXPECT_FALSE(zone_check(h, nullptr));
  EXPECT_FALSE(wgl_check(h, 1000).ok);
  EXPECT_FALSE(check_register(h).ok);
}

TEST(Linearizability, ReadOfInitialAfterWriteIsCaught) {
  std::vector<Op> h{w("a", 1, 2), r("", 3, 4)};
  EXPECT_FALSE(check_register(h).ok);
  std::vector<Op> ok{r("", 1, 4), w("a", 2, 3)};
  EXPECT_TRUE(check_register(ok).ok);
}

TEST(Linearizability, ConcurrentOverlapAllowsEitherOrder) {
  std::vector<Op> h{w("a", 1, 10), w("b", 2, 9), r("a", 11, 12)};
  EXPECT_TRUE(check_register(h).ok);  // b then a
  std::vector<Op> bad{w("a", 1, 10), w("b", 2, 9), r("a", 11, 12), r("b", 13, 14)};
  EXPECT_FALSE(check_register(bad).ok) << "a cannot come back after b";
}

TEST(Linearizability, AmbiguousWriteMayOrMayNotHappen) {
  // Never read: may simply not have happened.
  std::vector<Op> h1{w("a", 1, 2), w("x", 3, kNever), r("a", 10, 11)};
  EXPECT_TRUE(check_register(h1).ok);
  // Read: it happened, at some point after its call.
  std::vector<Op> h2{w("a", 1, 2), w("x", 3, kNever), r("x", 10, 11), r("x", 12, 13)};
  EXPECT_TRUE(check_register(h2).ok);
  // But not before its call.
  std::vector<Op> h3{w("a", 1, 2), r("x", 3, 4), w("x", 5, kNever)};
  EXPECT_FALSE(check_register(h3).ok);
  // And once seen, it cannot un-happen.
  std::vector<Op> h4{w("a", 1, 2), w("x", 3, kNever), r("x", 10, 11), r("a", 12, 13)};
  EXPECT_FALSE(check_register(h4).ok);
}

TEST(Linearizability, PhantomValueIsCaught) {
  std::vector<Op> h{w("a", 1, 2), r("zz", 3, 4)};
  EXPECT_FALSE(check_register(h).ok);
}

// The zone fast path must agree with the exhaustive search on random small
// histories with unique values (when the fast path says "ok").
TEST(Linearizability, FastPathAgreesWithSearch) {
  Rng rng(42);
  int both_ok = 0, both_bad = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<Op> h;
    int n = static_cast<int>(rng.range(2, 9));
    int writes = 0;
    // Distinct timestamps: the fast path treats ties conservatively.
    std::vector<uint64_t> times;
    for (uint64_t t = 1; t <= 2 * static_cast<uint64_t>(n); ++t) times.push_back(t * 10);
    for (size_t i = times.size(); i > 1; --i) std::swap(times[i - 1], times[rng.below(i)]);
    for (int i = 0; i < n; ++i) {
      uint64_t call = std::min(times[2 * i], times[2 * i + 1]);
      uint64_t ret = std::max(times[2 * i], times[2 * i + 1]);
      if (rng.chance(0.5)) {
        h.push_back(w("v" + std::to_string(++writes), call, rng.chance(0.15) ? kNever : ret));
      } else {
        int pick = static_cast<int>(rng.range(0, writes + 1));
        h.push_back(r(pick == 0 ? "" : "v" + std::to_string(pick), call, ret));
      }
    }
    // Drop reads of values never written (phantoms are trivially bad).
    std::erase_if(h, [&](const Op& o) {
      return !o.is_write && !o.value.empty() && std::stoi(o.value.substr(1)) > writes;
    });
    bool fast = zone_check(h, nullptr);
    bool full = wgl_check(h, 1'000'000).ok;
    if (fast) {
      ASSERT_TRUE(full) << "fast path accepted a non-linearizable history (iter " << iter << ")";
    }
    ASSERT_EQ(fast, full) << "fast path and search disagree (iter " << iter << ")";
    (full ? both_ok : both_bad)++;
  }
  // Both answers must occur, or the test proves little.
  EXPECT_GT(both_ok, 300);
  EXPECT_GT(both_bad, 300);
}

}  // namespace
}  // namespace shoal::sim
