#include "storage/raft_storage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "storage/group_commit.h"
#include "storage/rocks_db.h"

namespace shoal::storage {
namespace {

class FakeClock final : public env::Clock {
 public:
  int64_t now_ms() const override { return ns_ / 1'000'000; }
  int64_t monotonic_ns() const override { return ns_; }
  void advance_ms(int64_t ms) { ns_ += ms * 1'000'000; }

 private:
  int64_t ns_ = 1'000'000'000;
};

LogRecord entry(uint64_t term, uint64_t index, std::string data = "") {
  if (data.empty()) data = "e" + std::to_string(index) + "t" + std::to_string(term);
  return LogRecord{Term(term), LogIndex(index), kLogRecordNormal, data};
}

std::vector<LogRecord> entries(uint64_t term, uint64_t from, uint64_t to) {
  std::vector<LogRecord> out;
  for (uint64_t i = from; i <= to; ++i) out.push_back(entry(term, i));
  return out;
}

class RaftStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("shoal_raft_storage_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    reopen_db(FsyncPolicy::kNo);
  }
  void TearDown() override {
    batch_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen_db(FsyncPolicy policy) {
    batch_.reset();
    db_.reset();
    auto db = RocksDb::open(RocksDbOptions{.path = dir_.string()});
    ASSERT_TRUE(db.is_ok()) << db.status().to_string();
    db_ = std::move(db).value();
    batch_ = std::make_unique<WriteBatchBuilder>(*db_, policy, clock_);
  }
  std::unique_ptr<RaftStorage> open(uint64_t shard) {
    auto rs = RaftStorage::open(*batch_, ShardId(shard));
    EXPECT_TRUE(rs.is_ok()) << rs.status().to_string();
    return rs.is_ok() ? std::move(rs).value() : nullptr;
  }
  void commit() { ASSERT_TRUE(batch_->commit().is_ok()); }
  std::string raw_log_key(uint64_t shard, uint64_t index) {
    std::string k;
    put_big_endian64(k, shard);
    put_big_endian64(k, index);
    return k;
  }
  // Flips one byte of a stored value behind RaftStorage's back.
  void corrupt(rocksdb::ColumnFamilyHandle* cf, const std::string& key, size_t at) {
    std::string v;
    ASSERT_TRUE(db_->db()->Get(rocksdb::ReadOptions(), cf, key, &v).ok());
    v[at % v.size()] ^= 0x20;
    ASSERT_TRUE(db_->db()->Put(rocksdb::WriteOptions(), cf, key, v).ok());
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<RocksDb> db_;
  std::unique_ptr<WriteBatchBuilder> batch_;
};

TEST_F(RaftStorageTest, AppendReadAndByteLimit) {
  auto rs = open(1);
  EXPECT_EQ(rs->first_index(), LogIndex(1));
  EXPECT_EQ(rs->last_index(), LogIndex(0));
  ASSERT_TRUE(rs->append(entries(1, 1, 10)).is_ok());
  // Staged writes are visible before the commit.
  EXPECT_EQ(rs->last_index(), LogIndex(10));
  EXPECT_EQ(rs->entries(LogIndex(3), LogIndex(5), 1 << 20).value().size(), 2u);
  commit();
  auto all = rs->entries(LogIndex(1), LogIndex(11), 1 << 20);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all.value().size(), 10u);
  EXPECT_EQ(all.value()[4].data, "e5t1");
  size_t one = log_record_bytes(all.value()[0]);
  EXPECT_EQ(rs->entries(LogIndex(1), LogIndex(11), 3 * one).value().size(), 3u);
  EXPECT_EQ(rs->entries(LogIndex(1), LogIndex(11), 0).value().size(), 1u);  // at least one
  EXPECT_EQ(rs->term(LogIndex(7)).value(), Term(1));
  EXPECT_FALSE(rs->entries(LogIndex(1), LogIndex(12), 1 << 20).is_ok());
  EXPECT_FALSE(rs->append(entries(1, 12, 12)).is_ok());  // a gap
}

TEST_F(RaftStorageTest, OverwriteDeletesTheTail) {
  auto rs = open(1);
  ASSERT_TRUE(rs->append(entries(1, 1, 10)).is_ok());
  commit();
  ASSERT_TRUE(rs->append(entries(2, 6, 7)).is_ok());
  commit();
  EXPECT_EQ(rs->last_index(), LogIndex(7));
  EXPECT_EQ(rs->term(LogIndex(6)).value(), Term(2));
  EXPECT_EQ(rs->term(LogIndex(5)).value(), Term(1));
  std::string v;
  EXPECT_TRUE(
      db_->db()->Get(rocksdb::ReadOptions(), db_->raft_log(), raw_log_key(1, 8), &v).IsNotFound());
  reopen_db(FsyncPolicy::kNo);
  rs = open(1);
  EXPECT_EQ(rs->last_index(), LogIndex(7));
  EXPECT_EQ(rs->persisted_ack(), LogIndex(7));
}

TEST_F(RaftStorageTest, CompactionAndSnapshot) {
  auto rs = open(1);
  ASSERT_TRUE(rs->append(entries(3, 1, 20)).is_ok());
  commit();
  ConfRecord conf;
  conf.voters = {NodeId(1), NodeId(2), NodeId(3)};
  ASSERT_TRUE(rs->compact(LogIndex(15), conf).is_ok());
  commit();
  EXPECT_EQ(rs->first_index(), LogIndex(16));
  EXPECT_EQ(rs->term(LogIndex(15)).value(), Term(3));
  EXPECT_EQ(rs->term(LogIndex(14)).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(rs->entries(LogIndex(10), LogIndex(17), 1 << 20).is_ok());
  EXPECT_EQ(rs->entries(LogIndex(16), LogIndex(21), 1 << 20).value().size(), 5u);
  EXPECT_FALSE(rs->compact(LogIndex(30), conf).is_ok());

  SnapshotRecord meta{LogIndex(100), Term(7), conf};
  rs->apply_snapshot(meta);
  commit();
  reopen_db(FsyncPolicy::kNo);
  rs = open(1);
  EXPECT_EQ(rs->first_index(), LogIndex(101));
  EXPECT_EQ(rs->last_index(), LogIndex(100));
  EXPECT_EQ(rs->snapshot_meta().conf, conf);
  EXPECT_EQ(rs->term(LogIndex(100)).value(), Term(7));
  ASSERT_TRUE(rs->append(entries(7, 101, 102)).is_ok());
}

TEST_F(RaftStorageTest, StateRoundtripsAcrossRestart) {
  auto rs = open(4);
  ASSERT_TRUE(rs->append(entries(2, 1, 5)).is_ok());
  rs->set_hard_state(HardStateRecord{Term(2), NodeId(3), LogIndex(4)});
  rs->set_applied(LogIndex(3));
  commit();
  auto before = rs->initial_state();
  ASSERT_TRUE(before.is_ok());
  rs.reset();
  reopen_db(FsyncPolicy::kAlways);
  rs = open(4);
  EXPECT_EQ(rs->hard_state(), (HardStateRecord{Term(2), NodeId(3), LogIndex(4)}));
  EXPECT_EQ(rs->applied(), LogIndex(3));
  auto after = rs->initial_state();
  ASSERT_TRUE(after.is_ok());
  ASSERT_EQ(after.value().entries.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(after.value().entries[i].data, before.value().entries[i].data);
    EXPECT_EQ(after.value().entries[i].term, before.value().entries[i].term);
  }
  // Another shard on the same node is untouched.
  EXPECT_EQ(open(5)->last_index(), LogIndex(0));
}

TEST_F(RaftStorageTest, GroupCommitOfManyShardsInOneWrite) {
  reopen_db(FsyncPolicy::kAlways);
  constexpr int kShards = 64;
  std::vector<std::unique_ptr<RaftStorage>> shards;
  for (int s = 1; s <= kShards; ++s) shards.push_back(open(s));
  for (int s = 0; s < kShards; ++s) {
    ASSERT_TRUE(shards[s]->append(entries(1, 1, 3)).is_ok());
    shards[s]->set_hard_state(HardStateRecord{Term(1), NodeId(1), LogIndex(2)});
    shards[s]->set_applied(LogIndex(2));
  }
  // entries + ack marker + hard state + applied, for every shard, in one batch.
  EXPECT_EQ(batch_->count(), size_t{kShards} * 6);
  uint64_t seq_before = db_->db()->GetLatestSequenceNumber();
  commit();
  EXPECT_TRUE(batch_->last_commit_synced());
  EXPECT_EQ(batch_->count(), 0u);
  EXPECT_EQ(db_->db()->GetLatestSequenceNumber() - seq_before, uint64_t{kShards} * 6);
  shards.clear();
  reopen_db(FsyncPolicy::kAlways);
  for (int s = 1; s <= kShards; ++s) {
    auto rs = open(s);
    EXPECT_EQ(rs->last_index(), LogIndex(3));
    EXPECT_EQ(rs->applied(), LogIndex(2));
  }
}

TEST_F(RaftStorageTest, FsyncPolicies) {
  auto write_one = [&](uint64_t i) {
    auto rs = open(1);
    ASSERT_TRUE(rs->append(entries(1, i, i)).is_ok());
    commit();
  };
  reopen_db(FsyncPolicy::kAlways);
  write_one(1);
  EXPECT_TRUE(batch_->last_commit_synced());

  reopen_db(FsyncPolicy::kEverySec);
  write_one(2);
  EXPECT_FALSE(batch_->last_commit_synced());  // < 1 s since the last sync
  clock_.advance_ms(1001);
  write_one(3);
  EXPECT_TRUE(batch_->last_commit_synced());  // first write after 1 s
  write_one(4);
  EXPECT_FALSE(batch_->last_commit_synced());
  clock_.advance_ms(1500);
  EXPECT_TRUE(batch_->sync_if_due().is_ok());  // a quiet tail gets synced
  write_one(5);
  EXPECT_FALSE(batch_->last_commit_synced());

  reopen_db(FsyncPolicy::kNo);
  clock_.advance_ms(5000);
  write_one(6);
  EXPECT_FALSE(batch_->last_commit_synced());
}

TEST(FsyncPolicyCheck, RefusesNoFsyncWithOneReplica) {
  Status s = check_fsync_policy(FsyncPolicy::kNo, 1, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--i-accept-data-loss-on-crash"), std::string::npos);
  EXPECT_TRUE(check_fsync_policy(FsyncPolicy::kNo, 1, true).is_ok());
  EXPECT_TRUE(check_fsync_policy(FsyncPolicy::kNo, 3, false).is_ok());
  EXPECT_TRUE(check_fsync_policy(FsyncPolicy::kAlways, 1, false).is_ok());
  EXPECT_TRUE(check_fsync_policy(FsyncPolicy::kEverySec, 1, false).is_ok());
  EXPECT_FALSE(check_fsync_policy(FsyncPolicy::kAlways, 0, false).is_ok());
}

TEST_F(RaftStorageTest, FlippedByteInAnAcknowledgedRecordIsCorruption) {
  auto rs = open(2);
  ASSERT_TRUE(rs->append(entries(1, 1, 8)).is_ok());
  commit();
  for (size_t at : {0u, 8u, 9u, 14u}) {  // term, type, crc, data
    std::string k = raw_log_key(2, 4);
    std::string orig;
    ASSERT_TRUE(db_->db()->Get(rocksdb::ReadOptions(), db_->raft_log(), k, &orig).ok());
    corrupt(db_->raft_log(), k, at);
    EXPECT_EQ(rs->term(LogIndex(4)).status().code(), StatusCode::kCorruption) << at;
    EXPECT_EQ(rs->entries(LogIndex(1), LogIndex(9), 1 << 20).status().code(),
              StatusCode::kCorruption);
    ASSERT_TRUE(db_->db()->Put(rocksdb::WriteOptions(), db_->raft_log(), k, orig).ok());
  }
  // The newest acknowledged record is checked at open: refuse to start.
  rs.reset();
  corrupt(db_->raft_log(), raw_log_key(2, 8), 11);
  auto reopened = RaftStorage::open(*batch_, ShardId(2));
  EXPECT_EQ(reopened.status().code(), StatusCode::kCorruption);
}

TEST_F(RaftStorageTest, TornTailPastTheAckIsDropped) {
  auto rs = open(3);
  ASSERT_TRUE(rs->append(entries(1, 1, 5)).is_ok());
  commit();
  rs.reset();
  // Records 6 and 7 were written but never acknowledged (no ack marker moved),
  // and record 6 is torn.
  for (uint64_t i : {6, 7}) {
    ASSERT_TRUE(db_->db()
                    ->Put(rocksdb::WriteOptions(), db_->raft_log(), raw_log_key(3, i),
                          encode_log_record(ShardId(3), entry(1, i)))
                    .ok());
  }
  corrupt(db_->raft_log(), raw_log_key(3, 6), 20);
  rs = open(3);
  ASSERT_NE(rs, nullptr);
  EXPECT_EQ(rs->last_index(), LogIndex(5));
  commit();
  std::string v;
  EXPECT_TRUE(
      db_->db()->Get(rocksdb::ReadOptions(), db_->raft_log(), raw_log_key(3, 7), &v).IsNotFound());
  // An intact unacknowledged tail is kept.
  ASSERT_TRUE(db_->db()
                  ->Put(rocksdb::WriteOptions(), db_->raft_log(), raw_log_key(3, 6),
                        encode_log_record(ShardId(3), entry(1, 6)))
                  .ok());
  EXPECT_EQ(open(3)->last_index(), LogIndex(6));
}

TEST_F(RaftStorageTest, CorruptHardStateRefusesToOpen) {
  auto rs = open(1);
  rs->set_hard_state(HardStateRecord{Term(9), NodeId(2), LogIndex(0)});
  commit();
  std::string k;
  put_big_endian64(k, 1);
  k.push_back('h');
  corrupt(db_->raft_state(), k, 3);
  EXPECT_EQ(RaftStorage::open(*batch_, ShardId(1)).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace shoal::storage
