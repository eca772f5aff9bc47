// Quorum arithmetic over majority and joint configurations (Raft paper §5.2,
// §6). Used for the commit index, the read/lease round and elections.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "raft/conf_change.h"

namespace shoal::raft {

// The largest v such that a majority of `voters` report a value >= v.
// An empty voter set places no constraint (returns max), which is what a
// non-joint configuration's absent outgoing half must mean.
template <typename Get>
uint64_t majority_value(const std::vector<NodeId>& voters, Get&& get) {
  if (voters.empty()) return std::numeric_limits<uint64_t>::max();
  std::array<uint64_t, 16> small;
  std::vector<uint64_t> big;
  uint64_t* vals = small.data();
  if (voters.size() > small.size()) {
    big.resize(voters.size());
    vals = big.data();
  }
  for (size_t i = 0; i < voters.size(); ++i) vals[i] = get(voters[i]);
  std::sort(vals, vals + voters.size(), std::greater<uint64_t>());
  return vals[voters.size() / 2];
}

// In a joint configuration a value is agreed only when both halves agree.
template <typename Get>
uint64_t joint_value(const ConfState& cs, Get&& get) {
  return std::min(majority_value(cs.voters, get), majority_value(cs.voters_outgoing, get));
}

enum class VoteResult { kPending, kLost, kWon };

// `vote(id)` returns nullopt when `id` has not answered.
template <typename Vote>
VoteResult majority_vote(const std::vector<NodeId>& voters, Vote&& vote) {
  if (voters.empty()) return VoteResult::kWon;
  size_t yes = 0, no = 0;
  for (NodeId id : voters) {
    std::optional<bool> v = vote(id);
    if (!v) continue;
    (*v ? yes : no)++;
  }
  size_t q = voters.size() / 2 + 1;
  if (yes >= q) return VoteResult::kWon;
  if (voters.size() - no < q) return VoteResult::kLost;
  return VoteResult::kPending;
}

template <typename Vote>
VoteResult joint_vote(const ConfState& cs, Vote&& vote) {
  VoteResult a = majority_vote(cs.voters, vote);
  VoteResult b = majority_vote(cs.voters_outgoing, vote);
  if (a == VoteResult::kLost || b == VoteResult::kLost) return VoteResult::kLost;
  if (a == VoteResult::kWon && b == VoteResult::kWon) return VoteResult::kWon;
  return VoteResult::kPending;
}

}  // namespace shoal::raft
