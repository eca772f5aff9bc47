// ClusterNode as a standalone server (clustered=false): one node, one shard
// over every slot, RF 1 - "a single node is a cluster of one".
#include <gtest/gtest.h>

#include "node/cluster_sim.h"

namespace shoal::node {
namespace {

using testing::Call;
using testing::Sim;
using testing::SimOptions;

constexpr NodeId kSelf(1);
constexpr ShardId kShard(1);

SimOptions standalone() { return SimOptions{.standalone = true}; }

TEST(StandaloneNode, SingleNodeIsAClusterOfOne) {
  Sim sim(standalone());
  ASSERT_TRUE(sim.node(kSelf).replica(kShard)->is_leader());  // no election timeout
  std::vector<Call> calls;
  calls.push_back(sim.exec(kSelf, 1, {"SET", "k", "v"}));
  calls.push_back(sim.exec(kSelf, 1, {"GET", "k"}));  // sees the write before it
  calls.push_back(sim.exec(kSelf, 1, {"INCR", "n"}));
  calls.push_back(sim.exec(kSelf, 1, {"INCR", "n"}));
  calls.push_back(sim.exec(kSelf, 1, {"GET", "n"}));
  sim.run(10);
  std::vector<std::string> got;
  for (const auto& c : calls) got.push_back(c->str());
  EXPECT_EQ(got, (std::vector<std::string>{"+OK", "$v", ":1", ":2", "$2"}));
  EXPECT_FALSE(sim.deliver());  // no peers, no hints
  EXPECT_EQ(sim.node(kSelf).forwards_started(), 0u);
  EXPECT_EQ(sim.node(kSelf).replica(cluster::kMetaShard), nullptr);
}

TEST(StandaloneNode, MultiKeyCommandsNeedNoCommonSlot) {
  Sim sim(standalone());
  ASSERT_NE(key_slot("a"), key_slot("b"));
  EXPECT_EQ(sim.call(kSelf, {"MSET", "a", "1", "b", "2", "c", "3"}), "+OK");
  EXPECT_EQ(sim.call(kSelf, {"MGET", "c", "a", "x", "b"}), "*4 $3 $1 (nil) $2");
  EXPECT_EQ(sim.call(kSelf, {"RENAME", "a", "z"}), "+OK");
  EXPECT_EQ(sim.call(kSelf, {"EXISTS", "a", "b", "z"}), ":2");
  EXPECT_EQ(sim.call(kSelf, {"DBSIZE"}), ":3");
  EXPECT_EQ(sim.call(kSelf, {"KEYS", "*"}).substr(0, 2), "*3");
  EXPECT_EQ(sim.call(kSelf, {"SCAN", "0", "COUNT", "100"}).substr(0, 7), "*2 $0 *");
  EXPECT_EQ(sim.call(kSelf, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(key_slot("z").value())}),
            ":1");
  EXPECT_EQ(sim.call(kSelf, {"DEL", "b", "c", "z"}), ":3");
  EXPECT_EQ(sim.node(kSelf).dbsize(), 0u);
}

TEST(StandaloneNode, RestartReplaysTheDurableLog) {
  Sim sim(standalone());
  for (int i = 0; i < 20; ++i) sim.exec(kSelf, 1, {"SET", "k" + std::to_string(i), "v"});
  Call last = sim.exec(kSelf, 1, {"INCR", "n"});
  ASSERT_TRUE(sim.run_until([&] { return last->done; }));
  sim.stop(kSelf, /*crash=*/true);  // power loss: only synced batches survive
  sim.start(kSelf);
  EXPECT_EQ(sim.call(kSelf, {"DBSIZE"}), ":21");
  EXPECT_EQ(sim.call(kSelf, {"GET", "k19"}), "$v");
  EXPECT_EQ(sim.call(kSelf, {"INCR", "n"}), ":2");
}

TEST(StandaloneNode, ExpiryIsProposedByTheLeader) {
  Sim sim(standalone());
  EXPECT_EQ(sim.call(kSelf, {"SET", "t", "v", "PX", "50"}), "+OK");
  EXPECT_EQ(sim.node(kSelf).expires_count(), 1u);
  sim.clock().ms += 100;
  EXPECT_EQ(sim.node(kSelf).expire_cycle(10), 1u);
  sim.run(2);
  EXPECT_EQ(sim.node(kSelf).dbsize(), 0u);
  EXPECT_EQ(sim.node(kSelf).expires_count(), 0u);
}

TEST(StandaloneNode, TransferLeadershipsHasNoOneToHandOverTo) {
  Sim sim(standalone());
  EXPECT_EQ(sim.node(kSelf).transfer_leaderships(), 0u);
  sim.run(50);
  EXPECT_TRUE(sim.node(kSelf).replica(kShard)->is_leader());
}

TEST(StandaloneNode, AFailedLogWriteMakesTheNodeUnhealthy) {
  Sim sim(standalone());
  sim.allow_failures = true;
  sim.store(kSelf).fail_next_commit();
  Call write = sim.exec(kSelf, 1, {"SET", "k", "v"});
  sim.run(2);
  EXPECT_FALSE(sim.node(kSelf).healthy());
  ASSERT_TRUE(write->done);
  EXPECT_NE(write->status.code(), StatusCode::kOk);
  Call read = sim.exec(kSelf, 2, {"GET", "k"});
  sim.run(2);
  ASSERT_TRUE(read->done);
  EXPECT_EQ(read->status.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shoal::node
