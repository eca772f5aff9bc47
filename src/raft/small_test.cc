// Tests of the small pieces: conf changes, the log, progress, quorums.
#include <gtest/gtest.h>

#include "raft/conf_change.h"
#include "raft/log.h"
#include "raft/progress.h"
#include "raft/quorum.h"

namespace shoal::raft {
namespace {

std::vector<NodeId> ids(std::initializer_list<int> l) {
  std::vector<NodeId> v;
  for (int i : l) v.push_back(NodeId(i));
  return v;
}

TEST(ConfChange, EncodeDecodeRoundTripAndRejectGarbage) {
  ConfChange cc{ConfTransition::kJointExplicit,
                {{ConfChangeOp::kAddVoter, NodeId(4)}, {ConfChangeOp::kRemove, NodeId(1)}}};
  auto got = decode_conf_change(encode_conf_change(cc));
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got.value(), cc);
  EXPECT_FALSE(decode_conf_change("\x07\x01").is_ok());
  std::string s = encode_conf_change(cc);
  EXPECT_FALSE(decode_conf_change(s.substr(0, s.size() - 1)).is_ok());
}

TEST(ConfChange, SimpleJointAndLeave) {
  ConfState cs{ids({1, 2, 3}), {}, {}, {}, false};
  auto simple =
      apply_conf_change(cs, {ConfTransition::kAuto, {{ConfChangeOp::kAddVoter, NodeId(4)}}});
  ASSERT_TRUE(simple.is_ok());
  EXPECT_FALSE(is_joint(simple.value()));
  auto joint = apply_conf_change(
      cs, {ConfTransition::kAuto,
           {{ConfChangeOp::kAddVoter, NodeId(4)}, {ConfChangeOp::kAddLearner, NodeId(1)}}});
  ASSERT_TRUE(joint.is_ok());
  EXPECT_TRUE(is_joint(joint.value()));
  EXPECT_EQ(joint.value().voters_outgoing, ids({1, 2, 3}));
  EXPECT_EQ(joint.value().learners_next, ids({1}));
  EXPECT_TRUE(joint.value().auto_leave);
  EXPECT_FALSE(apply_conf_change(joint.value(),
                                 {ConfTransition::kAuto, {{ConfChangeOp::kAddVoter, NodeId(5)}}})
                   .is_ok())
      << "no second change while joint";
  auto left = apply_conf_change(joint.value(), ConfChange{});
  ASSERT_TRUE(left.is_ok());
  EXPECT_EQ(left.value().voters, ids({2, 3, 4}));
  EXPECT_EQ(left.value().learners, ids({1}));
  EXPECT_FALSE(apply_conf_change(cs, ConfChange{}).is_ok()) << "leave while not joint";
  EXPECT_FALSE(apply_conf_change(ConfState{ids({1}), {}, {}, {}, false},
                                 {ConfTransition::kAuto, {{ConfChangeOp::kRemove, NodeId(1)}}})
                   .is_ok());
}

TEST(Quorum, MajorityAndJoint) {
  auto v = ids({1, 2, 3});
  auto get = [](NodeId id) -> uint64_t { return id.value() * 10; };
  EXPECT_EQ(majority_value(v, get), 20u);
  ConfState joint{ids({1, 2, 3}), ids({1, 4, 5}), {}, {}, false};
  EXPECT_EQ(joint_value(joint, get), 20u);  // min(20, 40)
  auto yes = [](NodeId id) -> std::optional<bool> {
    if (id.value() <= 2) return true;
    return std::nullopt;
  };
  EXPECT_EQ(majority_vote(v, yes), VoteResult::kWon);
  EXPECT_EQ(joint_vote(joint, yes), VoteResult::kPending) << "both halves must win";
}

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

TEST(Progress, ProbeReplicateAndInflights) {
  Progress p(NodeId(2), LogIndex(10), 2, 0);
  EXPECT_FALSE(p.is_paused());
  p.sent_entries(LogIndex(10), 5, 1);
  EXPECT_TRUE(p.is_paused()) << "one probe at a time";
  EXPECT_TRUE(p.maybe_decrease_to(LogIndex(9), LogIndex(4)));
  EXPECT_EQ(p.next, LogIndex(5));
  EXPECT_TRUE(p.maybe_update(LogIndex(6)));
  p.become_replicate();
  p.sent_entries(LogIndex(8), 10, 2);
  p.sent_entries(LogIndex(9), 10, 1);
  EXPECT_TRUE(p.is_paused()) << "inflight window full";
  p.maybe_update(LogIndex(8));
  EXPECT_FALSE(p.is_paused());
  EXPECT_FALSE(p.maybe_decrease_to(LogIndex(7), LogIndex(0))) << "stale rejection";
}

}  // namespace
}  // namespace shoal::raft
