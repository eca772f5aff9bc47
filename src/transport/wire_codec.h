// The peer wire format: PeerBatch and raft::Message to and from bytes
// (peer.proto), and the framing of a peer connection.
//
// A frame is a 4-byte big-endian body length followed by the body, one
// serialized pb::PeerFrame. A connection's first frame is a Hello; every later
// frame is a Batch. The Batch does not carry the sender: the receiver takes it
// from the connection's Hello.
//
// Everything decoded here comes from the network: bad bytes, unknown enum
// values and oversized lengths are answered with a kCorruption Status, never
// an assertion (STYLE.md #4). The generated protobuf types stay private to
// wire_codec.cc.
//
// Thread-safety: the functions are pure; a FrameDecoder is not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "base/status.h"
#include "raft/types.h"
#include "transport/peer_messages.h"

namespace shoal::transport {

// Bumped when a change to peer.proto cannot be ignored by older nodes.
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 4;
// No frame body may be larger than this, whatever max_frame_bytes says:
// protobuf parses at most 2 GiB and the length prefix is 32 bits.
inline constexpr size_t kMaxFrameBodyLimit = size_t{1} << 30;

struct Hello {
  NodeId node;
  uint64_t cluster_id = 0;
  uint32_t protocol_version = kProtocolVersion;
  bool operator==(const Hello&) const = default;
};

// Whole frames (length prefix included), ready to write.
std::string encode_hello_frame(const Hello& hello);
// `batch.from` is not encoded (see above).
std::string encode_batch_frame(const PeerBatch& batch);

// A decoded frame body: a Hello or a Batch (whose `from` is left unset).
using Frame = std::variant<Hello, PeerBatch>;
Result<Frame> decode_frame_body(std::string_view body);

// One raft::Message on its own (the pb::RaftMessage form), e.g. for tests and
// tools; frames carry the same encoding inside their envelopes.
std::string encode_raft_message(const raft::Message& msg);
Result<raft::Message> decode_raft_message(std::string_view bytes);

// Splits a byte stream into frame bodies. Buffers at most one partial frame
// plus the bytes of the last append: a length prefix above `max_frame_bytes`
// fails the decoder at once, before anything is reserved for it, and the
// caller closes the connection.
class FrameDecoder {
 public:
  // 0 < max_frame_bytes <= kMaxFrameBodyLimit (asserted: it is configuration).
  explicit FrameDecoder(size_t max_frame_bytes);

  // Appends bytes read from the connection.
  void append(std::string_view bytes);
  // The next complete frame body, nullopt when more bytes are needed, or
  // kCorruption when the next frame's length exceeds the limit (the decoder
  // stays failed). The view is valid until the next append() or next().
  Result<std::optional<std::string_view>> next();

  // Bytes held that are not yet returned by next().
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  size_t max_frame_bytes_;
  std::string buf_;
  size_t pos_ = 0;  // start of the first byte not yet returned
  bool failed_ = false;
};

}  // namespace shoal::transport
