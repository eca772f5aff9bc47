#!/usr/bin/env python3
"""Crash loop (issue 4; H11, H15, H16): SIGKILL shoal-crash-node at random
moments while it writes, and check after every restart that each acknowledged
write is still there and that the replicas agree (state hashes at the same
applied index).

Each round: start the binary with every write acknowledged so far (--verify),
wait for `VERIFY OK`, let it write for a random 50-400 ms, SIGKILL it by PID,
and add the `ACK key value` lines it printed to the acknowledged set. One final
verify-only run at the end. Prints acknowledged / lost / unknown counts and
ends with `N passed, M failed`. Exit status 0 only if nothing failed.

This crashes the process, not the machine: the OS page cache survives SIGKILL,
so unsynced data is not lost here. Power loss is covered by
src/replica/disk_fault_test.cc on the simulated disk. See README.md.
"""

import argparse
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

KEY_SPACE_PER_RUN = 10_000_000  # key numbers per round: unique across rounds


class Node:
    """One run of the binary, its stdout read by a thread into a queue."""

    def __init__(self, cmd, stderr):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # EOF

    def wait_verify(self, timeout):
        """Returns ('OK', n), ('FAIL', details), ('EXIT', rc) or ('TIMEOUT', None)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "TIMEOUT", None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return "TIMEOUT", None
            if line is None:
                return "EXIT", self.proc.wait()
            if line.startswith("VERIFY OK"):
                return "OK", int(line.split()[2])
            if line.startswith("VERIFY FAIL"):
                return "FAIL", line[len("VERIFY FAIL "):]

    def kill(self):
        """SIGKILL by PID; returns every line printed after VERIFY."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reader.join(timeout=30)
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                out.append(line)
        return out


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", required=True, help="path to shoal-crash-node")
    p.add_argument("--kills", type=int, default=200)
    p.add_argument("--seed", type=int, default=None, help="seed of the kill delays")
    p.add_argument("--min-ms", type=int, default=50)
    p.add_argument("--max-ms", type=int, default=400)
    p.add_argument("--rate", type=float, default=1500,
                   help="writes/s per run (bounds the set re-read at every start)")
    p.add_argument("--verify-timeout", type=float, default=60)
    p.add_argument("--keep-dir", action="store_true", help="keep the data directory")
    p.add_argument("--pipelined", action="store_true",
                   help="the server's pipelined sync with RocksDB's manual WAL flush: "
                        "a kill loses what is still in RocksDB's buffer")
    p.add_argument("--durable-engine", action="store_true",
                   help="the shard's data in RocksDB (restarts continue from it)")
    p.add_argument("--node-args", default="",
                   help="more shoal-crash-node flags, e.g. \"--compact-after 16 "
                        "--snapshot-min-log-bytes 30000\"")
    p.add_argument("--require-compactions", action="store_true",
                   help="fail unless the runs made both memory-only and stored compactions")
    return p.parse_args()


def run_loop(args, work):
    data_dir = os.path.join(work, "data")
    acked_path = os.path.join(work, "acked.txt")
    open(acked_path, "w").close()
    log = open(os.path.join(work, "stderr.log"), "a")
    rng = random.Random(args.seed)
    acked = unknown = passed = failed = 0
    lost = None
    compactions = [0, 0]  # memory-only, stored: each run's last STATS line, summed

    def command(start, verify_only=False):
        cmd = [args.binary, "--dir", data_dir, "--verify", acked_path, "--start", str(start),
               "--rate", str(args.rate), "--max-seconds", str(args.verify_timeout + 30)]
        cmd += ["--durable-engine"] if args.durable_engine else []
        cmd += ["--pipelined"] if args.pipelined else []
        cmd += args.node_args.split()
        return cmd + (["--verify-only"] if verify_only else [])

    for i in range(args.kills):
        node = Node(command(i * KEY_SPACE_PER_RUN), log)
        kind, detail = node.wait_verify(args.verify_timeout)
        if kind != "OK":
            node.kill()
            print(f"round {i}: VERIFY {kind} {detail}", flush=True)
            failed += 1
            lost = parse_lost(detail) if kind == "FAIL" else lost
            break
        passed += i > 0  # round 0 verifies nothing: it survived no kill yet
        time.sleep(rng.uniform(args.min_ms, args.max_ms) / 1000)
        lines = node.kill()
        acks = [line.split(" ", 1)[1] for line in lines if line.startswith("ACK ")]
        unknown += sum(line.startswith("UNKNOWN ") for line in lines)
        stats = [line.split()[1:] for line in lines if line.startswith("STATS ")]
        if stats:
            compactions = [compactions[k] + int(stats[-1][k]) for k in range(2)]
        with open(acked_path, "a") as f:
            f.writelines(a + "\n" for a in acks)
        acked += len(acks)
        if i % 20 == 0 or i == args.kills - 1:
            print(f"round {i}: verified {detail}, +{len(acks)} acked", flush=True)

    if failed == 0:
        # The last kill must be survived too.
        node = Node(command(args.kills * KEY_SPACE_PER_RUN, verify_only=True), log)
        kind, detail = node.wait_verify(args.verify_timeout)
        node.kill()
        print(f"final verify: {kind} {detail}", flush=True)
        if kind == "OK":
            passed += 1
            lost = 0
        else:
            failed += 1
            lost = parse_lost(detail) if kind == "FAIL" else lost
    print(f"compactions while writing (summed over the runs): {compactions[0]} memory-only, "
          f"{compactions[1]} stored", flush=True)
    if args.require_compactions and failed == 0 and min(compactions) == 0:
        print("the runs did not make both kinds of compaction: the loop missed what it tests")
        failed += 1
    return acked, unknown, lost, passed, failed


def parse_lost(detail):
    for field in (detail or "").split():
        if field.startswith("lost="):
            return int(field[len("lost="):])
    return None


def main():
    args = parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 32)
    print(f"crash loop: {args.kills} kills, seed {args.seed}, binary {args.binary}", flush=True)
    work = tempfile.mkdtemp(prefix="shoal-crash-loop-", dir="/tmp")
    began = time.monotonic()
    try:
        acked, unknown, lost, passed, failed = run_loop(args, work)
    finally:
        if args.keep_dir:
            print(f"data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"acknowledged {acked}, lost {'unknown' if lost is None else lost}, "
          f"unknown outcome {unknown}; {time.monotonic() - began:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and lost == 0 and passed == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
