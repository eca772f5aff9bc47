// KeyspaceService's outbox: completions gathered per connection during one
// raft-loop iteration and handed over once, from two reused vectors (one
// filling while the other is delivered). These tests drive a real service
// (RocksDB log in a temporary directory, its own raft loop) with recording
// sinks in place of connections.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "env/clock.h"
#include "kv/command.h"
#include "kv/test_sink.h"
#include "server/config.h"
#include "server/keyspace_service.h"

namespace shoal::server {
namespace {

KeyspaceRequest request(std::vector<std::string> args, uint64_t tag) {
  const kv::CommandSpec* spec = kv::CommandTable::instance().find(args.at(0));
  EXPECT_NE(spec, nullptr);
  return KeyspaceRequest{spec, std::move(args), tag};
}

// Records every delivery; `on_first_delivery` runs on the raft loop inside
// the first one (before its completions are recorded as delivered).
class RecordingSink : public CompletionSink {
 public:
  void deliver(std::vector<KeyspaceCompletion>& done) override {
    std::function<void()> hook;
    {
      std::lock_guard lock(mu_);
      std::vector<std::pair<uint64_t, std::string>> batch;
      for (auto& c : done) {
        kv::testing::TextSink text;
        if (c.status.is_ok()) c.reply.replay(text);
        batch.emplace_back(c.tag, c.status.is_ok() ? text.text : "!" + c.status.to_string());
      }
      deliveries_.push_back(std::move(batch));
      if (deliveries_.size() == 1) hook = std::move(on_first_delivery);
    }
    if (hook) hook();
    cv_.notify_all();
  }

  // Every (tag, reply) delivered so far, in order, once `count` arrived.
  std::vector<std::pair<uint64_t, std::string>> wait_for(size_t count) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return delivered_locked() >= count; });
    std::vector<std::pair<uint64_t, std::string>> all;
    for (const auto& batch : deliveries_) all.insert(all.end(), batch.begin(), batch.end());
    return all;
  }
  size_t deliveries() {
    std::lock_guard lock(mu_);
    return deliveries_.size();
  }

  std::function<void()> on_first_delivery;

 private:
  size_t delivered_locked() const {
    size_t n = 0;
    for (const auto& batch : deliveries_) n += batch.size();
    return n;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<std::pair<uint64_t, std::string>>> deliveries_;
};

class KeyspaceOutbox : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("shoal-outbox-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_.data_dir = dir_.string();
    config_.fsync = "no";
    config_.accept_data_loss = true;
    service_ = std::make_unique<KeyspaceService>(config_, clock_);
    ASSERT_TRUE(service_->start().is_ok());
  }
  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(dir_);
  }
  void submit(uint64_t client, const std::shared_ptr<RecordingSink>& sink,
              std::vector<KeyspaceRequest> requests) {
    service_->submit(client, sink, requests);
    EXPECT_TRUE(requests.empty());  // handed over
  }

  std::filesystem::path dir_;
  Config config_;
  env::SystemClock clock_;
  std::unique_ptr<KeyspaceService> service_;
};

TEST_F(KeyspaceOutbox, EachConnectionGetsItsOwnRepliesInOrder) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  std::vector<KeyspaceRequest> for_a, for_b;
  for (uint64_t i = 0; i < 20; ++i) {
    for_a.push_back(request({"SET", "a" + std::to_string(i), std::to_string(i)}, i));
    for_b.push_back(request({"INCR", "b"}, 100 + i));
  }
  submit(1, a, std::move(for_a));
  submit(2, b, std::move(for_b));
  auto got_a = a->wait_for(20);
  auto got_b = b->wait_for(20);
  ASSERT_EQ(got_a.size(), 20u);
  ASSERT_EQ(got_b.size(), 20u);
  for (uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(got_a[i], std::make_pair(i, std::string("+OK")));
    EXPECT_EQ(got_b[i], std::make_pair(100 + i, ":" + std::to_string(i + 1)));
  }
}

// A delivery on the raft loop may hand new commands over at once (a
// connection living there processes its buffered input), and some are
// answered at once (WAIT 0 0 on a single node): those replies, for the sink
// being delivered and for another one, come in a later delivery, in order.
TEST_F(KeyspaceOutbox, CommandsSubmittedDuringADeliveryAreAnsweredInOrderLater) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  a->on_first_delivery = [&] {
    std::vector<KeyspaceRequest> more_a;
    more_a.push_back(request({"WAIT", "0", "0"}, 2));
    more_a.push_back(request({"SET", "k", "second"}, 3));
    more_a.push_back(request({"GET", "k"}, 4));
    service_->submit(1, a, more_a);
    std::vector<KeyspaceRequest> more_b;
    more_b.push_back(request({"WAIT", "0", "0"}, 10));
    service_->submit(2, b, more_b);
  };
  std::vector<KeyspaceRequest> first;
  first.push_back(request({"SET", "k", "first"}, 1));
  submit(1, a, std::move(first));
  auto got_a = a->wait_for(4);
  auto got_b = b->wait_for(1);
  ASSERT_EQ(got_a.size(), 4u);
  EXPECT_EQ(got_a[0], std::make_pair(uint64_t{1}, std::string("+OK")));
  EXPECT_EQ(got_a[1], std::make_pair(uint64_t{2}, std::string(":0")));
  EXPECT_EQ(got_a[2], std::make_pair(uint64_t{3}, std::string("+OK")));
  EXPECT_EQ(got_a[3], std::make_pair(uint64_t{4}, std::string("$second")));
  EXPECT_GE(a->deliveries(), 2u);  // never inside the delivery that submitted them
  ASSERT_EQ(got_b.size(), 1u);
  EXPECT_EQ(got_b[0].first, 10u);
}

// Stopping releases every connection the service holds: here the node's
// callbacks of commands still in flight (fails if stop() keeps the node). The
// outbox is empty between iterations, so its own release in stop() is not
// what this reaches.
TEST_F(KeyspaceOutbox, StoppingReleasesTheConnectionsItHolds) {
  auto a = std::make_shared<RecordingSink>();
  std::weak_ptr<RecordingSink> weak = a;
  std::vector<KeyspaceRequest> many;
  for (uint64_t i = 0; i < 200; ++i) many.push_back(request({"INCR", "n"}, i));
  submit(1, a, std::move(many));
  a.reset();
  service_->stop();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace shoal::server
