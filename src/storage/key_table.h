// KeyTable: the memory engine's key -> item hash table.
//
// Open addressing with linear probing over 16-byte slots {hash, node}; each
// node holds its key inline. A lookup of a key that is not in the CPU's cache
// then costs about two cache misses (the slot, then the node with its key),
// where std::unordered_map<std::string, ...> costs about four (the bucket,
// the node before the bucket's first, the node, the key's heap bytes): the
// lookup was the largest single cost of a SET (docs/benchmarks.md,
// "Session 5").
//
// Nodes never move: an Item* and the key view returned by insert() stay
// valid until that key is erased or the table cleared (the engine's ordered
// index points into them). Erase shifts later slots back (no tombstones), so
// the probe sequences stay short under any mix of inserts and deletes. The
// load stays at most 70%.
//
// Thread-safety: none, except that concurrent find()s (and writes to an
// item's atomic access time) are safe while nothing inserts or erases.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shoal::storage {

class KeyTable {
 public:
  struct Item {
    std::string value;
    uint64_t order;
    std::atomic<int64_t> access_ms;
  };

  KeyTable();
  ~KeyTable();
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  Item* find(std::string_view key) const;
  // `key` must not be in the table. Returns the new item and a view of the
  // key's bytes inside the node (stable like the item).
  std::pair<Item*, std::string_view> insert(std::string_view key, std::string value, uint64_t order,
                                            int64_t access_ms);
  bool erase(std::string_view key);
  void clear();
  // Every item once, in slot order (which depends on the insertion history).
  void for_each(const std::function<void(std::string_view key, const Item& item)>& visit) const;
  size_t size() const { return size_; }

  // Prefetch hints for a lookup of a key whose hash_of() is `hash`: its home
  // slot, and the node that slot holds if it is that key's (the common case
  // at 70% load). No effect on contents.
  void prefetch_slot(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  void prefetch_node(uint64_t hash) const {
    const Slot& s = slots_[hash & mask_];
    if (s.hash == hash && s.node != nullptr) __builtin_prefetch(s.node);
  }
  // And the value's bytes, for writing: an overwrite frees them, and the
  // allocator hands that block to the next value it allocates (LIFO), so
  // the next write's new value lands in a warm line instead of a cold one.
  void prefetch_value(uint64_t hash) const;
  static uint64_t hash_of(std::string_view key);

 private:
  struct Node;
  struct Slot {
    uint64_t hash = 0;
    Node* node = nullptr;  // null: empty
  };
  // The slot holding `key`, or the empty slot where the probe for it ends.
  size_t probe(std::string_view key, uint64_t hash) const;
  void grow();
  static void destroy(Node* n);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace shoal::storage
