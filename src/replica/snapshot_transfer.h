// Snapshot transfer (issue 4 item 4; docs/durable-shards.md "Snapshots" and
// "Snapshot transfer: as built"): moving one shard's snapshot stream
// (storage/snapshot_format.h) from the leader to a follower or new learner.
//
//   RecordSource      a point-in-time sequence of (key, value) records that
//                     can be read again from the start.
//   SnapshotBudget    at most N concurrent transfers per node (H8); a sender
//                     or receiver cannot be created without a Ticket.
//   TokenBucket       the bytes/s throttle, driven by the caller's clock.
//   SnapshotSender    frames of a RecordSource, one at a time, throttled, and
//                     resumable at any frame after a broken connection.
//   SnapshotReceiver  verifies each frame as it arrives, appends it to
//                     <dir>/snap/<shard>-<index>.tmp, and on the trailer
//                     fsyncs, renames to .snap and fsyncs the directory.
//   load_snapshot     reads and verifies a completed .snap file.
//   gc_snapshot_files removes orphan .tmp/.snap files (H8).
//
// Frames are numbered as in the stream format: 0 is the header, 1..n the data
// chunks, n+1 the trailer. "Chunk k" below means frame k.
//
// Time: nothing here sleeps or reads a clock. Callers pass `now_ns` from
// env::Clock::monotonic_ns() and poll again at ready_at().
// Thread-safety: SnapshotBudget is thread-safe; everything else is used by one
// thread at a time (the replica host's loop).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "env/disk.h"
#include "storage/snapshot_format.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Iterator;
class Snapshot;
}  // namespace rocksdb

namespace shoal::kv {
class StateMachine;
}

namespace shoal::replica {

using SnapshotRecords = std::vector<std::pair<std::string, std::string>>;
using RecordView = std::pair<std::string_view, std::string_view>;

// A point-in-time view of a shard's records. Every pass from rewind() yields
// the same records in the same order (the sender regenerates the stream to
// resume, and the stream format is a pure function of the records).
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual Status rewind() = 0;
  // The next record or nullopt at the end; views valid until the next call.
  virtual Result<std::optional<RecordView>> next() = 0;
};

// Records held in memory: memory O(state).
class VectorRecordSource final : public RecordSource {
 public:
  explicit VectorRecordSource(SnapshotRecords records) : records_(std::move(records)) {}
  Status rewind() override;
  Result<std::optional<RecordView>> next() override;

 private:
  SnapshotRecords records_;
  size_t pos_ = 0;
};

// The keys of `cf` that start with `prefix`, as of construction: a RocksDB
// snapshot is taken then and released on destruction, so later writes are not
// seen. Records are (key without the prefix, value), in key order. Memory:
// one record; the snapshot pins old versions in RocksDB while it lives.
// `db` must outlive the source.
class RocksRangeSource final : public RecordSource {
 public:
  RocksRangeSource(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string prefix);
  ~RocksRangeSource() override;
  Status rewind() override;
  Result<std::optional<RecordView>> next() override;

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::string prefix_;
  const rocksdb::Snapshot* snapshot_;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool started_ = false;
};

// The bridge for today's in-memory state machine, whose snapshot is one blob
// (kv::StateMachine::snapshot_data): the blob cut into records of at most
// `piece_bytes`, keyed by their 8-byte big-endian position. Memory O(state).
std::unique_ptr<RecordSource> state_machine_source(const kv::StateMachine& sm,
                                                   size_t piece_bytes = 1 << 20);
// The same for a blob taken earlier (a replica's snapshot at its index).
std::unique_ptr<RecordSource> blob_source(std::string_view blob, size_t piece_bytes = 1 << 20);
// Inverse of blob_source: joins the pieces; Corruption unless they are
// numbered 0..n-1 in order.
Result<std::string> join_blob(const SnapshotRecords& records);
// Inverse of state_machine_source: joins the pieces (they must be numbered
// 0..n-1 in order) and restores; the state is replaced only if all is intact.
Status restore_state_machine(kv::StateMachine& sm, const SnapshotRecords& records);

// Bounds concurrent transfers on a node (H8: snapshot storms). A node keeps
// one budget for sending and one for receiving.
class SnapshotBudget {
 public:
  explicit SnapshotBudget(size_t max_concurrent);
  SnapshotBudget(const SnapshotBudget&) = delete;
  SnapshotBudget& operator=(const SnapshotBudget&) = delete;

