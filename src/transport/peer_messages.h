// The messages nodes exchange, as plain structs. Only src/transport knows
// their wire form (protobuf, peer.proto); the node core builds and reads these.
//
// Every message that concerns a shard carries the shard epoch it was routed
// with (DESIGN.md section 2); the receiver rejects older epochs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ids.h"
#include "raft/types.h"

namespace shoal::transport {

struct ShardEpoch {
  uint64_t conf_ver = 0;  // bumped by each replica-set change
  uint64_t version = 0;   // bumped by each split
  auto operator<=>(const ShardEpoch&) const = default;
};

// A Raft message between two replicas of `shard`.
struct RaftEnvelope {
  ShardId shard;
  ShardEpoch epoch;
  raft::Message msg;
};

// A client command forwarded to the node that leads `shard` (proxy mode,
// DESIGN.md section 4). The receiver executes it once, never forwards it
// again, and answers with a ForwardResponse carrying the same id.
struct ForwardRequest {
  uint64_t id = 0;
  ShardId shard;
  ShardEpoch epoch;
  std::vector<std::string> args;  // the command as the client sent it
  bool allow_follower = false;    // a READONLY connection's read
};

enum class ForwardCode : uint8_t {
  kOk = 0,              // `reply` is the command's reply (kv::RecordedReply::encode)
  kNotLeader = 1,       // not executed: the receiver does not lead the shard
  kUnavailable = 2,     // not executed: e.g. no leader, node unhealthy
  kUnknownOutcome = 3,  // a write that may or may not have applied (H18)
  kStaleEpoch = 4,      // not executed: the request's epoch is older than the shard's
};

struct ForwardResponse {
  uint64_t id = 0;
  ForwardCode code = ForwardCode::kOk;
  std::string reply;    // encoded kv::RecordedReply when kOk
  std::string message;  // human-readable detail otherwise
  NodeId leader_hint;   // kNotLeader: who the receiver thinks leads (0 = unknown)
};

// "I lead `shard` in `term`": sent periodically to every peer so that nodes
// without a replica of the shard can route to its leader.
struct LeaderHint {
  ShardId shard;
  Term term;
  NodeId leader;
};

// Everything one node sends another in one loop iteration: one frame.
struct PeerBatch {
  NodeId from;
  std::vector<RaftEnvelope> raft;
  std::vector<ForwardRequest> requests;
  std::vector<ForwardResponse> responses;
  std::vector<LeaderHint> hints;
  bool empty() const {
    return raft.empty() && requests.empty() && responses.empty() && hints.empty();
  }
};

}  // namespace shoal::transport
