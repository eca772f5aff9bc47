// PeerNetwork over real sockets on 127.0.0.1, several networks on one
// io_context. Every wait polls a condition under a generous deadline, so a
// slow machine makes a test slower, not flaky, and a bug fails it in bounded
// time.
#include "transport/peer_network.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transport/wire_codec.h"

namespace shoal::transport {
namespace {

using namespace std::chrono_literals;

constexpr auto kDeadline = 20s;

// Runs `io` until `done()` holds or `timeout` passes; returns done().
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = kDeadline) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_for(5ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

// Runs `io` for `d` regardless (to show that something does NOT happen).
void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  run_until(
      io, [] { return false; }, d);
}

// One node: a PeerNetwork and what it received.
struct Node {
  Node(asio::io_context& io, uint64_t id, uint64_t cluster = 1, uint16_t port = 0,
       std::function<void(PeerNetworkOptions&)> tweak = nullptr) {
    PeerNetworkOptions o;
    o.self = NodeId(id);
    o.cluster_id = cluster;
    o.port = port;
    o.backoff_min = 10ms;
    o.backoff_max = 200ms;
    o.connect_timeout = 2000ms;
    if (tweak) tweak(o);
    net = std::make_unique<PeerNetwork>(io, o, [this](PeerBatch b) {
      if (on_batch) on_batch(b);
      received.push_back(std::move(b));
    });
  }
  void listen() { ASSERT_TRUE(net->listen().is_ok()); }
  PeerAddress address(uint64_t id) const {
    return PeerAddress{.id = NodeId(id), .host = "127.0.0.1", .port = net->listen_port()};
  }
  size_t raft_received() const {
    size_t n = 0;
    for (const PeerBatch& b : received) n += b.raft.size();
    return n;
  }

