#include "storage/access_clock.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>

#include "base/assert.h"

namespace shoal::storage {

AccessClock::AccessClock(size_t max_slots)
    : max_slots_(std::bit_floor(std::max(max_slots, kMinSlots))) {}

uint64_t AccessClock::hash_of(std::string_view key) {
  uint64_t h = XXH3_64bits(key.data(), key.size());
  return h == 0 ? 1 : h;
}

AccessClock::Entry* AccessClock::entry_of(uint64_t hash) {
  if (slots_.empty()) return nullptr;
  Entry* bucket = &slots_[bucket_of(hash)];
  for (size_t i = 0; i < kWays; ++i)
    if (bucket[i].hash == hash) return &bucket[i];
  return nullptr;
}

void AccessClock::note(std::string_view key, int64_t now_ms) {
  if (slots_.empty()) slots_.resize(std::min(kMinSlots, max_slots_));
  uint64_t h = hash_of(key);
  if (Entry* e = entry_of(h)) {
    e->ms = now_ms;
    return;
  }
  while (true) {
    Entry* bucket = &slots_[bucket_of(h)];
    Entry* oldest = bucket;
    for (size_t i = 0; i < kWays; ++i) {
      if (bucket[i].hash == 0) {
        bucket[i] = Entry{h, now_ms};
        return;
      }
      if (bucket[i].ms < oldest->ms) oldest = &bucket[i];
    }
    if (slots_.size() >= max_slots_) {
      *oldest = Entry{h, now_ms};
      return;
    }
    grow();
  }
}

std::optional<int64_t> AccessClock::find(std::string_view key) const {
  const Entry* e = const_cast<AccessClock*>(this)->entry_of(hash_of(key));
  if (!e) return std::nullopt;
  return e->ms;
}

void AccessClock::forget(std::string_view key) {
  if (Entry* e = entry_of(hash_of(key))) *e = Entry{};
}

void AccessClock::clear() { std::vector<Entry>().swap(slots_); }

// Doubling keeps every entry: an entry of bucket b moves to bucket b or
// b + (old bucket count), so a new bucket receives part of one old bucket
// and cannot overflow.
void AccessClock::grow() {
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(old.size() * 2, Entry{});
  for (const Entry& e : old) {
    if (e.hash == 0) continue;
    Entry* bucket = &slots_[bucket_of(e.hash)];
    size_t i = 0;
    while (i < kWays && bucket[i].hash != 0) ++i;
    SHOAL_ASSERT(i < kWays);
    bucket[i] = e;
  }
}

}  // namespace shoal::storage
