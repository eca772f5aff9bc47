// Deterministic randomness for the simulator: one seeded generator with
// child streams, so adding draws in one component does not shift another.
#pragma once

#include <cstdint>

namespace shoal::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) { return next() % n; }
  // Uniform in [lo, hi].
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return (next() >> 11) * 0x1.0p-53 < p; }
  Rng fork() { return Rng(next() ^ 0xD1B54A32D192ED03ull); }

 private:
  uint64_t s_;
};

// A 64-bit mixing hash for traces and state chains (not cryptographic).
inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h *= 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 33);
}
inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001B3ull;
  return h;
}

}  // namespace shoal::sim
