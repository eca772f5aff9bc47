#!/usr/bin/env python3
"""Idle cost of Raft groups: CPU used by an idle 3-node cluster per node.

    python3 bench/cluster_idle.py [--shards 64 512] [--seconds 5]

Starts a cluster with the test harness (tests/support/cluster_proc.py), waits
2 s for elections, then samples each node's utime+stime from /proc over
--seconds and prints the average share of one core per node.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from cluster_proc import ShoalCluster  # noqa: E402


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, nargs="+", default=[64, 512])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bin"))
    args = ap.parse_args()
    hz = os.sysconf("SC_CLK_TCK")
    for shards in args.shards:
        with ShoalCluster(os.path.join(args.build, "shoal-server"),
                          os.path.join(args.build, "shoal-cli"), nodes=3, shards=shards) as c:
            time.sleep(2)
            pids = [n.proc.pid for n in c.nodes]
            before = cpu_ticks(pids)
            time.sleep(args.seconds)
            used = (cpu_ticks(pids) - before) / hz
            print(f"{shards} shards x RF 3 on 3 nodes: idle CPU per node "
                  f"{100 * used / args.seconds / 3:.1f}% of a core")


if __name__ == "__main__":
    main()
