// PeerNetwork: the per-peer outgoing batches and the registry of connections.
// The connections themselves live in peer_link.cc (outgoing) and
// peer_listener.cc (inbound); their shared state in network_core.h.
#include "transport/peer_network.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "transport/network_core.h"
#include "transport/peer_link.h"
#include "transport/peer_listener.h"
#include "transport/wire_codec.h"

namespace shoal::transport {

class PeerNetwork::Impl {
 public:
  Impl(asio::io_context& loop, PeerNetworkOptions options, Handler handler, PeerNetworkStats& stats)
      : core(loop, std::move(options), std::move(handler), stats) {}

  detail::NetworkCore core;
  std::shared_ptr<detail::PeerListener> listener;
  std::map<NodeId, std::shared_ptr<detail::PeerLink>> links;
  std::map<NodeId, PeerBatch> outgoing;
  bool closed = false;
};

namespace {

// Options come from configuration; nonsense is a start-up bug, not input.
void check_options(const PeerNetworkOptions& o) {
  SHOAL_ASSERT_MSG(o.self != NodeId(), "PeerNetwork needs this node's id");
  SHOAL_ASSERT_MSG(o.max_frame_bytes > 0 && o.max_frame_bytes <= kMaxFrameBodyLimit,
                   "max_frame_bytes must be in (0, 1 GiB]");
  SHOAL_ASSERT_MSG(o.max_queue_bytes > 0, "max_queue_bytes must be positive");
  SHOAL_ASSERT_MSG(o.backoff_min.count() > 0 && o.backoff_min <= o.backoff_max,
                   "need 0 < backoff_min <= backoff_max");
  SHOAL_ASSERT_MSG(o.connect_timeout.count() > 0, "connect_timeout must be positive");
}

}  // namespace

PeerNetwork::PeerNetwork(asio::io_context& loop, PeerNetworkOptions options, Handler handler) {
  check_options(options);
  SHOAL_ASSERT_MSG(handler != nullptr, "PeerNetwork needs a handler");
  // Built here rather than in the initializer list: Impl keeps a reference to
  // stats_, which is declared (so constructed) after impl_.
  impl_ = std::make_unique<Impl>(loop, std::move(options), std::move(handler), stats_);
}

PeerNetwork::~PeerNetwork() { close(); }

Status PeerNetwork::listen() {
  auto opened =
      open_peer_port(impl_->core.loop, impl_->core.options.bind_host, impl_->core.options.port);
  if (!opened.is_ok()) return opened.status();
  return listen(std::move(opened).value());
}

Status PeerNetwork::listen(asio::ip::tcp::acceptor opened) {
  if (impl_->closed) return Status::unavailable("peer network is closed");
  if (impl_->listener) return Status::invalid_argument("peer network is already listening");
  SHOAL_ASSERT_MSG(opened.is_open(), "listen() needs an open acceptor (open_peer_port)");
  SHOAL_ASSERT_MSG(&opened.get_executor().context() == &impl_->core.loop,
                   "the acceptor must belong to the network's loop");
  auto listener = std::make_shared<detail::PeerListener>(impl_->core, std::move(opened));
  listener->start();
  impl_->listener = std::move(listener);
  spdlog::info("peer network: node {} listening on {}:{}", impl_->core.options.self.value(),
               impl_->core.options.bind_host, listen_port());
  return Status::ok();
}

uint16_t PeerNetwork::listen_port() const { return impl_->listener ? impl_->listener->port() : 0; }

void PeerNetwork::set_peers(const std::vector<PeerAddress>& peers) {
  if (impl_->closed) return;
  std::map<NodeId, PeerAddress> wanted;
  for (const PeerAddress& p : peers) {
    if (p.id != NodeId() && p.id != impl_->core.options.self) wanted[p.id] = p;
  }
  auto& links = impl_->links;
  for (auto it = links.begin(); it != links.end();) {
    auto w = wanted.find(it->first);
    const PeerAddress& now = it->second->address();
    if (w == wanted.end() || w->second.host != now.host || w->second.port != now.port) {
      it->second->close();  // forgotten or moved: its queued frames go too
      it = links.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [id, address] : wanted) {
    if (!links.contains(id)) {
      links.emplace(id, std::make_shared<detail::PeerLink>(impl_->core, std::move(address)));
    }
  }
}

PeerBatch& PeerNetwork::outgoing(NodeId to) { return impl_->outgoing[to]; }

void PeerNetwork::flush() {
  auto& outgoing = impl_->outgoing;
  for (auto it = outgoing.begin(); it != outgoing.end();) {
    PeerBatch& batch = it->second;
    auto link = impl_->links.find(it->first);
    if (link == impl_->links.end()) {
      // Self, unknown or forgotten peer (or closed): drop, and forget the
      // slot so the map stays bounded by the peer set.
      if (!batch.empty()) ++stats_.batches_dropped;
      it = outgoing.erase(it);
      continue;
    }
    if (!batch.empty()) {
      std::string frame = encode_batch_frame(batch);
      batch.raft.clear();
      batch.requests.clear();
      batch.responses.clear();
      batch.hints.clear();
      if (frame.size() - kFrameHeaderBytes > impl_->core.options.max_frame_bytes) {
        // The peer would close the link on it; better lose one batch.
        spdlog::warn("peer {}: dropping a batch of {} bytes, above max_frame_bytes",
                     it->first.value(), frame.size());
        ++stats_.batches_dropped;
      } else {
        link->second->send(std::move(frame));
      }
    }
    ++it;
  }
}

bool PeerNetwork::connected(NodeId peer) const {
  auto it = impl_->links.find(peer);
  return it != impl_->links.end() && it->second->connected();
}

void PeerNetwork::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  if (impl_->listener) impl_->listener->close();
  impl_->listener.reset();
  for (auto& [id, link] : impl_->links) link->close();
  impl_->links.clear();
  impl_->outgoing.clear();
}

}  // namespace shoal::transport
