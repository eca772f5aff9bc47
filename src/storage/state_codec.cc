#include "storage/state_codec.h"

#include "base/crc32c.h"

namespace shoal::storage {
namespace {

constexpr char kVersion = 1;
// A node list longer than this in stored state is corruption, not a cluster.
constexpr uint64_t kMaxNodes = 1024;

std::string seal(std::string body) {
  put_fixed32(body, crc32c(body));
  return body;
}

// Checks version and CRC; returns the fields between them.
Result<std::string_view> unseal(std::string_view bytes, const char* what) {
  if (bytes.size() < 5) return Status::corruption(std::string(what) + ": too short");
  std::string_view body = bytes.substr(0, bytes.size() - 4);
  ByteReader crc_in(bytes.substr(bytes.size() - 4));
  if (crc_in.fixed32() != crc32c(body)) {
    return Status::corruption(std::string(what) + ": checksum mismatch");
  }
  if (body[0] != kVersion) return Status::corruption(std::string(what) + ": unknown version");
  return body.substr(1);
}

void put_nodes(std::string& out, const std::vector<NodeId>& nodes) {
  put_varint64(out, nodes.size());
  for (NodeId n : nodes) put_fixed64(out, n.value());
}

bool get_nodes(ByteReader& in, std::vector<NodeId>* out) {
  auto n = in.varint64();
  if (!n || *n > kMaxNodes) return false;
  for (uint64_t i = 0; i < *n; ++i) {
    auto id = in.fixed64();
    if (!id) return false;
    out->emplace_back(*id);
  }
  return true;
}

}  // namespace

std::string encode_hard_state(const HardStateRecord& hs) {
  std::string out(1, kVersion);
  put_fixed64(out, hs.term.value());
  put_fixed64(out, hs.vote.value());
  put_fixed64(out, hs.commit.value());
  return seal(std::move(out));
}

Result<HardStateRecord> decode_hard_state(std::string_view bytes) {
  auto body = unseal(bytes, "hard state");
  if (!body.is_ok()) return body.status();
  ByteReader in(body.value());
  auto term = in.fixed64();
  auto vote = in.fixed64();
  auto commit = in.fixed64();
  if (!commit || !in.empty()) return Status::corruption("hard state: bad length");
  return HardStateRecord{Term(*term), NodeId(*vote), LogIndex(*commit)};
}

std::string encode_index(LogIndex index) {
  std::string out(1, kVersion);
  put_fixed64(out, index.value());
  return seal(std::move(out));
}

Result<LogIndex> decode_index(std::string_view bytes) {
  auto body = unseal(bytes, "index");
  if (!body.is_ok()) return body.status();
  ByteReader in(body.value());
  auto v = in.fixed64();
  if (!v || !in.empty()) return Status::corruption("index: bad length");
  return LogIndex(*v);
}

void put_conf_state(std::string& out, const ConfRecord& cs) {
  put_nodes(out, cs.voters);
  put_nodes(out, cs.voters_outgoing);
  put_nodes(out, cs.learners);
  put_nodes(out, cs.learners_next);
  out.push_back(cs.auto_leave ? 1 : 0);
}

std::optional<ConfRecord> get_conf_state(ByteReader& in) {
  ConfRecord cs;
  if (!get_nodes(in, &cs.voters) || !get_nodes(in, &cs.voters_outgoing) ||
      !get_nodes(in, &cs.learners) || !get_nodes(in, &cs.learners_next)) {
    return std::nullopt;
  }
  auto flag = in.bytes(1);
  if (!flag || static_cast<unsigned char>((*flag)[0]) > 1) return std::nullopt;
  cs.auto_leave = (*flag)[0] == 1;
  return cs;
}

std::string encode_snapshot_meta(const SnapshotRecord& meta) {
  std::string out(1, kVersion);
  put_fixed64(out, meta.index.value());
  put_fixed64(out, meta.term.value());
  put_conf_state(out, meta.conf);
  return seal(std::move(out));
}

Result<SnapshotRecord> decode_snapshot_meta(std::string_view bytes) {
  auto body = unseal(bytes, "snapshot meta");
  if (!body.is_ok()) return body.status();
  ByteReader in(body.value());
  auto index = in.fixed64();
  auto term = in.fixed64();
  if (!term) return Status::corruption("snapshot meta: truncated");
  auto conf = get_conf_state(in);
  if (!conf || !in.empty()) return Status::corruption("snapshot meta: bad conf state");
  return SnapshotRecord{LogIndex(*index), Term(*term), std::move(*conf)};
}

std::string encode_snapshot_file_ref(const SnapshotFileRef& ref) {
  std::string out(1, kVersion);
  put_length_prefixed(out, ref.name);
  put_fixed64(out, ref.size);
  put_fixed32(out, ref.crc);
  return seal(std::move(out));
}

Result<SnapshotFileRef> decode_snapshot_file_ref(std::string_view bytes) {
  auto body = unseal(bytes, "snapshot file reference");
  if (!body.is_ok()) return body.status();
  ByteReader in(body.value());
  auto name = in.length_prefixed();
  auto size = in.fixed64();
  auto crc = in.fixed32();
  if (!name || !size || !crc || !in.empty() || name->empty() ||
      name->find('/') != std::string_view::npos) {
    return Status::corruption("snapshot file reference: bad fields");
  }
  return SnapshotFileRef{std::string(*name), *size, *crc};
}

}  // namespace shoal::storage
