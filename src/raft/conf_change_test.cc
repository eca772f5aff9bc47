// Membership changes: encoding and the transition rules.
#include "raft/conf_change.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace shoal::raft
