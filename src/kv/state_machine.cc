#include "kv/state_machine.h"

#include <xxhash.h>

#include "base/assert.h"
#include "base/coding.h"
#include "base/crc16.h"
#include "base/crc32c.h"

namespace shoal::kv {

StateMachine::StateMachine(std::unique_ptr<storage::Engine> engine, StateMachineOptions options,
                           std::unique_ptr<storage::Engine> sessions)
    : store_(std::move(engine)), options_(options), session_store_(std::move(sessions)) {
  load_sessions();
}

namespace {
std::string session_key(uint64_t client_id) {
  std::string k;
  put_fixed64(k, client_id);
  return k;
}
}  // namespace

void StateMachine::store_session(uint64_t client_id, const Session& s) {
  if (!session_store_) return;
  std::string key = session_key(client_id);
  std::string value;
  put_fixed64(value, s.last_seq);
  put_fixed64(value, static_cast<uint64_t>(s.last_ms));
  value.append(s.reply);
  session_store_->put(key_slot(key), key, std::move(value), 0);
}

void StateMachine::load_sessions() {
  if (!session_store_) return;
  session_store_->for_each([&](std::string_view k, std::string_view v) {
    ByteReader key(k);
    ByteReader value(v);
    auto id = key.fixed64();
    auto seq = value.fixed64();
    auto ms = value.fixed64();
    SHOAL_ASSERT_MSG(id && seq && ms && key.empty(), "corrupt session record");
    Session s{*seq, static_cast<int64_t>(*ms), std::string(v.substr(16))};
    by_age_.emplace(s.last_ms, *id);
    sessions_[*id] = std::move(s);
  });
}

void StateMachine::forget(uint64_t client_id) {
  sessions_.erase(client_id);
  if (session_store_) session_store_->del(session_key(client_id));
}

void StateMachine::apply_entry(std::string_view entry, std::vector<RecordedReply>& replies) {
  auto corrupt = [&](const Status& why) {
    replies.emplace_back().error("ERR corrupt log entry: " + why.message());
  };
  auto commands = split_write_entry(entry);
  if (!commands.is_ok()) return corrupt(commands.status());
  // In chunks: decode, tell the engine which keys come next (the first key
  // argument of each, a hint only), then apply. Prefetching a chunk's lookups
  // together overlaps their cache misses.
  constexpr size_t kChunk = 32;
  const std::vector<std::string_view>& all = commands.value();
  // Scratch kept across entries: decoding into it allocates nothing once
  // its argument vectors have grown (a vector per command before).
  if (decoded_.size() < kChunk) decoded_.resize(kChunk);
  for (size_t start = 0; start < all.size(); start += kChunk) {
    size_t n = std::min(all.size() - start, kChunk);
    prefetch_keys_.clear();
    for (size_t i = 0; i < n; ++i) {
      Decoded& d = decoded_[i];
      d.status = decode_write_command_view(all[start + i], d.view);
      if (d.status.is_ok() && d.view.args.size() >= 2) prefetch_keys_.push_back(d.view.args[1]);
    }
    store_.engine().prefetch(prefetch_keys_);
    for (size_t i = 0; i < n; ++i) {
      if (!decoded_[i].status.is_ok()) {
        corrupt(decoded_[i].status);
        continue;
      }
      replies.push_back(apply(decoded_[i].view));
    }
  }
}

RecordedReply StateMachine::apply(const WriteCommand& cmd) {
  return apply(
      WriteCommandView{cmd.client_id, cmd.seq, cmd.now_ms, {cmd.args.begin(), cmd.args.end()}});
}

RecordedReply StateMachine::apply(const WriteCommandView& cmd) {
  expire_sessions(cmd.now_ms);
  RecordedReply reply;
  if (cmd.client_id != 0) {
    auto it = sessions_.find(cmd.client_id);
    if (it != sessions_.end() && cmd.seq <= it->second.last_seq) {
      if (cmd.seq == it->second.last_seq) {
        if (auto cached = RecordedReply::decode(it->second.reply)) return *cached;
      }
      reply.error("ERR request already applied (stale retry)");
      return reply;
    }
  }
  const std::vector<std::string_view>& args = cmd.args;
  const CommandSpec* spec = args.empty() ? nullptr : find_spec(args);
  // Entries come from disk and peers: validated like client input (the
  // internal `shoal.expire` is found here too; only client dispatch hides it).
  bool arity_ok = spec && (spec->arity > 0 ? static_cast<int>(args.size()) == spec->arity
                                           : static_cast<int>(args.size()) >= -spec->arity);
  if (spec == nullptr || spec->handler == nullptr || !spec->is_write() || !arity_ok) {
    reply.error("ERR not a replicated write command");
  } else {
    store_.set_command_time(cmd.now_ms);
    CommandContext ctx{store_, args, reply, cmd.now_ms, *spec, 0};
    spec->handler(ctx);
  }
  if (cmd.client_id != 0) remember(cmd.client_id, cmd.seq, cmd.now_ms, reply);
  return reply;
}

// A batch is mostly one command: the last spec found is checked first.
const CommandSpec* StateMachine::find_spec(const std::vector<std::string_view>& args) {
  if (last_spec_ && iequals(args[0], last_spec_->name)) return last_spec_;
  const auto& table = CommandTable::instance();
  const CommandSpec* spec = table.find(args[0]);
  if (spec && table.is_container(*spec)) {
    return args.size() >= 2 ? table.find_sub(*spec, args[1]) : spec;
  }
  if (spec) last_spec_ = spec;
  return spec;
}

void StateMachine::read(const CommandSpec& spec, std::span<const std::string_view> args,
                        int64_t now_ms, uint64_t random_bits, ReplySink& reply) {
  CommandContext ctx{store_, args, reply, now_ms, spec, random_bits};
  spec.handler(ctx);
}

void StateMachine::remember(uint64_t client_id, uint64_t seq, int64_t now_ms,
                            const RecordedReply& reply) {
  auto [it, inserted] = sessions_.try_emplace(client_id);
  if (!inserted) by_age_.erase({it->second.last_ms, client_id});
  it->second.last_seq = seq;
  it->second.last_ms = now_ms;
  it->second.reply = reply.encode();
  store_session(client_id, it->second);
  by_age_.emplace(now_ms, client_id);
  while (sessions_.size() > options_.max_sessions) {
    auto oldest = by_age_.begin();
    forget(oldest->second);
    by_age_.erase(oldest);
  }
}

void StateMachine::expire_sessions(int64_t now_ms) {
  while (!by_age_.empty() && by_age_.begin()->first + options_.session_ttl_ms < now_ms) {
    forget(by_age_.begin()->second);
    by_age_.erase(by_age_.begin());
  }
}

namespace {
constexpr uint8_t kSnapshotVersion = 1;
}  // namespace

std::string StateMachine::snapshot_data() const {
  std::string out;
  // Sized from the last snapshot: growing a state-sized string by doubling
  // copies it about once more and faults in twice its pages.
  out.reserve(last_snapshot_bytes_ + last_snapshot_bytes_ / 8 + 64);
  out.push_back(static_cast<char>(kSnapshotVersion));
  put_varint64(out, store_.size());
  // Any order: restoring inserts each key where it belongs.
  store_.engine().for_each_unordered([&](std::string_view k, std::string_view v) {
    put_length_prefixed(out, k);
    put_length_prefixed(out, v);
  });
  put_varint64(out, sessions_.size());
  for (const auto& [id, s] : sessions_) {
    put_fixed64(out, id);
    put_fixed64(out, s.last_seq);
    put_fixed64(out, static_cast<uint64_t>(s.last_ms));
    put_length_prefixed(out, s.reply);
  }
  put_fixed32(out, crc32c(out));
  last_snapshot_bytes_ = out.size();
  return out;
}

Status StateMachine::restore(std::string_view data) {
  Status s = load_snapshot(data, this);
  if (s.is_ok()) last_snapshot_bytes_ = data.size();
  return s;
}

Status StateMachine::load_snapshot(std::string_view data, StateMachine* into) {
  if (data.size() < 5) return Status::corruption("snapshot: too short");
  std::string_view body = data.substr(0, data.size() - 4);
  ByteReader crc_reader(data.substr(data.size() - 4));
  if (*crc_reader.fixed32() != crc32c(body)) return Status::corruption("snapshot: bad checksum");
  ByteReader r(body);
  auto version = r.bytes(1);
  if (!version || static_cast<uint8_t>((*version)[0]) != kSnapshotVersion) {
    return Status::corruption("snapshot: unknown version");
  }
  auto records = r.varint64();
  if (!records) return Status::corruption("snapshot: bad header");
  std::vector<std::pair<std::string_view, Record>> decoded;
  for (uint64_t i = 0; i < *records; ++i) {
    auto k = r.length_prefixed();
    auto v = r.length_prefixed();
    if (!k || !v) return Status::corruption("snapshot: truncated record");
    auto rec = decode_record(*v);
    if (!rec) return Status::corruption("snapshot: bad record");
    decoded.emplace_back(*k, *rec);
  }
  auto nsessions = r.varint64();
  if (!nsessions) return Status::corruption("snapshot: bad session count");
  std::map<uint64_t, Session> sessions;
  for (uint64_t i = 0; i < *nsessions; ++i) {
    auto id = r.fixed64();
    auto seq = r.fixed64();
    auto ms = r.fixed64();
    auto reply = r.length_prefixed();
    if (!id || !seq || !ms || !reply) return Status::corruption("snapshot: truncated session");
    sessions[*id] = Session{*seq, static_cast<int64_t>(*ms), std::string(*reply)};
  }
  if (!r.empty()) return Status::corruption("snapshot: trailing bytes");
  if (into == nullptr) return Status::ok();
  into->store_.clear();
  for (const auto& [k, rec] : decoded) into->store_.put(k, rec);
  into->sessions_ = std::move(sessions);
  into->by_age_.clear();
  if (into->session_store_) into->session_store_->clear();
  for (const auto& [id, s] : into->sessions_) {
    into->by_age_.emplace(s.last_ms, id);
    into->store_session(id, s);
  }
  return Status::ok();
}

uint64_t StateMachine::state_hash() const {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::string buf;
  store_.engine().for_each([&](std::string_view k, std::string_view v) {
    buf.clear();
    put_length_prefixed(buf, k);
    put_length_prefixed(buf, v);
    XXH3_64bits_update(st, buf.data(), buf.size());
  });
  for (const auto& [id, s] : sessions_) {
    buf.clear();
    put_fixed64(buf, id);
    put_fixed64(buf, s.last_seq);
    put_fixed64(buf, static_cast<uint64_t>(s.last_ms));
    put_length_prefixed(buf, s.reply);
    XXH3_64bits_update(st, buf.data(), buf.size());
  }
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

}  // namespace shoal::kv
