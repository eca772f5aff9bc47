#include "node/snapshot_shipping.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <set>

#include "raft/progress.h"
#include "replica/raft_record_conversion.h"

namespace shoal::node {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;
// next_chunk() calls per transfer per poll: each is bounded (a frame, or a
// bounded number of frames skipped while catching up after a resume).
constexpr int kMaxCallsPerPoll = 64;

}  // namespace

struct SnapshotShipping::Send {
  Term term;  // the leader's term when it started: chunks carry it
  LogIndex index;
  std::unique_ptr<replica::SnapshotSender> sender;
  uint64_t round = 0;       // bumped by each rewind; kResend acks echo it
  uint64_t acked = 0;       // the receiver's resume point, as last heard
  uint64_t high_water = 0;  // frames below this were sent at least once
  int64_t progress_ns = 0;  // when `acked` last advanced (give-up clock)
  int64_t timer_ns = 0;     // resend clock: restarted by acks and rewinds
  int timeouts = 0;         // resend timeouts in a row (backoff: the link may be down)
};

struct SnapshotShipping::Recv {
  NodeId from;
  Term term;
  LogIndex index;
  std::unique_ptr<replica::SnapshotReceiver> receiver;
  int64_t last_ns = 0;  // when its last chunk arrived
};

SnapshotShipping::SnapshotShipping(NodeId self, SnapshotShippingOptions options,
                                   replica::Host& host, Outbox outbox, EpochOf epoch_of,
                                   env::Clock& clock)
    : self_(self),
      options_(std::move(options)),
      host_(host),
      outbox_(std::move(outbox)),
      epoch_of_(std::move(epoch_of)),
      clock_(clock),
      send_budget_(options_.max_sends),
      recv_budget_(options_.max_receives),
      bucket_(std::max<uint64_t>(options_.bytes_per_sec, 1), options_.burst_bytes,
              clock.monotonic_ns()) {}

SnapshotShipping::~SnapshotShipping() = default;

Status SnapshotShipping::open() {
  if (!enabled()) return Status::ok();
  if (options_.data_dir.empty()) return Status::invalid_argument("snapshot data_dir is empty");
  if (options_.bytes_per_sec == 0 || options_.max_sends == 0 || options_.max_receives == 0 ||
      options_.window_frames == 0 || options_.resend_timeout_ms <= 0 || options_.give_up_ms <= 0) {
    return Status::invalid_argument(
        "snapshot shipping: rate, budgets, window and timeouts must be positive");
  }
  // Nothing is in use yet: every snapshot file is an orphan of an earlier run
  // (a partial one of a transfer that will restart, or one installed already).
  auto removed = replica::gc_snapshot_files(*options_.disk, options_.data_dir, {});
  if (!removed.is_ok()) return removed.status();
  stats_.files_collected += removed.value().size();
  return Status::ok();
}

// ---- sending -------------------------------------------------------------

replica::SnapshotSend SnapshotShipping::start_send(ShardId shard, const raft::Message& msg,
                                                   const raft::Snapshot& snap) {
  SendKey key{shard, msg.to};
  int64_t now = clock_.monotonic_ns();
  const LogIndex index = msg.snapshot.meta.index;
  if (auto it = sends_.find(key); it != sends_.end()) {
    if (it->second.index == index && it->second.term == msg.term) {
      return replica::SnapshotSend::kStarted;  // already on its way
    }
    sends_.erase(it);  // an older snapshot or term: superseded
  }
  if (auto b = backoff_until_ns_.find(key); b != backoff_until_ns_.end()) {
    if (now < b->second) {
      ++stats_.sends_refused;
      return replica::SnapshotSend::kRefused;
    }
    backoff_until_ns_.erase(b);
  }
  auto ticket = send_budget_.acquire();
  if (!ticket.is_ok()) {
    ++stats_.sends_refused;
    return replica::SnapshotSend::kRefused;
  }
  storage::SnapshotHeader header{shard, index, msg.snapshot.meta.term,
                                 replica::to_record(msg.snapshot.meta.conf)};
  replica::SnapshotSenderOptions so;
  so.chunk_bytes = options_.chunk_bytes;
  so.bytes_per_sec = options_.bytes_per_sec;
  so.burst_bytes = options_.burst_bytes;
  so.retain_frames = options_.window_frames;  // a rewind inside the window regenerates nothing
  // One piece of the blob per chunk, so that chunks are chunk_bytes each.
  auto sender = replica::SnapshotSender::start(
      std::move(ticket).value(), header, replica::blob_source(snap.data, so.chunk_bytes), so, now);
  if (!sender.is_ok()) {
    spdlog::warn("node {} shard {}: cannot send a snapshot to node {}: {}", self_.value(),
                 shard.value(), msg.to.value(), sender.status().message());
    ++stats_.sends_refused;
    return replica::SnapshotSend::kRefused;
  }
  Send s;
  s.term = msg.term;
  s.index = index;
  s.sender = std::move(sender).value();
  s.progress_ns = s.timer_ns = now;
  sends_.emplace(key, std::move(s));
  ++stats_.sends_started;
  return replica::SnapshotSend::kStarted;
}

