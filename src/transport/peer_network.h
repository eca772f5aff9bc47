// PeerNetwork: this node's connections to its peers (DESIGN.md section 3,
// src/transport). Frames are length-prefixed protobuf PeerFrame messages
// (peer.proto) over TCP.
//
// Model: for every peer there is ONE outgoing connection, which this node
// dials and uses only to send; what a peer sends us arrives on the
// connection it dialled (accepted by listen()). A connection starts with a
// hello frame naming the sender's node id and cluster id; a peer with another
// cluster id, or a frame that does not parse, closes the connection.
//
// Batching: outgoing() gathers messages per peer; flush() - called once per
// loop iteration - turns each peer's batch into one frame and writes it.
// Bounded: at most `max_queue_bytes` of frames wait per peer; beyond that
// new batches are dropped (Raft tolerates loss; forwarded requests end by the
// sender's own deadline - H22).
// Reconnect: a broken or refused connection is re-dialled with exponential
// backoff (`backoff_min` doubling to `backoff_max`) with full jitter; frames
// queued while disconnected are dropped (they are stale by then), except the
// ones queued after the reconnect started.
//
// Thread-safety: none. Every method must be called on `loop`'s thread, and
// the handler runs there. The loop must run a single thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "transport/peer_messages.h"

namespace shoal::transport {

struct PeerAddress {
  NodeId id;
  std::string host;
  uint16_t port = 0;
};

struct PeerNetworkOptions {
  NodeId self;
  uint64_t cluster_id = 0;
  std::string bind_host = "127.0.0.1";
  uint16_t port = 0;                    // 0: pick a free port (tests); see listen_port()
  size_t max_queue_bytes = 64u << 20;   // per peer
  size_t max_frame_bytes = 256u << 20;  // a bigger incoming frame closes the link
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::milliseconds connect_timeout{1000};
};

struct PeerNetworkStats {
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t batches_dropped = 0;  // queue full or peer unknown/unreachable
  uint64_t connects = 0;         // successful outgoing connections
  uint64_t bad_frames = 0;       // incoming frames that failed to parse or validate
};

// Binds and listens on host:port (0: a free port). A cluster node opens its
// peer port at start, before it knows its cluster and so before a
// PeerNetwork exists: a port taken by another process then fails the start
// (as Redis's cluster bus does), not the later join, which would leave the
// node a member that no peer can reach.
Result<asio::ip::tcp::acceptor> open_peer_port(asio::io_context& loop, const std::string& host,
                                               uint16_t port);

class PeerNetwork {
 public:
  // Called on the loop with every batch received from a peer.
  using Handler = std::function<void(PeerBatch)>;

  PeerNetwork(asio::io_context& loop, PeerNetworkOptions options, Handler handler);
  ~PeerNetwork();
  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;

  // Starts accepting peers' connections on options.bind_host:options.port.
  [[nodiscard]] Status listen();
  // The same on `opened`, a socket open_peer_port() bound earlier (its
  // port need not be options.port when that is 0).
  [[nodiscard]] Status listen(asio::ip::tcp::acceptor opened);
  uint16_t listen_port() const;

  // Sets the peers' addresses (adds new ones, updates moved ones, forgets
  // missing ones). Dialling starts lazily, on the first flush with data.
  void set_peers(const std::vector<PeerAddress>& peers);

  // The batch that the next flush() sends to `to`. Sending to self or to an
  // unknown peer is dropped at flush (counted in batches_dropped).
  PeerBatch& outgoing(NodeId to);
  // Sends every non-empty outgoing batch as one frame per peer.
  void flush();

  // Whether the outgoing connection to `peer` is established.
  bool connected(NodeId peer) const;
  // Closes every connection and the listener; pending frames are dropped.
  void close();
  const PeerNetworkStats& stats() const { return stats_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  PeerNetworkStats stats_;
  friend class Impl;
};

}  // namespace shoal::transport
