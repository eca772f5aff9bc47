// shoal-crash-node: a 3-replica shard (three hosts in this process, each with
// a RocksLogStore in --dir/node<N>, fsync=always) for the crash loop
// (crash_loop.py, tests/crash/README.md). It is SIGKILLed at random moments.
//
// On start:
//  1. --verify FILE: waits for a leader, reads back every `key value` line of
//     FILE (writes acknowledged by earlier runs) with linearizable reads, and
//     checks that all replicas' state hashes agree at the same applied index.
//     Prints `VERIFY OK <n>` or `VERIFY FAIL <details>` (then exits 1).
//     Without --verify it only waits for a leader and convergence.
//  2. Unless --verify-only: writes unique keys k<start+i> with unique values,
//     printing `ACK <key> <value>` once a write is acknowledged OK and
//     `UNKNOWN <key> <value>` for an unknown outcome, each line with one
//     write(2) so that a line the driver sees was acknowledged before the kill.
//     Runs until killed, or exits 3 after --max-seconds (a safety limit).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "env/clock.h"
#include "replica/local_cluster.h"

namespace shoal::crash {
namespace {

using replica::testing::LocalCluster;
using replica::testing::Outcome;
using Steady = std::chrono::steady_clock;

struct Args {
  std::string dir;
  std::string verify_file;
  bool verify_only = false;
  uint64_t start = 0;
  double max_seconds = 60;
  int window = 32;         // writes in flight
  double rate = 0;         // writes started per second; 0: as fast as acknowledged
  int read_window = 1024;  // verification reads in flight
  uint64_t compact_after = 2000;
  uint64_t snapshot_min_log_bytes = 0;  // memory-only compactions below this much log
  bool durable_engine = false;          // data in RocksDB (RocksEngine) instead of memory
  bool pipelined = false;               // the server's pipelined sync and manual WAL flush
};

// One line to stdout with a single write(2): no stdio buffer to lose at a kill.
void say(const std::string& text) {
  std::string line = text + "\n";
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n <= 0) std::_Exit(4);  // the driver is gone
    p += n;
    left -= static_cast<size_t>(n);
  }
}

class Deadline {
 public:
  explicit Deadline(double seconds)
      : end_(Steady::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000))) {}
  bool passed() const { return Steady::now() >= end_; }

 private:
  Steady::time_point end_;
};

// Ticks until there is a leader; false at the deadline.
bool wait_leader(LocalCluster& c, const Deadline& deadline) {
  while (!c.leader()) {
    if (deadline.passed()) return false;
    c.tick();
  }
  return true;
}

