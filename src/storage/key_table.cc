#include "storage/key_table.h"

#include <xxhash.h>

#include <cstring>
#include <new>

#include "base/assert.h"

namespace shoal::storage {

// The key's bytes follow the node in the same allocation.
struct KeyTable::Node {
  Item item;
  uint32_t key_size;

  char* key_data() { return reinterpret_cast<char*>(this + 1); }
  std::string_view key() { return {key_data(), key_size}; }
};

namespace {
constexpr size_t kInitialSlots = 16;
}  // namespace

KeyTable::KeyTable() : slots_(kInitialSlots), mask_(kInitialSlots - 1) {}

KeyTable::~KeyTable() { clear(); }

void KeyTable::prefetch_value(uint64_t hash) const {
  const Slot& s = slots_[hash & mask_];
  if (s.hash == hash && s.node != nullptr) __builtin_prefetch(s.node->item.value.data(), 1);
}

uint64_t KeyTable::hash_of(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

size_t KeyTable::probe(std::string_view key, uint64_t hash) const {
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.node == nullptr) return i;
    if (s.hash == hash && s.node->key() == key) return i;
  }
}

KeyTable::Item* KeyTable::find(std::string_view key) const {
  const Slot& s = slots_[probe(key, hash_of(key))];
  return s.node ? &s.node->item : nullptr;
}

std::pair<KeyTable::Item*, std::string_view> KeyTable::insert(std::string_view key,
                                                              std::string value, uint64_t order,
                                                              int64_t access_ms) {
  SHOAL_ASSERT_MSG(key.size() <= UINT32_MAX, "key too long");
  if ((size_ + 1) * 10 > slots_.size() * 7) grow();
  uint64_t hash = hash_of(key);
  size_t i = probe(key, hash);
  SHOAL_ASSERT_MSG(slots_[i].node == nullptr, "KeyTable::insert of a present key");
  void* mem = ::operator new(sizeof(Node) + key.size());
  Node* n =
      new (mem) Node{Item{std::move(value), order, {access_ms}}, static_cast<uint32_t>(key.size())};
  std::memcpy(n->key_data(), key.data(), key.size());
  slots_[i] = Slot{hash, n};
  ++size_;
  return {&n->item, n->key()};
}

bool KeyTable::erase(std::string_view key) {
  size_t i = probe(key, hash_of(key));
  if (slots_[i].node == nullptr) return false;
  destroy(slots_[i].node);
  --size_;
  // Backward shift: move each later entry of the run into the hole unless its
  // home slot lies cyclically in (hole, its slot] - there it must stay, or
  // probes for it would stop at the hole.
  size_t hole = i;
  for (size_t j = (i + 1) & mask_; slots_[j].node != nullptr; j = (j + 1) & mask_) {
    size_t home = slots_[j].hash & mask_;
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = Slot{};
  return true;
}

void KeyTable::clear() {
  for (Slot& s : slots_) {
    if (s.node) destroy(s.node);
    s = Slot{};
  }
  size_ = 0;
}

void KeyTable::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.node == nullptr) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].node != nullptr) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void KeyTable::destroy(Node* n) {
  n->~Node();
  ::operator delete(n);
}

void KeyTable::for_each(
    const std::function<void(std::string_view key, const Item& item)>& visit) const {
  for (const Slot& slot : slots_) {
    if (slot.node != nullptr) visit(slot.node->key(), slot.node->item);
  }
}

}  // namespace shoal::storage