void SnapshotShipping::poll() {
  if (!enabled()) return;
  int64_t now = clock_.monotonic_ns();
  for (auto it = sends_.begin(); it != sends_.end();) {
    SendKey key = it->first;
    Pump p = pump(key, it->second, now);
    ++it;
    if (p == Pump::kDrop) sends_.erase(key);
    if (p == Pump::kFail) fail_send(key, "stalled or failed");
  }
  drop_idle_receivers(now);
}

// One transfer's turn: is it still wanted, is it stalled, then send what the
// window and the throttles allow.
SnapshotShipping::Pump SnapshotShipping::pump(const SendKey& key, Send& s, int64_t now) {
  replica::Replica* r = host_.replica(key.first);
  if (!r || !r->is_leader() || r->raft().term() != s.term) return Pump::kDrop;
  const raft::Progress* p = r->raft().progress(key.second);
  // The snapshot sent may be newer than the one Raft asked for (the replica
  // serializes at its applied index when asked: replica.cc send_all); it
  // serves that request all the same. Until session 7 an exact match was
  // required here, and such a send was dropped without a report, leaving the
  // follower in Raft's snapshot state for good.
  if (!p || p->state != raft::ProgressState::kSnapshot || p->pending_snapshot > s.index) {
    return Pump::kDrop;  // Raft moved on (e.g. the follower acknowledged the snapshot)
  }
  if (now - s.progress_ns > options_.give_up_ms * kNsPerMs) return Pump::kFail;
  bool in_flight = s.sender->next_index() > s.acked;
  // The timeout doubles with each one in a row (up to 8x): a window resent
  // into a dead link is wasted bandwidth.
  int64_t timeout_ns = (options_.resend_timeout_ms * kNsPerMs) << std::min(s.timeouts, 3);
  if (in_flight && now - s.timer_ns > timeout_ns) {
    ++s.timeouts;
    if (!rewind(s, now).is_ok()) return Pump::kFail;
  }
  transport::PeerBatch* out = nullptr;
  for (int calls = 0; calls < kMaxCallsPerPoll && !s.sender->done(); ++calls) {
    if (s.sender->next_index() >= s.acked + options_.window_frames) break;
    if (now < bucket_.ready_at()) break;
    auto chunk = s.sender->next_chunk(now);
    if (!chunk.is_ok()) {
      spdlog::warn("node {} shard {}: snapshot sender failed: {}", self_.value(), key.first.value(),
                   chunk.status().message());
      return Pump::kFail;
    }
    if (!chunk.value()) {
      if (s.sender->ready_at() == std::numeric_limits<int64_t>::min()) continue;  // catching up
      break;  // the sender's own throttle
    }
    replica::SnapshotChunk& c = *chunk.value();
    if (c.index == s.acked) s.timer_ns = now;  // the window was empty: start its clock
    if (c.index < s.high_water) ++stats_.frames_resent;
    s.high_water = std::max(s.high_water, c.index + 1);
    bucket_.consume(c.bytes.size(), now);
    ++stats_.frames_sent;
    stats_.bytes_sent += c.bytes.size();
    if (!out) out = &outbox_(key.second);
    out->snapshot_chunks.push_back(transport::SnapshotChunk{.shard = key.first,
                                                            .epoch = epoch_of_(key.first),
                                                            .term = s.term,
                                                            .index = s.index,
                                                            .round = s.round,
                                                            .frame = c.index,
                                                            .bytes = std::move(c.bytes),
                                                            .last = c.last});
  }
  return Pump::kRunning;
}

