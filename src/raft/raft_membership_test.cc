// Membership, snapshots and leadership transfer (H13, H14, H15).
#include <gtest/gtest.h>

#include "raft/raft.h"
#include "raft/test_cluster.h"

namespace shoal::raft {
namespace {

using testing::TestCluster;

ConfChange add_voter(int id) {
  return {ConfTransition::kAuto, {{ConfChangeOp::kAddVoter, NodeId(id)}}};
}
ConfChange add_learner(int id) {
  return {ConfTransition::kAuto, {{ConfChangeOp::kAddLearner, NodeId(id)}}};
}
ConfChange remove(int id) { return {ConfTransition::kAuto, {{ConfChangeOp::kRemove, NodeId(id)}}}; }

TEST(RaftMembership, NoConfChangeBeforeOwnTermCommit_H14) {
  TestCluster c(3);
  c.isolated = {NodeId(2), NodeId(3)};
  c[1].campaign();
  c.drain();
  c.isolated.clear();
  // Become leader without letting the term's first entry commit.
  c.filter = [](Message& m) { return m.type != MessageType::kAppResp; };
  c.elect(1);
  auto r = c[1].propose_conf_change(remove(3));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  c.filter = nullptr;
  c.tick_all(2);
  EXPECT_TRUE(c[1].propose_conf_change(remove(3)).is_ok());
}

TEST(RaftMembership, OnlyOnePendingConfChange_H14) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(2), NodeId(3)};  // keep the first change from committing
  ASSERT_TRUE(c[1].propose_conf_change(add_learner(4)).is_ok());
  auto r = c[1].propose_conf_change(add_learner(5));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBusy);
}

TEST(RaftMembership, LearnerJoinsViaSnapshotThenIsPromoted) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c[1].propose("before").is_ok());
  c.drain();
  c.add(NodeId(4), InitialState{});
  ASSERT_TRUE(c[1].propose_conf_change(add_learner(4)).is_ok());
  c.drain();
  c.tick_all(2);
  EXPECT_TRUE(is_learner(c[1].conf(), NodeId(4)));
  EXPECT_FALSE(c.node(4).snapshots_sent.empty()) << "a fresh node needs a snapshot";
  EXPECT_EQ(c[4].log().last_index(), c[1].log().last_index());
  ASSERT_TRUE(c[1].propose_conf_change(add_voter(4)).is_ok());
  c.drain();
  c.tick_all(2);
  EXPECT_TRUE(contains(c[1].conf().voters, NodeId(4)));
  EXPECT_TRUE(contains(c[4].conf().voters, NodeId(4)));
}

TEST(RaftMembership, JointConsensusEntersAndAutoLeaves) {
  TestCluster c(3);
  c.elect(1);
  for (int id : {4, 5}) c.add(NodeId(id), InitialState{});
  ConfChange cc{ConfTransition::kAuto,
                {{ConfChangeOp::kAddVoter, NodeId(4)},
                 {ConfChangeOp::kAddVoter, NodeId(5)},
                 {ConfChangeOp::kRemove, NodeId(3)}}};
  bool saw_joint = false;
  c.filter = [&](Message& m) {
    saw_joint |= is_joint(c[1].conf());
    return true;
  };
  ASSERT_TRUE(c[1].propose_conf_change(cc).is_ok());
  c.drain();
  c.tick_all(3);
  EXPECT_TRUE(saw_joint);
  EXPECT_FALSE(is_joint(c[1].conf())) << "auto leave";
  EXPECT_EQ(c[1].conf().voters, (std::vector<NodeId>{NodeId(1), NodeId(2), NodeId(4), NodeId(5)}));
}

TEST(RaftMembership, ExplicitJointNeedsLeaveRequest) {
  TestCluster c(3);
  c.elect(1);
  c.add(NodeId(4), InitialState{});
  ConfChange cc{ConfTransition::kJointExplicit, {{ConfChangeOp::kAddVoter, NodeId(4)}}};
  ASSERT_TRUE(c[1].propose_conf_change(cc).is_ok());
  c.drain();
  c.tick_all(3);
  EXPECT_TRUE(is_joint(c[1].conf()));
  ASSERT_TRUE(c[1].propose_conf_change(ConfChange{}).is_ok());
  c.drain();
  c.tick_all(1);
  EXPECT_FALSE(is_joint(c[1].conf()));
}

TEST(RaftMembership, RemovedLeaderStepsDown_H13) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c[1].propose_conf_change(remove(1)).is_ok());
  c.drain();
  EXPECT_NE(c[1].role(), Role::kLeader);
  c.tick_all(40);
  EXPECT_NE(c[1].role(), Role::kLeader) << "a removed node never campaigns";
  bool other = c[2].role() == Role::kLeader || c[3].role() == Role::kLeader;
  EXPECT_TRUE(other);
}

