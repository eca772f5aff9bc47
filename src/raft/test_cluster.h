// A tiny synchronous in-memory cluster for the Raft unit tests: every Ready
// is persisted at once and its messages are queued for delivery, optionally
// through a filter that drops or edits them.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "raft/raft.h"

namespace shoal::raft::testing {

struct TestNode {
  std::unique_ptr<Raft> raft;
  std::vector<Entry> applied;
  std::vector<ReadState> reads;
  std::vector<ProposalOutcome> outcomes;
  std::vector<Message> snapshots_sent;
};

class TestCluster {
 public:
  // Voters 1..n (plus optional learners), all bootstrapped together.
  explicit TestCluster(int n, std::function<void(Config&)> tweak = {}) : tweak_(tweak) {
    std::vector<NodeId> voters;
    for (int i = 1; i <= n; ++i) voters.push_back(NodeId(i));
    for (NodeId id : voters) add(id, InitialState::bootstrap(voters));
  }

  Config config_for(NodeId id) {
    Config c;
    c.id = id;
    c.seed = id.value() * 7919;
    if (tweak_) tweak_(c);
    return c;
  }

  void add(NodeId id, InitialState st) {
    auto r = Raft::open(config_for(id), std::move(st));
    SHOAL_ASSERT(r.is_ok());
    nodes_[id].raft = std::move(r).value();
  }

  Raft& operator[](int id) { return *nodes_.at(NodeId(id)).raft; }
  TestNode& node(int id) { return nodes_.at(NodeId(id)); }

  // Returns false to drop the message; may edit it.
  std::function<bool(Message&)> filter;
  std::set<NodeId> isolated;
  bool duplicate = false;  // deliver every message twice

  // Handles every Ready and delivers messages until nothing moves.
  void drain(int max_rounds = 10000) {
    for (int round = 0; round < max_rounds; ++round) {
      bool moved = false;
      for (auto& [id, n] : nodes_) {
        while (n.raft->has_ready()) {
          moved = true;
          Ready rd = n.raft->ready();
          for (auto& e : rd.committed_entries) n.applied.push_back(e);
          for (auto& r : rd.read_states) n.reads.push_back(r);
          for (auto& o : rd.outcomes) n.outcomes.push_back(o);
          n.raft->advance(rd);
          for (auto* v : {&rd.messages, &rd.messages_after_persist}) {
            for (auto& m : *v) queue_.push_back(std::move(m));
          }
        }
      }
      while (!queue_.empty()) {
        moved = true;
        Message m = std::move(queue_.front());
        queue_.pop_front();
        if (duplicate) deliver(m);
        deliver(std::move(m));
      }
      if (!moved) return;
    }
    FAIL() << "cluster did not quiesce";
  }

  void deliver(Message m) {
    if (isolated.count(m.from) || isolated.count(m.to)) return;
    if (filter && !filter(m)) return;
    auto it = nodes_.find(m.to);
    if (it == nodes_.end()) return;
    if (m.type == MessageType::kSnap) it->second.snapshots_sent.push_back(m);
    Status s = it->second.raft->step(std::move(m));
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  }

  void tick_all(int n = 1) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, node] : nodes_) node.raft->tick();
      drain();
    }
  }

  // Ticks node `id` alone until it leads (others still answer).
  void elect(int id) {
    for (int i = 0; i < 100 && (*this)[id].role() != Role::kLeader; ++i) {
      (*this)[id].campaign();
      drain();
    }
    ASSERT_EQ((*this)[id].role(), Role::kLeader);
  }

  std::map<NodeId, TestNode>& nodes() { return nodes_; }

 private:
  std::function<void(Config&)> tweak_;
  std::map<NodeId, TestNode> nodes_;
  std::deque<Message> queue_;
};

}  // namespace shoal::raft::testing
