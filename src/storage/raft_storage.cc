#include "storage/raft_storage.h"

#include <limits>

#include "base/coding.h"
#include "base/crc32c.h"
#include "storage/state_codec.h"

namespace shoal::storage {
namespace {

constexpr size_t kRecordHeader = 8 + 1 + 4;  // term, type, crc32c

uint32_t record_crc(ShardId shard, LogIndex index, std::string_view term_type,
                    std::string_view data) {
  std::string key;
  put_big_endian64(key, shard.value());
  put_big_endian64(key, index.value());
  return crc32c_extend(crc32c_extend(crc32c(key), term_type), data);
}

}  // namespace

std::string encode_log_record(ShardId shard, const LogRecord& e) {
  std::string out;
  out.reserve(kRecordHeader + e.data.size());
  put_fixed64(out, e.term.value());
  out.push_back(static_cast<char>(e.type));
  put_fixed32(out, record_crc(shard, e.index, out, e.data));
  out.append(e.data);
  return out;
}

Result<LogRecord> decode_log_record(ShardId shard, LogIndex index, std::string_view value) {
  if (value.size() < kRecordHeader) {
    return Status::corruption("log record " + std::to_string(index.value()) + ": too short");
  }
  std::string_view term_type = value.substr(0, 9);
  std::string_view data = value.substr(kRecordHeader);
  ByteReader in(value);
  uint64_t term = *in.fixed64();
  auto type = static_cast<uint8_t>(*in.bytes(1)->data());
  uint32_t crc = *in.fixed32();
  if (crc != record_crc(shard, index, term_type, data)) {
    return Status::corruption("log record " + std::to_string(index.value()) + " of shard " +
                              std::to_string(shard.value()) + ": checksum mismatch");
  }
  if (type > kMaxLogRecordType) {
    return Status::corruption("log record " + std::to_string(index.value()) + ": bad type");
  }
  return LogRecord{Term(term), index, type, std::string(data)};
}

std::string RaftStorage::log_key(LogIndex i) const {
  std::string k;
  put_big_endian64(k, shard_.value());
  put_big_endian64(k, i.value());
  return k;
}

std::string RaftStorage::state_key(char tag) const {
  std::string k;
  put_big_endian64(k, shard_.value());
  k.push_back(tag);
  return k;
}

Result<std::unique_ptr<RaftStorage>> RaftStorage::open(WriteBatchBuilder& batch, ShardId shard) {
  std::unique_ptr<RaftStorage> rs(new RaftStorage(batch, shard));
  Status s = rs->load_state();
  if (s.is_ok()) s = rs->load_log_bounds();
  if (s.is_ok()) s = rs->check_tail();
  if (!s.is_ok()) return s;
  return rs;
}

Status RaftStorage::load_state() {
  auto* cf = batch_.db().raft_state();
  auto hs = batch_.get(cf, state_key('h'));
  auto applied = batch_.get(cf, state_key('a'));
  auto snap = batch_.get(cf, state_key('s'));
  auto ack = batch_.get(cf, state_key('k'));
  for (const auto* r : {&hs, &applied, &snap, &ack}) {
    if (!r->is_ok()) return r->status();
  }
  if (hs.value()) {
    auto v = decode_hard_state(*hs.value());
    if (!v.is_ok()) return v.status();
    hard_state_ = v.value();
  }
  if (applied.value()) {
    auto v = decode_index(*applied.value());
    if (!v.is_ok()) return v.status();
    applied_ = v.value();
  }
  if (snap.value()) {
    auto v = decode_snapshot_meta(*snap.value());
    if (!v.is_ok()) return v.status();
    snapshot_ = std::move(v).value();
  }
  if (ack.value()) {
    auto v = decode_index(*ack.value());
    if (!v.is_ok()) return v.status();
    ack_ = v.value();
  }
  return Status::ok();
}

// Finds the last stored index; stages deletion of leftovers at or below the
// snapshot index (compaction stages both together, so there should be none).
Status RaftStorage::load_log_bounds() {
  auto it = batch_.new_iterator(batch_.db().raft_log());
  last_ = snapshot_.index;
  it->SeekForPrev(log_key(LogIndex(std::numeric_limits<uint64_t>::max())));
  if (it->Valid() && it->key().starts_with(rocksdb::Slice(log_key(LogIndex(0)).substr(0, 8)))) {
    if (it->key().size() != 16) return Status::corruption("raft_log: malformed key");
    LogIndex stored(get_big_endian64(std::string_view(it->key().data() + 8, 8)));
    if (stored > snapshot_.index) last_ = stored;
  }
  if (!it->status().ok()) return from_rocks(it->status(), "raft_log seek");
  if (snapshot_.index.value() > 0) {
    it->Seek(log_key(LogIndex(0)));
    if (it->Valid() && it->key().size() == 16 &&
        it->key().starts_with(rocksdb::Slice(log_key(LogIndex(0)).substr(0, 8)))) {
      LogIndex first(get_big_endian64(std::string_view(it->key().data() + 8, 8)));
      if (first <= snapshot_.index) stage_delete_entries(first, snapshot_.index);
    }
  }
  return Status::ok();
}

Status RaftStorage::check_tail() {
  // Scan back from the end over the unacknowledged range: a record failing its
  // CRC there is a torn tail and goes, with everything after it.
  LogIndex cut;
  for (LogIndex i = last_; i > ack_ && i > snapshot_.index; i = i.prev()) {
    auto e = read_entry(i);
    if (e.status().code() == StatusCode::kCorruption) {
      cut = i;
    } else if (!e.is_ok()) {
      return e.status();
    }
  }
  if (cut.value() != 0) {
    stage_delete_entries(cut, last_);
    last_ = cut.prev();
  }
  if (last_ < ack_) {
    return Status::corruption("raft log of shard " + std::to_string(shard_.value()) + " ends at " +
                              std::to_string(last_.value()) + " but " +
                              std::to_string(ack_.value()) + " was acknowledged");
  }
  // The newest acknowledged record must be intact (older ones are checked
  // whenever they are read).
  if (ack_ > snapshot_.index) {
    auto e = read_entry(ack_);
    if (!e.is_ok()) return e.status();
  }
  return Status::ok();
}

const std::map<LogIndex, std::string>& RaftStorage::staged() const {
  if (staged_generation_ != batch_.generation()) {
    staged_.clear();  // committed: the DB has them now
    staged_generation_ = batch_.generation();
  }
  return staged_;
}

Result<LogRecord> RaftStorage::read_entry(LogIndex i) const {
  if (auto it = staged().find(i); it != staged().end()) {
    return decode_log_record(shard_, i, it->second);
  }
  auto v = batch_.get(batch_.db().raft_log(), log_key(i));
  if (!v.is_ok()) return v.status();
  if (!v.value()) {
    return Status::corruption("raft log of shard " + std::to_string(shard_.value()) +
                              ": missing entry " + std::to_string(i.value()));
  }
  return decode_log_record(shard_, i, *v.value());
}

Result<Term> RaftStorage::term(LogIndex i) const {
  if (i == snapshot_.index) return snapshot_.term;
  if (i < snapshot_.index) return Status::not_found("entry compacted");
  if (i > last_) return Status::not_found("entry beyond the last index");
  auto e = read_entry(i);
  if (!e.is_ok()) return e.status();
  return e.value().term;
}

Result<std::vector<LogRecord>> RaftStorage::entries(LogIndex lo, LogIndex hi,
                                                    size_t max_bytes) const {
  if (lo < first_index()) return Status::not_found("entries compacted");
  if (hi > last_.next() || lo > hi) return Status::invalid_argument("entries: bad range");
  std::vector<LogRecord> out;
  // Staged records are the log's tail; everything before them is in the DB.
  LogIndex db_hi = hi;
  if (!staged().empty() && staged().begin()->first < db_hi) db_hi = staged().begin()->first;
  auto it = batch_.new_iterator(batch_.db().raft_log());
  size_t bytes = 0;
  LogIndex want = lo;
  for (it->Seek(log_key(lo)); want < db_hi; it->Next(), want = want.next()) {
    if (!it->Valid() || rocksdb::Slice(log_key(want)) != it->key()) {
      if (!it->status().ok()) return from_rocks(it->status(), "raft_log read");
      return Status::corruption("raft log of shard " + std::to_string(shard_.value()) +
                                ": missing entry " + std::to_string(want.value()));
    }
    auto e = decode_log_record(shard_, want, it->value().ToStringView());
    if (!e.is_ok()) return e.status();
    bytes += log_record_bytes(e.value());
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(std::move(e).value());
  }
  for (; want < hi && !(bytes > max_bytes && !out.empty()); want = want.next()) {
    auto e = read_entry(want);
    if (!e.is_ok()) return e.status();
    bytes += log_record_bytes(e.value());
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(std::move(e).value());
  }
  return out;
}

Result<RaftStateRecord> RaftStorage::initial_state() const {
  auto ents = entries(first_index(), last_.next(), std::numeric_limits<size_t>::max());
  if (!ents.is_ok()) return ents.status();
  RaftStateRecord st;
  st.hard_state = hard_state_;
  st.snapshot = snapshot_;
  st.entries = std::move(ents).value();
  st.applied = applied_;
  return st;
}

void RaftStorage::stage_delete_entries(LogIndex from, LogIndex to) {
  if (to < from) return;
  // One range tombstone, not one per entry: a tombstone per compacted entry
  // doubled the memtable inserts of the log (the raft loop's biggest cost).
  batch_.delete_range_unindexed(batch_.db().raft_log(), log_key(from), log_key(to.next()));
  staged();  // refresh the cache's generation before editing it
  staged_.erase(staged_.lower_bound(from), staged_.upper_bound(to));
}

Status RaftStorage::append(std::span<const LogRecord> ents) {
  if (ents.empty()) return Status::ok();
  LogIndex start = ents.front().index;
  if (start < first_index() || start > last_.next()) {
    return Status::invalid_argument("append at " + std::to_string(start.value()) + " outside [" +
                                    std::to_string(first_index().value()) + ", " +
                                    std::to_string(last_.next().value()) + "]");
  }
  for (size_t i = 0; i < ents.size(); ++i) {
    if (ents[i].index.value() != start.value() + i) {
      return Status::invalid_argument("append: entries not contiguous");
    }
  }
  auto* cf = batch_.db().raft_log();
  staged();  // refresh the cache's generation before editing it
  for (const auto& e : ents) {
    std::string record = encode_log_record(shard_, e);
    batch_.put_unindexed(cf, log_key(e.index), record);
    staged_[e.index] = std::move(record);
  }
  LogIndex new_last = ents.back().index;
  if (new_last < last_) stage_delete_entries(new_last.next(), last_);
  last_ = new_last;
  ack_ = new_last;
  batch_.batch().Put(batch_.db().raft_state(), state_key('k'), encode_index(ack_));
  return Status::ok();
}

void RaftStorage::set_hard_state(const HardStateRecord& hs) {
  hard_state_ = hs;
  batch_.batch().Put(batch_.db().raft_state(), state_key('h'), encode_hard_state(hs));
}

void RaftStorage::set_applied(LogIndex applied) {
  applied_ = applied;
  batch_.batch().Put(batch_.db().raft_state(), state_key('a'), encode_index(applied));
}

void RaftStorage::apply_snapshot(const SnapshotRecord& meta) {
  if (last_ >= first_index()) stage_delete_entries(first_index(), last_);
  snapshot_ = meta;
  last_ = meta.index;
  ack_ = meta.index;
  auto* cf = batch_.db().raft_state();
  batch_.batch().Put(cf, state_key('s'), encode_snapshot_meta(meta));
  batch_.batch().Put(cf, state_key('k'), encode_index(ack_));
}

Status RaftStorage::compact(LogIndex upto, const ConfRecord& conf) {
  if (upto <= snapshot_.index) return Status::ok();
  if (upto > last_) return Status::invalid_argument("compact beyond the last index");
  auto t = term(upto);
  if (!t.is_ok()) return t.status();
  stage_delete_entries(first_index(), upto);
  snapshot_ = SnapshotRecord{upto, t.value(), conf};
  batch_.batch().Put(batch_.db().raft_state(), state_key('s'), encode_snapshot_meta(snapshot_));
  return Status::ok();
}

}  // namespace shoal::storage
