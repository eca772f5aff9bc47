#include "kv/write_command.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/coding.h"

namespace shoal::kv {
namespace {
constexpr uint8_t kVersion = 1;
constexpr uint8_t kBatchVersion = 2;
constexpr uint64_t kMaxArgs = 1u << 24;

size_t encoded_size(const WriteCommand& cmd) {
  size_t size = 1 + 24 + varint_length(cmd.args.size());
  for (const auto& a : cmd.args) size += varint_length(a.size()) + a.size();
  return size;
}

// `size` is encoded_size(cmd).
void append_write_command(std::string& out, const WriteCommand& cmd, size_t size) {
  size_t at = out.size();
  out.resize(at + size);
  char* p = out.data() + at;
  *p++ = static_cast<char>(kVersion);
  p = encode_fixed64(p, cmd.client_id);
  p = encode_fixed64(p, cmd.seq);
  p = encode_fixed64(p, static_cast<uint64_t>(cmd.now_ms));
  p = encode_varint64(p, cmd.args.size());
  for (const auto& a : cmd.args) {
    p = encode_varint64(p, a.size());
    std::memcpy(p, a.data(), a.size());
    p += a.size();
  }
  SHOAL_ASSERT(p == out.data() + out.size());
}
}  // namespace

std::string encode_write_command(const WriteCommand& cmd) {
  std::string out;
  append_write_command(out, cmd, encoded_size(cmd));
  return out;
}

Status decode_write_command_view(std::string_view bytes, WriteCommandView& out) {
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
  out.client_id = *client;
  out.seq = *seq;
  out.now_ms = static_cast<int64_t>(*now);
  out.args.clear();
  out.args.reserve(*argc);
  for (uint64_t i = 0; i < *argc; ++i) {
    auto a = r.length_prefixed();
    if (!a) return Status::corruption("write command: truncated argument");
    out.args.push_back(*a);
  }
  if (!r.empty()) return Status::corruption("write command: trailing bytes");
  return Status::ok();
}

Result<WriteCommandView> decode_write_command_view(std::string_view bytes) {
  WriteCommandView cmd;
  if (Status s = decode_write_command_view(bytes, cmd); !s.is_ok()) return s;
  return cmd;
}

Result<WriteCommand> decode_write_command(std::string_view bytes) {
  auto view = decode_write_command_view(bytes);
  if (!view.is_ok()) return view.status();
  const WriteCommandView& v = view.value();
  return WriteCommand{v.client_id, v.seq, v.now_ms, {v.args.begin(), v.args.end()}};
}

void WriteEntryBuilder::add(const WriteCommand& cmd) {
  if (count_ == 0) {
    out_.clear();
    // finish() hands a batch's buffer away with the entry: start the next
    // one at about the last one's size rather than grow it again from
    // nothing. Capped: the entry lives in Raft's log until compaction, and
    // one big batch must not make every later small one hold its size.
    out_.reserve(std::min(last_bytes_ + last_bytes_ / 4, kMaxEntryReserve));
    out_.push_back(static_cast<char>(kBatchVersion));
    put_fixed32(out_, 0);  // the count, set by finish()
  }
  size_t size = encoded_size(cmd);
  put_varint64(out_, size);
  if (count_ == 0) first_at_ = out_.size();
  append_write_command(out_, cmd, size);
  ++count_;
}

std::string WriteEntryBuilder::finish() {
  last_bytes_ = out_.size();
  std::string entry;
  if (count_ == 1) {
    entry = out_.substr(first_at_);
  } else if (count_ > 1) {
    for (int i = 0; i < 4; ++i) out_[1 + i] = static_cast<char>(count_ >> (8 * i));
    entry = std::move(out_);
  }
  clear();
  return entry;
}

Result<std::vector<std::string_view>> split_write_entry(std::string_view entry) {
  if (entry.empty()) return Status::corruption("write entry: empty");
  if (static_cast<uint8_t>(entry[0]) != kBatchVersion) return std::vector<std::string_view>{entry};
  ByteReader r(entry.substr(1));
  auto count = r.fixed32();
  // Every command takes at least two bytes (a length and a version).
  if (!count || *count < 2 || *count > r.remaining() / 2) {
    return Status::corruption("write entry: bad batch header");
  }
  std::vector<std::string_view> commands;
  commands.reserve(*count);
  for (uint32_t i = 0; i < *count; ++i) {
    auto c = r.length_prefixed();
    if (!c || c->empty()) return Status::corruption("write entry: truncated batch");
    commands.push_back(*c);
  }
  if (!r.empty()) return Status::corruption("write entry: trailing bytes");
  return commands;
}

}  // namespace shoal::kv
