#!/usr/bin/env python3
"""Cluster creation (H20 shard assignment race, H13 node ids).

* Two `shoal-cli cluster create` runs racing over the same fresh nodes, named
  in different orders: exactly one succeeds, and every node ends up in the
  winner's cluster (same CLUSTER NODES view, cluster_state:ok, a write and a
  read work); the loser reports why it failed. Repeated for several rounds.
* A node restarted after creation keeps its id and its cluster (node.id and
  cluster.map in its data directory), and a second create against a member
  is refused.
* A node whose peer port another process holds fails its start (it used to
  start, accept the create and never become reachable: cluster_state:fail
  for ever); the harness starts it again on fresh ports and every node of
  the cluster reports cluster_state:ok.

Usage: test_cluster_create.py --server BIN --cli BIN [--rounds N]
Prints `N passed, N failed`.
"""
import argparse
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cluster_proc import ShoalCluster, resp_command  # noqa: E402

results = {"passed": 0, "failed": 0}


def check(cond, what):
    results["passed" if cond else "failed"] += 1
    print(("ok    " if cond else "FAIL  ") + what, flush=True)


def node_ids(port):
    text = resp_command(port, "CLUSTER", "NODES").decode(errors="replace")
    return sorted(line.split()[0] for line in text.splitlines() if line.strip() and
                  not line.startswith("$") and not line.startswith("="))


def race_round(server, cli, rnd):
    c = ShoalCluster(server, cli, nodes=3, shards=8)
    try:
        for n in c.nodes:
            n.start()
        addrs = [f"127.0.0.1:{n.port}" for n in c.nodes]
        orders = [addrs, list(reversed(addrs))]
        outs = [None, None]

        def run(i):
            outs[i] = subprocess.run([cli, "cluster", "create", "--shards", "8", "--replicas",
                                      "3", "--wait", "30"] + orders[i],
                                     capture_output=True, text=True, timeout=90)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = [o.returncode for o in outs]
        check(sorted(codes)[0] == 0 and sorted(codes)[1] != 0,
              f"round {rnd}: exactly one create succeeds (exit codes {codes})")
        loser = outs[1] if codes[0] == 0 else outs[0]
        check("already a member" in (loser.stdout + loser.stderr),
              f"round {rnd}: the loser says why: {(loser.stderr or loser.stdout).strip()[:100]}")
        check(c.wait_state_ok(via=0, timeout=30) and c.wait_state_ok(via=2, timeout=30),
              f"round {rnd}: cluster_state:ok on the nodes")
        views = [node_ids(n.port) for n in c.nodes]
        check(len(views[0]) == 3 and views[0] == views[1] == views[2],
              f"round {rnd}: every node sees the same 3 members")
        out = subprocess.run(["redis-cli", "-c", "-p", str(c.port(1)), "SET", f"race{rnd}", "v"],
                             capture_output=True, text=True, timeout=30)
        got = subprocess.run(["redis-cli", "-c", "-p", str(c.port(2)), "GET", f"race{rnd}"],
                             capture_output=True, text=True, timeout=30)
        check(out.stdout.strip() == "OK" and got.stdout.strip() == "v",
              f"round {rnd}: a write and a read work ({out.stdout.strip()}, {got.stdout.strip()})")
    finally:
        c.cleanup()


def restart_keeps_identity(server, cli):
    with ShoalCluster(server, cli, nodes=3, shards=8) as c:
        before = resp_command(c.port(1), "CLUSTER", "MYID")
        c.kill(1)
        c.restart(1)
        check(resp_command(c.port(1), "CLUSTER", "MYID") == before,
              "a restarted node keeps its id (node.id)")
        check(c.wait_state_ok(via=1, timeout=30), "a restarted node rejoins its cluster")
        again = subprocess.run([cli, "cluster", "create", "--shards", "8", "--replicas", "3"] +
                               [f"127.0.0.1:{p}" for p in c.ports()],
                               capture_output=True, text=True, timeout=60)
        check(again.returncode != 0 and "already a member" in again.stderr,
              "create against members is refused: " + again.stderr.strip()[:80])


def taken_peer_port(server, cli):
    c = ShoalCluster(server, cli, nodes=3, shards=8)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", c.nodes[1].peer_port))
        holder.listen()
        taken = c.nodes[1].peer_port
        with c:
            log = c.nodes[1].log_text()
            said = f"shoal-server: peer listener on 127.0.0.1:{taken}: Address already in use"
            check(said in log, "a node whose peer port is taken fails its start, saying why")
            check(c.nodes[1].peer_port != taken, "the harness starts it on a fresh peer port")
            check(c.wait_all_ok(timeout=30), "every node of the cluster reports cluster_state:ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    server, cli = os.path.abspath(args.server), os.path.abspath(args.cli)
    for rnd in range(args.rounds):
        race_round(server, cli, rnd)
    restart_keeps_identity(server, cli)
    taken_peer_port(server, cli)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
