// Randomness, behind an interface so that a simulation run replays from its
// seed. A seeded xoshiro-style generator is the only implementation needed:
// production seeds it from the OS, tests and the simulator from a number.
#pragma once

#include <cstdint>

namespace shoal::env {

class Random {
 public:
  explicit Random(uint64_t seed);
  static Random from_os();  // seeded from /dev/urandom-quality entropy
  uint64_t next();
  // Uniform in [0, n); n > 0.
  uint64_t uniform(uint64_t n) { return next() % n; }

 private:
  uint64_t s_[4];
};

}  // namespace shoal::env
