// The in-memory log: append, conflicts, hints, compaction.
#include "raft/log.h"

#include <gtest/gtest.h>

namespace shoal::raft {
namespace {

TEST(RaftLog, AppendConflictTruncationAndHints) {
  RaftLog log;
  log.restore(LogIndex(1), Term(1));
  std::vector<Entry> a{{Term(2), LogIndex(2), EntryType::kNormal, "a"},
                       {Term(2), LogIndex(3), EntryType::kNormal, "b"},
                       {Term(3), LogIndex(4), EntryType::kNormal, "c"}};
  ASSERT_EQ(log.maybe_append(LogIndex(1), Term(1), std::move(a)), LogIndex(4));
  EXPECT_FALSE(log.maybe_append(LogIndex(4), Term(2), {}).has_value()) << "prev term mismatch";
  std::vector<Entry> b{{Term(4), LogIndex(3), EntryType::kNormal, "x"}};
  ASSERT_EQ(log.maybe_append(LogIndex(2), Term(2), std::move(b)), LogIndex(3));
  EXPECT_EQ(log.last_index(), LogIndex(3));
  EXPECT_EQ(log.at(LogIndex(3)).data, "x");
  auto [hint, t] = log.find_conflict_by_term(LogIndex(3), Term(3));
  EXPECT_EQ(hint, LogIndex(2));
  EXPECT_EQ(t, Term(2));
  EXPECT_TRUE(log.is_up_to_date(LogIndex(1), Term(5)));
  EXPECT_FALSE(log.is_up_to_date(LogIndex(9), Term(3)));
}

TEST(RaftLog, CompactKeepsTermOfCompactionPoint) {
  RaftLog log;
  log.restore(LogIndex(1), Term(1));
  for (uint64_t i = 2; i <= 5; ++i) log.append({Term(2), LogIndex(i), EntryType::kNormal, ""});
  log.persisted_to(LogIndex(5));
  log.commit_to(LogIndex(4));
  log.applied_to(LogIndex(4));
  log.compact(LogIndex(3));
  EXPECT_EQ(log.first_index(), LogIndex(4));
  EXPECT_EQ(log.term(LogIndex(3)), Term(2));
  EXPECT_FALSE(log.term(LogIndex(2)).has_value());
}

}  // namespace
}  // namespace shoal::raft
