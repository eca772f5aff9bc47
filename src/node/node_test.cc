#include "node/node.h"

#include <gtest/gtest.h>

#include "kv/test_sink.h"

namespace shoal::node {
namespace {

class NullTransport final : public replica::Transport {
 public:
  void send(ShardId, raft::Message) override { ++sent; }
  int sent = 0;
};

class FakeClock final : public env::Clock {
 public:
  int64_t now_ms() const override { return ms; }
  int64_t monotonic_ns() const override { return ms * 1'000'000; }
  int64_t ms = 1'700'000'000'000;
};

std::string text(const kv::RecordedReply& r) {
  kv::testing::TextSink sink;
  r.replay(sink);
  return sink.text;
}

struct Fixture {
  replica::MemoryLogStore store;
  NullTransport transport;
  FakeClock clock;
  std::unique_ptr<Node> node;
  std::vector<std::string> replies;  // in completion order

  void open() {
    node = std::make_unique<Node>(NodeOptions{}, store, transport, clock);
    ASSERT_TRUE(node->open().is_ok());
  }
  void exec(uint64_t client, std::vector<std::string> args) {
    const auto* spec = kv::CommandTable::instance().find(args[0]);
    node->execute(client, *spec, std::move(args), [this](Status s, kv::RecordedReply r) {
      replies.push_back(s.is_ok() ? text(r) : "<" + s.message() + ">");
    });
  }
  void run(int n = 10) {
    for (int i = 0; i < n; ++i) {
      clock.ms += 10;
      node->tick();
      ASSERT_TRUE(node->run_once().is_ok());
    }
  }
};

TEST(Node, SingleNodeIsAClusterOfOne) {
  Fixture f;
  f.open();
  f.exec(1, {"SET", "k", "v"});
  f.exec(1, {"GET", "k"});  // must see the write before it (per-client order)
  f.exec(1, {"INCR", "n"});
  f.exec(1, {"INCR", "n"});
  f.exec(1, {"GET", "n"});
  f.run();
  EXPECT_EQ(f.replies, (std::vector<std::string>{"+OK", "$v", ":1", ":2", "$2"}));
  EXPECT_EQ(f.transport.sent, 0);  // no peers
}

TEST(Node, RestartReplaysTheDurableLog) {
  Fixture f;
  f.open();
  for (int i = 0; i < 20; ++i) f.exec(1, {"SET", "k" + std::to_string(i), "v"});
  f.run();
  ASSERT_EQ(f.replies.size(), 20u);
  f.node.reset();
  f.store.crash();  // power loss: only synced batches survive
  f.open();
  f.replies.clear();
  f.exec(2, {"DBSIZE"});
  f.exec(2, {"GET", "k19"});
  f.run();
  EXPECT_EQ(f.replies, (std::vector<std::string>{":20", "$v"}));
}

TEST(Node, ExpiryIsProposedByTheLeader) {
  Fixture f;
  f.open();
  f.exec(1, {"SET", "t", "v", "PX", "50"});
  f.run(2);
  f.clock.ms += 100;
  EXPECT_EQ(f.node->expire_cycle(10), 1u);
  f.run(2);
  EXPECT_EQ(f.node->dbsize(), 0u);
}

}  // namespace
}  // namespace shoal::node
