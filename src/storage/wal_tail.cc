#include "storage/wal_tail.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "base/crc32c.h"
#include "env/rocksdb_fs.h"

namespace shoal::storage {
namespace {

// RocksDB's log format (db/log_format.h): the file is a sequence of 32 KiB
// blocks; a record never spans a block, and a block's last 1-6 bytes, too
// few for a header, are zero padding. Header: masked CRC32C of the type byte
// and the payload (4 bytes, little-endian), payload length (2), type (1). A
// write batch too big for the rest of a block is split into kFirst, kMiddle..,
// kLast fragments; one that fits is a kFull record.
constexpr uint64_t kBlockSize = 32768;
constexpr uint64_t kHeaderSize = 7;
enum RecordType : uint8_t { kZero = 0, kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };

uint32_t unmask_crc(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

uint64_t little_endian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// The walk's state between records (and blocks).
struct Cursor {
  bool in_batch = false;     // inside a fragmented batch (after kFirst)
  uint64_t batch_start = 0;  // offset of the current batch's first record
  std::optional<uint64_t> cut;
};

enum class BlockEnd { kNext, kCut, kUnvalidated };

// Walks the records of one block (`len` bytes at file offset `start`).
BlockEnd walk_block(const char* block, uint64_t start, uint64_t len, bool last, Cursor& c) {
  uint64_t pos = 0;
  while (len - pos >= kHeaderSize) {
    const char* h = block + pos;
    const uint64_t payload = little_endian(h + 4, 2);
    const auto type = static_cast<uint8_t>(h[6]);
    // RocksDB's own rule: type 0 and length 0 is padding, whatever the CRC
    // bytes hold (a hole can begin inside a header).
    if (type == kZero && payload == 0) {
      c.cut = c.in_batch ? c.batch_start : start + pos;
      return BlockEnd::kCut;
    }
    if (type < kFull || type > kLast) return BlockEnd::kUnvalidated;
    if (pos + kHeaderSize + payload > len) return BlockEnd::kUnvalidated;
    if (crc32c(std::string_view(h + 6, 1 + payload)) != unmask_crc(little_endian(h, 4))) {
      return BlockEnd::kUnvalidated;
    }
    const bool begins = type == kFull || type == kFirst;
    if (begins == c.in_batch) return BlockEnd::kUnvalidated;  // fragments out of order
    if (begins) c.batch_start = start + pos;
    c.in_batch = type == kFirst || type == kMiddle;
    pos += kHeaderSize + payload;
  }
  if (!last) return BlockEnd::kNext;
  // The end of the file. Fewer than 7 bytes left: zeros are a remnant of
  // pre-written space (RocksDB would call them a truncated header).
  const bool remnant = pos < len;
  if (remnant &&
      std::string_view(block + pos, len - pos).find_first_not_of('\0') != std::string_view::npos) {
    return BlockEnd::kUnvalidated;
  }
  // A batch begun and not finished was never synced either.
  if (c.in_batch) {
    c.cut = c.batch_start;
  } else if (remnant) {
    c.cut = start + pos;
  }
  return BlockEnd::kCut;
}

}  // namespace

Result<std::optional<uint64_t>> wal_cut_offset(env::Disk& disk, const std::string& path) {
  auto opened = disk.open_read(path);
  if (!opened.is_ok()) return opened.status();
  const env::ReadableFile& file = *opened.value();
  std::vector<char> block(kBlockSize);
  Cursor c;
  for (uint64_t start = 0;; start += kBlockSize) {
    // A block whose walk ends in it - at a record it cannot validate, or at
    // a cut - is read again until two reads agree (at most kReads): one read
    // may carry a transient flip (a single flip turns an empty kFirst header
    // into type 0), and a cut must rest on what the disk holds. A block that
    // validates whole needs no second read: a flip would fail its CRC.
    constexpr int kReads = 5;
    const Cursor before = c;
    BlockEnd end = BlockEnd::kUnvalidated;
    std::vector<std::pair<BlockEnd, Cursor>> seen;
    for (int read = 0; read < kReads; ++read) {
      Cursor attempt = before;
      auto got = file.read_at(start, block);
      if (!got.is_ok()) return got.status();
      const BlockEnd e =
          walk_block(block.data(), start, got.value(), got.value() < kBlockSize, attempt);
      const bool agrees = std::any_of(seen.begin(), seen.end(), [&](const auto& prior) {
        return prior.first == e && prior.second.cut == attempt.cut;
      });
      if (e == BlockEnd::kNext || agrees) {
        end = e;
        c = attempt;
        break;
      }
      seen.emplace_back(e, attempt);
    }
    if (end == BlockEnd::kNext) continue;
    if (end == BlockEnd::kUnvalidated) return std::optional<uint64_t>();
    return c.cut;
  }
}

Result<WalTailCuts> cut_wal_zero_tails(env::Disk& disk, const std::string& db_dir) {
  WalTailCuts cuts;
  auto listed = disk.list_dir(db_dir);
  if (!listed.is_ok()) {
    if (listed.status().code() == StatusCode::kNotFound) return cuts;
    return listed.status();
  }
  for (const std::string& name : listed.value()) {
    if (!env::is_rocksdb_wal(name)) continue;
    const std::string path = db_dir + "/" + name;
    auto cut = wal_cut_offset(disk, path);
    if (!cut.is_ok()) return cut.status();
    if (!cut.value()) continue;
    auto size = disk.file_size(path);
    if (!size.is_ok()) return size.status();
    if (*cut.value() >= size.value()) continue;
    if (Status s = disk.truncate(path, *cut.value()); !s.is_ok()) return s;
    cuts.files++;
    cuts.bytes += size.value() - *cut.value();
  }
  return cuts;
}

}  // namespace shoal::storage
