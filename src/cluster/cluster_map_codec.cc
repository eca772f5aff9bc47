// The binary form of a ClusterMap (the meta shard's state, persisted and sent
// to peers):
//
//   "SHCM" format_version(1 byte)
//   cluster_id(fixed64) version(varint) replication_factor(varint)
//   node_count(varint) { id(varint) host(length-prefixed) client_port(varint)
//                        peer_port(varint) }*
//   shard_count(varint) { id first_slot last_slot conf_ver version (varints)
//                         replica_count(varint) replica_id(varint)* }*
//   meta_count(varint) meta_replica_id(varint)*
//   crc32c(fixed32) of every byte before it
//
// Decoding treats the bytes as untrusted: every count and length is bounded
// before anything is allocated, trailing bytes are refused, and the result
// must pass validate().
#include <string_view>

#include "base/coding.h"
#include "base/crc32c.h"
#include "cluster/cluster_map.h"

namespace shoal::cluster {
namespace {

constexpr std::string_view kMagic = "SHCM";
constexpr uint8_t kFormatVersion = 1;
// Bounds for decoding; far above any real cluster, low enough that a corrupt
// count cannot make us allocate much.
constexpr uint64_t kMaxNodes = 4096;
constexpr uint64_t kMaxHostBytes = 255;

Status corrupt(const std::string& what) { return Status::corruption("cluster map: " + what); }

// Reads a varint no greater than `max`.
std::optional<uint64_t> bounded(ByteReader& in, uint64_t max) {
  auto v = in.varint64();
  if (!v || *v > max) return std::nullopt;
  return v;
}

std::optional<std::vector<NodeId>> read_id_list(ByteReader& in, uint64_t max_count) {
  auto n = bounded(in, max_count);
  if (!n) return std::nullopt;
  std::vector<NodeId> ids;
  ids.reserve(*n);
  for (uint64_t i = 0; i < *n; ++i) {
    auto id = in.varint64();
    if (!id) return std::nullopt;
    ids.emplace_back(*id);
  }
  return ids;
}

std::optional<NodeInfo> read_node(ByteReader& in) {
  auto id = in.varint64();
  auto host = in.length_prefixed();
  if (!id || !host || host->size() > kMaxHostBytes) return std::nullopt;
  auto client_port = bounded(in, UINT16_MAX);
  auto peer_port = bounded(in, UINT16_MAX);
  if (!client_port || !peer_port) return std::nullopt;
  return NodeInfo{NodeId(*id), std::string(*host), static_cast<uint16_t>(*client_port),
                  static_cast<uint16_t>(*peer_port)};
}

std::optional<ShardInfo> read_shard(ByteReader& in, uint64_t node_count) {
  auto id = in.varint64();
  auto first = bounded(in, kSlotCount - 1);
  auto last = bounded(in, kSlotCount - 1);
  auto conf_ver = in.varint64();
  auto version = in.varint64();
  if (!id || !first || !last || !conf_ver || !version) return std::nullopt;
  auto replicas = read_id_list(in, node_count);
  if (!replicas) return std::nullopt;
  return ShardInfo{ShardId(*id),
                   static_cast<uint16_t>(*first),
                   static_cast<uint16_t>(*last),
                   std::move(*replicas),
                   *conf_ver,
                   *version};
}

// Everything between the header and the CRC.
std::optional<ClusterMap> read_body(ByteReader& in) {
  ClusterMap map;
  auto cluster_id = in.fixed64();
  auto version = in.varint64();
  auto rf = bounded(in, kMaxNodes);
  auto node_count = bounded(in, kMaxNodes);
  if (!cluster_id || !version || !rf || !node_count) return std::nullopt;
  map.cluster_id = *cluster_id;
  map.version = *version;
  map.replication_factor = static_cast<int>(*rf);
  map.nodes.reserve(*node_count);
  for (uint64_t i = 0; i < *node_count; ++i) {
    auto node = read_node(in);
    if (!node) return std::nullopt;
    map.nodes.push_back(std::move(*node));
  }
  auto shard_count = bounded(in, kSlotCount);
  if (!shard_count) return std::nullopt;
  map.shards.reserve(*shard_count);
  for (uint64_t i = 0; i < *shard_count; ++i) {
    auto shard = read_shard(in, *node_count);
    if (!shard) return std::nullopt;
    map.shards.push_back(std::move(*shard));
  }
  auto meta = read_id_list(in, *node_count);
  if (!meta) return std::nullopt;
  map.meta_replicas = std::move(*meta);
  return map;
}

}  // namespace

std::string encode_cluster_map(const ClusterMap& map) {
  std::string out(kMagic);
  out.push_back(static_cast<char>(kFormatVersion));
  put_fixed64(out, map.cluster_id);
  put_varint64(out, map.version);
  put_varint64(out, static_cast<uint64_t>(map.replication_factor));
  put_varint64(out, map.nodes.size());
  for (const NodeInfo& n : map.nodes) {
    put_varint64(out, n.id.value());
    put_length_prefixed(out, n.host);
    put_varint64(out, n.client_port);
    put_varint64(out, n.peer_port);
  }
  put_varint64(out, map.shards.size());
  for (const ShardInfo& s : map.shards) {
    put_varint64(out, s.id.value());
    put_varint64(out, s.first_slot);
    put_varint64(out, s.last_slot);
    put_varint64(out, s.conf_ver);
    put_varint64(out, s.version);
    put_varint64(out, s.replicas.size());
    for (NodeId r : s.replicas) put_varint64(out, r.value());
  }
  put_varint64(out, map.meta_replicas.size());
  for (NodeId r : map.meta_replicas) put_varint64(out, r.value());
  put_fixed32(out, crc32c(out));
  return out;
}

Result<ClusterMap> decode_cluster_map(std::string_view bytes) {
  constexpr size_t kCrcBytes = 4;
  if (bytes.size() < kMagic.size() + 1 + kCrcBytes) return corrupt("too short");
  std::string_view covered = bytes.substr(0, bytes.size() - kCrcBytes);
  ByteReader crc_reader(bytes.substr(covered.size()));
  if (crc_reader.fixed32() != crc32c(covered)) return corrupt("checksum mismatch");
  if (covered.substr(0, kMagic.size()) != kMagic) return corrupt("bad magic");
  auto format = static_cast<uint8_t>(covered[kMagic.size()]);
  if (format != kFormatVersion) {
    return corrupt("unsupported format version " + std::to_string(format));
  }
  ByteReader in(covered.substr(kMagic.size() + 1));
  std::optional<ClusterMap> map = read_body(in);
  if (!map) return corrupt("truncated or malformed");
  if (!in.empty()) return corrupt("trailing bytes");
  if (Status st = validate(*map); !st.is_ok()) return Status::corruption(st.message());
  return std::move(*map);
}

}  // namespace shoal::cluster
