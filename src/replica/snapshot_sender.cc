// SnapshotSender (snapshot_transfer.h): regenerate-and-skip resume with a
// small window of recently sent frames.
#include <limits>

#include "replica/snapshot_transfer.h"

namespace shoal::replica {
namespace {

// The writer asserts that a sealed block fits a frame; a chunk may hold up to
// chunk_bytes of earlier records plus the one that sealed it.
constexpr size_t kMaxChunkBytes = 8 << 20;
constexpr size_t kRecordOverhead = 20;  // two varint lengths

}  // namespace

Result<std::unique_ptr<SnapshotSender>> SnapshotSender::start(SnapshotBudget::Ticket ticket,
                                                              const storage::SnapshotHeader& header,
                                                              std::unique_ptr<RecordSource> source,
                                                              const SnapshotSenderOptions& options,
                                                              int64_t now_ns) {
  if (options.chunk_bytes == 0 || options.chunk_bytes > kMaxChunkBytes) {
    return Status::invalid_argument("snapshot chunk_bytes must be in 1.." +
                                    std::to_string(kMaxChunkBytes));
  }
  if (options.bytes_per_sec == 0) {
    return Status::invalid_argument("snapshot bytes_per_sec must be positive");
  }
  if (options.skip_frames_per_call == 0) {
    return Status::invalid_argument("snapshot skip_frames_per_call must be positive");
  }
  SHOAL_ASSERT(source != nullptr);
  std::unique_ptr<SnapshotSender> s(
      new SnapshotSender(std::move(ticket), header, std::move(source), options, now_ns));
  if (Status st = s->restart_stream(); !st.is_ok()) return st;
  return s;
}

SnapshotSender::SnapshotSender(SnapshotBudget::Ticket ticket, const storage::SnapshotHeader& header,
                               std::unique_ptr<RecordSource> source,
                               const SnapshotSenderOptions& options, int64_t now_ns)
    : ticket_(std::move(ticket)),
      header_(header),
      source_(std::move(source)),
      options_(options),
      bucket_(options.bytes_per_sec, options.burst_bytes, now_ns) {}

Status SnapshotSender::restart_stream() {
  if (Status s = source_->rewind(); !s.is_ok()) return s;
  writer_ = std::make_unique<storage::SnapshotWriter>(header_, options_.chunk_bytes);
  gen_ = 0;
  return Status::ok();
}

// The next frame of the stream, pulling records until the writer seals one.
// Memory: the writer's open block plus at most two queued frames.
Result<std::string> SnapshotSender::generate() {
  while (!writer_->has_frame()) {
    if (trailer_ && gen_ > *trailer_) {
      return Status::invalid_argument("resume point past the end of the snapshot stream");
    }
    auto rec = source_->next();
    if (!rec.is_ok()) return rec.status();
    if (!rec.value()) {
      writer_->finish();
      uint64_t trailer = writer_->frames_produced() - 1;
      // The source is a point-in-time view: every pass ends at the same frame.
      SHOAL_ASSERT(!trailer_ || *trailer_ == trailer);
      trailer_ = trailer;
      continue;
    }
    auto [key, value] = *rec.value();
    size_t bytes = key.size() + value.size() + kRecordOverhead;
    if (bytes + options_.chunk_bytes > storage::kMaxSnapshotFrameBytes / 2) {
      return Status::invalid_argument("snapshot record of " + std::to_string(bytes) +
                                      " bytes is too large for the stream format");
    }
    writer_->add(key, value);
  }
  ++gen_;
  ++generated_total_;
  return writer_->take_frame();
}

const std::string* SnapshotSender::retained(uint64_t index) const {
  for (const auto& [i, frame] : retained_) {
    if (i == index) return &frame;
  }
  return nullptr;
}

Result<std::optional<SnapshotChunk>> SnapshotSender::next_chunk(int64_t now_ns) {
  if (!failed_.is_ok()) return failed_;
  if (done()) return std::optional<SnapshotChunk>();
  // Catching up after a resume: regenerate and drop, a bounded number per call.
  for (size_t n = 0; gen_ < next_; ++n) {
    if (n == options_.skip_frames_per_call) return std::optional<SnapshotChunk>();
    auto skipped = generate();
    if (!skipped.is_ok()) return failed_ = skipped.status();
  }
  if (now_ns < bucket_.ready_at()) return std::optional<SnapshotChunk>();
  SnapshotChunk chunk;
  chunk.index = next_;
  if (const std::string* kept = retained(next_)) {
    chunk.bytes = *kept;
  } else {
    SHOAL_ASSERT(gen_ == next_);
    auto frame = generate();
    if (!frame.is_ok()) return failed_ = frame.status();
    chunk.bytes = std::move(frame).value();
    retained_.emplace_back(next_, chunk.bytes);
    while (retained_.size() > options_.retain_frames) retained_.pop_front();
  }
  chunk.last = trailer_ && *trailer_ == next_;
  bucket_.consume(chunk.bytes.size(), now_ns);
  bytes_sent_ += chunk.bytes.size();
  ++next_;
  return std::optional<SnapshotChunk>(std::move(chunk));
}

int64_t SnapshotSender::ready_at() const {
  if (!failed_.is_ok() || done()) return std::numeric_limits<int64_t>::max();
  if (gen_ < next_) return std::numeric_limits<int64_t>::min();
  return bucket_.ready_at();
}

Status SnapshotSender::resume_at(uint64_t index) {
  if (!failed_.is_ok()) return failed_;
  if (trailer_ && index > *trailer_ + 1) {
    return Status::invalid_argument("resume point " + std::to_string(index) +
                                    " is past the end of the snapshot stream");
  }
  next_ = index;
  // In the window, or at/after the writer's position: no regeneration needed.
  if (retained(index) != nullptr || index >= gen_) return Status::ok();
  if (Status s = restart_stream(); !s.is_ok()) return failed_ = s;
  return Status::ok();
}

}  // namespace shoal::replica
