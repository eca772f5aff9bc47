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
// CRC32C, length, type) and, if the records end where RocksDB would see
// padding - a header of type 0 and length 0, whatever its CRC bytes, or a
// remnant of fewer than 7 zeros at the end of the file - the file is cut
// there: whatever follows was never synced (the bytes at the cut were not
// durable, so no sync covering them, or anything written after them,
// completed). A block whose walk stops early is read again until two reads
// agree (transient flips on read), at most 5 times. A file the walk cannot vouch for - a CRC
// mismatch, an unknown record type, a record past its block - is left as it is for RocksDB's own
// recovery (storage::RocksDb::open: strict first, then a cut at the last
// intact batch), exactly as without pre-written space.
//
// Across WALs: RocksFileSystem syncs a WAL before the first byte is written
// to the next one (rocksdb_fs_files.h, WalState), so at most one WAL holds
// bytes not yet synced, and cutting each file on its own leaves a prefix of
// them all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "env/disk.h"

namespace shoal::storage {

// Where to cut the WAL at `path`: at a header RocksDB takes for padding, at a
// remnant of zeros at its end, or at the start of a batch the file ends
// inside of. nullopt: its records end with the file, or the walk could not
// validate one (the file is then RocksDB's to recover).
Result<std::optional<uint64_t>> wal_cut_offset(env::Disk& disk, const std::string& path);

struct WalTailCuts {
  int files = 0;       // WAL files cut
  uint64_t bytes = 0;  // bytes cut off them
};

// Cuts every WAL (*.log) in `db_dir` at its zero header, if it has one. A
// missing directory has nothing to cut.
Result<WalTailCuts> cut_wal_zero_tails(env::Disk& disk, const std::string& db_dir);

}  // namespace shoal::storage
