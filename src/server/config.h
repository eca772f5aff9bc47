// Server configuration: one struct, filled from command-line flags and an
// optional config file that uses the same names (`port = 7379`).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace shoal::server {

struct Config {
  std::string bind = "127.0.0.1";
  int port = 7379;
  std::string data_dir = "./shoal-data";
  std::string requirepass;  // empty: no password (AUTH/ACL users come later)
  // Unpipelined readers gather on one client loop (connection.h): "yes",
  // "no", or "auto" (yes when the event loops, clients' and the raft loop,
  // outnumber the CPUs the process may run on).
  std::string gather_readers = "auto";
  int threads = 2;  // event-loop threads; one connection lives on one
  // A busy client event loop polls this long after its last handler before
  // it sleeps (server/loop_runner.h); 0: loops always sleep when idle.
  int busy_poll_us = 50;
  int maxclients = 10000;
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;
  int64_t client_query_buffer_limit = 1024LL * 1024 * 1024;
  // Bytes of pending replies after which the server stops reading a client's
  // requests until it reads its replies (backpressure instead of unbounded
  // memory for clients that never read).
  int64_t client_output_pause_bytes = 4LL * 1024 * 1024;
  // Hard limit on one client's pending replies; 0 disables (Redis's default
  // for normal clients). Exceeding it closes the connection.
  int64_t client_output_hard_limit = 0;
  int hz = 10;  // active expiry cycles per second
  // Raft log durability: "always" (fsync every batch, group commit), "everysec"
  // or "no". "no" with one replica can lose acknowledged writes on a crash
  // and is refused unless accept_data_loss is set (H10).
  std::string fsync = "always";
  bool accept_data_loss = false;
  // fsync always: zeros kept written ahead of the WAL's data, so that a sync
  // overwrites blocks instead of growing the file (0: off).
  uint64_t wal_prewrite_bytes = uint64_t{1} << 20;
  uint64_t compact_after_writes = 10000;  // snapshot + log compaction threshold
  bool snapshot_in_child = true;          // memory engine: serialize compaction snapshots in a fork
  uint64_t snapshot_in_child_min_keys = 200000;  // ... from this many keys on
  // Memory engine: store a snapshot only once the stored log since the last
  // one holds this many bytes (or the snapshot's size, if larger).
  uint64_t snapshot_min_log_bytes = uint64_t{64} << 20;
  // Where shard data lives: "memory" (the Raft log and snapshots are on disk;
  // a restart rebuilds the data from them) or "rocksdb" (the data is in the
  // node's RocksDB with the applied index; a restart continues from it).
  std::string engine = "memory";
  std::string log_level = "info";
  // Cluster membership (docs/cluster.md). Off: a standalone server.
  bool cluster_enabled = false;
  int cluster_port = 0;  // peer transport port; 0 = port + 10000 (as Redis's bus)
  // "redirect": MOVED to the shard's leader (Redis Cluster); "proxy": forward
  // to the leader and relay the reply, so plain clients can use any node.
  std::string cluster_routing = "redirect";
};

// Parses argv. Returns the config, or a non-OK status with a message for the
// user; `*exit_now` is set when --help/--version printed and the process
// should exit 0.
Result<Config> parse_config(int argc, char** argv, bool* exit_now);

Status validate(const Config& c);

}  // namespace shoal::server
