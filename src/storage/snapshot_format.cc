#include "storage/snapshot_format.h"

#include <lz4.h>

#include <utility>
#include <vector>

#include "base/coding.h"
#include "base/crc32c.h"
#include "storage/state_codec.h"

namespace shoal::storage {
namespace {

constexpr std::string_view kMagic = "SHOALSNP";
constexpr char kHeader = 'H';
constexpr char kData = 'D';
constexpr char kTrailer = 'T';
constexpr size_t kFramePrefix = 8;  // len(4) crc32c(4)

uint32_t frame_crc(uint64_t seq, std::string_view kind_and_body) {
  std::string s;
  put_fixed64(s, seq);
  return crc32c_extend(crc32c(s), kind_and_body);
}

Status bad(uint64_t seq, const std::string& what) {
  return Status::corruption("snapshot frame " + std::to_string(seq) + ": " + what);
}

}  // namespace

SnapshotWriter::SnapshotWriter(const SnapshotHeader& h, size_t chunk_bytes)
    : chunk_bytes_(chunk_bytes == 0 ? 1 : chunk_bytes) {
  std::string body(kMagic);
  body.push_back(static_cast<char>(kSnapshotFormatVersion));
  put_fixed64(body, h.shard.value());
  put_fixed64(body, h.index.value());
  put_fixed64(body, h.term.value());
  put_conf_state(body, h.conf);
  emit(kHeader, body);
}

void SnapshotWriter::emit(char kind, std::string_view body) {
  std::string kb(1, kind);
  kb.append(body);
  std::string frame;
  frame.reserve(kFramePrefix + kb.size());
  put_fixed32(frame, static_cast<uint32_t>(kb.size()));
  put_fixed32(frame, frame_crc(seq_, kb));
  frame.append(kb);
  if (kind != kTrailer) total_crc_ = crc32c_extend(total_crc_, frame);
  frames_.push_back(std::move(frame));
  ++seq_;
}

void SnapshotWriter::add(std::string_view key, std::string_view value) {
  SHOAL_ASSERT(!finished_);
  put_length_prefixed(block_, key);
  put_length_prefixed(block_, value);
  ++records_;
  if (block_.size() >= chunk_bytes_) seal_chunk();
}

void SnapshotWriter::seal_chunk() {
  if (block_.empty()) return;
  SHOAL_ASSERT(block_.size() <= kMaxSnapshotFrameBytes / 2);
  std::string body;
  put_fixed32(body, static_cast<uint32_t>(block_.size()));
  int bound = LZ4_compressBound(static_cast<int>(block_.size()));
  size_t head = body.size();
  body.resize(head + static_cast<size_t>(bound));
  int n = LZ4_compress_default(block_.data(), body.data() + head, static_cast<int>(block_.size()),
                               bound);
  SHOAL_ASSERT(n > 0);
  body.resize(head + static_cast<size_t>(n));
  emit(kData, body);
  ++chunks_;
  block_.clear();
}

void SnapshotWriter::finish() {
  SHOAL_ASSERT(!finished_);
  seal_chunk();
  std::string body;
  put_fixed64(body, records_);
  put_fixed64(body, chunks_);
  put_fixed32(body, total_crc_);
  emit(kTrailer, body);
  finished_ = true;
}

std::string SnapshotWriter::take_frame() {
  SHOAL_ASSERT(!frames_.empty());
  std::string f = std::move(frames_.front());
  frames_.pop_front();
  return f;
}

SnapshotReader::SnapshotReader(const Checkpoint& from) : cp_(from) {}

Status SnapshotReader::feed(std::string_view bytes, const RecordVisitor& visit) {
  if (!failed_.is_ok()) return failed_;
  if (done_ && !bytes.empty()) return failed_ = Status::corruption("bytes after the trailer");
  pending_.append(bytes);
  size_t pos = 0;
  while (pending_.size() - pos >= kFramePrefix) {
    ByteReader in(std::string_view(pending_).substr(pos));
    uint32_t len = *in.fixed32();
    if (len == 0 || len > kMaxSnapshotFrameBytes) {
      return failed_ = bad(cp_.next_frame, "bad length " + std::to_string(len));
    }
    if (pending_.size() - pos < kFramePrefix + len) break;
    Status s = frame(std::string_view(pending_).substr(pos, kFramePrefix + len), visit);
    if (!s.is_ok()) return failed_ = s;
    pos += kFramePrefix + len;
    if (done_ && pos != pending_.size()) {
      return failed_ = Status::corruption("bytes after the trailer");
    }
  }
  pending_.erase(0, pos);
  return Status::ok();
}

Status SnapshotReader::finish() const {
  if (!failed_.is_ok()) return failed_;
  if (!done_) return Status::corruption("snapshot stream truncated");
  if (!pending_.empty()) return Status::corruption("bytes after the trailer");
  return Status::ok();
}

Status SnapshotReader::frame(std::string_view whole, const RecordVisitor& visit) {
  ByteReader in(whole);
  (void)in.fixed32();
  uint32_t crc = *in.fixed32();
  std::string_view kb = whole.substr(kFramePrefix);
  uint64_t seq = cp_.next_frame;
  if (crc != frame_crc(seq, kb)) return bad(seq, "checksum mismatch");
  char kind = kb[0];
  std::string_view body = kb.substr(1);
  Status s;
  if (seq == 0) {
    s = kind == kHeader ? header_frame(body) : bad(seq, "expected the header");
  } else if (kind == kData) {
    s = data_frame(body, visit);
  } else if (kind == kTrailer) {
    s = trailer_frame(body);
  } else {
    s = bad(seq, "unexpected frame kind");
  }
  if (!s.is_ok()) return s;
  if (kind != kTrailer) cp_.total_crc = crc32c_extend(cp_.total_crc, whole);
  ++cp_.next_frame;
  return Status::ok();
}

Status SnapshotReader::header_frame(std::string_view body) {
  ByteReader in(body);
  auto magic = in.bytes(kMagic.size());
  auto version = in.bytes(1);
  if (!magic || *magic != kMagic) return bad(0, "bad magic");
  if (!version || static_cast<uint8_t>((*version)[0]) != kSnapshotFormatVersion) {
    return bad(0, "unsupported format version");
  }
  auto shard = in.fixed64();
  auto index = in.fixed64();
  auto term = in.fixed64();
  if (!term) return bad(0, "truncated header");
  auto conf = get_conf_state(in);
  if (!conf || !in.empty()) return bad(0, "bad conf state");
  cp_.header = SnapshotHeader{ShardId(*shard), LogIndex(*index), Term(*term), std::move(*conf)};
  return Status::ok();
}

Status SnapshotReader::data_frame(std::string_view body, const RecordVisitor& visit) {
  uint64_t seq = cp_.next_frame;
  ByteReader in(body);
  auto raw_len = in.fixed32();
  if (!raw_len || *raw_len == 0 || *raw_len > kMaxSnapshotFrameBytes) {
    return bad(seq, "bad block size");
  }
  std::string raw(*raw_len, '\0');
  std::string_view block = body.substr(4);
  int n = LZ4_decompress_safe(block.data(), raw.data(), static_cast<int>(block.size()),
                              static_cast<int>(raw.size()));
  if (n < 0 || static_cast<uint32_t>(n) != *raw_len) return bad(seq, "bad lz4 block");
  // Parse the whole chunk before delivering any of it.
  std::vector<std::pair<std::string_view, std::string_view>> recs;
  ByteReader rin(raw);
  while (!rin.empty()) {
    auto k = rin.length_prefixed();
    auto v = k ? rin.length_prefixed() : std::nullopt;
    if (!v) return bad(seq, "malformed record");
    recs.emplace_back(*k, *v);
  }
  for (const auto& [k, v] : recs) visit(k, v);
  cp_.records += recs.size();
  return Status::ok();
}

Status SnapshotReader::trailer_frame(std::string_view body) {
  uint64_t seq = cp_.next_frame;
  ByteReader in(body);
  auto records = in.fixed64();
  auto chunks = in.fixed64();
  auto total = in.fixed32();
  if (!total || !in.empty()) return bad(seq, "bad trailer");
  if (*records != cp_.records) return bad(seq, "record count mismatch");
  if (*chunks != seq - 1) return bad(seq, "chunk count mismatch");
  if (*total != cp_.total_crc) return bad(seq, "total checksum mismatch");
  done_ = true;
  return Status::ok();
}

}  // namespace shoal::storage
