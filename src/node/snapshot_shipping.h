// SnapshotShipping: Raft snapshots between a node's replicas and their peers,
// streamed in chunks through the snapshot-transfer library
// (replica/snapshot_transfer.h) instead of inside one kSnap message
// (issue 4 item 4; docs/durable-shards.md, "Snapshot transfer: as built").
//
// Sending (the leader). When a replica's Raft asks for a snapshot to be sent
// to a follower (replica::Transport::send_snapshot), a SnapshotSender is
// started over the replica's snapshot at that index: its blob cut into
// records (replica::blob_source). Chunks (transport::SnapshotChunk) go out
// through the node's outbox:
//   * throttled by one node-wide token bucket (bytes_per_sec) besides the
//     sender's own, and at most `window_frames` frames unacknowledged;
//   * at most `max_sends` transfers at a time per node (SnapshotBudget, H8);
//     a snapshot asked for beyond that is refused (Raft asks again after the
//     next probe), and so is one to a follower whose last transfer failed
//     less than `retry_backoff_ms` ago;
//   * resumable: the receiver acknowledges the frames it stored; when no
//     acknowledgement comes for `resend_timeout_ms` (the transport drops
//     queued frames on reconnect) or the receiver asks for a resend (a frame
//     missing or corrupt), the sender goes back to the receiver's frame -
//     never to the start unless the receiver has nothing;
//   * bounded: with no forward progress for `give_up_ms` the transfer fails.
// The outcome goes to Raft through Host::report_snapshot: true once the
// receiver reports the snapshot installed, false when the transfer fails or
// is aborted. A transfer whose follower no longer needs it (leadership lost,
// or Raft left the snapshot state) is dropped without a report.
//
// Receiving (the follower). Chunks are fed to a SnapshotReceiver writing
// under <data_dir>/snap; each verifies before it is stored, and a bad one is
// answered with a resend (counted in bad_chunks), never asserted on. At most
// `max_receives` at a time; a receiver idle for `give_up_ms` is dropped (its
// partial file stays and resumes a later transfer of the same snapshot).
// Once the trailer verified, the file is loaded, the kSnap message is rebuilt
// (meta from the stream's header, term from the chunk, data from the records)
// and stepped into the host, which verifies the state before Raft sees it.
// Snapshot files not in use are garbage-collected at open() and after each
// install (gc_snapshot_files, H8).
//
// Disk I/O of the receiver is synchronous, on the caller's thread (the node's
// loop is the storage path). Thread-safety: none; the node's loop drives it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "env/clock.h"
#include "env/disk.h"
#include "replica/host.h"
#include "replica/snapshot_transfer.h"
#include "transport/peer_messages.h"

namespace shoal::node {

struct SnapshotShippingOptions {
  // Where received snapshots are written. Null: snapshots travel inline, in
  // one Raft message (the Transport default), and nothing below applies.
  env::Disk* disk = nullptr;
  std::string data_dir;                  // files go to <data_dir>/snap; the directory must exist
  uint64_t bytes_per_sec = 64ull << 20;  // node-wide send rate
  uint64_t burst_bytes = 1 << 20;        // sent at once after a pause
  size_t max_sends = 2;                  // concurrent outgoing transfers (H8)
  size_t max_receives = 2;               // concurrent incoming transfers (H8)
  // Raw bytes per chunk; part of the stream's identity (keep it cluster-wide).
  size_t chunk_bytes = 256 << 10;
  size_t window_frames = 8;  // unacknowledged frames in flight per transfer
  int64_t resend_timeout_ms = 1000;
  int64_t give_up_ms = 30000;
  int64_t retry_backoff_ms = 1000;
};

struct SnapshotShippingStats {
  // Sending.
  uint64_t sends_started = 0;
  uint64_t sends_completed = 0;
  uint64_t sends_failed = 0;   // reported to Raft as failed
  uint64_t sends_refused = 0;  // budget full, backoff, or could not start
  uint64_t frames_sent = 0;    // resends included
  uint64_t frames_resent = 0;  // frames sent again after a loss or a resend request
  uint64_t bytes_sent = 0;
  uint64_t rewinds = 0;  // times a sender went back to the receiver's frame
  // Receiving.
  uint64_t receives_completed = 0;  // snapshots verified and stepped into Raft
  uint64_t receives_aborted = 0;    // budget full, disk error, rejected install
  uint64_t bad_chunks = 0;          // chunks that failed verification
  uint64_t files_collected = 0;     // snapshot files removed by GC
};

class SnapshotShipping {
 public:
  using Outbox = std::function<transport::PeerBatch&(NodeId to)>;
  using EpochOf = std::function<transport::ShardEpoch(ShardId)>;

  SnapshotShipping(NodeId self, SnapshotShippingOptions options, replica::Host& host, Outbox outbox,
                   EpochOf epoch_of, env::Clock& clock);
  ~SnapshotShipping();

  bool enabled() const { return options_.disk != nullptr; }
  // Validates the options and removes stale snapshot files.
  Status open();

  // replica::Transport::send_snapshot, for enabled() nodes.
  replica::SnapshotSend start_send(ShardId shard, const raft::Message& msg,
                                   const raft::Snapshot& snap);
  // Snapshot messages of a batch from `from`.
  void on_messages(NodeId from, std::vector<transport::SnapshotChunk>& chunks,
                   std::vector<transport::SnapshotAck>& acks);
  // Sends what the throttle and windows allow, resends after timeouts, gives
  // up on stalled transfers. Call every loop iteration.
  void poll();

  const SnapshotShippingStats& stats() const { return stats_; }
  size_t sends_in_flight() const { return sends_.size(); }
  size_t receives_in_flight() const { return recvs_.size(); }

 private:
  struct Send;
  struct Recv;
  using SendKey = std::pair<ShardId, NodeId>;
  enum class Pump : uint8_t { kRunning, kDrop, kFail };

  Pump pump(const SendKey& key, Send& s, int64_t now);
  Status rewind(Send& s, int64_t now);
  void on_ack(NodeId from, const transport::SnapshotAck& ack, int64_t now);
  void fail_send(const SendKey& key, const char* why);
  transport::SnapshotAck on_chunk(NodeId from, transport::SnapshotChunk& c, int64_t now);
  transport::SnapshotAck receive(Recv& in, transport::SnapshotChunk& c);
  bool install(ShardId shard, const Recv& in);
  void drop_idle_receivers(int64_t now);
  void collect_garbage();

  NodeId self_;
  SnapshotShippingOptions options_;
  replica::Host& host_;
  Outbox outbox_;
  EpochOf epoch_of_;
  env::Clock& clock_;
  replica::SnapshotBudget send_budget_;
  replica::SnapshotBudget recv_budget_;
  replica::TokenBucket bucket_;  // node-wide send rate
  std::map<SendKey, Send> sends_;
  std::map<SendKey, int64_t> backoff_until_ns_;
  std::map<ShardId, Recv> recvs_;
  // The last snapshot installed per shard, (index, term): chunks of it that
  // arrive late are answered kDone again.
  std::map<ShardId, std::pair<LogIndex, Term>> installed_;
  SnapshotShippingStats stats_;
};

}  // namespace shoal::node
