#include "kv/write_command.h"

#include "base/coding.h"

namespace shoal::kv {
namespace {
constexpr uint8_t kVersion = 1;
constexpr uint64_t kMaxArgs = 1u << 24;
}  // namespace

std::string encode_write_command(const WriteCommand& cmd) {
  size_t size = 32;
  for (const auto& a : cmd.args) size += a.size() + 5;
  std::string out;
  out.reserve(size);
  out.push_back(static_cast<char>(kVersion));
  put_fixed64(out, cmd.client_id);
  put_fixed64(out, cmd.seq);
  put_fixed64(out, static_cast<uint64_t>(cmd.now_ms));
  put_varint64(out, cmd.args.size());
  for (const auto& a : cmd.args) put_length_prefixed(out, a);
  return out;
}

Result<WriteCommand> decode_write_command(std::string_view bytes) {
  ByteReader r(bytes);
  auto version = r.bytes(1);
  if (!version || static_cast<uint8_t>((*version)[0]) != kVersion) {
    return Status::corruption("write command: unknown format version");
  }
  auto client = r.fixed64();
  auto seq = r.fixed64();
  auto now = r.fixed64();
  auto argc = r.varint64();
  if (!client || !seq || !now || !argc || *argc == 0 || *argc > kMaxArgs || *argc > r.remaining()) {
    return Status::corruption("write command: bad header");
  }
  WriteCommand cmd{*client, *seq, static_cast<int64_t>(*now), {}};
  cmd.args.reserve(*argc);
  for (uint64_t i = 0; i < *argc; ++i) {
    auto a = r.length_prefixed();
    if (!a) return Status::corruption("write command: truncated argument");
    cmd.args.emplace_back(*a);
  }
  if (!r.empty()) return Status::corruption("write command: trailing bytes");
  return cmd;
}

}  // namespace shoal::kv
