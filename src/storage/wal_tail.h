// Cutting pre-written zeros off RocksDB's WAL files before RocksDB replays
// them (docs/durable-shards.md "Pre-written WAL space").
//
// A WAL written with pre-written space (env::AppendOptions::prewrite_bytes)
// and not closed (a crash) ends in zeros. RocksDB's WAL reader skips a record
// header of zeros together with the rest of its 32 KiB block, silently, and
// reads on. That is right at the end of the data, but not after a power loss
// in the middle of a sync: overwrites need no file-size change, so nothing
// orders their pages on the disk, and a later page may have reached it when
// an earlier one did not. The earlier page still reads as zeros - a hole -
// and RocksDB would replay the batches after it without those in it.
//
// So before RocksDB opens the DB, each WAL is walked record by record in
// RocksDB's log format (32 KiB blocks; records with a 7-byte header: masked
// CRC32C, length, type) and, if the records end at a header of zeros, the
// file is cut there: whatever follows was never synced (the bytes at the cut
// were not durable, so no sync covering them, or anything written after
// them, completed). A file the walk cannot vouch for - a CRC mismatch, an
// unknown record type, a record past its block - is left as it is for
// RocksDB's own recovery (storage::RocksDb::open: strict first, then a cut at
// the last intact batch), exactly as without pre-written space.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "env/disk.h"

namespace shoal::storage {

// Where the records of the WAL at `path` end at a header of zeros (the
// offset of that header), or nullopt: they end at the end of the file, or at
// a record the walk cannot validate.
Result<std::optional<uint64_t>> wal_zero_header_offset(env::Disk& disk, const std::string& path);

struct WalTailCuts {
  int files = 0;       // WAL files cut
  uint64_t bytes = 0;  // bytes cut off them
};

// Cuts every WAL (*.log) in `db_dir` at its zero header, if it has one. A
// missing directory has nothing to cut.
Result<WalTailCuts> cut_wal_zero_tails(env::Disk& disk, const std::string& db_dir);

}  // namespace shoal::storage
