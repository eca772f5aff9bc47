// Time, behind an interface so that the simulator can drive it (DESIGN.md
// section 3: the node core never reads the OS clock directly).
#pragma once

#include <cstdint>

namespace shoal::env {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds. May jump; used for expiry times.
  virtual int64_t now_ms() const = 0;
  // Monotonic nanoseconds since an arbitrary origin; never goes back. Used for
  // timeouts, leases and durations.
  virtual int64_t monotonic_ns() const = 0;
};

// The operating system's clocks.
class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
  int64_t monotonic_ns() const override;
  static SystemClock& instance();
};

}  // namespace shoal::env