TEST(RaftMembership, NoCampaignWithCommittedUnappliedConf) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c[1].propose_conf_change(add_learner(4)).is_ok());
  // Node 2 learns the change is committed but the host has not applied it.
  Ready rd;
  c.drain();
  // Build a follower whose committed conf entry is not applied.
  InitialState st;
  st.snapshot = {LogIndex(1), Term(1), c[2].conf()};
  st.snapshot.conf.learners.clear();
  st.hard_state = c[2].hard_state();
  for (LogIndex i(2); i <= c[2].log().last_index(); i = i.next())
    st.entries.push_back(c[2].log().at(i));
  st.applied = LogIndex(1);
  Config cfg = c.config_for(NodeId(2));
  auto r = Raft::open(cfg, st);
  ASSERT_TRUE(r.is_ok());
  Raft& f = *r.value();
  // open() replays only up to `applied`: the conf entry is committed, unapplied.
  for (int i = 0; i < 100; ++i) f.tick();
  EXPECT_EQ(f.role(), Role::kFollower) << "etcd-io/raft #469";
}

TEST(RaftSnapshot, LaggingFollowerGetsSnapshotAfterCompaction_H15) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(3)};
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c[1].propose("e" + std::to_string(i)).is_ok());
  c.drain();
  c[1].compact(c[1].log().applied());
  EXPECT_GT(c[1].log().first_index(), LogIndex(5));
  c.isolated.clear();
  c.tick_all(3);
  ASSERT_FALSE(c.node(3).snapshots_sent.empty());
  EXPECT_EQ(c[3].log().snap_index(), c.node(3).snapshots_sent[0].snapshot.meta.index);
  c[1].report_snapshot(NodeId(3), true);
  c.tick_all(3);
  EXPECT_EQ(c[3].log().last_index(), c[1].log().last_index());
  EXPECT_EQ(c[3].log().committed(), c[1].log().committed());
}

TEST(RaftTransfer, TransfersToCaughtUpVoter) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c[1].transfer_leadership(NodeId(2)).is_ok());
  c.drain();
  EXPECT_EQ(c[2].role(), Role::kLeader);
  EXPECT_NE(c[1].role(), Role::kLeader);
}

TEST(RaftTransfer, RejectsLearnerTargetAndPausesProposals) {
  TestCluster c(3);
  c.elect(1);
  c.add(NodeId(4), InitialState{});
  ASSERT_TRUE(c[1].propose_conf_change(add_learner(4)).is_ok());
  c.drain();
  c.tick_all(2);
  EXPECT_FALSE(c[1].transfer_leadership(NodeId(4)).is_ok()) << "target must be a voter";
  c.isolated = {NodeId(2)};
  ASSERT_TRUE(c[1].transfer_leadership(NodeId(2)).is_ok());
  auto r = c[1].propose("x");
  ASSERT_FALSE(r.is_ok()) << "proposals pause during a transfer";
  for (int i = 0; i < 12; ++i) {
    c[1].tick();
    c[3].tick();
    c.drain();
  }
  EXPECT_EQ(c[1].transferee(), NodeId(0)) << "aborted after an election timeout";
  EXPECT_EQ(c[1].role(), Role::kLeader);
  EXPECT_TRUE(c[1].propose("y").is_ok());
}

TEST(RaftTransfer, TargetWithUnappliedConfChangeRefusesTimeoutNow) {
  // tikv #17363: a target that has not applied the latest change would
  // campaign with the wrong configuration.
  std::vector<NodeId> voters{NodeId(1), NodeId(2), NodeId(3)};
  auto st = InitialState::bootstrap(voters);
  st.hard_state.term = Term(2);
  ConfChange cc{ConfTransition::kAuto, {{ConfChangeOp::kAddLearner, NodeId(4)}}};
  st.entries.push_back(Entry{Term(2), LogIndex(2), EntryType::kConfChange, encode_conf_change(cc)});
  Config cfg;
  cfg.id = NodeId(2);
  auto r = Raft::open(cfg, st);
  ASSERT_TRUE(r.is_ok());
  Raft& target = *r.value();
  Message now{
      .type = MessageType::kTimeoutNow, .from = NodeId(1), .to = NodeId(2), .term = Term(2)};
  ASSERT_TRUE(target.step(now).is_ok());
  EXPECT_EQ(target.role(), Role::kFollower);
  EXPECT_EQ(target.term(), Term(2));
  // Once applied, the same request starts a forced campaign.
  Message app{.type = MessageType::kApp,
              .from = NodeId(1),
              .to = NodeId(2),
              .term = Term(2),
              .log_term = Term(2),
              .index = LogIndex(2),
              .commit = LogIndex(2)};
  ASSERT_TRUE(target.step(app).is_ok());
  Ready rd = target.ready();
  target.advance(rd);
  rd = target.ready();
  target.advance(rd);
  ASSERT_EQ(target.log().applied(), LogIndex(2));
  ASSERT_TRUE(target.step(now).is_ok());
  EXPECT_EQ(target.role(), Role::kCandidate);
  EXPECT_EQ(target.term(), Term(3));
}

TEST(RaftTransfer, RefusedWhileConfChangePending) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(2), NodeId(3)};
  ASSERT_TRUE(c[1].propose_conf_change(add_learner(4)).is_ok());
  Status s = c[1].transfer_leadership(NodeId(2));
  EXPECT_EQ(s.code(), StatusCode::kBusy);
}

}  // namespace
}  // namespace shoal::raft
