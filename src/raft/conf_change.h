// Membership changes: the ConfChange payload of kConfChange entries, its
// encoding, and the pure transition function on ConfState.
//
// A change of at most one voter is applied directly ("simple"); anything
// larger goes through joint consensus C(old)∧C(new) (Raft paper §6), left
// either automatically by the leader or by an explicit empty ConfChange.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "raft/types.h"

namespace shoal::raft {

enum class ConfChangeOp : uint8_t { kAddVoter = 0, kAddLearner = 1, kRemove = 2 };

// kAuto: simple if possible, else joint with automatic leave.
// kJointImplicit / kJointExplicit: always joint; leave automatically / on request.
enum class ConfTransition : uint8_t { kAuto = 0, kJointImplicit = 1, kJointExplicit = 2 };

struct ConfChangeItem {
  ConfChangeOp op = ConfChangeOp::kAddVoter;
  NodeId node;
  bool operator==(const ConfChangeItem&) const = default;
};

struct ConfChange {
  ConfTransition transition = ConfTransition::kAuto;
  std::vector<ConfChangeItem> changes;  // empty = leave the joint configuration
  bool leave_joint() const { return changes.empty(); }
  bool operator==(const ConfChange&) const = default;
};

std::string encode_conf_change(const ConfChange& cc);
// Entries come from peers and disk: malformed bytes are an error, not a crash.
Result<ConfChange> decode_conf_change(std::string_view data);

// The configuration after applying `cc` to `cs`, or an error if the change is
// not allowed (e.g. entering joint while joint, removing every voter).
Result<ConfState> apply_conf_change(const ConfState& cs, const ConfChange& cc);

bool is_joint(const ConfState& cs);
bool contains(const std::vector<NodeId>& v, NodeId id);
// A voter in either half of the configuration (may campaign and must be counted).
bool is_voter(const ConfState& cs, NodeId id);
bool is_learner(const ConfState& cs, NodeId id);
// Every member (voters of both halves and learners), sorted, without duplicates.
std::vector<NodeId> all_members(const ConfState& cs);

}  // namespace shoal::raft
