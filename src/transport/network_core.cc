#include "transport/network_core.h"

#include <algorithm>
#include <utility>

#include "transport/wire_codec.h"

namespace shoal::transport::detail {

NetworkCore::NetworkCore(asio::io_context& loop, PeerNetworkOptions opts,
                         PeerNetwork::Handler handler, PeerNetworkStats& stats)
    : loop(loop),
      options(std::move(opts)),
      handler(std::move(handler)),
      stats(stats),
      rng(env::Random::from_os()),
      hello_frame(encode_hello_frame(Hello{.node = options.self,
                                           .cluster_id = options.cluster_id,
                                           .protocol_version = kProtocolVersion})) {}

std::chrono::milliseconds NetworkCore::backoff(uint32_t failures) {
  const uint64_t lo = static_cast<uint64_t>(options.backoff_min.count());
  const uint64_t hi = static_cast<uint64_t>(options.backoff_max.count());
  uint32_t doublings = std::min<uint32_t>(failures > 0 ? failures - 1 : 0, 32);
  uint64_t cap = std::max<uint64_t>(lo, 1);
  for (uint32_t i = 0; i < doublings && cap < hi; ++i) cap *= 2;
  cap = std::min(cap, hi);
  if (cap <= lo) return std::chrono::milliseconds(lo);
  return std::chrono::milliseconds(lo + rng.uniform(cap - lo + 1));
}

}  // namespace shoal::transport::detail
