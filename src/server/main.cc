// shoal-server: process entry point. Parses the configuration, starts the
// server, and waits for SIGTERM/SIGINT to shut down gracefully.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <jemalloc/jemalloc.h>
#include <spdlog/spdlog.h>

#include "env/clock.h"
#include "server/config.h"
#include "server/server.h"

namespace {
// A compaction snapshot's child (--snapshot-in-child) shares the server's
// pages copy-on-write; with transparent huge pages always on, every write
// while a child runs copies 2 MiB instead of 4 KiB (Redis warns likewise).
void warn_about_transparent_huge_pages(const shoal::server::Config& cfg) {
  if (!cfg.snapshot_in_child || cfg.engine != "memory") return;
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting;
  std::getline(thp, setting);
  if (setting.find("[always]") == std::string::npos) return;
  spdlog::warn(
      "transparent huge pages are set to 'always': while a compaction snapshot's child runs, "
      "each page the server writes is copied as 2 MiB, which costs latency and memory; set "
      "/sys/kernel/mm/transparent_hugepage/enabled to 'madvise' or 'never'");
}

// The start-up replay (the stored log, RocksDB's WAL recovery) allocates and
// frees memory that jemalloc gives back to the OS only as later allocations
// drive its decay, and an idle server makes none: after a SIGKILL at 62 MB of
// log the restarted server stayed at 208-224 MB resident against 132 MB
// before the kill, and at 118 MB with immediate decay (bench/restart_replay.sh;
// docs/benchmarks.md, "Session 12"). Hand it back once, here.
void return_replay_memory() {
  constexpr const char* kPurgeAllArenas = "arena.4096.purge";  // MALLCTL_ARENAS_ALL
  static_assert(MALLCTL_ARENAS_ALL == 4096);
  if (int err = mallctl(kPurgeAllArenas, nullptr, nullptr, nullptr, 0); err != 0) {
    spdlog::debug("jemalloc purge after the replay failed: error {}", err);
  }
}
}  // namespace

int main(int argc, char** argv) {
  using namespace shoal;
  bool exit_now = false;
  auto parsed = server::parse_config(argc, argv, &exit_now);
  if (!parsed.is_ok()) {
    std::cerr << parsed.status().message();
    return 2;
  }
  if (exit_now) return 0;
  server::Config cfg = parsed.value();
  if (auto st = server::validate(cfg); !st.is_ok()) {
    std::cerr << "shoal-server: " << st.message() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));

  std::error_code fs_ec;
  std::filesystem::create_directories(cfg.data_dir, fs_ec);
  if (fs_ec) {
    std::cerr << "shoal-server: can't create --data-dir " << cfg.data_dir << ": " << fs_ec.message()
              << "\n";
    return 2;
  }

  // Block the shutdown signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::Server srv(cfg, env::SystemClock::instance());
  if (auto st = srv.start(); !st.is_ok()) {
    std::cerr << "shoal-server: " << st.message() << "\n";
    return 1;
  }
  spdlog::info("shoal-server listening on {}:{} ({} event loops)", cfg.bind, srv.port(),
               cfg.threads);
  warn_about_transparent_huge_pages(cfg);
  return_replay_memory();
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  srv.stop();
  spdlog::info("bye");
  return 0;
}
