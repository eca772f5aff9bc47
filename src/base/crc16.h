// CRC16 (XMODEM variant) and the Redis Cluster key -> slot rule.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/ids.h"

namespace shoal {

uint16_t crc16(std::string_view data);

// Slot of a key exactly as Redis Cluster computes it: CRC16 of the key, or of
// the first non-empty "{...}" hash tag, modulo 16384.
Slot key_slot(std::string_view key);

}  // namespace shoal