// Go back to the receiver's resume point: frames after it were lost, or will
// be refused as out of order. A new round makes resend requests caused by the
// old round's frames stale.
Status SnapshotShipping::rewind(Send& s, int64_t now) {
  ++s.round;
  ++stats_.rewinds;
  s.timer_ns = now;
  return s.sender->resume_at(s.acked);
}

void SnapshotShipping::on_ack(NodeId from, const transport::SnapshotAck& ack, int64_t now) {
  SendKey key{ack.shard, from};
  auto it = sends_.find(key);
  if (it == sends_.end() || it->second.index != ack.index) return;  // late or stray
  Send& s = it->second;
  switch (ack.code) {
    case transport::SnapshotAckCode::kProgress:
    case transport::SnapshotAckCode::kResend: {
      bool resend = ack.code == transport::SnapshotAckCode::kResend;
      if (resend && ack.round != s.round) return;  // caused by frames sent before a rewind
      if (ack.next_frame > s.acked) {
        s.acked = ack.next_frame;
        s.progress_ns = s.timer_ns = now;
        s.timeouts = 0;
      }
      // A resend request sets the point even backwards (a receiver that lost
      // its unsynced tail); a receiver ahead of the sender (it kept a
      // partial file) is caught up with.
      if (resend) s.acked = ack.next_frame;
      if (resend || s.acked > s.sender->next_index()) {
        if (!rewind(s, now).is_ok()) fail_send(key, "bad resume point");
      }
      return;
    }
    case transport::SnapshotAckCode::kDone:
      ++stats_.sends_completed;
      sends_.erase(it);
      host_.report_snapshot(key.first, key.second, true);
      return;
    case transport::SnapshotAckCode::kAbort:
      fail_send(key, "aborted by the receiver");
      return;
  }
}

void SnapshotShipping::fail_send(const SendKey& key, const char* why) {
  auto it = sends_.find(key);
  if (it == sends_.end()) return;
  spdlog::info("node {} shard {}: snapshot {} to node {} failed: {}", self_.value(),
               key.first.value(), it->second.index.value(), key.second.value(), why);
  sends_.erase(it);
  ++stats_.sends_failed;
  backoff_until_ns_[key] = clock_.monotonic_ns() + options_.retry_backoff_ms * kNsPerMs;
  host_.report_snapshot(key.first, key.second, false);
}

// ---- receiving -----------------------------------------------------------

void SnapshotShipping::on_messages(NodeId from, std::vector<transport::SnapshotChunk>& chunks,
                                   std::vector<transport::SnapshotAck>& acks) {
  if (chunks.empty() && acks.empty()) return;
  int64_t now = clock_.monotonic_ns();
  if (!enabled()) {
    // Chunks for a node that cannot store them: say so, so the sender stops.
    for (const auto& c : chunks) {
      outbox_(from).snapshot_acks.push_back(
          {c.shard, c.index, c.round, 0, transport::SnapshotAckCode::kAbort});
    }
    return;
  }
  for (const auto& a : acks) on_ack(from, a, now);
  // One answer per shard per batch: the last word on each.
  std::map<ShardId, transport::SnapshotAck> answers;
  for (auto& c : chunks) {
    answers.insert_or_assign(c.shard, on_chunk(from, c, now));
  }
  for (auto& [shard, a] : answers) outbox_(from).snapshot_acks.push_back(a);
}

transport::SnapshotAck SnapshotShipping::on_chunk(NodeId from, transport::SnapshotChunk& c,
                                                  int64_t now) {
  using Code = transport::SnapshotAckCode;
  transport::SnapshotAck ack{c.shard, c.index, c.round, 0, Code::kAbort};
  if (!host_.replica(c.shard)) return ack;  // no replica of it here
  if (c.epoch < epoch_of_(c.shard)) return ack;
  if (auto done = installed_.find(c.shard);
      done != installed_.end() && done->second == std::pair(c.index, c.term)) {
    ack.code = Code::kDone;  // the done answer was lost, or chunks were late
    return ack;
  }
  auto it = recvs_.find(c.shard);
  if (it != recvs_.end() &&
      (it->second.index != c.index || it->second.term != c.term || it->second.from != from)) {
    // One transfer per shard: the newest leader's wins.
    if (c.term < it->second.term) return ack;
    recvs_.erase(it);
    it = recvs_.end();
  }
  if (it == recvs_.end()) {
    auto ticket = recv_budget_.acquire();
    if (!ticket.is_ok()) {
      ++stats_.receives_aborted;
      return ack;
    }
    auto r = replica::SnapshotReceiver::open(std::move(ticket).value(), *options_.disk,
                                             options_.data_dir, c.shard, c.index);
    if (!r.is_ok()) {
      spdlog::warn("node {} shard {}: cannot receive a snapshot: {}", self_.value(),
                   c.shard.value(), r.status().message());
      ++stats_.receives_aborted;
      return ack;
    }
    it = recvs_.emplace(c.shard, Recv{from, c.term, c.index, std::move(r).value(), now}).first;
  }
  it->second.last_ns = now;
  return receive(it->second, c);
}