  std::unique_ptr<PeerNetwork> net;
  std::vector<PeerBatch> received;
  std::function<void(const PeerBatch&)> on_batch;
};

RaftEnvelope envelope(uint64_t shard, uint64_t seq, size_t data_bytes = 0) {
  RaftEnvelope e;
  e.shard = ShardId(shard);
  e.epoch = ShardEpoch{.conf_ver = 1, .version = 2};
  e.msg.type = raft::MessageType::kHeartbeat;
  e.msg.seq = seq;
  if (data_bytes > 0) {
    e.msg.type = raft::MessageType::kApp;
    e.msg.entries.push_back(raft::Entry{Term(1), LogIndex(seq), raft::EntryType::kNormal,
                                        std::string(data_bytes, 'd')});
  }
  return e;
}

void connect_all(std::vector<Node*> nodes, const std::vector<uint64_t>& ids) {
  std::vector<PeerAddress> peers;
  for (size_t i = 0; i < nodes.size(); ++i) peers.push_back(nodes[i]->address(ids[i]));
  for (Node* n : nodes) n->net->set_peers(peers);  // self is skipped
}

TEST(PeerNetwork, DeliversBatchesWithSender) {
  asio::io_context io;
  Node a(io, 1), b(io, 2), c(io, 3);
  a.listen();
  b.listen();
  c.listen();
  connect_all({&a, &b, &c}, {1, 2, 3});

  a.net->outgoing(NodeId(2)).raft.push_back(envelope(7, 1));
  a.net->outgoing(NodeId(2)).requests.push_back(
      ForwardRequest{.id = 5, .shard = ShardId(7), .args = {"GET", "k"}});
  c.net->outgoing(NodeId(2)).hints.push_back(LeaderHint{ShardId(7), Term(3), NodeId(3)});
  b.net->outgoing(NodeId(1)).responses.push_back(
      ForwardResponse{.id = 5, .code = ForwardCode::kNotLeader, .leader_hint = NodeId(3)});
  a.net->flush();
  b.net->flush();
  c.net->flush();

  ASSERT_TRUE(run_until(io, [&] { return b.received.size() == 2 && a.received.size() == 1; }));
  for (const PeerBatch& got : b.received) {
    if (got.from == NodeId(1)) {
      ASSERT_EQ(got.raft.size(), 1u);
      EXPECT_EQ(got.raft[0].msg.seq, 1u);
      EXPECT_EQ(got.raft[0].shard, ShardId(7));
      ASSERT_EQ(got.requests.size(), 1u);
      EXPECT_EQ(got.requests[0].args, (std::vector<std::string>{"GET", "k"}));
    } else {
      EXPECT_EQ(got.from, NodeId(3));
      ASSERT_EQ(got.hints.size(), 1u);
      EXPECT_EQ(got.hints[0].leader, NodeId(3));
    }
  }
  EXPECT_EQ(a.received[0].from, NodeId(2));
  ASSERT_EQ(a.received[0].responses.size(), 1u);
  EXPECT_EQ(a.received[0].responses[0].code, ForwardCode::kNotLeader);
  EXPECT_TRUE(a.net->connected(NodeId(2)));
  EXPECT_FALSE(a.net->connected(NodeId(3)));  // never sent to: not dialled
  EXPECT_EQ(a.net->stats().connects, 1u);
  EXPECT_EQ(b.net->stats().frames_received, 2u);
  EXPECT_EQ(b.net->stats().bad_frames, 0u);
}

TEST(PeerNetwork, OneFramePerPeerPerFlush) {
  asio::io_context io;
  Node a(io, 1), b(io, 2);
  b.listen();
  a.net->set_peers({b.address(2)});
  for (int i = 0; i < 500; ++i) a.net->outgoing(NodeId(2)).raft.push_back(envelope(i % 7, i));
  a.net->flush();
  a.net->flush();  // nothing new: no frame
  ASSERT_TRUE(run_until(io, [&] { return b.raft_received() == 500; }));
  EXPECT_EQ(b.received.size(), 1u);
  EXPECT_EQ(a.net->stats().frames_sent, 1u);
  EXPECT_EQ(b.net->stats().frames_received, 1u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(b.received[0].raft[i].msg.seq, uint64_t(i));
}

TEST(PeerNetwork, FlushesWhileConnectingAreAllDeliveredInOrder) {
  asio::io_context io;
  Node a(io, 1), b(io, 2);
  b.listen();
  a.net->set_peers({b.address(2)});
  for (int i = 0; i < 50; ++i) {
    a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, i));
    a.net->flush();  // queued: the connection is not up yet
  }
  ASSERT_TRUE(run_until(io, [&] { return b.raft_received() == 50; }));
  EXPECT_EQ(a.net->stats().frames_sent, 50u);
  EXPECT_EQ(b.net->stats().frames_received, 50u);
  EXPECT_EQ(a.net->stats().batches_dropped, 0u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(b.received[i].raft[0].msg.seq, uint64_t(i));
  EXPECT_EQ(a.net->stats().bytes_sent, b.net->stats().bytes_received);
}

TEST(PeerNetwork, SelfAndUnknownPeersAreDropped) {
  asio::io_context io;
  Node a(io, 1);
  a.net->outgoing(NodeId(1)).raft.push_back(envelope(1, 1));
  a.net->outgoing(NodeId(9)).raft.push_back(envelope(1, 1));
  (void)a.net->outgoing(NodeId(8));  // empty: not counted
  a.net->flush();
  EXPECT_EQ(a.net->stats().batches_dropped, 2u);
}

TEST(PeerNetwork, ReconnectsToAPeerThatStartsLater) {
  asio::io_context io;
  Node a(io, 1);
  // Find a free port, then leave it closed: the first dials are refused.
  uint16_t port;
  {
    Node probe(io, 2);
    probe.listen();
    port = probe.net->listen_port();
  }
  a.net->set_peers({PeerAddress{NodeId(2), "127.0.0.1", port}});
  uint64_t seq = 0;
  auto send_one = [&] {
    a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, ++seq));
    a.net->flush();
  };
  send_one();
  ASSERT_TRUE(run_until(io, [&] { return a.net->stats().batches_dropped >= 1; }));
  EXPECT_EQ(a.net->stats().connects, 0u);

  Node b(io, 2, 1, port);
  b.listen();
  // Keep sending, as a node's loop would, until something gets through.
  ASSERT_TRUE(run_until(io, [&] {
    send_one();
    io.run_for(10ms);
    return !b.received.empty();
  }));
  EXPECT_EQ(b.received.back().from, NodeId(1));
  EXPECT_GE(a.net->stats().connects, 1u);

  // The peer restarts: the broken connection is noticed and re-dialled.
  const uint64_t connects = a.net->stats().connects;
  b.net.reset();
  Node b2(io, 2, 1, port);
  b2.listen();
  ASSERT_TRUE(run_until(io, [&] {
    send_one();
    io.run_for(10ms);
    return !b2.received.empty();
  }));
  EXPECT_GT(a.net->stats().connects, connects);
  // Later batches keep arriving in order on the new connection.
  const uint64_t last = b2.received.back().raft.back().msg.seq;
  send_one();
  ASSERT_TRUE(run_until(io, [&] { return b2.received.back().raft.back().msg.seq == seq; }));
  EXPECT_GT(seq, last);
}

