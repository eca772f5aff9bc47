// CRC32C (Castagnoli), used to checksum snapshot chunks, log records and peer
// frames, and (in shoal-server) RocksDB's own checksums (server/
// rocksdb_crc32c.cc). The crc32 instruction of SSE4.2 when the CPU has it
// (chosen at run time), else a table.
#pragma once

#include <cstdint>
#include <string_view>

namespace shoal {

// Extends `crc` (0 to start) over `data`.
uint32_t crc32c_extend(uint32_t crc, std::string_view data);
// The table path alone, what crc32c_extend() runs on a CPU without SSE4.2
// (tests compare it with RocksDB's own function).
uint32_t crc32c_extend_portable(uint32_t crc, std::string_view data);
inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

}  // namespace shoal
