// What a system call that Shoal's raft loop makes and Redis does not costs on
// this machine: asio's speculative recv() that finds nothing (once per
// request of an unpipelined client, docs/benchmarks.md "Session 14"), next to
// getppid(), a system call that does no work. A tight loop, so caches are
// warm: a lower bound on the cost inside the server. Also the first touch of
// a fresh page (a minor fault and the kernel zeroing the page), which Shoal's
// log memtable pays as it grows into new memory (docs/benchmarks.md,
// "Session 15"; Redis at steady state hardly faults).
//
//   build/bin/syscall_bench
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace {

// A connected loopback TCP pair; the accepted end is non-blocking and empty.
struct EmptySocket {
  int listener = -1, client = -1, server = -1;
  EmptySocket() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    client = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || client < 0 ||
        bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        listen(listener, 1) != 0 ||
        connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        (server = accept(listener, nullptr, nullptr)) < 0 ||
        fcntl(server, F_SETFL, O_NONBLOCK) != 0) {
      std::abort();
    }
  }
  ~EmptySocket() {
    close(server);
    close(client);
    close(listener);
  }
};

void BM_FailedRecv(benchmark::State& state) {
  EmptySocket s;
  char buf[16 * 1024];
  for (auto _ : state) benchmark::DoNotOptimize(recv(s.server, buf, sizeof buf, 0));
}
BENCHMARK(BM_FailedRecv);

void BM_Getppid(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(getppid());
}
BENCHMARK(BM_Getppid);

// One iteration: the first write to each page of a fresh 64 MiB mapping,
// reported per page (the mapping and its unmapping outside the timing).
void BM_FirstTouchPageFault(benchmark::State& state) {
  constexpr size_t kPage = 4096, kBytes = size_t{64} << 20;
  for (auto _ : state) {
    state.PauseTiming();
    void* m = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();
    auto* p = static_cast<volatile char*>(m);
    state.ResumeTiming();
    for (size_t i = 0; i < kBytes; i += kPage) p[i] = 1;
    state.PauseTiming();
    munmap(m, kBytes);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBytes / kPage));
}
BENCHMARK(BM_FirstTouchPageFault)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
