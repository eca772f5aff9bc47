#include "server/config.h"

#include <CLI/CLI.hpp>
#include <iostream>

namespace shoal::server {

Result<Config> parse_config(int argc, char** argv, bool* exit_now) {
  *exit_now = false;
  Config c;
  CLI::App app{
      "shoal-server: a replicated key-value store that speaks the Redis protocol.\n"
      "Every option can also be set in a config file (--config FILE) with the same\n"
      "name, one `name = value` per line."};
  app.set_config("--config", "", "Read options from this file (same names as the flags)");
  app.add_option("--bind", c.bind, "Address to listen on for clients")->capture_default_str();
  app.add_option("--port", c.port, "TCP port for Redis clients")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "Directory for data files")->capture_default_str();
  app.add_option("--requirepass", c.requirepass,
                 "Password clients must send with AUTH/HELLO (empty: none)");
  app.add_option("--gather-readers", c.gather_readers,
                 "Move connections that send one command at a time, answered on their own loop "
                 "(a GET, a PING), to the first client loop, so that one loop serves them with "
                 "fewer wake-ups: yes, no, or auto (yes when the event loops, --threads plus the "
                 "raft loop, outnumber the CPUs this process may use). Standalone servers with "
                 "--threads 2 or more only")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  app.add_option("--busy-poll-us", c.busy_poll_us,
                 "A client event loop busy for most of the last 20 ms polls this many microseconds "
                 "after its last event before it sleeps, sparing clients the wake-up of a "
                 "sleeping loop; a lightly loaded loop always sleeps. 0: never poll")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--threads", c.threads, "Event-loop threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--maxclients", c.maxclients, "Maximum simultaneous client connections")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--proto-max-bulk-len", c.proto_max_bulk_len,
                 "Largest bulk string a client may send, bytes")
      ->check(CLI::Range(int64_t{1024 * 1024}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--client-query-buffer-limit", c.client_query_buffer_limit,
                 "Largest unprocessed input per client, bytes; the client is closed beyond it")
      ->check(CLI::Range(int64_t{1024 * 1024}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--client-output-pause-bytes", c.client_output_pause_bytes,
                 "Pending reply bytes at which the server stops reading a client's requests")
      ->check(CLI::Range(int64_t{64 * 1024}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--client-output-hard-limit", c.client_output_hard_limit,
                 "Pending reply bytes at which a client is closed (0: no limit)")
      ->capture_default_str();
  app.add_option("--hz", c.hz, "Active expiry cycles per second")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  app.add_option("--fsync", c.fsync,
                 "Raft log durability: always (fsync every batch), everysec, or no")
      ->check(CLI::IsMember({"always", "everysec", "no"}))
      ->capture_default_str();
  app.add_flag("--i-accept-data-loss-on-crash", c.accept_data_loss,
               "Allow --fsync no with a single replica, knowing a crash loses acknowledged writes");
  app.add_option("--compact-after-writes,--compact-after-entries", c.compact_after_writes,
                 "Compact the Raft log after this many writes were applied (for the memory "
                 "engine, one that stores a snapshot also waits for as many writes as there "
                 "are keys)")
      ->check(CLI::Range(uint64_t{16}, uint64_t{1} << 32))
      ->capture_default_str();
  std::string snapshot_in_child = "yes";
  app.add_option("--snapshot-in-child", snapshot_in_child,
                 "yes: the memory engine serializes its compaction snapshots in a forked child "
                 "process (copy-on-write, like Redis's BGSAVE); no: on the raft loop, which then "
                 "stops serving for the whole serialization (~0.25 s per million keys)")
      ->check(CLI::IsMember({"yes", "no"}))
      ->capture_default_str();
  app.add_option("--snapshot-in-child-min-keys", c.snapshot_in_child_min_keys,
                 "With --snapshot-in-child yes: fork only for a state of at least this many keys "
                 "(a smaller one serializes on the raft loop in ~0.25 us per key, cheaper than "
                 "the child's copy-on-write faults)")
      ->capture_default_str();
  app.add_option("--wal-prewrite-bytes", c.wal_prewrite_bytes,
                 "With --fsync always: keep this many bytes of zeros written ahead of the "
                 "WAL's data, so that each sync overwrites blocks already on disk instead of "
                 "growing the file (the file system then has no new size to journal); rounded "
                 "up to whole 32 KiB blocks. 0: off")
      ->check(CLI::Range(uint64_t{0}, uint64_t{64} << 20))
      ->capture_default_str();
  app.add_option("--snapshot-min-log-bytes", c.snapshot_min_log_bytes,
                 "Memory engine: serialize and store a snapshot (and drop the stored Raft log) "
                 "only once the log since the last one holds this many bytes, or as many as "
                 "that snapshot if it is bigger (Redis's AOF rewrite rule); compactions before "
                 "that free memory only. A restart replays at most about this much log. "
                 "0: store a snapshot at every compaction")
      ->capture_default_str();
  app.add_option("--engine", c.engine,
                 "Where shard data lives: memory (rebuilt from the on-disk Raft log and "
                 "snapshots at restart) or rocksdb (kept in RocksDB with the applied index)")
      ->check(CLI::IsMember({"memory", "rocksdb"}))
      ->capture_default_str();
  std::string cluster_enabled = "no";
  app.add_option("--cluster-enabled", cluster_enabled,
                 "yes: run as a cluster member (bootstrap with `shoal-cli cluster create`); "
                 "no: a standalone server")
      ->check(CLI::IsMember({"yes", "no"}))
      ->capture_default_str();
  app.add_option("--cluster-port", c.cluster_port,
                 "TCP port for other nodes (Raft and forwarded commands); 0: --port + 10000")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--cluster-routing", c.cluster_routing,
                 "redirect: answer MOVED for keys led elsewhere (Redis Cluster clients); "
                 "proxy: forward them to the leader (plain clients)")
      ->check(CLI::IsMember({"redirect", "proxy"}))
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("shoal-server 0.1.0"));
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    app.exit(e);
    *exit_now = true;
    return c;
  } catch (const CLI::ParseError& e) {
    std::ostringstream err;
    app.exit(e, err, err);
    return Status::invalid_argument(err.str());
  }
  c.cluster_enabled = cluster_enabled == "yes";
  c.snapshot_in_child = snapshot_in_child == "yes";
  if (c.cluster_port == 0)
    c.cluster_port = c.port + 10000 <= 65535 ? c.port + 10000 : c.port - 10000;
  return c;
}

Status validate(const Config& c) {
  // A single node is a cluster of one: RF 1 (H10).
  if (c.fsync == "no" && !c.accept_data_loss && !c.cluster_enabled) {
    return Status::invalid_argument(
        "--fsync no on a single-replica node means a crash can lose acknowledged writes with "
        "no other copy to recover them from; pass --i-accept-data-loss-on-crash to run anyway");
  }
  if (c.client_output_hard_limit != 0 && c.client_output_hard_limit < c.client_output_pause_bytes) {
    return Status::invalid_argument(
        "--client-output-hard-limit must be 0 or at least --client-output-pause-bytes");
  }
  return Status::ok();
}

}  // namespace shoal::server