  // A transfer's right to run; returns its place to the budget when destroyed.
  // Must not outlive the budget.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : budget_(std::exchange(other.budget_, nullptr)) {}
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }

   private:
    friend class SnapshotBudget;
    explicit Ticket(SnapshotBudget* budget) : budget_(budget) {}
    void release();
    SnapshotBudget* budget_;
  };

  // Busy when max_concurrent tickets are out: the caller retries later (the
  // leader keeps reporting the follower as needing a snapshot).
  Result<Ticket> acquire();
  size_t in_use() const;
  size_t max_concurrent() const { return max_; }

 private:
  const size_t max_;
  mutable std::mutex mu_;
  size_t in_use_ = 0;  // guarded by mu_
};

// A byte-rate limiter (the generic cell rate algorithm): a frame may go once
// the bucket holds no debt beyond `burst_bytes`; its size is then charged, so
// over any interval T the bytes sent are at most rate*T + burst + one frame.
class TokenBucket {
 public:
  TokenBucket(uint64_t bytes_per_sec, uint64_t burst_bytes, int64_t now_ns);
  int64_t ready_at() const { return tat_ns_ - burst_ns_; }
  void consume(uint64_t bytes, int64_t now_ns);

 private:
  uint64_t rate_;
  int64_t burst_ns_;
  int64_t tat_ns_;  // when every byte charged so far has drained
};

struct SnapshotChunk {
  uint64_t index = 0;  // frame number
  std::string bytes;   // exactly one whole frame
  bool last = false;   // the trailer
};

struct SnapshotSenderOptions {
  // Raw record bytes per data chunk. Part of the stream's identity: a resume
  // across senders needs the same value (keep the default cluster-wide).
  size_t chunk_bytes = 256 << 10;
  uint64_t bytes_per_sec = 64ull << 20;
  uint64_t burst_bytes = 1 << 20;
  // Frames kept after sending, so a resume inside this window costs no
  // regeneration. Memory: about (retain_frames + 2) * chunk_bytes.
  size_t retain_frames = 4;
  // Frames regenerated per next_chunk() call while catching up after a
  // resume, so that no call blocks the loop for long.
  size_t skip_frames_per_call = 64;
};

// Produces one snapshot stream. Resume strategy: regenerate and skip (the
// format is deterministic), with a small window of recently sent frames; the
// memory bound is above. Skipped frames are not charged to the throttle.
class SnapshotSender {
 public:
  // InvalidArgument for bad options. The ticket is held until destruction.
  static Result<std::unique_ptr<SnapshotSender>> start(SnapshotBudget::Ticket ticket,
                                                       const storage::SnapshotHeader& header,
                                                       std::unique_ptr<RecordSource> source,
                                                       const SnapshotSenderOptions& options,
                                                       int64_t now_ns);

  // The next frame if the throttle allows it at `now_ns`; nullopt when not yet
  // (poll again at ready_at()) or when done(). An error (a record too large
  // for the format, a source read error) is sticky: drop the sender.
  Result<std::optional<SnapshotChunk>> next_chunk(int64_t now_ns);
  // When next_chunk() may next return a frame; while catching up after
  // resume_at() it returns INT64_MIN (call again now: each call is bounded).
  int64_t ready_at() const;
  // After a broken connection: the next frame handed out is `index` (the
  // receiver's resume_point()). InvalidArgument past the end of the stream.
  Status resume_at(uint64_t index);

  bool done() const { return trailer_ && next_ > *trailer_; }
  uint64_t next_index() const { return next_; }
  uint64_t bytes_sent() const { return bytes_sent_; }  // resends included
  uint64_t frames_generated() const { return generated_total_; }

 private:
  SnapshotSender(SnapshotBudget::Ticket ticket, const storage::SnapshotHeader& header,
                 std::unique_ptr<RecordSource> source, const SnapshotSenderOptions& options,
                 int64_t now_ns);
  Status restart_stream();
  Result<std::string> generate();
  const std::string* retained(uint64_t index) const;

