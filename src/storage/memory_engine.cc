#include "storage/memory_engine.h"

#include <xxhash.h>

#include "base/assert.h"

namespace shoal::storage {
namespace {
constexpr int kHashBits = 48;
constexpr uint64_t kHashMask = (uint64_t{1} << kHashBits) - 1;
}  // namespace

uint64_t MemoryEngine::order_of(Slot slot, std::string_view key) {
  uint64_t h = XXH3_64bits_withSeed(key.data(), key.size(), 0x5348u) & kHashMask;
  return (uint64_t{slot.value()} << kHashBits) | h;
}

MemoryEngine::MemoryEngine() : slot_counts_(kSlotCount, 0) {}

std::optional<std::string_view> MemoryEngine::get(std::string_view key) const {
  const KeyTable::Item* item = table_.find(key);
  if (!item) return std::nullopt;
  return std::string_view(item->value);
}

std::optional<std::string_view> MemoryEngine::get_and_touch(std::string_view key, int64_t now_ms) {
  KeyTable::Item* item = table_.find(key);
  if (!item) return std::nullopt;
  item->access_ms.store(now_ms, std::memory_order_relaxed);
  return std::string_view(item->value);
}

std::optional<int64_t> MemoryEngine::access_time(std::string_view key) const {
  const KeyTable::Item* item = table_.find(key);
  if (!item) return std::nullopt;
  return item->access_ms.load(std::memory_order_relaxed);
}

void MemoryEngine::put(Slot slot, std::string_view key, std::string value, int64_t now_ms) {
  exchange(slot, key, std::move(value), now_ms);
}

std::optional<std::string> MemoryEngine::exchange(Slot slot, std::string_view key,
                                                  std::string value, int64_t now_ms) {
  if (KeyTable::Item* item = table_.find(key)) {
    SHOAL_ASSERT((item->order >> kHashBits) == slot.value());
    std::swap(item->value, value);
    item->access_ms.store(now_ms, std::memory_order_relaxed);
    return value;
  }
  uint64_t order = order_of(slot, key);
  auto [item, stored_key] = table_.insert(key, std::move(value), order, now_ms);
  index_.emplace(IndexEntry(order, stored_key), &item->value);
  ++slot_counts_[slot.value()];
  return std::nullopt;
}

bool MemoryEngine::del(std::string_view key) {
  const KeyTable::Item* item = table_.find(key);
  if (!item) return false;
  uint64_t order = item->order;
  index_.erase(IndexEntry(order, key));
  --slot_counts_[order >> kHashBits];
  table_.erase(key);
  return true;
}

void MemoryEngine::clear() {
  index_.clear();
  table_.clear();
  std::fill(slot_counts_.begin(), slot_counts_.end(), 0);
}

uint64_t MemoryEngine::scan(uint64_t cursor, size_t count, const Visitor& visit) const {
  // The cursor is 1 + the order value to resume from (0 means "start"). Keys
  // sharing one order value (a 48-bit hash collision within a slot) are always
  // visited together, so resuming at an order value never skips any of them.
  uint64_t from = cursor == 0 ? 0 : cursor - 1;
  auto it = index_.lower_bound(IndexEntry(from, std::string_view()));
  size_t visited = 0;
  while (it != index_.end()) {
    uint64_t order = it->first.first;
    if (visited >= count) return order + 1;
    for (; it != index_.end() && it->first.first == order; ++it) {
      visit(it->first.second, *it->second);
      ++visited;
    }
  }
  return 0;
}

void MemoryEngine::scan_slot(Slot slot, size_t count, const Visitor& visit) const {
  uint64_t start = uint64_t{slot.value()} << kHashBits;
  uint64_t end = uint64_t{slot.value() + 1u} << kHashBits;
  size_t visited = 0;
  for (auto it = index_.lower_bound(IndexEntry(start, std::string_view()));
       it != index_.end() && it->first.first < end && visited < count; ++it, ++visited) {
    visit(it->first.second, *it->second);
  }
}

// Three passes: every key's home slot, then (the slots arriving meanwhile)
// the node each slot points to, then the value's bytes (KeyTable::
// prefetch_value). A lookup is two dependent cache misses (the slot, then the
// node); applied one by one, a batch pays them in series.
void MemoryEngine::prefetch(std::span<const std::string_view> keys) const {
  constexpr size_t kMaxKeys = 64;
  uint64_t hashes[kMaxKeys];
  size_t n = std::min(keys.size(), kMaxKeys);
  for (size_t i = 0; i < n; ++i) {
    hashes[i] = KeyTable::hash_of(keys[i]);
    table_.prefetch_slot(hashes[i]);
  }
  for (size_t i = 0; i < n; ++i) table_.prefetch_node(hashes[i]);
  for (size_t i = 0; i < n; ++i) table_.prefetch_value(hashes[i]);
}

void MemoryEngine::for_each_unordered(const Visitor& visit) const {
  table_.for_each(
      [&](std::string_view key, const KeyTable::Item& item) { visit(key, item.value); });
}

std::optional<std::string> MemoryEngine::random_key(uint64_t random_bits) const {
  if (index_.empty()) return std::nullopt;
  // Bias toward keys after sparse regions is acceptable for RANDOMKEY.
  uint64_t max_order = uint64_t{kSlotCount} << kHashBits;
  auto it = index_.lower_bound(IndexEntry(random_bits % max_order, std::string_view()));
  if (it == index_.end()) it = index_.begin();
  return std::string(it->first.second);
}

}  // namespace shoal::storage
