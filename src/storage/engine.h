// The data engine: where a shard's keys and values live.
//
// Keys are opaque byte strings (the kv layer decides their layout, e.g. a
// tenant prefix); each key belongs to one Redis slot, given by the caller,
// so that a slot range can be counted, iterated and (later) moved as a unit.
// Values are opaque byte strings (the kv layer's encoded records).
//
// Determinism: the same sequence of put/del calls leaves the same logical
// contents in every engine, and scan() visits keys in an order that depends
// only on the contents (slot, then a hash of the key, then the key). That is
// what lets every replica of a shard apply the same log to the same state.
//
// Thread-safety: mutations are serialized by the owner. Concurrent readers
// (get, get_and_touch, access_time, scan, ...) are allowed while no mutation
// runs: the owner guards the engine with a reader-writer lock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/ids.h"

namespace shoal::storage {

class Engine {
 public:
  virtual ~Engine() = default;

  // The value of `key`, or nullopt. The view is valid until the next mutation.
  virtual std::optional<std::string_view> get(std::string_view key) const = 0;
  // Like get(), and records `now_ms` as the key's last access time. Access
  // times are local bookkeeping (OBJECT IDLETIME, later LRU eviction), not
  // part of the replicated contents.
  virtual std::optional<std::string_view> get_and_touch(std::string_view key, int64_t now_ms) = 0;
  // Last access time of `key` (Unix ms), or nullopt.
  virtual std::optional<int64_t> access_time(std::string_view key) const = 0;
  // Inserts or replaces; `now_ms` becomes the key's access time.
  virtual void put(Slot slot, std::string_view key, std::string value, int64_t now_ms) = 0;
  // put(), returning the value it replaced (nullopt if the key was new). One
  // lookup where get() then put() costs two; an engine that must read the old
  // value anyway keeps this default.
  virtual std::optional<std::string> exchange(Slot slot, std::string_view key, std::string value,
                                              int64_t now_ms) {
    std::optional<std::string> old;
    if (auto bytes = get(key)) old.emplace(*bytes);
    put(slot, key, std::move(value), now_ms);
    return old;
  }
  // Returns true if the key existed.
  virtual bool del(std::string_view key) = 0;
  virtual void clear() = 0;

  virtual size_t size() const = 0;
  virtual size_t count_in_slot(Slot slot) const = 0;

  using Visitor = std::function<void(std::string_view key, std::string_view value)>;
  // Visits keys in scan order from `cursor` (0 = start) until at least `count`
  // keys were visited or the end is reached; returns the cursor to continue
  // with, 0 when done. Keys present for a whole iteration are visited at least
  // once, even if other keys are added or removed between calls (the Redis
  // SCAN guarantee).
  virtual uint64_t scan(uint64_t cursor, size_t count, const Visitor& visit) const = 0;
  // Visits every key once, in scan order (no mutation may run meanwhile).
  void for_each(const Visitor& visit) const {
    uint64_t cursor = 0;
    do {
      cursor = scan(cursor, 1024, visit);
    } while (cursor != 0);
  }
  // Visits every key once in an order of the engine's choosing, which two
  // engines with the same contents may not share (no mutation may run
  // meanwhile). For snapshots, whose bytes need no particular order: the
  // memory engine walks its hash table instead of its ordered index.
  virtual void for_each_unordered(const Visitor& visit) const { for_each(visit); }
  // A hint that `keys` are about to be looked up, in order: an engine may
  // start loading what those lookups will touch. No effect on contents.
  virtual void prefetch(std::span<const std::string_view> keys) const {}
  // Visits up to `count` keys of one slot, in scan order.
  virtual void scan_slot(Slot slot, size_t count, const Visitor& visit) const = 0;
  // A key chosen from `random_bits`, or nullopt when empty.
  virtual std::optional<std::string> random_key(uint64_t random_bits) const = 0;

  // True if the contents survive a restart (they are staged into the node's
  // write batch and committed with it): the replica then keeps its applied
  // index in the same batch and restarts from the stored state instead of
  // from the last snapshot plus the log. Such an engine also does not allow
  // reads concurrent with the owner's other writes to the batch, so it is
  // only read on the owner's thread.
  virtual bool durable() const { return false; }
};

}  // namespace shoal::storage
