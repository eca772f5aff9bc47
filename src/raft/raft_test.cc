// Unit tests of the Raft state machine: elections, replication, commitment
// and the persistence contract. Hazards from HAZARDS.md are named (H11..H18).
#include "raft/raft.h"

#include <gtest/gtest.h>

#include "raft/test_cluster.h"

namespace shoal::raft {
namespace {

using testing::TestCluster;

size_t count_normal(const std::vector<Entry>& es, const std::string& data) {
  size_t n = 0;
  for (auto& e : es) n += e.type == EntryType::kNormal && e.data == data;
  return n;
}

TEST(RaftElection, ThreeNodesElectOneLeaderAndReplicate) {
  TestCluster c(3);
  c.tick_all(40);
  int leaders = 0;
  NodeId lead;
  for (auto& [id, n] : c.nodes()) {
    if (n.raft->role() == Role::kLeader) {
      ++leaders;
      lead = id;
    }
  }
  ASSERT_EQ(leaders, 1);
  auto id = c[lead.value()].propose("x");
  ASSERT_TRUE(id.is_ok());
  c.drain();
  c.tick_all(2);
  for (auto& [nid, n] : c.nodes()) EXPECT_EQ(count_normal(n.applied, "x"), 1u) << nid.value();
  auto& outs = c.node(lead.value()).outcomes;
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].id, id.value());
  EXPECT_EQ(outs[0].kind, OutcomeKind::kCommitted);
}

TEST(RaftElection, FollowerRejectsProposal) {
  TestCluster c(3);
  c.elect(1);
  auto r = c[2].propose("x");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(RaftElection, VoteDeniedToStaleLog_5_4_1) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(3)};
  ASSERT_TRUE(c[1].propose("a").is_ok());
  c.drain();
  c.isolated.clear();
  // Node 3 lacks "a": its vote request must be refused by 1 and 2 (§5.4.1).
  c.filter = [](Message& m) {
    return m.type != MessageType::kApp && m.type != MessageType::kHeartbeat;
  };
  for (int i = 0; i < 5; ++i) {
    c[3].campaign();
    c.drain();
  }
  EXPECT_NE(c[3].role(), Role::kLeader);
}

TEST(RaftElection, PreVoteKeepsTermOfPartitionedNode) {
  TestCluster c(3);
  c.elect(1);
  Term t = c[1].term();
  c.isolated = {NodeId(3)};
  c.tick_all(100);
  EXPECT_EQ(c[3].term(), t) << "pre-vote must not bump the term in a minority";
  c.isolated.clear();
  c.tick_all(5);
  EXPECT_EQ(c[1].role(), Role::kLeader);
  EXPECT_EQ(c[1].term(), t) << "a rejoining node must not disrupt the leader";
}

TEST(RaftElection, CheckQuorumStepsDownIsolatedLeader_H12) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(1)};
  for (int i = 0; i < 25; ++i) {
    c[1].tick();
    c.drain();
  }
  EXPECT_NE(c[1].role(), Role::kLeader) << "a partitioned old leader must stop acting as one";
}

TEST(RaftElection, LeaderStickinessIgnoresVoteWithinLease) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.elect(1);
  Term t = c[1].term();
  // Node 3 campaigns while 2 still hears from leader 1: 2 ignores it.
  Message vote{.type = MessageType::kVote,
               .from = NodeId(3),
               .to = NodeId(2),
               .term = t.next(),
               .log_term = c[3].log().last_term(),
               .index = c[3].log().last_index()};
  ASSERT_TRUE(c[2].step(vote).is_ok());
  EXPECT_EQ(c[2].term(), t);
  EXPECT_FALSE(c[2].has_ready() && !c[2].ready().messages_after_persist.empty());
  // A forced vote (leadership transfer) is answered.
  vote.force = true;
  ASSERT_TRUE(c[2].step(vote).is_ok());
  EXPECT_EQ(c[2].term(), t.next());
  EXPECT_EQ(c[2].vote(), NodeId(3));
}