TEST(PeerNetwork, RejectsAnotherCluster) {
  asio::io_context io;
  Node a(io, 1, /*cluster=*/1), b(io, 2, /*cluster=*/2);
  b.listen();
  a.net->set_peers({b.address(2)});
  a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, 1));
  a.net->flush();
  ASSERT_TRUE(run_until(io, [&] { return b.net->stats().bad_frames >= 1; }));
  // A's link notices the close (EOF on its watch read); nothing is delivered.
  ASSERT_TRUE(
      run_until(io, [&] { return a.net->stats().connects >= 1 && !a.net->connected(NodeId(2)); }));
  run_for(io, 100ms);
  EXPECT_TRUE(b.received.empty());
  EXPECT_EQ(b.net->stats().frames_received, 0u);
}

TEST(PeerNetwork, GarbageAndHostileLengthsCloseTheConnection) {
  asio::io_context io;
  Node b(io, 2, 1, 0, [](PeerNetworkOptions& o) { o.max_frame_bytes = 4096; });
  b.listen();
  const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), b.net->listen_port());
  auto expect_closed_after = [&](const std::string& bytes, uint64_t bad_before) {
    asio::ip::tcp::socket s(io);
    s.connect(ep);
    asio::write(s, asio::buffer(bytes));
    ASSERT_TRUE(run_until(io, [&] { return b.net->stats().bad_frames > bad_before; }));
    // The listener closed its side: our read sees EOF or a reset.
    bool closed = false;
    char buf[16];
    s.async_read_some(asio::buffer(buf),
                      [&](const asio::error_code& ec, size_t) { closed = !!ec; });
    ASSERT_TRUE(run_until(io, [&] { return closed; }));
  };
  expect_closed_after(std::string("\x00\x00\x00\x03garbage", 11), 0);  // not protobuf
  expect_closed_after(std::string("\xff\xff\xff\xf0", 4), 1);          // hostile length
  expect_closed_after(std::string("\x00\x00\x10\x01", 4) + "abc", 2);  // limit + 1
  PeerBatch batch;
  batch.hints.push_back(LeaderHint{ShardId(1), Term(1), NodeId(1)});
  expect_closed_after(encode_batch_frame(batch), 3);  // a batch before the hello
  expect_closed_after(encode_hello_frame(Hello{.node = NodeId(2), .cluster_id = 1}), 4);  // self
  EXPECT_TRUE(b.received.empty());
}

TEST(PeerNetwork, QueueIsBoundedWhenThePeerIsUnreachable) {
  asio::io_context io;
  const size_t kQueue = 64 << 10;
  Node a(io, 1, 1, 0, [&](PeerNetworkOptions& o) {
    o.max_queue_bytes = kQueue;
    o.backoff_min = 5000ms;  // one failure parks the link for the whole test
    o.backoff_max = 5000ms;
  });
  uint16_t port;
  {
    Node probe(io, 2);
    probe.listen();
    port = probe.net->listen_port();
  }
  a.net->set_peers({PeerAddress{NodeId(2), "127.0.0.1", port}});
  // ~1 KiB batches: at most 64 fit in the queue, whatever the link does.
  const int kBatches = 1000;
  for (int i = 0; i < kBatches; ++i) {
    a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, i, 1000));
    a.net->flush();
  }
  EXPECT_GE(a.net->stats().batches_dropped, uint64_t(kBatches - kQueue / 1000));
  // The refused dial drops what was queued: everything is accounted for.
  ASSERT_TRUE(run_until(io, [&] { return a.net->stats().batches_dropped == kBatches; }));
  EXPECT_FALSE(a.net->connected(NodeId(2)));
  // During the backoff new batches queue up to the bound again, no further.
  for (int i = 0; i < kBatches; ++i) {
    a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, i, 1000));
    a.net->flush();
  }
  EXPECT_GE(a.net->stats().batches_dropped, uint64_t(2 * kBatches - kQueue / 1000));
  EXPECT_EQ(a.net->stats().frames_sent, 0u);
}

