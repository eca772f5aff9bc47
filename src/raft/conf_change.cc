#include "raft/conf_change.h"

#include <algorithm>

#include "base/coding.h"

namespace shoal::raft {

bool contains(const std::vector<NodeId>& v, NodeId id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

bool is_joint(const ConfState& cs) { return !cs.voters_outgoing.empty(); }

bool is_voter(const ConfState& cs, NodeId id) {
  return contains(cs.voters, id) || contains(cs.voters_outgoing, id);
}

bool is_learner(const ConfState& cs, NodeId id) {
  return contains(cs.learners, id) || contains(cs.learners_next, id);
}

std::vector<NodeId> all_members(const ConfState& cs) {
  std::vector<NodeId> out;
  for (const auto* v : {&cs.voters, &cs.voters_outgoing, &cs.learners, &cs.learners_next}) {
    out.insert(out.end(), v->begin(), v->end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string encode_conf_change(const ConfChange& cc) {
  std::string out;
  out.push_back(static_cast<char>(cc.transition));
  put_varint64(out, cc.changes.size());
  for (const auto& c : cc.changes) {
    out.push_back(static_cast<char>(c.op));
    put_fixed64(out, c.node.value());
  }
  return out;
}

Result<ConfChange> decode_conf_change(std::string_view data) {
  ByteReader r(data);
  ConfChange cc;
  auto t = r.bytes(1);
  auto n = r.varint64();
  if (!t || !n || (*t)[0] > 2 || *n > 1024) return Status::corruption("bad conf change header");
  cc.transition = static_cast<ConfTransition>((*t)[0]);
  for (uint64_t i = 0; i < *n; ++i) {
    auto op = r.bytes(1);
    auto id = r.fixed64();
    if (!op || !id || (*op)[0] > 2 || *id == 0) return Status::corruption("bad conf change item");
    cc.changes.push_back({static_cast<ConfChangeOp>((*op)[0]), NodeId(*id)});
  }
  if (!r.empty()) return Status::corruption("trailing bytes in conf change");
  return cc;
}

namespace {

void erase_id(std::vector<NodeId>& v, NodeId id) { std::erase(v, id); }
void insert_id(std::vector<NodeId>& v, NodeId id) {
  if (!contains(v, id)) {
    v.push_back(id);
    std::sort(v.begin(), v.end());
  }
}

// Applies the items to the incoming half; the outgoing half is untouched.
void apply_items(ConfState& cs, const std::vector<ConfChangeItem>& items) {
  for (const auto& c : items) {
    switch (c.op) {
      case ConfChangeOp::kAddVoter:
        erase_id(cs.learners, c.node);
        erase_id(cs.learners_next, c.node);
        insert_id(cs.voters, c.node);
        break;
      case ConfChangeOp::kAddLearner:
        erase_id(cs.voters, c.node);
        // A node still voting in the outgoing half becomes a learner only
        // when the joint configuration is left.
        if (contains(cs.voters_outgoing, c.node)) {
          insert_id(cs.learners_next, c.node);
        } else {
          insert_id(cs.learners, c.node);
        }
        break;
      case ConfChangeOp::kRemove:
        erase_id(cs.voters, c.node);
        erase_id(cs.learners, c.node);
        erase_id(cs.learners_next, c.node);
        break;
    }
  }
}

size_t voter_difference(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  size_t d = 0;
  for (NodeId id : a) d += contains(b, id) ? 0 : 1;
  for (NodeId id : b) d += contains(a, id) ? 0 : 1;
  return d;
}

}  // namespace

Result<ConfState> apply_conf_change(const ConfState& cs, const ConfChange& cc) {
  ConfState out = cs;
  if (cc.leave_joint()) {
    if (!is_joint(cs)) return Status::invalid_argument("not in a joint configuration");
    out.voters_outgoing.clear();
    for (NodeId id : out.learners_next) insert_id(out.learners, id);
    out.learners_next.clear();
    out.auto_leave = false;
    return out;
  }
  if (is_joint(cs)) return Status::invalid_argument("already in a joint configuration");
  ConfState trial = cs;
  apply_items(trial, cc.changes);
  bool simple =
      cc.transition == ConfTransition::kAuto && voter_difference(cs.voters, trial.voters) <= 1;
  if (simple) {
    out = trial;
  } else {
    out.voters_outgoing = cs.voters;
    apply_items(out, cc.changes);
    out.auto_leave = cc.transition != ConfTransition::kJointExplicit;
  }
  if (out.voters.empty()) return Status::invalid_argument("change removes every voter");
  return out;
}

}  // namespace shoal::raft