TEST(RaftElection, LearnerVotesWhenAsked) {
  // etcd #10998: a learner may have been promoted without knowing it.
  auto st = InitialState::bootstrap({NodeId(1), NodeId(2)});
  st.snapshot.conf.learners = {NodeId(3)};
  Config cfg;
  cfg.id = NodeId(3);
  auto r = Raft::open(cfg, st);
  ASSERT_TRUE(r.is_ok());
  Raft& learner = *r.value();
  Message vote{.type = MessageType::kVote,
               .from = NodeId(1),
               .to = NodeId(3),
               .term = Term(5),
               .log_term = Term(1),
               .index = LogIndex(1)};
  ASSERT_TRUE(learner.step(vote).is_ok());
  Ready rd = learner.ready();
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_FALSE(rd.messages_after_persist[0].reject);
  // And it never campaigns itself.
  for (int i = 0; i < 100; ++i) learner.tick();
  EXPECT_EQ(learner.role(), Role::kFollower);
}

TEST(RaftCommit, OnlyOwnTermEntriesCommitByCounting_5_4_2_Figure8) {
  for (bool broken : {false, true}) {
    // Nodes hold an old-term entry at index 2 (term 2) on a majority.
    std::vector<NodeId> voters{NodeId(1), NodeId(2), NodeId(3)};
    TestCluster c(0, [&](Config& cfg) { cfg.knobs.commit_prior_term_entries = broken; });
    for (NodeId id : voters) {
      auto st = InitialState::bootstrap(voters);
      st.hard_state.term = Term(3);
      st.entries.push_back(Entry{Term(2), LogIndex(2), EntryType::kNormal, "old"});
      c.add(id, st);
    }
    // Followers receive appends with the new leader's entries stripped, so
    // the quorum holds index 2 but not the term-4 entry at index 3.
    c.filter = [](Message& m) {
      if (m.type == MessageType::kApp) {
        std::erase_if(m.entries, [](const Entry& e) { return e.index > LogIndex(2); });
        m.commit = std::min(m.commit, LogIndex(2));
      }
      return true;
    };
    c.elect(1);
    EXPECT_EQ(c[1].term(), Term(4));
    EXPECT_EQ(c[1].progress(NodeId(2))->match, LogIndex(2));
    if (broken) {
      EXPECT_EQ(c[1].log().committed(), LogIndex(2)) << "the knob must break the rule";
    } else {
      EXPECT_EQ(c[1].log().committed(), LogIndex(1)) << "term-2 entry committed by counting";
    }
    c.filter = nullptr;
    c.tick_all(1);
    EXPECT_EQ(c[1].log().committed(), LogIndex(3));  // indirectly, via the term-4 entry
  }
}

TEST(RaftCommit, LeaderCountsItselfOnlyAfterPersisting_H16) {
  Config cfg;
  cfg.id = NodeId(1);
  auto r = Raft::open(cfg, InitialState::bootstrap({NodeId(1)}));
  ASSERT_TRUE(r.is_ok());
  Raft& n = *r.value();
  n.campaign();
  ASSERT_EQ(n.role(), Role::kLeader);
  Ready rd = n.ready();
  n.advance(rd);
  ASSERT_TRUE(n.propose("a").is_ok());
  rd = n.ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_LT(n.log().committed(), rd.entries[0].index) << "committed before durable";
  n.on_persisted(rd.persist_term, rd.persist_index);
  EXPECT_EQ(n.log().committed(), rd.entries[0].index);
}

TEST(RaftPersist, FollowerAcksOnlyAfterPersistence_H16) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c[1].propose("a").is_ok());
  Ready rd = c[1].ready();
  ASSERT_FALSE(rd.messages.empty()) << "the leader's appends go out at once";
  for (auto& m : rd.messages) {
    if (m.to != NodeId(2) || m.type != MessageType::kApp) continue;
    ASSERT_TRUE(c[2].step(m).is_ok());
    Ready f = c[2].ready();
    EXPECT_TRUE(f.messages.empty());
    ASSERT_EQ(f.messages_after_persist.size(), 1u);
    EXPECT_EQ(f.messages_after_persist[0].type, MessageType::kAppResp);
  }
}

