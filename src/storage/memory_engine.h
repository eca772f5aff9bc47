// In-memory engine: a hash table for point operations plus an ordered index
// (slot, 48-bit key hash, key) for deterministic, cursor-stable iteration.
#pragma once

#include <absl/container/btree_map.h>

#include <array>
#include <atomic>
#include <string>
#include <vector>

#include "storage/engine.h"
#include "storage/key_table.h"

namespace shoal::storage {

class MemoryEngine final : public Engine {
 public:
  MemoryEngine();

  std::optional<std::string_view> get(std::string_view key) const override;
  std::optional<std::string_view> get_and_touch(std::string_view key, int64_t now_ms) override;
  std::optional<int64_t> access_time(std::string_view key) const override;
  void put(Slot slot, std::string_view key, std::string value, int64_t now_ms) override;
  std::optional<std::string> exchange(Slot slot, std::string_view key, std::string value,
                                      int64_t now_ms) override;
  bool del(std::string_view key) override;
  void clear() override;
  size_t size() const override { return table_.size(); }
  size_t count_in_slot(Slot slot) const override { return slot_counts_[slot.value()]; }
  uint64_t scan(uint64_t cursor, size_t count, const Visitor& visit) const override;
  void scan_slot(Slot slot, size_t count, const Visitor& visit) const override;
  void for_each_unordered(const Visitor& visit) const override;
  void prefetch(std::span<const std::string_view> keys) const override;
  std::optional<std::string> random_key(uint64_t random_bits) const override;

  // Scan-order position of a key: slot in the top 16 bits, key hash below.
  static uint64_t order_of(Slot slot, std::string_view key);

 private:
  // Keys in the index point into the table's nodes, which never move; so do
  // the values, which spares scans a hash lookup per key (snapshots scan the
  // whole engine).
  using IndexEntry = std::pair<uint64_t, std::string_view>;

  KeyTable table_;
  absl::btree_map<IndexEntry, const std::string*> index_;
  std::vector<uint32_t> slot_counts_;
};

}  // namespace shoal::storage
