#include "storage/rocks_engine.h"

#include <cstdio>
#include <cstdlib>

#include "base/crc16.h"
#include "storage/memory_engine.h"

namespace shoal::storage {
namespace {

constexpr int kHashBits = 48;
constexpr size_t kMaxTenant = 255;

// The Engine interface cannot report an error: stop rather than serve a wrong
// answer or silently lose a write (see the header).
[[noreturn]] void fail_stop(const Status& s) {
  std::fprintf(stderr, "shoal: fatal storage error in RocksEngine: %s\n", s.to_string().c_str());
  std::abort();
}

}  // namespace

std::string RocksEngine::range_prefix(ShardId shard, std::string_view tenant) {
  std::string p;
  put_big_endian64(p, shard.value());
  p.push_back(static_cast<char>(tenant.size()));
  p.append(tenant);
  return p;
}

RocksEngine::RocksEngine(WriteBatchBuilder& batch, std::string prefix)
    : batch_(batch), prefix_(std::move(prefix)), slot_counts_(kSlotCount, 0) {}

Result<std::unique_ptr<RocksEngine>> RocksEngine::open(WriteBatchBuilder& batch, ShardId shard,
                                                       std::string tenant) {
  if (tenant.size() > kMaxTenant) return Status::invalid_argument("tenant name too long");
  std::unique_ptr<RocksEngine> e(new RocksEngine(batch, range_prefix(shard, tenant)));
  Status s = e->count_keys();
  if (!s.is_ok()) return s;
  return e;
}

Status RocksEngine::count_keys() {
  auto it = seek(0);
  for (; in_range(*it); it->Next()) {
    if (it->key().size() < prefix_.size() + 8) return Status::corruption("data: short key");
    uint64_t slot = order_at(*it) >> kHashBits;
    if (slot >= kSlotCount) return Status::corruption("data: bad slot in key");
    ++slot_counts_[slot];
    ++total_;
  }
  return from_rocks(it->status(), "data: count keys");
}

std::string RocksEngine::data_key(Slot slot, std::string_view key) const {
  std::string k = prefix_;
  put_big_endian64(k, MemoryEngine::order_of(slot, key));
  k.append(key);
  return k;
}

std::unique_ptr<rocksdb::Iterator> RocksEngine::seek(uint64_t order) const {
  auto it = batch_.new_iterator(batch_.db().data());
  std::string k = prefix_;
  put_big_endian64(k, order);
  it->Seek(k);
  return it;
}

bool RocksEngine::in_range(const rocksdb::Iterator& it) const {
  if (it.Valid()) return it.key().starts_with(prefix_);
  if (!it.status().ok()) fail_stop(from_rocks(it.status(), "data: iterate"));
  return false;
}

uint64_t RocksEngine::order_at(const rocksdb::Iterator& it) const {
  return get_big_endian64(std::string_view(it.key().data() + prefix_.size(), 8));
}

std::string_view RocksEngine::user_key_at(const rocksdb::Iterator& it) const {
  return it.key().ToStringView().substr(prefix_.size() + 8);
}

std::optional<std::string_view> RocksEngine::read(std::string_view key) const {
  // A write command reads its key, then kv::Store and put() read it again
  // before writing: the last lookup is remembered until the next mutation.
  if (last_.valid && last_.key == key) {
    if (!last_.found) return std::nullopt;
    return std::string_view(reads_[last_.slot]);
  }
  auto v = batch_.get(batch_.db().data(), data_key(key_slot(key), key));
  if (!v.is_ok()) fail_stop(v.status());
  last_.valid = true;
  last_.key.assign(key);
  last_.found = v.value().has_value();
  if (!last_.found) return std::nullopt;
  last_.slot = next_read_;
  std::string& slot = reads_[next_read_];
  next_read_ = (next_read_ + 1) % kReadSlots;
  slot = std::move(*v.value());
  return std::string_view(slot);
}

void RocksEngine::note_access(std::string_view key, int64_t now_ms) {
  if (first_seen_ms_ == 0) first_seen_ms_ = now_ms;
  access_.note(key, now_ms);
}

std::optional<std::string_view> RocksEngine::get(std::string_view key) const { return read(key); }

std::optional<std::string_view> RocksEngine::get_and_touch(std::string_view key, int64_t now_ms) {
  auto v = read(key);
  if (v) note_access(key, now_ms);
  return v;
}

std::optional<int64_t> RocksEngine::access_time(std::string_view key) const {
  if (auto at = access_.find(key)) return at;
  // Unknown since the last restart: idle since the engine's first activity.
  if (read(key)) return first_seen_ms_;
  return std::nullopt;
}

void RocksEngine::put(Slot slot, std::string_view key, std::string value, int64_t now_ms) {
  SHOAL_ASSERT_MSG(slot == key_slot(key), "RocksEngine requires slot == key_slot(key)");
  if (!read(key)) {
    ++slot_counts_[slot.value()];
    ++total_;
  }
  last_.valid = false;
  batch_.batch().Put(batch_.db().data(), data_key(slot, key), value);
  note_access(key, now_ms);
}

bool RocksEngine::del(std::string_view key) {
  if (!read(key)) return false;
  last_.valid = false;
  Slot slot = key_slot(key);
  batch_.batch().Delete(batch_.db().data(), data_key(slot, key));
  --slot_counts_[slot.value()];
  --total_;
  access_.forget(key);
  return true;
}

void RocksEngine::clear() {
  std::vector<std::string> keys;
  for (auto it = seek(0); in_range(*it); it->Next()) keys.emplace_back(it->key().ToStringView());
  for (const auto& k : keys) batch_.batch().Delete(batch_.db().data(), k);
  last_.valid = false;
  std::fill(slot_counts_.begin(), slot_counts_.end(), 0);
  total_ = 0;
  access_.clear();
}

uint64_t RocksEngine::scan(uint64_t cursor, size_t count, const Visitor& visit) const {
  // As in MemoryEngine: the cursor is 1 + the order value to resume from, and
  // keys sharing an order value (a hash collision) are visited together.
  auto it = seek(cursor == 0 ? 0 : cursor - 1);
  size_t visited = 0;
  while (in_range(*it)) {
    uint64_t order = order_at(*it);
    if (visited >= count) return order + 1;
    for (; in_range(*it) && order_at(*it) == order; it->Next()) {
      visit(user_key_at(*it), it->value().ToStringView());
      ++visited;
    }
  }
  return 0;
}

void RocksEngine::scan_slot(Slot slot, size_t count, const Visitor& visit) const {
  size_t visited = 0;
  for (auto it = seek(uint64_t{slot.value()} << kHashBits);
       visited < count && in_range(*it) && (order_at(*it) >> kHashBits) == slot.value();
       it->Next(), ++visited) {
    visit(user_key_at(*it), it->value().ToStringView());
  }
}

std::optional<std::string> RocksEngine::random_key(uint64_t random_bits) const {
  if (total_ == 0) return std::nullopt;
  uint64_t max_order = uint64_t{kSlotCount} << kHashBits;
  auto it = seek(random_bits % max_order);
  if (!in_range(*it)) it = seek(0);
  if (!in_range(*it)) return std::nullopt;
  return std::string(user_key_at(*it));
}

}  // namespace shoal::storage
