// Plain data types shared by the Raft library and its host: log entries, hard
// state, membership, snapshots and messages. No behaviour lives here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ids.h"

namespace shoal::raft {

// A proposal id is assigned by Raft::propose and reported back exactly once in
// a ProposalOutcome, so the host can map outcomes to clients (H18).
using ProposalId = uint64_t;

enum class EntryType : uint8_t {
  kNormal = 0,      // opaque command for the host's state machine (may be empty)
  kConfChange = 1,  // data is an encoded ConfChange (conf_change.h)
};

struct Entry {
  Term term;
  LogIndex index;
  EntryType type = EntryType::kNormal;
  std::string data;
};

// What must be durable before any message of the same Ready that depends on it
// is sent. Written atomically by the host (DESIGN.md §5; a torn term/vote pair
// allowed a double vote in ClickHouse PR #113654).
struct HardState {
  Term term;
  NodeId vote;  // NodeId(0) = none
  LogIndex commit;
  bool operator==(const HardState&) const = default;
};

// Membership. `voters` is the incoming majority; `voters_outgoing` is non-empty
// only in a joint configuration (§6 of the Raft paper), where every decision
// needs a majority of both. `learners_next` are outgoing voters that become
// learners when the joint configuration is left.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> voters_outgoing;
  std::vector<NodeId> learners;
  std::vector<NodeId> learners_next;
  bool auto_leave = false;
  bool operator==(const ConfState&) const = default;
};

struct SnapshotMeta {
  LogIndex index;  // last entry covered by the snapshot
  Term term;       // its term
  ConfState conf;  // membership as of `index`
};

// The library never holds snapshot data: a kSnap message in a Ready carries
// only `meta`; the host attaches `data` (its snapshot taken at meta.index)
// before sending, and the receiving host passes it through step() unchanged.
struct Snapshot {
  SnapshotMeta meta;
  std::string data;
};

enum class MessageType : uint8_t {
  kApp,            // leader -> follower: entries after (index, log_term)
  kAppResp,        // follower -> leader: index = last matching, or reject + hint
  kVote,           // candidate -> all: index/log_term = candidate's last entry
  kVoteResp,       //
  kPreVote,        // like kVote at term+1, changes no state (Raft thesis §9.6)
  kPreVoteResp,    //
  kHeartbeat,      // leader -> follower: commit + read round `seq`
  kHeartbeatResp,  // follower -> leader: echoes `seq`
  kSnap,           // leader -> follower: install snapshot
  kTimeoutNow,     // leader -> transfer target: campaign now (forced)
  kReadIndex,      // follower -> leader: ReadIndex on behalf of `context`
  kReadIndexResp,  // leader -> follower: index for `context`, or reject
};

const char* to_string(MessageType t);

struct Message {
  MessageType type = MessageType::kApp;
  NodeId from;
  NodeId to;
  Term term;
  Term log_term;   // kApp: term of `index`; kVote: last log term
  LogIndex index;  // kApp: previous index; kAppResp: matched/rejected index
  LogIndex commit;
  LogIndex reject_hint;  // kAppResp reject: follower's hint (§5.3 optimization)
  Term hint_term;        // term of reject_hint on the follower
  bool reject = false;
  bool force = false;    // kVote/kPreVote: forced by leadership transfer
  uint64_t seq = 0;      // kHeartbeat(Resp): read/lease round
  uint64_t context = 0;  // kReadIndex(Resp): host's read context
  std::vector<Entry> entries;
  Snapshot snapshot;  // kSnap only
};

struct ReadState {
  uint64_t context = 0;
  LogIndex index;   // serve the read once applied >= index
  bool ok = false;  // false: the read was refused or lost; retry elsewhere
};

enum class OutcomeKind : uint8_t {
  kCommitted,  // definitely committed at `index`
  kRejected,   // definitely never committed (a different entry committed at `index`)
  kUnknown,    // may or may not commit; the node can no longer tell (H18)
};

struct ProposalOutcome {
  ProposalId id = 0;
  OutcomeKind kind = OutcomeKind::kUnknown;
  LogIndex index;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* to_string(Role r);

inline size_t entry_bytes(const Entry& e) { return e.data.size() + 24; }

}  // namespace shoal::raft
