// Internal to src/transport: the state a PeerNetwork shares with its
// connection objects (PeerLink, PeerListener, InboundConnection).
//
// Lifetime rule: connection objects are shared_ptr-owned because asio handlers
// keep them alive past PeerNetwork::close() and ~PeerNetwork(). Each holds a
// NetworkCore* that close() sets to null, and every handler checks it first:
// after close, no handler touches the network, its stats or the user handler.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "env/random.h"
#include "transport/peer_network.h"

namespace shoal::transport::detail {

// Bounds that are not options (STYLE.md #9).
inline constexpr size_t kReadChunkBytes = 64u << 10;  // one read from a peer socket
inline constexpr size_t kMaxInboundConnections = 1024;
inline constexpr std::chrono::seconds kHelloTimeout{10};  // accept -> hello

struct NetworkCore {
  NetworkCore(asio::io_context& loop, PeerNetworkOptions options, PeerNetwork::Handler handler,
              PeerNetworkStats& stats);

  // The delay before reconnect attempt `failures` (1 = first retry): full
  // jitter, uniform in [backoff_min, min(backoff_max, backoff_min * 2^(failures-1))].
  std::chrono::milliseconds backoff(uint32_t failures);

  asio::io_context& loop;
  const PeerNetworkOptions options;
  PeerNetwork::Handler handler;
  PeerNetworkStats& stats;
  env::Random rng;
  const std::string hello_frame;  // this node's hello, encoded once
};

}  // namespace shoal::transport::detail