TEST(RaftPersist, VoteGrantWaitsForPersistence_H16) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  Message vote{.type = MessageType::kVote,
               .from = NodeId(3),
               .to = NodeId(2),
               .term = Term(2),
               .log_term = Term(1),
               .index = LogIndex(1)};
  ASSERT_TRUE(c[2].step(vote).is_ok());
  Ready rd = c[2].ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, NodeId(3));
  EXPECT_TRUE(rd.messages.empty());
  EXPECT_EQ(rd.messages_after_persist.size(), 1u);
}

TEST(RaftPersist, StalePersistAckIsIgnored_AppendABA) {
  Config cfg;
  cfg.id = NodeId(2);
  auto r = Raft::open(cfg, InitialState::bootstrap({NodeId(1), NodeId(2), NodeId(3)}));
  ASSERT_TRUE(r.is_ok());
  Raft& f = *r.value();
  auto app = [&](Term t, std::vector<Entry> es) {
    Message m{.type = MessageType::kApp,
              .from = NodeId(1),
              .to = NodeId(2),
              .term = t,
              .log_term = Term(1),
              .index = LogIndex(1),
              .entries = std::move(es)};
    ASSERT_TRUE(f.step(m).is_ok());
  };
  app(Term(2), {{Term(2), LogIndex(2), EntryType::kNormal, "a"},
                {Term(2), LogIndex(3), EntryType::kNormal, "b"}});
  Ready rd1 = f.ready();
  ASSERT_EQ(rd1.persist_index, LogIndex(3));
  // A new leader of term 3 overwrites index 2..3 before the first write lands.
  app(Term(3), {{Term(3), LogIndex(2), EntryType::kNormal, "c"},
                {Term(3), LogIndex(3), EntryType::kNormal, "d"}});
  Ready rd2 = f.ready();
  f.on_persisted(rd1.persist_term, rd1.persist_index);  // the stale ack
  EXPECT_EQ(f.log().persisted(), LogIndex(1));
  f.on_persisted(rd2.persist_term, rd2.persist_index);
  EXPECT_EQ(f.log().persisted(), LogIndex(3));
}

TEST(RaftReplication, FastBacktrackingSkipsDivergentTerms) {
  std::vector<NodeId> voters{NodeId(1), NodeId(2), NodeId(3)};
  TestCluster c(0, [](Config& cfg) { cfg.pre_vote = false; });
  for (NodeId id : voters) {
    auto st = InitialState::bootstrap(voters);
    st.hard_state.term = Term(5);
    for (uint64_t i = 2; i <= 101; ++i) {
      // Node 3 has a long divergent tail of term 3; others have term 4.
      Term t = id == NodeId(3) ? Term(3) : (i <= 10 ? Term(2) : Term(4));
      if (i <= 10) t = Term(2);
      st.entries.push_back(Entry{t, LogIndex(i), EntryType::kNormal, "e"});
    }
    c.add(id, st);
  }
  int rejects = 0;
  c.filter = [&](Message& m) {
    rejects += m.type == MessageType::kAppResp && m.reject && m.from == NodeId(3);
    return true;
  };
  c.elect(1);
  c.tick_all(3);
  EXPECT_EQ(c[3].log().last_index(), c[1].log().last_index());
  EXPECT_EQ(c[3].log().term(LogIndex(50)), Term(4));
  EXPECT_LE(rejects, 3) << "one rejection per divergent term, not per entry";
}

