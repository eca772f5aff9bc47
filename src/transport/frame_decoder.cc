// FrameDecoder: splits a peer connection's byte stream into frame bodies
// (wire_codec.h).
#include "transport/wire_codec.h"

#include <string>

namespace shoal::transport {
namespace {

uint32_t get_be32(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

FrameDecoder::FrameDecoder(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {
  SHOAL_ASSERT(max_frame_bytes > 0 && max_frame_bytes <= kMaxFrameBodyLimit);
}

void FrameDecoder::append(std::string_view bytes) {
  if (failed_) return;
  // Drop what next() already returned, so that the buffer holds only the
  // unreturned tail. Earlier views die here, as documented.
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

Result<std::optional<std::string_view>> FrameDecoder::next() {
  if (failed_) return Status::corruption("peer frame stream already failed");
  size_t avail = buf_.size() - pos_;
  if (avail < kFrameHeaderBytes) return std::optional<std::string_view>();
  size_t len = get_be32(buf_.data() + pos_);
  if (len > max_frame_bytes_) {
    failed_ = true;
    buf_.clear();
    pos_ = 0;
    return Status::corruption("peer frame of " + std::to_string(len) +
                              " bytes exceeds the limit of " + std::to_string(max_frame_bytes_));
  }
  if (avail - kFrameHeaderBytes < len) return std::optional<std::string_view>();
  std::string_view body(buf_.data() + pos_ + kFrameHeaderBytes, len);
  pos_ += kFrameHeaderBytes + len;
  return std::optional<std::string_view>(body);
}

}  // namespace shoal::transport
