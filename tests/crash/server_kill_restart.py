#!/usr/bin/env python3
"""A lone shoal-server survives SIGKILL (issue 4, item 6; H11, H16).

Each round: start shoal-server on the same data directory, check that every
write acknowledged in earlier rounds is there (SET values, and INCR counters
at least at their last acknowledged value and at most at the number of INCRs
sent), then write from several client threads (SET of unique keys, INCR of a
few shared counters) and SIGKILL the server by PID at a random moment.

Usage: server_kill_restart.py --binary build/bin/shoal-server
           [--rounds N] [--seed S] [--server-args "--engine rocksdb"]
           [--require-info shoal_compactions_stored ...]
--require-info: an INFO stats counter read just before each kill; its sum over
the rounds must be positive (the run did what it was meant to exercise).
Ends with `N passed, M failed`; exit status 0 only if nothing failed.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis

COUNTERS = 4
CLIENTS = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, data_dir, port, extra, log):
    argv = [binary, "--port", str(port), "--data-dir", data_dir, "--log-level", "warn", *extra]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shoal-server exited with {proc.returncode}")
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return proc
        except (redis.ConnectionError, redis.TimeoutError):
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("shoal-server did not answer PING within 30 s")


def writer(port, tag, acked_sets, acked_incr, sent_incr, lock, stop, rng_seed, set_ratio):
    rng = random.Random(rng_seed)
    r = redis.Redis(port=port, socket_timeout=5)
    i = 0
    while not stop.is_set():
        try:
            if rng.random() < set_ratio:
                key, value = f"{tag}:{i}", f"v{i}-{tag}"
                r.set(key, value)
                with lock:
                    acked_sets[key] = value
            else:
                c = f"counter:{rng.randrange(COUNTERS)}"
                with lock:
                    sent_incr[c] = sent_incr.get(c, 0) + 1
                got = r.incr(c)
                with lock:
                    acked_incr[c] = max(acked_incr.get(c, 0), got)
        except (redis.ConnectionError, redis.TimeoutError):
            return  # killed: this write's outcome is unknown and not recorded
        i += 1


def verify(port, acked_sets, acked_incr, sent_incr):
    r = redis.Redis(port=port, socket_timeout=10, decode_responses=True)
    problems = []
    keys = list(acked_sets)
    for start_at in range(0, len(keys), 500):
        chunk = keys[start_at:start_at + 500]
        for key, got in zip(chunk, r.mget(chunk)):
            if got != acked_sets[key]:
                problems.append(f"{key}: {got!r}, acknowledged {acked_sets[key]!r}")
    for c, low in acked_incr.items():
        got = int(r.get(c) or 0)
        if not low <= got <= sent_incr[c]:
            problems.append(f"{c}: {got}, acknowledged >= {low}, sent {sent_incr[c]}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--server-args", default="")
    ap.add_argument("--set-ratio", type=float, default=0.7,
                    help="share of writes that SET a new key (the rest INCR one of a few counters); "
                         "a low one keeps the key count small and the memory engine's compactions "
                         "(every max(--compact-after-writes, keys) writes) frequent")
    ap.add_argument("--require-info", action="append", default=[],
                    help="an INFO stats counter whose sum over the rounds (read before each "
                         "kill) must be positive")
    ap.add_argument("--min-ms", type=int, default=100)
    ap.add_argument("--max-ms", type=int, default=600)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}; server args: {a.server_args or '(defaults)'}", flush=True)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="shoal-kill-")
    data_dir = os.path.join(work, "data")
    log = open(os.path.join(work, "server.log"), "ab")
    acked_sets, acked_incr, sent_incr = {}, {}, {}
    lock = threading.Lock()
    passed = failed = 0
    proc = None
    info_sums = {name: 0 for name in a.require_info}
    try:
        for rnd in range(a.rounds + 1):
            port = free_port()
            proc = start(a.binary, data_dir, port, a.server_args.split(), log)
            problems = verify(port, acked_sets, acked_incr, sent_incr)
            if problems:
                failed += 1
                print(f"round {rnd}: {len(problems)} lost or wrong, e.g. {problems[:5]}")
                break
            passed += rnd > 0
            if rnd == a.rounds:
                break
            stop = threading.Event()
            threads = [threading.Thread(target=writer, args=(
                port, f"r{rnd}c{c}", acked_sets, acked_incr, sent_incr, lock, stop,
                rng.randrange(1 << 30), a.set_ratio)) for c in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(a.min_ms, a.max_ms) / 1000)
            if info_sums:
                stats = redis.Redis(port=port, socket_timeout=5).info("stats")
                for name in info_sums:
                    info_sums[name] += int(stats.get(name, 0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = None
            stop.set()
            for t in threads:
                t.join(timeout=30)
            if rnd % 5 == 0:
                print(f"round {rnd}: {len(acked_sets)} SETs and "
                      f"{sum(acked_incr.values())} counter increments acknowledged so far",
                      flush=True)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        log.close()
    print(f"acknowledged SETs {len(acked_sets)}, counters {acked_incr}")
    for name, total in info_sums.items():
        print(f"INFO {name}, summed over the rounds before each kill: {total}")
        if total <= 0 and failed == 0:
            print(f"INFO {name} never counted anything: the run missed what it tests")
            failed += 1
    if failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"data and log kept in {work}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