Result<std::vector<std::pair<std::string, std::string>>> load_acked(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Status::not_found("cannot open " + file);
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string key, value, extra;
    if (!(fields >> key >> value) || (fields >> extra)) {
      return Status::invalid_argument("bad line in " + file + ": " + line);
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

struct Tally {
  size_t ok = 0, missing = 0, wrong = 0;
  std::string first_bad;
  void bad(const std::string& key, const std::string& want, const std::string& got, bool nil) {
    (nil ? missing : wrong)++;
    if (first_bad.empty()) first_bad = key + " want " + want + " got " + got;
  }
};

// Linearizable reads of every acknowledged key, `read_window` at a time, on
// the leader; an unavailable read (leadership moved) is retried.
bool read_back(LocalCluster& c, const std::vector<std::pair<std::string, std::string>>& acked,
               const Args& args, const Deadline& deadline, Tally& tally) {
  std::vector<size_t> todo;
  for (size_t i = acked.size(); i > 0; --i) todo.push_back(i - 1);
  std::vector<size_t> retry;  // reads refused (no leader yet, leader not ready): next tick
  size_t inflight = 0;
  while (!todo.empty() || !retry.empty() || inflight > 0) {
    if (deadline.passed()) return false;
    todo.insert(todo.end(), retry.begin(), retry.end());
    retry.clear();
    auto l = c.leader();
    while (l && !todo.empty() && inflight < static_cast<size_t>(args.read_window)) {
      size_t i = todo.back();
      todo.pop_back();
      ++inflight;
      c.read_async(*l, {"GET", acked[i].first}, 1, [&, i](const Outcome& o) {
        --inflight;
        const auto& [key, value] = acked[i];
        if (!o.status.is_ok()) return retry.push_back(i);
        if (o.reply == "$" + value) {
          ++tally.ok;
        } else {
          tally.bad(key, value, o.reply, o.reply == "(nil)");
        }
      });
    }
    c.tick();
  }
  return true;
}

int verify(LocalCluster& c, const Args& args, const Deadline& deadline) {
  std::vector<std::pair<std::string, std::string>> acked;
  if (!args.verify_file.empty()) {
    auto loaded = load_acked(args.verify_file);
    if (!loaded.is_ok()) {
      say("VERIFY FAIL " + loaded.status().to_string());
      return 1;
    }
    acked = std::move(loaded).value();
  }
  if (!wait_leader(c, deadline)) {
    say("VERIFY FAIL no leader before the deadline");
    return 1;
  }
  Tally tally;
  if (!read_back(c, acked, args, deadline, tally)) {
    say("VERIFY FAIL reads did not finish before the deadline");
    return 1;
  }
  Status conv = c.converge(1, 5000);
  if (tally.missing + tally.wrong > 0 || !conv.is_ok()) {
    say("VERIFY FAIL lost=" + std::to_string(tally.missing) +
        " wrong=" + std::to_string(tally.wrong) + " of=" + std::to_string(acked.size()) +
        " first=[" + tally.first_bad + "] converge=" + conv.to_string());
    return 1;
  }
  say("VERIFY OK " + std::to_string(tally.ok));
  return 0;
}

// Keeps `window` writes in flight until killed or the deadline.
[[noreturn]] void write_until_killed(LocalCluster& c, const Args& args, const Deadline& deadline) {
  const std::string nonce = std::to_string(::getpid());
  uint64_t next = args.start;
  int inflight = 0;
  const auto began = Steady::now();
  // The crash loop re-reads every acknowledged key at every start: --rate
  // keeps that set (and the loop's run time) bounded.
  auto allowed = [&] {
    if (args.rate <= 0) return true;
    std::chrono::duration<double> elapsed = Steady::now() - began;
    return static_cast<double>(next - args.start) < args.rate * elapsed.count() + args.window;
  };
  uint64_t reported = 0;  // compactions last reported in a STATS line
  while (!deadline.passed()) {
    // What the replicas' compactions did in this process, when it changes
    // (crash_loop.py sums the last line of each run).
    uint64_t memory_only = 0, stored = 0;
    for (int id = 1; id <= 3; ++id) {
      if (replica::Replica* r = c.replica(NodeId(id), 1)) {
        memory_only += r->memory_only_compactions();
        stored += r->stored_compactions();
      }
    }
    if (memory_only + stored != reported) {
      reported = memory_only + stored;
      say("STATS " + std::to_string(memory_only) + " " + std::to_string(stored));
    }
    while (inflight < args.window && c.leader() && allowed()) {
      std::string key = "k" + std::to_string(next);
      std::string value = "v" + std::to_string(next) + "-" + nonce;
      ++next;
      ++inflight;
      c.propose({"SET", key, value}, 0, 0, 1, [&inflight, key, value](const Outcome& o) {
        --inflight;
        if (o.status.is_ok()) {
          say("ACK " + key + " " + value);
        } else if (o.status.code() == StatusCode::kUnknownOutcome) {
          say("UNKNOWN " + key + " " + value);
        }  // anything else is a definite "not applied"
      });
    }
    // Rate-limited and idle: don't spin a core of a shared machine.
    if (inflight == 0 && !allowed()) ::usleep(500);
    c.tick();
  }
  std::cerr << "shoal-crash-node: --max-seconds reached without being killed\n";
  std::_Exit(3);
}

int run(const Args& args) {
  Deadline deadline(args.max_seconds);
  std::error_code ec;
  bool fresh = !std::filesystem::exists(args.dir + "/node1", ec);
  std::filesystem::create_directories(args.dir, ec);
  replica::testing::LocalClusterOptions o;
  o.store = replica::testing::StoreKind::kRocks;
  o.dir = args.dir;
  o.fsync = storage::FsyncPolicy::kAlways;
  o.clock = &env::SystemClock::instance();
  o.replica.compact_after_writes = args.compact_after;
  o.replica.snapshot_min_log_bytes = args.snapshot_min_log_bytes;
  o.durable_engine = args.durable_engine;
  o.host.defer_sync = args.pipelined;
  o.sync_threads = args.pipelined;
  o.manual_wal_flush = args.pipelined;
  // The server's pre-written WAL space (--wal-prewrite-bytes' default): a
  // SIGKILL leaves each WAL ending in zeros, which RocksDb::open cuts.
  o.wal_prewrite_bytes = args.pipelined ? uint64_t{1} << 20 : 0;
  // Only the very first run creates the group: a later run that found no
  // state must not pass for a new, empty cluster (H11).
  o.bootstrap = fresh;
  auto c = LocalCluster::create(std::move(o));
  if (!c.is_ok()) {
    say("VERIFY FAIL cannot start: " + c.status().to_string());
    return 1;
  }
  if (int rc = verify(*c.value(), args, deadline); rc != 0) return rc;
  if (args.verify_only) return 0;
  write_until_killed(*c.value(), args, deadline);
}

}  // namespace
}  // namespace shoal::crash

int main(int argc, char** argv) {
  shoal::crash::Args args;
  CLI::App app{"shoal-crash-node: a 3-replica shard to SIGKILL (tests/crash)"};
  app.add_option("--dir", args.dir, "data directory (node1..node3 inside)")->required();
  app.add_option("--verify", args.verify_file, "file of acknowledged `key value` lines");
  app.add_flag("--verify-only", args.verify_only, "exit after verifying");
  app.add_option("--start", args.start, "first key number to write");
  app.add_option("--max-seconds", args.max_seconds, "safety limit on the run");
  app.add_option("--window", args.window, "writes in flight");
  app.add_option("--rate", args.rate, "writes started per second (0: unlimited)");
  app.add_option("--compact-after", args.compact_after, "entries between snapshots");
  app.add_option("--snapshot-min-log-bytes", args.snapshot_min_log_bytes,
                 "store a snapshot only once this much log is stored (replica.h); the "
                 "compactions before free memory only");
  app.add_flag("--pipelined", args.pipelined,
               "sync on a thread per node with RocksDB's manual WAL flush, as shoal-server "
               "does with --fsync always");
  app.add_flag("--durable-engine", args.durable_engine,
               "keep the shard's data in RocksDB (restart from it) instead of in memory");
  CLI11_PARSE(app, argc, argv);
  return shoal::crash::run(args);
}
