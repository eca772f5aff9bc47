// What a system call that Shoal's raft loop makes and Redis does not costs on
// this machine: asio's speculative recv() that finds nothing (once per
// request of an unpipelined client, docs/benchmarks.md "Session 14"), next to
// getppid(), a system call that does no work. A tight loop, so caches are
// warm: a lower bound on the cost inside the server.
//
//   build/bin/syscall_bench
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
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

}  // namespace

BENCHMARK_MAIN();
