// Majority and joint quorums.
#include "raft/quorum.h"

#include <gtest/gtest.h>

namespace shoal::raft {
namespace {

std::vector<NodeId> ids(std::initializer_list<int> l) {
  std::vector<NodeId> v;
  for (int i : l) v.push_back(NodeId(i));
  return v;
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

}  // namespace
}  // namespace shoal::raft
