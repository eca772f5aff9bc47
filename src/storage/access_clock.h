// AccessClock: approximate last-access times of keys, in bounded memory.
//
// RocksEngine keeps access times (OBJECT IDLETIME) in memory only: they are
// local bookkeeping, not replicated state. An exact map holds one entry per
// key touched since the engine opened, so a shard larger than memory - the
// reason to choose the RocksDB engine - would grow it without bound (H24).
//
// The table is a set of buckets of kWays (hash, time) entries, chosen by a
// 64-bit hash of the key. It starts at kMinSlots entries and doubles whenever
// a new key finds its bucket full, up to the capacity given at construction.
// Once there, a new key in a full bucket takes the entry with the oldest time
// - a sampled LRU, like Redis's eviction. So every time is exact until the
// table is full, and after that the keys touched most recently keep theirs;
// a key whose entry was taken reads as unknown (RocksEngine then reports it
// idle since the engine's first activity, as after a restart). Redis's own
// idle times are approximate too (a 24-bit clock of seconds).
//
// Two keys with the same 64-bit hash share a time: with xxh3, negligible.
// Thread-safety: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace shoal::storage {

class AccessClock {
 public:
  static constexpr size_t kWays = 8;
  static constexpr size_t kMinSlots = 1024;
  // 16 bytes a slot: 1 MiB per engine at the default.
  static constexpr size_t kDefaultMaxSlots = 64 * 1024;

  // `max_slots` is rounded down to a power of two, and to at least kMinSlots.
  explicit AccessClock(size_t max_slots = kDefaultMaxSlots);

  void note(std::string_view key, int64_t now_ms);
  // The time noted for `key`, unless its slot was taken since.
  std::optional<int64_t> find(std::string_view key) const;
  void forget(std::string_view key);
  void clear();

  size_t slots() const { return slots_.size(); }
  size_t max_slots() const { return max_slots_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Entry); }

 private:
  struct Entry {
    uint64_t hash = 0;  // 0: empty (a key hashing to 0 is stored as 1)
    int64_t ms = 0;
  };
  static uint64_t hash_of(std::string_view key);
  // The first entry of `hash`'s bucket.
  size_t bucket_of(uint64_t hash) const { return (hash & (slots_.size() / kWays - 1)) * kWays; }
  Entry* entry_of(uint64_t hash);
  void grow();

  size_t max_slots_;
  std::vector<Entry> slots_;
};

}  // namespace shoal::storage