// Feeds one chunk to the shard's receiver; installs the snapshot when the
// stream is complete.
transport::SnapshotAck SnapshotShipping::receive(Recv& in, transport::SnapshotChunk& c) {
  using Code = transport::SnapshotAckCode;
  const ShardId shard = c.shard;
  transport::SnapshotAck ack{shard, c.index, c.round, 0, Code::kProgress};
  if (!in.receiver->complete()) {
    Status s = in.receiver->receive(c.frame, c.bytes);
    ack.next_frame = in.receiver->resume_point();
    if (!s.is_ok()) {
      bool bad = s.code() == StatusCode::kCorruption ||
                 (s.code() == StatusCode::kInvalidArgument && c.frame == ack.next_frame);
      if (bad) ++stats_.bad_chunks;
      if (bad || s.code() == StatusCode::kInvalidArgument) {
        // A duplicate (frame below the resume point) needs no resend.
        if (c.frame >= ack.next_frame) ack.code = Code::kResend;
        return ack;
      }
      spdlog::warn("node {} shard {}: snapshot receiver failed: {}", self_.value(), shard.value(),
                   s.message());
      ++stats_.receives_aborted;
      recvs_.erase(shard);
      ack.code = Code::kAbort;
      return ack;
    }
    if (!in.receiver->complete()) return ack;
  }
  Recv done = std::move(in);
  recvs_.erase(shard);  // `in` is gone from here on
  ack.next_frame = done.receiver->resume_point();
  ack.code = install(shard, done) ? Code::kDone : Code::kAbort;
  return ack;
}

// The stream verified and is durable: rebuild the kSnap message Raft would
// have carried and step it into the host (which checks the state itself).
bool SnapshotShipping::install(ShardId shard, const Recv& in) {
  auto loaded = replica::load_snapshot(*options_.disk, options_.data_dir, shard, in.index);
  Result<std::string> blob = loaded.is_ok() ? replica::join_blob(loaded.value().records)
                                            : Result<std::string>(loaded.status());
  bool ok = blob.is_ok();
  if (ok) {
    raft::Message m{
        .type = raft::MessageType::kSnap, .from = in.from, .to = self_, .term = in.term};
    const storage::SnapshotHeader& h = loaded.value().header;
    m.snapshot.meta = raft::SnapshotMeta{h.index, h.term, replica::from_record(h.conf)};
    m.snapshot.data = std::move(blob).value();
    ok = host_.step(shard, std::move(m));
  } else {
    spdlog::warn("node {} shard {}: received snapshot unusable: {}", self_.value(), shard.value(),
                 blob.status().message());
  }
  if (ok) {
    ++stats_.receives_completed;
    installed_[shard] = {in.index, in.term};
  } else {
    ++stats_.receives_aborted;
  }
  collect_garbage();
  return ok;
}

void SnapshotShipping::drop_idle_receivers(int64_t now) {
  for (auto it = recvs_.begin(); it != recvs_.end();) {
    if (now - it->second.last_ns <= options_.give_up_ms * kNsPerMs) {
      ++it;
      continue;
    }
    // Its partial file stays until the next GC: a sender that comes back
    // before then resumes from it.
    it = recvs_.erase(it);
    ++stats_.receives_aborted;
  }
}

// Removes every snapshot file but those of transfers still being received.
void SnapshotShipping::collect_garbage() {
  std::set<std::string> keep;
  for (const auto& [shard, r] : recvs_) {
    keep.insert(replica::snapshot_file_name(shard, r.index, false));
    keep.insert(replica::snapshot_file_name(shard, r.index, true));
  }
  auto removed = replica::gc_snapshot_files(*options_.disk, options_.data_dir, keep);
  if (!removed.is_ok()) {
    spdlog::warn("node {}: snapshot file GC failed: {}", self_.value(), removed.status().message());
    return;
  }
  stats_.files_collected += removed.value().size();
}

}  // namespace shoal::node
