// The sending side of snapshot transfer: record sources, the budget, the
// throttle and the sender. The receiving side is in snapshot_receiver.cc.
#include "replica/snapshot_transfer.h"

#include <rocksdb/db.h>

#include <algorithm>
#include <limits>

#include "kv/state_machine.h"
#include "storage/rocks_db.h"

namespace shoal::replica {

Status VectorRecordSource::rewind() {
  pos_ = 0;
  return Status::ok();
}

Result<std::optional<RecordView>> VectorRecordSource::next() {
  if (pos_ == records_.size()) return std::optional<RecordView>();
  const auto& [k, v] = records_[pos_++];
  return std::optional<RecordView>(RecordView(k, v));
}

RocksRangeSource::RocksRangeSource(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                   std::string prefix)
    : db_(db), cf_(cf), prefix_(std::move(prefix)), snapshot_(db->GetSnapshot()) {}

RocksRangeSource::~RocksRangeSource() {
  it_.reset();  // an iterator must not outlive the snapshot it reads
  db_->ReleaseSnapshot(snapshot_);
}

Status RocksRangeSource::rewind() {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot_;
  ro.fill_cache = false;  // a bulk scan must not evict the hot set
  it_.reset(db_->NewIterator(ro, cf_));
  it_->Seek(prefix_);
  started_ = false;
  return storage::from_rocks(it_->status(), "snapshot scan");
}

Result<std::optional<RecordView>> RocksRangeSource::next() {
  if (!it_) {
    if (Status s = rewind(); !s.is_ok()) return s;
  }
  if (started_) it_->Next();  // the views handed out last time die here
  started_ = true;
  if (!it_->Valid()) {
    if (Status s = storage::from_rocks(it_->status(), "snapshot scan"); !s.is_ok()) return s;
    return std::optional<RecordView>();
  }
  std::string_view key = it_->key().ToStringView();
  if (!key.starts_with(prefix_)) return std::optional<RecordView>();
  return std::optional<RecordView>(
      RecordView(key.substr(prefix_.size()), it_->value().ToStringView()));
}

std::unique_ptr<RecordSource> state_machine_source(const kv::StateMachine& sm, size_t piece_bytes) {
  return blob_source(sm.snapshot_data(), piece_bytes);
}

std::unique_ptr<RecordSource> blob_source(std::string_view blob, size_t piece_bytes) {
  SHOAL_ASSERT(piece_bytes > 0);
  SnapshotRecords records;
  for (size_t pos = 0, n = 0; pos < blob.size(); pos += piece_bytes, ++n) {
    std::string key;
    storage::put_big_endian64(key, n);
    records.emplace_back(std::move(key), std::string(blob.substr(pos, piece_bytes)));
  }
  return std::make_unique<VectorRecordSource>(std::move(records));
}

Result<std::string> join_blob(const SnapshotRecords& records) {
  std::string blob;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& [k, v] = records[i];
    if (k.size() != 8 || storage::get_big_endian64(k) != i) {
      return Status::corruption("state machine snapshot: piece " + std::to_string(i) +
                                " missing or out of order");
    }
    blob += v;
  }
  return blob;
}

Status restore_state_machine(kv::StateMachine& sm, const SnapshotRecords& records) {
  auto blob = join_blob(records);
  if (!blob.is_ok()) return blob.status();
  return sm.restore(blob.value());
}

SnapshotBudget::SnapshotBudget(size_t max_concurrent) : max_(max_concurrent) {}

Result<SnapshotBudget::Ticket> SnapshotBudget::acquire() {
  std::lock_guard lock(mu_);
  if (in_use_ >= max_) {
    return Status::busy("snapshot transfers: " + std::to_string(max_) + " already running");
  }
  ++in_use_;
  return Ticket(this);
}

size_t SnapshotBudget::in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

SnapshotBudget::Ticket& SnapshotBudget::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = std::exchange(other.budget_, nullptr);
  }
  return *this;
}

void SnapshotBudget::Ticket::release() {
  if (budget_ == nullptr) return;
  std::lock_guard lock(budget_->mu_);
  SHOAL_ASSERT(budget_->in_use_ > 0);
  --budget_->in_use_;
  budget_ = nullptr;
}

namespace {

// Nanoseconds to send `bytes` at `rate` bytes/s, rounded up (never faster).
int64_t ns_for(uint64_t bytes, uint64_t rate) {
  unsigned __int128 ns = (static_cast<unsigned __int128>(bytes) * 1'000'000'000u + rate - 1) / rate;
  return static_cast<int64_t>(
      std::min<unsigned __int128>(ns, std::numeric_limits<int64_t>::max() / 4));
}

}  // namespace

TokenBucket::TokenBucket(uint64_t bytes_per_sec, uint64_t burst_bytes, int64_t now_ns)
    : rate_(bytes_per_sec), burst_ns_(ns_for(burst_bytes, bytes_per_sec)), tat_ns_(now_ns) {
  SHOAL_ASSERT(bytes_per_sec > 0);
}

void TokenBucket::consume(uint64_t bytes, int64_t now_ns) {
  tat_ns_ = std::max(tat_ns_, now_ns) + ns_for(bytes, rate_);
}

}  // namespace shoal::replica
