#include "storage/wal_tail.h"

#include <vector>

#include "base/crc32c.h"

namespace shoal::storage {
namespace {

// RocksDB's log format (db/log_format.h): the file is a sequence of 32 KiB
// blocks; a record never spans a block, and a block's last 1-6 bytes, too
// few for a header, are zero padding. Header: masked CRC32C of the type byte
// and the payload (4 bytes, little-endian), payload length (2), type (1).
constexpr uint64_t kBlockSize = 32768;
constexpr uint64_t kHeaderSize = 7;
constexpr uint8_t kFullType = 1;
constexpr uint8_t kLastType = 4;  // kFull, kFirst, kMiddle, kLast: the types a WAL holds here

uint32_t unmask_crc(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

uint32_t little_endian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

}  // namespace

Result<std::optional<uint64_t>> wal_zero_header_offset(env::Disk& disk, const std::string& path) {
  auto opened = disk.open_read(path);
  if (!opened.is_ok()) return opened.status();
  const env::ReadableFile& file = *opened.value();
  std::vector<char> block(kBlockSize);
  for (uint64_t block_start = 0;; block_start += kBlockSize) {
    auto got = file.read_at(block_start, block);
    if (!got.is_ok()) return got.status();
    const uint64_t len = got.value();
    uint64_t pos = 0;
    while (len - pos >= kHeaderSize) {
      const char* h = block.data() + pos;
      if (std::string_view(h, kHeaderSize).find_first_not_of('\0') == std::string_view::npos) {
        return std::optional<uint64_t>(block_start + pos);
      }
      const uint64_t payload =
          uint64_t{static_cast<uint8_t>(h[4])} | uint64_t{static_cast<uint8_t>(h[5])} << 8;
      const auto type = static_cast<uint8_t>(h[6]);
      if (type < kFullType || type > kLastType) return std::optional<uint64_t>();
      if (pos + kHeaderSize + payload > len) return std::optional<uint64_t>();
      const uint32_t crc = crc32c(std::string_view(h + 6, 1 + payload));
      if (crc != unmask_crc(little_endian32(h))) return std::optional<uint64_t>();
      pos += kHeaderSize + payload;
    }
    if (len < kBlockSize) return std::optional<uint64_t>();  // end of file
  }
}

Result<WalTailCuts> cut_wal_zero_tails(env::Disk& disk, const std::string& db_dir) {
  WalTailCuts cuts;
  auto names = disk.list_dir(db_dir);
  if (!names.is_ok()) {
    if (names.status().code() == StatusCode::kNotFound) return cuts;
    return names.status();
  }
  for (const std::string& name : names.value()) {
    if (!name.ends_with(".log")) continue;
    const std::string path = db_dir + "/" + name;
    auto end = wal_zero_header_offset(disk, path);
    if (!end.is_ok()) return end.status();
    if (!end.value()) continue;
    auto size = disk.file_size(path);
    if (!size.is_ok()) return size.status();
    if (Status s = disk.truncate(path, *end.value()); !s.is_ok()) return s;
    cuts.files++;
    cuts.bytes += size.value() - *end.value();
  }
  return cuts;
}

}  // namespace shoal::storage
