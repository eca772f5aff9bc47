// The nemesis: partitions (symmetric and one-way), crashes and restarts,
// membership changes, leadership transfers, compactions and lossy links,
// then a heal phase in which the cluster must make progress again.
#include <cstdio>

#include "sim/cluster.h"

namespace shoal::sim {

SimNode* SimCluster::leader() {
  SimNode* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n->up || n->raft->role() != raft::Role::kLeader) continue;
    if (!best || n->raft->term() > best->raft->term()) best = n.get();
  }
  return best;
}

namespace {

std::vector<NodeId> live_ids(const std::map<NodeId, std::unique_ptr<SimNode>>& nodes) {
  std::vector<NodeId> out;
  for (auto& [id, n] : nodes) out.push_back(id);
  return out;
}

}  // namespace

// Replaces the partition: none, one link cut both ways, a symmetric split
// around the victim, or one-way cuts into or out of the victim.
void SimCluster::new_partition(NodeId victim) {
  Rng& r = nemesis_rng_;
  std::vector<NodeId> ids = live_ids(nodes_);
  cut_.clear();
  if (r.chance(0.3)) {
    // Cut one link both ways, e.g. between the leader and one follower.
    NodeId other = ids[r.below(ids.size())];
    if (other != victim) {
      cut_.insert({victim, other});
      cut_.insert({other, victim});
    }
  } else if (r.chance(0.7)) {
    if (r.chance(0.5)) {
      // Symmetric: isolate one node, or split in two groups.
      std::set<NodeId> side{victim};
      for (NodeId a : ids) {
        if (r.chance(0.25)) side.insert(a);
      }
      for (NodeId a : ids) {
        for (NodeId b : ids) {
          if (side.count(a) != side.count(b)) cut_.insert({a, b});
        }
      }
    } else {
      // One-way: the victim cannot hear from some nodes (or cannot reach them).
      bool inbound = r.chance(0.5);
      for (NodeId b : ids) {
        if (b != victim && r.chance(0.6))
          cut_.insert(inbound ? std::make_pair(b, victim) : std::make_pair(victim, b));
      }
    }
  }
  trace(30, cut_.size());
}

void SimCluster::nemesis_step() {
  if (healing_ || stopped_) return;
  Rng& r = nemesis_rng_;
  std::vector<NodeId> ids = live_ids(nodes_);
  NodeId victim = ids[r.below(ids.size())];
  // Under churn, aim at the leader half of the time: leader changes at bad
  // moments are where the interesting histories (Figure 8, stale leases) are.
  if (SimNode* l = leader(); l && churn_ && r.chance(0.5)) victim = l->id;
  uint64_t dice = r.below(100);
  if (dice < 20) {
    new_partition(victim);
  } else if (dice < 35) {
    SimNode* n = node(victim);
    if (n->up) {
      crash(*n);
      at(now_ + r.range(20, 500), [this, victim] {
        if (SimNode* m = node(victim)) restart(*m);
      });
    }
  } else if (dice < 50) {
    if (SimNode* l = leader()) {
      // Under churn, bursts: every change after the first must be refused
      // while one is pending (unless a bug switch allows it).
      int burst = churn_ ? static_cast<int>(r.range(1, 3)) : 1;
      for (int i = 0; i < burst && l->up && l->raft->role() == raft::Role::kLeader; ++i) {
        change_membership(*l);
      }
    }
  } else if (dice < 60) {
    if (SimNode* l = leader()) {
      const auto& voters = l->raft->conf().voters;
      NodeId target = voters[r.below(voters.size())];
      if (target != l->id && l->raft->transfer_leadership(target).is_ok()) ++stats_.transfers;
      pump(*l);
    }
  } else if (dice < 80) {
    take_snapshot(*node(victim));
  } else {
    drop_ = r.chance(0.5) ? 0.0 : 0.1;
  }
  at(now_ + (churn_ ? r.range(5, 50) : r.range(20, 200)), [this] { nemesis_step(); });
}

void SimCluster::change_membership(SimNode& l) {
  Rng& r = nemesis_rng_;
  const raft::ConfState cs = l.raft->conf();
  raft::ConfChange cc;
  using Op = raft::ConfChangeOp;
  if (raft::is_joint(cs)) {
    cc = {};  // leave (explicit joint configurations need it)
  } else {
    uint64_t dice = r.below(100);
    bool can_shrink = cs.voters.size() > 3;
    if (dice < 30 && next_node_id_ <= 10) {
      NodeId fresh(next_node_id_++);  // node ids are never reused (H13)
      auto n = std::make_unique<SimNode>();
      n->id = fresh;
      SimNode& ref = *n;
      nodes_[fresh] = std::move(n);
      start_node(ref, raft::InitialState{});
      cc.changes.push_back({Op::kAddLearner, fresh});
    } else if (dice < 55 && !cs.learners.empty() && cs.voters.size() < 5) {
      cc.changes.push_back({Op::kAddVoter, cs.learners[r.below(cs.learners.size())]});
    } else if (dice < 70 && can_shrink) {
      cc.changes.push_back(
          {r.chance(0.5) ? Op::kRemove : Op::kAddLearner, cs.voters[r.below(cs.voters.size())]});
    } else if (!cs.learners.empty()) {
      // A replica move: promote a learner and drop a voter in one joint step.
      cc.changes.push_back({Op::kAddVoter, cs.learners[r.below(cs.learners.size())]});
      cc.changes.push_back({Op::kRemove, cs.voters[r.below(cs.voters.size())]});
      cc.transition = static_cast<raft::ConfTransition>(r.below(3));
    } else {
      return;
    }
  }
  auto res = l.raft->propose_conf_change(cc);
  if (res.is_ok()) {
    ++stats_.conf_changes;
    trace(31, l.id.value(), cc.changes.size());
    if (cfg_.verbose) {
      std::printf("%8llu n%llu proposes conf change (%zu items)\n", (unsigned long long)now_,
                  (unsigned long long)l.id.value(), cc.changes.size());
    }
  }
  pump(l);
}

void SimCluster::heal() {
  healing_ = true;
  cut_.clear();
  drop_ = dup_ = 0;
  for (auto& [id, n] : nodes_) {
    if (!n->up) restart(*n);
  }
  // An explicit joint configuration needs someone to ask for the leave.
  at(now_ + 100, [this] { janitor(); });
}

// An explicit joint configuration needs someone to ask for the leave.
void SimCluster::janitor() {
  SimNode* l = leader();
  if (l && raft::is_joint(l->raft->conf())) {
    (void)l->raft->propose_conf_change(raft::ConfChange{});
    pump(*l);
  }
  if (now_ < end_) at(now_ + 200, [this] { janitor(); });
}

}  // namespace shoal::sim
