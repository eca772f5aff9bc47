// RocksDB's CRC32C on the CPU's crc32 instruction.
//
// Debian's librocksdb 7.8.3 is built without SSE4.2, so it checksums every
// WAL record with a table-driven loop: 7.5% of the raft loop's time at SET
// -P 16 without persistence, the loop that limits that figure
// (docs/benchmarks.md, "Session 12"). Its log writer and its other callers
// reach `rocksdb::crc32c::Extend` through the PLT, so a definition with the
// same signature in the executable takes their place (ELF symbol
// interposition, as a malloc replacement does). It must compute exactly
// RocksDB's function: extend a finished CRC32C (Castagnoli) `crc` over
// `size` bytes, as `shoal::crc32c_extend` does.
// `RocksCrc32c.SharedLibraryExtendEqualsOurs` (storage_rocks_test, a binary
// without this file) checks that on random inputs against the library's own.
//
// Linked into shoal-server only. If a RocksDB release renames or inlines the
// function, this definition is simply not used.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/crc32c.h"

namespace rocksdb::crc32c {

// util/crc32c.h's declaration (not an installed header).
__attribute__((visibility("default"))) uint32_t Extend(uint32_t crc, const char* buf, size_t size);

uint32_t Extend(uint32_t crc, const char* buf, size_t size) {
  return shoal::crc32c_extend(crc, std::string_view(buf, size));
}

}  // namespace rocksdb::crc32c
