// The snapshot stream (docs/durable-shards.md, "Snapshots"): a shard's
// records at one applied index, as a sequence of frames
//
//   frame   = len(4) crc32c(4) kind(1) body        len = 1 + body size
//   crc32c  covers the frame's sequence number (8, implied by its position:
//           header = 0) then kind and body, so a frame that is dropped,
//           repeated or reordered fails its check like a flipped bit.
//   header  kind 'H': magic "SHOALSNP" version(1) shard(8) index(8) term(8)
//           conf state (state_codec.h)
//   chunk   kind 'D': raw_len(4) lz4 block; the block holds records
//           varint key_len key varint value_len value
//   trailer kind 'T': record_count(8) chunk_count(8) total_crc(4), where
//           total_crc is crc32c of every byte of the frames before it
// Integers are little-endian. The record count lives in the trailer (not the
// header) because the writer streams without knowing it in advance.
//
// Validation: a reader delivers a chunk's records only after that chunk's
// CRC, length and decompression checked out; it rejects any bad frame,
// anything after the trailer, and a stream that ends early. A stream is
// valid only once done() is true: the receiver installs nothing before that
// (records already delivered go to a temporary file, never to live state).
//
// Resuming: the writer's output is a pure function of (header, records,
// chunk size), so a sender resumes at chunk k by regenerating the stream and
// skipping frames before it. The receiver resumes from a Checkpoint taken
// after the last frame it stored.
// Thread-safety: none; each writer/reader is used by one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/raft_records.h"

namespace shoal::storage {

inline constexpr uint8_t kSnapshotFormatVersion = 1;
// Bounds on untrusted input (H24): larger frames are corruption.
inline constexpr uint32_t kMaxSnapshotFrameBytes = 64u << 20;

struct SnapshotHeader {
  ShardId shard;
  LogIndex index;
  Term term;
  ConfRecord conf;
  bool operator==(const SnapshotHeader&) const = default;
};

class SnapshotWriter {
 public:
  // A chunk is sealed once its raw records reach `chunk_bytes`.
  explicit SnapshotWriter(const SnapshotHeader& header, size_t chunk_bytes = 256 << 10);

  void add(std::string_view key, std::string_view value);
  // Seals the last chunk and queues the trailer; add() is not allowed after.
  void finish();
  // Completed frames, oldest first (header first). Each frame is whole.
  bool has_frame() const { return !frames_.empty(); }
  std::string take_frame();
  // Frames produced so far, including those already taken.
  uint64_t frames_produced() const { return seq_; }

 private:
  void seal_chunk();
  void emit(char kind, std::string_view body);

  size_t chunk_bytes_;
  std::string block_;
  std::deque<std::string> frames_;
  uint64_t seq_ = 0;
  uint64_t records_ = 0;
  uint64_t chunks_ = 0;
  uint32_t total_crc_ = 0;
  bool finished_ = false;
};

class SnapshotReader {
 public:
  using RecordVisitor = std::function<void(std::string_view key, std::string_view value)>;
  // Where a receiver stands after a frame: enough to resume a transfer.
  struct Checkpoint {
    uint64_t next_frame = 0;  // sequence number of the next frame expected
    uint64_t records = 0;
    uint32_t total_crc = 0;
    SnapshotHeader header;
  };

  SnapshotReader() = default;
  explicit SnapshotReader(const Checkpoint& from);

  // Feeds stream bytes in any split; whole verified chunks are passed to
  // `visit`. After an error the reader stays failed.
  Status feed(std::string_view bytes, const RecordVisitor& visit);
  // OK only if the trailer verified and no bytes are left over.
  Status finish() const;

  bool done() const { return done_; }
  bool has_header() const { return cp_.next_frame > 0; }
  const SnapshotHeader& header() const { return cp_.header; }
  uint64_t records() const { return cp_.records; }
  // Valid between frames (no partial frame buffered).
  Checkpoint checkpoint() const { return cp_; }

 private:
  Status frame(std::string_view whole, const RecordVisitor& visit);
  Status header_frame(std::string_view body);
  Status data_frame(std::string_view body, const RecordVisitor& visit);
  Status trailer_frame(std::string_view body);

  Checkpoint cp_;
  std::string pending_;
  bool done_ = false;
  Status failed_;
};

}  // namespace shoal::storage
