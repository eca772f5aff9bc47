// How a replica host sends Raft messages to its peers. Delivery is
// best-effort: messages may be lost, delayed, duplicated or reordered, and
// Raft copes with all of it. Implementations must not block the caller.
#pragma once

#include "base/ids.h"
#include "raft/types.h"

namespace shoal::replica {

// What became of a kSnap message handed to Transport::send_snapshot.
enum class SnapshotSend : uint8_t {
  // Sent like any other message, with no delivery report: the replica counts
  // it as sent at once (raft report_snapshot(to, true)); if it is lost, the
  // follower's next probe is rejected and the leader sends it again.
  kSent,
  // A transfer started (or one to the same follower and index is already
  // running): the transport reports its outcome later, through
  // Host::report_snapshot(shard, to, ok), when it completes or fails.
  kStarted,
  // Not sent now (e.g. the node's transfer budget is full, H8): the replica
  // reports failure at once and Raft asks again after the next probe.
  kRefused,
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(ShardId shard, raft::Message msg) = 0;
  // A kSnap message (`msg.snapshot` holds only the meta) and the host's
  // snapshot it refers to (`snap.meta.index == msg.snapshot.meta.index`),
  // valid only during the call. The default attaches the data and sends the
  // whole snapshot in one message.
  virtual SnapshotSend send_snapshot(ShardId shard, raft::Message msg, const raft::Snapshot& snap) {
    msg.snapshot.data = snap.data;
    send(shard, std::move(msg));
    return SnapshotSend::kSent;
  }
};

}  // namespace shoal::replica