TEST(PeerNetwork, ChangedAddressDropsTheOldConnection) {
  asio::io_context io;
  Node a(io, 1), b1(io, 2), b2(io, 2);  // node 2 "moves" from b1 to b2
  b1.listen();
  b2.listen();
  a.net->set_peers({b1.address(2)});
  a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, 1));
  a.net->flush();
  ASSERT_TRUE(run_until(io, [&] { return b1.received.size() == 1; }));
  ASSERT_TRUE(a.net->connected(NodeId(2)));

  a.net->set_peers({b1.address(2)});  // unchanged: the connection stays
  EXPECT_TRUE(a.net->connected(NodeId(2)));
  a.net->set_peers({b2.address(2)});
  EXPECT_FALSE(a.net->connected(NodeId(2)));
  a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, 2));
  a.net->flush();
  ASSERT_TRUE(run_until(io, [&] { return b2.received.size() == 1; }));
  EXPECT_EQ(b2.received[0].raft[0].msg.seq, 2u);
  EXPECT_EQ(b1.received.size(), 1u);

  a.net->set_peers({});  // forgotten: sends are dropped
  a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, 3));
  const uint64_t dropped = a.net->stats().batches_dropped;
  a.net->flush();
  EXPECT_EQ(a.net->stats().batches_dropped, dropped + 1);
  EXPECT_FALSE(a.net->connected(NodeId(2)));
}

TEST(PeerNetwork, CloseWithTrafficInFlightIsClean) {
  asio::io_context io;
  auto a = std::make_unique<Node>(io, 1);
  auto b = std::make_unique<Node>(io, 2);
  auto c = std::make_unique<Node>(io, 3);
  a->listen();
  b->listen();
  c->listen();
  connect_all({a.get(), b.get(), c.get()}, {1, 2, 3});
  bool closed = false;
  int calls_after_close = 0;
  for (Node* n : {a.get(), b.get(), c.get()}) {
    n->on_batch = [&](const PeerBatch&) { calls_after_close += closed ? 1 : 0; };
  }
  auto pump = [&] {
    for (Node* n : {a.get(), b.get(), c.get()}) {
      for (uint64_t to = 1; to <= 3; ++to) {
        n->net->outgoing(NodeId(to)).raft.push_back(envelope(1, 1, 200 << 10));
      }
      n->net->flush();
    }
  };
  ASSERT_TRUE(run_until(io, [&] {
    pump();
    io.run_for(2ms);
    return a->net->stats().frames_received > 0 && b->net->stats().frames_received > 0;
  }));
  pump();  // frames queued and in flight everywhere
  io.run_for(1ms);

  a->net->close();
  a->net->close();  // idempotent
  b->net->close();
  closed = true;
  EXPECT_FALSE(a->net->connected(NodeId(2)));
  EXPECT_EQ(a->net->listen_port(), 0);
  a->net->flush();  // harmless after close
  c.reset();        // destroyed with traffic in flight
  run_for(io, 200ms);
  EXPECT_EQ(calls_after_close, 0);
  a.reset();
  b.reset();
  // Everything's handlers drain: no work remains for the loop.
  io.restart();
  io.run_for(5s);
  EXPECT_TRUE(io.stopped());
}

TEST(PeerNetwork, HandlerMayCloseTheNetwork) {
  asio::io_context io;
  Node a(io, 1), b(io, 2);
  b.listen();
  a.net->set_peers({b.address(2)});
  int calls = 0;
  b.on_batch = [&](const PeerBatch&) {
    ++calls;
    b.net->close();
  };
  for (int i = 0; i < 20; ++i) {
    a.net->outgoing(NodeId(2)).raft.push_back(envelope(1, i));
    a.net->flush();  // 20 frames, likely read in one go by b
  }
  ASSERT_TRUE(run_until(io, [&] { return calls > 0; }));
  run_for(io, 100ms);
  EXPECT_EQ(calls, 1);
}

TEST(PeerNetwork, ListenErrors) {
  asio::io_context io;
  Node a(io, 1);
  a.listen();
  EXPECT_EQ(a.net->listen().code(), StatusCode::kInvalidArgument);  // twice
  Node b(io, 2, 1, a.net->listen_port());
  EXPECT_EQ(b.net->listen().code(), StatusCode::kIoError);  // port taken
  Node c(io, 3, 1, 0, [](PeerNetworkOptions& o) { o.bind_host = "not an address"; });
  EXPECT_EQ(c.net->listen().code(), StatusCode::kInvalidArgument);
  a.net->close();
  EXPECT_EQ(a.net->listen().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shoal::transport
