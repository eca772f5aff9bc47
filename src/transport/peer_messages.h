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

// One frame of a snapshot stream (storage/snapshot_format.h) on its way from
// a shard's leader to a follower (docs/durable-shards.md, "Snapshot transfer:
// as built"). Raft's kSnap message does not travel: the receiver rebuilds it
// from the stream's header once the whole stream verified.
struct SnapshotChunk {
  ShardId shard;
  ShardEpoch epoch;
  Term term;           // the leader's term when the transfer started
  LogIndex index;      // the snapshot's index
  uint64_t round = 0;  // the sender's resend round, echoed by kResend acks
  uint64_t frame = 0;  // frame number in the stream (0: header)
  std::string bytes;   // exactly one frame
  bool last = false;   // the trailer
};

enum class SnapshotAckCode : uint8_t {
  kProgress = 0,  // every frame before next_frame is stored
  kResend = 1,    // a frame was missing or corrupt: resend from next_frame
  kDone = 2,      // the snapshot verified and was handed to Raft
  kAbort = 3,     // the receiver gives up on this transfer (busy, disk error)
};

// The follower's answer to the chunks of one batch.
struct SnapshotAck {
  ShardId shard;
  LogIndex index;
  uint64_t round = 0;       // kResend: the round of the chunk that caused it
  uint64_t next_frame = 0;  // the receiver's resume point
  SnapshotAckCode code = SnapshotAckCode::kProgress;
};

// Everything one node sends another in one loop iteration: one frame.
struct PeerBatch {
  NodeId from;
  std::vector<RaftEnvelope> raft;
  std::vector<ForwardRequest> requests;
  std::vector<ForwardResponse> responses;
  std::vector<LeaderHint> hints;
  std::vector<SnapshotChunk> snapshot_chunks;
  std::vector<SnapshotAck> snapshot_acks;
  bool empty() const {
    return raft.empty() && requests.empty() && responses.empty() && hints.empty() &&
           snapshot_chunks.empty() && snapshot_acks.empty();
  }
};

}  // namespace shoal::transport
