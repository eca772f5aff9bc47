// CRC32C (Castagnoli), used to checksum snapshot chunks, log records and peer
// frames. Software slicing-by-1 table; fast enough for our record sizes.
#pragma once

#include <cstdint>
#include <string_view>

namespace shoal {

// Extends `crc` (0 to start) over `data`.
uint32_t crc32c_extend(uint32_t crc, std::string_view data);
inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

}  // namespace shoal
