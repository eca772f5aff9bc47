// LeaderTable: who leads each shard, as this node last heard, with the term
// of that knowledge. Raft guarantees at most one leader per term, so a higher
// term always wins; an entry not refreshed within `ttl_ms` is forgotten (its
// leader may be dead, and peers announce leadership periodically).
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "base/ids.h"

namespace shoal::node {

class LeaderTable {
 public:
  explicit LeaderTable(int64_t ttl_ms = 3000) : ttl_ms_(ttl_ms) {}

  // Records that `leader` leads `shard` in `term` (learned at `now_ms`).
  // Ignored when an entry of a higher term is known.
  void observe(ShardId shard, Term term, NodeId leader, int64_t now_ms) {
    auto& e = entries_[shard];
    if (term < e.term) return;
    // A node that told us it no longer leads is not believed to lead in that
    // term again (our own follower's Raft may still name it until it hears
    // of the new leader).
    if (term == e.refused_term && leader == e.refused_by) return;
    Entry next{term, leader, now_ms};
    if (term == e.term) {
      next.refused_term = e.refused_term;
      next.refused_by = e.refused_by;
    }
    e = next;
  }
  // `node` answered that it does not lead `shard`: forget it as leader for
  // the term we believed it led in.
  void refused_by(ShardId shard, NodeId node) {
    auto it = entries_.find(shard);
    if (it == entries_.end() || it->second.leader != node) return;
    it->second.refused_term = it->second.term;
    it->second.refused_by = node;
    it->second.leader = NodeId();
  }
  // `leader` no longer leads `shard` in `term` or before.
  void forget(ShardId shard, Term up_to) {
    auto it = entries_.find(shard);
    if (it != entries_.end() && it->second.term <= up_to) it->second.leader = NodeId();
  }
  std::optional<NodeId> leader(ShardId shard, int64_t now_ms) const {
    auto it = entries_.find(shard);
    if (it == entries_.end() || it->second.leader.value() == 0) return std::nullopt;
    if (now_ms - it->second.seen_ms > ttl_ms_) return std::nullopt;
    return it->second.leader;
  }
  Term term(ShardId shard) const {
    auto it = entries_.find(shard);
    return it == entries_.end() ? Term() : it->second.term;
  }

 private:
  struct Entry {
    Term term;
    NodeId leader;
    int64_t seen_ms = 0;
    Term refused_term;  // `refused_by` said it does not lead in this term
    NodeId refused_by;
  };
  int64_t ttl_ms_;
  std::map<ShardId, Entry> entries_;
};

}  // namespace shoal::node
