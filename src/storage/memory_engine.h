// In-memory engine: a hash table for point operations plus an ordered index
// (slot, 48-bit key hash, key) for deterministic, cursor-stable iteration.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/engine.h"

namespace shoal::storage {

class MemoryEngine final : public Engine {
 public:
  MemoryEngine();

  std::optional<std::string_view> get(std::string_view key) const override;
  std::optional<std::string_view> get_and_touch(std::string_view key, int64_t now_ms) override;
  std::optional<int64_t> access_time(std::string_view key) const override;
  void put(Slot slot, std::string_view key, std::string value, int64_t now_ms) override;
  bool del(std::string_view key) override;
  void clear() override;
  size_t size() const override { return map_.size(); }
  size_t count_in_slot(Slot slot) const override { return slot_counts_[slot.value()]; }
  uint64_t scan(uint64_t cursor, size_t count, const Visitor& visit) const override;
  void scan_slot(Slot slot, size_t count, const Visitor& visit) const override;
  std::optional<std::string> random_key(uint64_t random_bits) const override;

  // Scan-order position of a key: slot in the top 16 bits, key hash below.
  static uint64_t order_of(Slot slot, std::string_view key);

 private:
  struct Hash {
    using is_transparent = void;
    // Deliberately not noexcept: libstdc++ then stores each node's hash code
    // instead of re-hashing every key it walks past in a bucket chain (that
    // re-hashing was 12% of a GET-heavy profile).
    size_t operator()(std::string_view s) const;
  };
  struct Item {
    Item(std::string v, uint64_t o, int64_t a) : value(std::move(v)), order(o), access_ms(a) {}
    std::string value;
    uint64_t order;
    // Atomic: readers on several threads may touch the same key at once
    // (get_and_touch under a shared lock; see engine.h).
    std::atomic<int64_t> access_ms;
  };
  using Map = std::unordered_map<std::string, Item, Hash, std::equal_to<>>;
  // Keys in the index point into the map's nodes, which never move; so do the
  // mapped values, which spares scans a hash lookup per key (snapshots scan
  // the whole engine).
  using IndexEntry = std::pair<uint64_t, std::string_view>;

  Map map_;
  std::map<IndexEntry, const std::string*> index_;
  std::vector<uint32_t> slot_counts_;
};

}  // namespace shoal::storage
