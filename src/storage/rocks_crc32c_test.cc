// shoal-server replaces RocksDB's CRC32C with its own (src/server/
// rocksdb_crc32c.cc, symbol interposition). That is safe only if the two
// compute the same function: a WAL or table written by one must read back
// under the other (an upgrade, a downgrade, ldb). This binary does not carry
// the replacement, so `rocksdb::crc32c::Extend` here is the library's own.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "base/crc32c.h"

namespace rocksdb::crc32c {
uint32_t Extend(uint32_t crc, const char* buf, size_t size);  // util/crc32c.h
}  // namespace rocksdb::crc32c

namespace shoal {
namespace {

TEST(RocksCrc32c, SharedLibraryExtendEqualsOurs) {
  std::mt19937_64 rng(20261205);
  std::string data(70000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  // Every length up to a few cache lines (the unaligned heads and tails of
  // the 8-byte steps), then big ones; offsets shift the alignment; the
  // starting CRCs are RocksDB's chaining (a record's type byte, then its
  // payload) and arbitrary values.
  for (size_t len = 0; len <= 300; ++len) {
    for (size_t offset : {0, 1, 3, 7}) {
      uint32_t init = static_cast<uint32_t>(rng());
      const char* p = data.data() + offset;
      ASSERT_EQ(rocksdb::crc32c::Extend(0, p, len), crc32c_extend(0, std::string_view(p, len)))
          << "len " << len << " offset " << offset;
      ASSERT_EQ(rocksdb::crc32c::Extend(init, p, len),
                crc32c_extend(init, std::string_view(p, len)))
          << "len " << len << " offset " << offset << " init " << init;
      // The table path, which a CPU without SSE4.2 runs.
      ASSERT_EQ(rocksdb::crc32c::Extend(init, p, len),
                crc32c_extend_portable(init, std::string_view(p, len)))
          << "len " << len << " offset " << offset << " init " << init;
    }
  }
  for (size_t len : {4096, 32768, 65536, 69999}) {
    ASSERT_EQ(rocksdb::crc32c::Extend(0, data.data(), len),
              crc32c_extend(0, std::string_view(data.data(), len)));
  }
  // The standard check value of CRC32C ("123456789").
  EXPECT_EQ(rocksdb::crc32c::Extend(0, "123456789", 9), 0xE3069283u);
}

}  // namespace
}  // namespace shoal