TEST(RaftReplication, InflightLimitBoundsPipelineAndMessageSize) {
  TestCluster c(3, [](Config& cfg) {
    cfg.max_inflight_msgs = 2;
    cfg.max_msg_bytes = 100;
  });
  c.elect(1);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c[1].propose(std::string(60, 'x')).is_ok());
  Ready rd = c[1].ready();
  int apps_to_2 = 0;
  for (auto& m : rd.messages) {
    if (m.type != MessageType::kApp || m.to != NodeId(2)) continue;
    ++apps_to_2;
    EXPECT_LE(m.entries.size(), 1u) << "max_msg_bytes must split batches";
  }
  EXPECT_EQ(apps_to_2, 2) << "at most max_inflight_msgs appends in flight";
}

TEST(RaftReplication, UncommittedBytesBoundRejectsProposals) {
  TestCluster c(3, [](Config& cfg) { cfg.max_uncommitted_bytes = 100; });
  c.elect(1);
  c.isolated = {NodeId(2), NodeId(3)};
  ASSERT_TRUE(c[1].propose(std::string(80, 'x')).is_ok());
  auto r = c[1].propose(std::string(80, 'x'));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBusy);
}

TEST(RaftOutcome, DeposedLeaderReportsRejectedOnceOtherEntryCommits_H18) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(1)};
  auto id = c[1].propose("lost");
  ASSERT_TRUE(id.is_ok());
  c.drain();
  for (int i = 0; i < 40 && c[2].role() != Role::kLeader; ++i) {
    c[2].tick();
    c[3].tick();
    c.drain();
  }
  ASSERT_EQ(c[2].role(), Role::kLeader);
  ASSERT_TRUE(c[2].propose("won").is_ok());
  c.drain();
  c.isolated.clear();
  c.tick_all(3);
  auto& outs = c.node(1).outcomes;
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].id, id.value());
  EXPECT_EQ(outs[0].kind, OutcomeKind::kRejected);
  EXPECT_EQ(count_normal(c.node(1).applied, "lost"), 0u);
}

TEST(RaftOutcome, IsolatedLeaderReportsUnknownAfterDeadline_H18) {
  TestCluster c(3);
  c.elect(1);
  c.isolated = {NodeId(1)};
  auto id = c[1].propose("maybe");
  ASSERT_TRUE(id.is_ok());
  for (int i = 0; i < 60; ++i) {
    c[1].tick();
    c.drain();
  }
  auto& outs = c.node(1).outcomes;
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].kind, OutcomeKind::kUnknown);
}

TEST(RaftApply, EachEntryHandedOutOnceDespiteDuplicates_H17) {
  TestCluster c(3);
  c.duplicate = true;
  c.elect(1);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c[1].propose("e" + std::to_string(i)).is_ok());
  c.drain();
  c.tick_all(3);
  for (auto& [id, n] : c.nodes()) {
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(count_normal(n.applied, "e" + std::to_string(i)), 1u) << id.value();
    }
    for (size_t k = 1; k < n.applied.size(); ++k) {
      EXPECT_EQ(n.applied[k].index, n.applied[k - 1].index.next()) << "gap or repeat";
    }
  }
  EXPECT_EQ(c.node(1).outcomes.size(), 20u) << "one outcome per proposal";
}

TEST(RaftRestart, RestoresFromDurableState_H11) {
  TestCluster c(1);
  c.elect(1);
  ASSERT_TRUE(c[1].propose("a").is_ok());
  c.drain();
  InitialState st;
  st.snapshot = {LogIndex(1), Term(1), c[1].conf()};
  st.hard_state = c[1].hard_state();
  for (LogIndex i(2); i <= c[1].log().last_index(); i = i.next())
    st.entries.push_back(c[1].log().at(i));
  st.applied = LogIndex(1);
  c.add(NodeId(1), st);
  c.node(1).applied.clear();
  c.drain();
  EXPECT_EQ(count_normal(c.node(1).applied, "a"), 1u) << "committed entries re-applied";
  c.elect(1);
  EXPECT_GT(c[1].term(), Term(2));
}

}  // namespace
}  // namespace shoal::raft
