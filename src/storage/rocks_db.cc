#include "storage/rocks_db.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <vector>

#include "base/assert.h"
#include "env/posix_disk.h"
#include "env/rocksdb_fs.h"
#include "storage/wal_tail.h"

namespace shoal::storage {
namespace {

bool lz4_supported() {
  auto supported = rocksdb::GetSupportedCompressions();
  return std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
}

rocksdb::ColumnFamilyOptions cf_options(const RocksDbOptions& o,
                                        const std::shared_ptr<rocksdb::Cache>& cache,
                                        bool compress) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = o.write_buffer_bytes;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (compress) {
    // Data: a write looks its key up first, and most keys written are new:
    // Bloom filters (in the SST files and in the memtable) answer "absent"
    // without searching.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.05;
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Log records are mostly written once and read soon after; compressing them
  // costs CPU on the hot path for little space, so only data is compressed.
  cf.compression = compress && lz4_supported() ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  // Keys start with the shard id (8 bytes, big-endian), and a shard's log
  // keys arrive in ascending order: a per-shard insert hint turns each
  // memtable insert into an append instead of a skiplist search.
  cf.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
  return cf;
}

// The Raft log is compacted with range tombstones (one per compaction rather
// than one per entry), and RocksDB's memtable insert hints share one hint
// per prefix between the point and the range-tombstone skip lists, which
// trips its assertions: no hints here.
rocksdb::ColumnFamilyOptions log_cf_options(const RocksDbOptions& o,
                                            const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf = cf_options(o, cache, /*compress=*/false);
  cf.memtable_insert_with_hint_prefix_extractor.reset();
  return cf;
}

}  // namespace

Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::corruption(std::move(msg));
  if (s.IsNotFound()) return Status::not_found(std::move(msg));
  if (s.IsBusy() || s.IsTryAgain()) return Status::busy(std::move(msg));
  if (s.IsInvalidArgument()) return Status::invalid_argument(std::move(msg));
  return Status::io_error(std::move(msg));
}

void put_big_endian64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  out.append(b, 8);
}

void put_big_endian16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint64_t get_big_endian64(std::string_view in) {
  SHOAL_ASSERT(in.size() >= 8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

Result<std::unique_ptr<RocksDb>> RocksDb::open(const RocksDbOptions& o) {
  if (o.path.empty()) return Status::invalid_argument("RocksDb: empty path");
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  std::unique_ptr<rocksdb::Env> owned_env;
  if (o.env == nullptr && o.wal_prewrite_bytes > 0) {
    owned_env = env::new_default_env_with_prewritten_wal(o.wal_prewrite_bytes);
  }
  db_opts.env = o.env != nullptr ? o.env : owned_env ? owned_env.get() : rocksdb::Env::Default();
  db_opts.max_background_jobs = o.background_jobs;
  db_opts.manual_wal_flush = o.manual_wal_flush;
  auto cache = rocksdb::NewLRUCache(o.block_cache_bytes);

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"data", cf_options(o, cache, /*compress=*/true)},
      {"raft_log", log_cf_options(o, cache)},
      {"raft_state", cf_options(o, cache, /*compress=*/false)},
  };
  // Pre-written WAL space leaves zeros at the end of a WAL that was not
  // closed, and after a power loss possibly a hole: cut them off first
  // (wal_tail.h). Always, not only with wal_prewrite_bytes: the last run may
  // have had it on.
  // Which disk: the real one under RocksDB's own file system, the env's
  // under a RocksFileSystem; under any other env (unknown files) no walk.
  env::Disk* disk = nullptr;
  if (o.env == nullptr) {
    disk = &env::PosixDisk::instance();
  } else if (auto* fs = dynamic_cast<env::RocksFileSystem*>(o.env->GetFileSystem().get())) {
    disk = fs->disk();
  }
  // The cut runs before RocksDB takes its LOCK: a lock of our own first, so
  // that a second process started on a live directory cannot cut the WAL a
  // running one is writing.
  std::unique_ptr<env::FileLock> cut_lock;
  Result<WalTailCuts> cut = WalTailCuts{};
  if (disk != nullptr) {
    // RocksDB would create it and RocksFileSystem sync its parent; here, as
    // the one creating it, so does this (H16).
    if (Status s = disk->create_dir(o.path); !s.is_ok()) return s;
    const std::string parent = env::parent_dir(o.path);
    if (Status s = disk->sync_dir(parent.empty() ? "." : parent); !s.is_ok()) return s;
    auto locked = disk->lock(o.path + "/SHOAL_LOCK");
    if (!locked.is_ok()) return locked.status();
    cut_lock = std::move(locked).value();
    cut = cut_wal_zero_tails(*disk, o.path);
    if (!cut.is_ok()) return cut.status();
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  // WAL recovery. A torn tail after a power loss must be cut at the last
  // intact batch (point-in-time recovery: batches are atomic, so the result is
  // a prefix of the committed batches). But point-in-time recovery also cuts
  // at a record that merely *read* corrupt once (a transient bit flip), and
  // its recovery flush then makes that loss of acknowledged entries permanent.
  // So first insist on a clean WAL a few times - a transient read error goes
  // away on a retry, a torn tail does not - and only then cut the tail.
  constexpr int kStrictAttempts = 5;
  rocksdb::Status rs;
  for (int attempt = 0; attempt <= kStrictAttempts; ++attempt) {
    bool strict = attempt < kStrictAttempts;
    db_opts.wal_recovery_mode = strict ? rocksdb::WALRecoveryMode::kAbsoluteConsistency
                                       : rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    handles.clear();
    rs = rocksdb::DB::Open(db_opts, o.path, cfs, &handles, &raw);
    if (rs.ok() || !rs.IsCorruption()) break;
    if (!strict) break;
  }
  Status s = from_rocks(rs, "open " + o.path);
  if (!s.is_ok()) return s;
  std::unique_ptr<RocksDb> out(new RocksDb());
  out->owned_env_ = std::move(owned_env);
  out->wal_tail_cuts_ = cut.value();
  out->cut_lock_ = std::move(cut_lock);
  out->db_.reset(raw);
  out->manual_wal_flush_ = o.manual_wal_flush;
  SHOAL_ASSERT(handles.size() == 4);
  // The default family is unused; its handle may be deleted right away.
  Status d = from_rocks(raw->DestroyColumnFamilyHandle(handles[0]), "close default cf");
  if (!d.is_ok()) return d;
  out->data_ = handles[1];
  out->raft_log_ = handles[2];
  out->raft_state_ = handles[3];
  return out;
}

Status RocksDb::sync_wal() {
  // FlushWAL(true) = write the buffer (under RocksDB's log mutex), then
  // SyncWAL. SyncWAL alone syncs only what reached the file.
  if (manual_wal_flush_) return from_rocks(db_->FlushWAL(/*sync=*/true), "flush and sync wal");
  return from_rocks(db_->SyncWAL(), "sync wal");
}

RocksDb::~RocksDb() {
  if (!db_) return;
  // What is still buffered goes to the file, as it would have without
  // manual_wal_flush (unsynced: nothing acknowledged depends on it).
  if (manual_wal_flush_) (void)db_->FlushWAL(/*sync=*/false);
  for (auto* h : {data_, raft_log_, raft_state_}) {
    if (h != nullptr) (void)db_->DestroyColumnFamilyHandle(h);
  }
  // Don't make shutdown wait for compactions that are only scheduled; a
  // running job is finished (wait=true) so nothing is left half-written.
  rocksdb::CancelAllBackgroundWork(db_.get(), /*wait=*/true);
  (void)db_->Close();
}

}  // namespace shoal::storage
