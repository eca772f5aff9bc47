// How a replica host sends Raft messages to its peers. Delivery is
// best-effort: messages may be lost, delayed, duplicated or reordered, and
// Raft copes with all of it. Implementations must not block the caller.
#pragma once

#include "base/ids.h"
#include "raft/types.h"

namespace shoal::replica {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(ShardId shard, raft::Message msg) = 0;
};

}  // namespace shoal::replica
