#!/usr/bin/env python3
"""Side-by-side: a 3-node Shoal cluster against a 3-master Redis Cluster on
the same machine, same client, same flags.

    python3 bench/compare_cluster.py [--requests 100000] [--clients 50]

Shoal: 3 nodes, RF 3 (every write on a majority, fsync=always by default),
16 shards, redirect mode. Redis: 3 masters made one cluster with
`redis-cli --cluster create` (no replicas), once without persistence and once
with `appendonly yes, appendfsync always`. Each runs
`redis-benchmark --cluster -t set,get -d 64 -r 100000 -P {1,16}` and the
script prints requests/s and the ratio Shoal/Redis per pairing.

The peers do different work (Shoal replicates every write to 2 other
processes that share the same 2 cores); the table says what it measures, not
that the comparison is fair to either side.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from cluster_proc import ShoalCluster, resp_command  # noqa: E402
from server_proc import _die_with_parent, free_port  # noqa: E402


def bus_safe_port():
    """A free port whose Redis Cluster bus port (+10000) is valid and free."""
    import socket
    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


def bench(port, requests, clients, pipeline):
    out = subprocess.run(
        ["redis-benchmark", "--cluster", "-p", str(port), "-t", "set,get", "-n", str(requests),
         "-c", str(clients), "-d", "64", "-r", "100000", "-P", str(pipeline), "-q"],
        capture_output=True, text=True, timeout=600)
    rates = {}
    for line in out.stdout.replace("\r", "\n").splitlines():
        m = re.match(r"\s*(SET|GET): ([\d.]+) requests per second", line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    return rates


class RedisCluster:
    def __init__(self, extra):
        self.dir = tempfile.mkdtemp(prefix="redis-cluster-bench-")
        self.ports = [bus_safe_port() for _ in range(3)]
        self.procs = []
        self.extra = extra

    def __enter__(self):
        for i, port in enumerate(self.ports):
            d = os.path.join(self.dir, str(i))
            os.makedirs(d)
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-config-file",
                    os.path.join(d, "nodes.conf"), "--dir", d, "--save", "",
                    "--loglevel", "warning"] + self.extra
            self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL,
                                               preexec_fn=_die_with_parent))
        for port in self.ports:
            for _ in range(100):
                try:
                    if resp_command(port, "PING", timeout=1).startswith(b"+PONG"):
                        break
                except OSError:
                    time.sleep(0.05)
        subprocess.run(["redis-cli", "--cluster", "create"] +
                       [f"127.0.0.1:{p}" for p in self.ports] + ["--cluster-yes"],
                       capture_output=True, timeout=60, check=True)
        for _ in range(100):
            if b"cluster_state:ok" in resp_command(self.ports[0], "CLUSTER", "INFO"):
                break
            time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--shoal-args", default="", help="extra shoal-server flags")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bin"))
    args = ap.parse_args()
    results = {}
    with ShoalCluster(os.path.join(args.build, "shoal-server"),
                      os.path.join(args.build, "shoal-cli"), nodes=3, shards=16,
                      extra_args=args.shoal_args.split()) as c:
        for p in (1, 16):
            results[("shoal", p)] = bench(c.port(0), args.requests, args.clients, p)
    peers = {"redis (no persistence)": [],
             "redis (appendfsync always)": ["--appendonly", "yes", "--appendfsync", "always"]}
    for name, extra in peers.items():
        with RedisCluster(extra) as r:
            for p in (1, 16):
                results[(name, p)] = bench(r.ports[0], args.requests, args.clients, p)
    print(f"redis-benchmark --cluster -c {args.clients} -n {args.requests} -d 64 -r 100000; "
          f"Shoal: 3 nodes RF 3 16 shards {args.shoal_args or '(defaults: fsync always)'}")
    print(f"{'test':<5} {'-P':>3} {'shoal':>10} " +
          " ".join(f"{n:>28} {'ratio':>6}" for n in peers))
    for test in ("SET", "GET"):
        for p in (1, 16):
            s = results[("shoal", p)].get(test, 0.0)
            row = f"{test:<5} {p:>3} {s:>10.0f} "
            for n in peers:
                r = results[(n, p)].get(test, 0.0)
                row += f"{r:>28.0f} {s / r if r else 0:>6.2f} "
            print(row)


if __name__ == "__main__":
    main()