  SnapshotBudget::Ticket ticket_;
  storage::SnapshotHeader header_;
  std::unique_ptr<RecordSource> source_;
  SnapshotSenderOptions options_;
  TokenBucket bucket_;
  std::unique_ptr<storage::SnapshotWriter> writer_;
  uint64_t gen_ = 0;   // number of the next frame generate() returns
  uint64_t next_ = 0;  // number of the next frame handed out
  std::optional<uint64_t> trailer_;
  std::deque<std::pair<uint64_t, std::string>> retained_;  // last frames sent
  uint64_t bytes_sent_ = 0;
  uint64_t generated_total_ = 0;
  Status failed_;
};

struct SnapshotReceiverOptions {
  // The partial file is fsynced each time this many bytes arrived since the
  // last sync: after a power loss at most this much is fetched again.
  uint64_t sync_every_bytes = 8 << 20;
};

// Receives one snapshot (shard, index) into <dir>/snap. The partial file only
// ever holds frames that verified, in order, so it is its own checkpoint:
// open() re-verifies it and resumes after the last intact frame (a torn or
// corrupt tail is cut off by rewriting the intact prefix through a
// `.tmp.rewrite` file + rename, since the Disk has no truncate).
class SnapshotReceiver {
 public:
  // Creates <dir>/snap if needed (dir must exist) and resumes any partial or
  // completed file for (shard, index) found there.
  static Result<std::unique_ptr<SnapshotReceiver>> open(SnapshotBudget::Ticket ticket,
                                                        env::Disk& disk, const std::string& dir,
                                                        ShardId shard, LogIndex index,
                                                        SnapshotReceiverOptions options = {});

  // The next frame wanted; the sender resumes there.
  uint64_t resume_point() const { return next_; }
  // Frame `index` from the sender. Corruption or InvalidArgument (bad frame,
  // wrong frame number, another snapshot's header): nothing is written and the
  // receiver carries on. IoError: the receiver is failed; open a new one (it
  // re-verifies the disk). A failed fsync also removes the partial file (its
  // unsynced bytes may be lost even if a later fsync succeeds, disk.h), so
  // the next receiver starts over. On the trailer the file is fsynced,
  // renamed to .snap and the directory fsynced; complete() says whether all
  // of that succeeded. Synchronous disk I/O: run it on the storage path.
  Status receive(uint64_t index, std::string_view frame);
  bool complete() const { return complete_; }
  const std::string& snap_path() const { return snap_path_; }

 private:
  SnapshotReceiver(SnapshotBudget::Ticket ticket, env::Disk& disk, const std::string& dir,
                   ShardId shard, LogIndex index, SnapshotReceiverOptions options);
  Status recover();
  Status recover_partial();
  Status start_fresh();
  Status finalize();
  Status fail_and_discard(Status why);

  SnapshotBudget::Ticket ticket_;
  env::Disk& disk_;
  std::string snap_dir_;
  ShardId shard_;
  LogIndex index_;
  std::string tmp_path_;
  std::string snap_path_;
  SnapshotReceiverOptions options_;
  std::unique_ptr<env::WritableFile> file_;
  uint64_t unsynced_bytes_ = 0;
  storage::SnapshotReader::Checkpoint checkpoint_;
  uint64_t next_ = 0;
  bool complete_ = false;
  Status failed_;
};

struct LoadedSnapshot {
  storage::SnapshotHeader header;
  SnapshotRecords records;
};

// <dir>/snap and the names of a snapshot's files in it.
std::string snapshot_dir(const std::string& dir);
std::string snapshot_file_name(ShardId shard, LogIndex index, bool complete);

// Reads <dir>/snap/<shard>-<index>.snap, verifying every frame and the
// trailer. Memory O(state); records are installed only after this returns OK.
Result<LoadedSnapshot> load_snapshot(env::Disk& disk, const std::string& dir, ShardId shard,
                                     LogIndex index);

// Removes every snapshot file in <dir>/snap (<shard>-<index>.tmp, .snap,
// .rewrite) whose name is not in `keep`, then syncs the directory. Files whose
// names are not ours are left alone. Run at start-up and after each install.
// Returns the names removed.
Result<std::vector<std::string>> gc_snapshot_files(env::Disk& disk, const std::string& dir,
                                                   const std::set<std::string>& keep);

}  // namespace shoal::replica
