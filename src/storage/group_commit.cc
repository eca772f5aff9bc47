#include "storage/group_commit.h"

#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>

namespace shoal::storage {
namespace {
constexpr int64_t kEverySecNs = 1'000'000'000;
}  // namespace

Status check_fsync_policy(FsyncPolicy policy, int replication_factor, bool accept_data_loss) {
  if (replication_factor < 1) return Status::invalid_argument("replication factor must be >= 1");
  if (policy != FsyncPolicy::kNo || replication_factor > 1 || accept_data_loss) {
    return Status::ok();
  }
  return Status::invalid_argument(
      "refusing to start: fsync=no with replication factor 1 means a crash or power loss can "
      "lose acknowledged writes, and there is no other replica to recover them from (H10). Use "
      "fsync=always or everysec, raise the replication factor, or pass "
      "--i-accept-data-loss-on-crash if this is really a disposable cache");
}

WriteBatchBuilder::WriteBatchBuilder(RocksDb& db, FsyncPolicy policy, const env::Clock& clock)
    : db_(db),
      policy_(policy),
      clock_(clock),
      batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true),
      last_sync_ns_(clock.monotonic_ns()) {}

Result<std::optional<std::string>> WriteBatchBuilder::get(rocksdb::ColumnFamilyHandle* cf,
                                                          std::string_view key) const {
  std::string value;
  rocksdb::ReadOptions ro;
  rocksdb::Status s = batch_.GetFromBatchAndDB(db_.db(), ro, cf, rocksdb::Slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocks(s, "get");
  return std::optional<std::string>(std::move(value));
}

std::unique_ptr<rocksdb::Iterator> WriteBatchBuilder::new_iterator(
    rocksdb::ColumnFamilyHandle* cf) const {
  rocksdb::Iterator* base = db_.db()->NewIterator(rocksdb::ReadOptions(), cf);
  return std::unique_ptr<rocksdb::Iterator>(batch_.NewIteratorWithBase(cf, base));
}

bool WriteBatchBuilder::sync_due(int64_t now_ns) const {
  switch (policy_) {
    case FsyncPolicy::kAlways:
      return true;
    case FsyncPolicy::kEverySec:
      return now_ns - last_sync_ns_ >= kEverySecNs;
    case FsyncPolicy::kNo:
      return false;
  }
  return true;
}

Status WriteBatchBuilder::commit(bool durability_needed) {
  if (!health_.is_ok()) return health_;
  last_synced_ = false;
  if (count() == 0) return Status::ok();
  // RocksDB counts into a thread-local perf context by default; nothing reads
  // it, and the TLS lookups were ~4% of a write-heavy profile.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  int64_t now = clock_.monotonic_ns();
  rocksdb::WriteOptions wo;
  wo.sync = durability_needed && sync_due(now);
  Status s = from_rocks(db_.db()->Write(wo, batch_.GetWriteBatch()), "group commit");
  if (!s.is_ok()) {
    health_ = s;
    return s;
  }
  batch_.Clear();
  ++generation_;
  last_synced_ = wo.sync;
  if (wo.sync) {
    last_sync_ns_ = now;
    unsynced_ = false;
  } else {
    unsynced_ = true;
  }
  return Status::ok();
}

Status WriteBatchBuilder::sync_if_due() {
  if (!health_.is_ok()) return health_;
  if (policy_ != FsyncPolicy::kEverySec || !unsynced_) return Status::ok();
  int64_t now = clock_.monotonic_ns();
  if (!sync_due(now)) return Status::ok();
  Status s = db_.sync_wal();
  if (!s.is_ok()) {
    health_ = s;
    return s;
  }
  last_sync_ns_ = now;
  unsynced_ = false;
  return Status::ok();
}

}  // namespace shoal::storage
