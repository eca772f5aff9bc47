#!/usr/bin/env python3
"""Failover under load (H11 failover loses committed data, H17 double apply,
H18 wrong outcome reported, H22 requests to dead nodes hang).

A 3-node cluster (RF 3, redirect routing). Writer threads, each with its own
MOVED-following client that never retries a write whose outcome is unknown
(shoal_client.py), write:
  * SET fo:<w>:<n> <w>:<n>     - a fresh key per write (most writes),
  * APPEND fo:app:<j> <w>.<n>, - unique tokens onto a few shared keys
                                 (a double or lost apply shows as a repeated
                                 or missing token),
  * SET fo:last:<w> <n>        - one overwritten key per writer (a lost
                                 overwrite shows as a value older than the
                                 last acknowledged one).
Each round picks a shard, finds its leader, kills that node (SIGKILL; one
round uses SIGTERM, which hands leadership over first) while the writers
keep going, measures per shard the victim led how long until a write to it
is acknowledged again (the failover time), restarts the node and waits until
every shard takes writes again.

At the end every key is read back (linearizable GETs) and checked:
  acknowledged -> present with exactly the written value (else LOST),
  unknown      -> the written value or absent (both counted),
  error/failed -> absent (an applied "failed" write is a wrong outcome, H18),
  no value that was never written, no APPEND token twice.
Prints `acknowledged N / lost N / unknown-outcome N (applied N, not applied N)`
and the failover times. Exit 0 on success, 1 on any violation.
"""

import argparse
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from cluster_proc import ShoalCluster  # noqa: E402
from shoal_client import (ACK, ERROR, UNKNOWN, ClusterClient,  # noqa: E402
                          cluster_slots, key_in_range)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Writer(threading.Thread):
    APPEND_KEYS = 4

    def __init__(self, w, ports, stop, seed):
        super().__init__(daemon=True)
        self.w = w
        self.stop = stop
        # Longer than the server's own bounds (a forwarded command's 5 s
        # deadline, a 2 s wait for an election): a write without a reply by
        # then hangs (H22).
        self.client = ClusterClient(ports, timeout=8.0, rng=random.Random(seed))
        self.sets = {}      # key -> (value, outcome)
        self.appends = {}   # token -> (key, outcome)
        self.last = []      # (n, outcome) for fo:last:<w>, in order
        self.acks = []      # monotonic times of acknowledgements (progress)
        self.errors = []    # unexpected error replies
        self.unknown_kinds = {}  # "no reply" / "UNKNOWNOUTCOME" -> count
        self.last_acked = 0  # the highest acknowledged n of fo:last:<w>
        self.hangs = []      # writes with no reply within the client's timeout (H22)
        self.exc = None

    def run(self):
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                kind = n % 5
                if kind == 0:
                    key = f"fo:app:{n // 5 % self.APPEND_KEYS}"
                    token = f"{self.w}.{n},"
                    r = self.client.write(("APPEND", key, token))
                    self.appends[token] = (key, r.outcome)
                elif kind == 1:
                    r = self.client.write(("SET", f"fo:last:{self.w}", str(n)))
                    self.last.append((n, r.outcome))
                    if r.outcome == ACK:
                        self.last_acked = n
                else:
                    key = f"fo:{self.w}:{n}"
                    r = self.client.write(("SET", key, f"{self.w}:{n}"))
                    self.sets[key] = (f"{self.w}:{n}", r.outcome)
                if r.outcome == ACK:
                    self.acks.append(r.t_done)
                elif r.outcome == ERROR:
                    self.errors.append(str(r.reply))
                elif r.outcome == UNKNOWN:
                    why = ("UNKNOWNOUTCOME reply" if r.reply is not None else
                           "no reply in time" if r.timed_out else "connection lost")
                    if r.timed_out:
                        self.hangs.append(r.errors[-1])
                    self.unknown_kinds[why] = self.unknown_kinds.get(why, 0) + 1
        except BaseException as e:  # surfaced by the main thread
            self.exc = e
        finally:
            self.client.close()


class Checker(threading.Thread):
    """Linearizable reads while the rounds run (H12 across leader changes):
    GET fo:last:<w> must return a value written by w that is not older than
    w's last acknowledgement before the GET was sent."""

    def __init__(self, writers, ports, stop, seed):
        super().__init__(daemon=True)
        self.writers, self.stop = writers, stop
        self.client = ClusterClient(ports, timeout=5.0, rng=random.Random(seed))
        self.rng = random.Random(seed)
        self.reads = 0
        self.bad = []
        self.exc = None

    def run(self):
        try:
            while not self.stop.is_set():
                wr = self.rng.choice(self.writers)
                floor = wr.last_acked
                try:
                    got, port = self.client.read(("GET", f"fo:last:{wr.w}"), deadline_s=30.0)
                except TimeoutError as e:
                    self.bad.append(f"read of fo:last:{wr.w} failed for 30 s: {e}")
                    continue
                self.reads += 1
                if got is None:
                    if floor:
                        self.bad.append(f"STALE READ (H12): GET fo:last:{wr.w} on port {port} "
                                        f"= nil after {floor} was acknowledged")
                elif int(got) < floor:
                    self.bad.append(f"STALE READ (H12): GET fo:last:{wr.w} on port {port} = "
                                    f"{int(got)} after {floor} was acknowledged")
                time.sleep(0.002)
        except BaseException as e:
            self.exc = e
        finally:
            self.client.close()


def full_log(node):
    try:
        with open(os.path.join(node.data_dir, "server.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def shard_probe_keys(port):
    """[(start, end, probe key)] per shard."""
    return [(s, e, key_in_range(f"fo:probe:{s}:", s, e)) for s, e, _ in cluster_slots(port)]


def find_leaders(cluster, probes, routing, deadline_s=30.0):
    """{shard start slot: node index} of each shard's leader. Redirect
    routing: the node that acknowledged a probe write directly (a follower
    answers MOVED). Proxy routing (every node takes writes): the leader that
    every live node's CLUSTER SLOTS agrees on."""
    port_to_index = {cluster.port(i): i for i in range(len(cluster.nodes))}
    leaders = {}
    if routing == "proxy":
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            views = []
            for n in cluster.nodes:
                if n.alive():
                    try:
                        views.append({s: ps[0] for s, _e, ps in cluster_slots(n.port)})
                    except (OSError, ValueError):
                        views.append(None)
            if views and all(v == views[0] for v in views):
                return {s: port_to_index.get(p) for s, p in views[0].items()}
            time.sleep(0.1)
        return {s: None for s, _e, _k in probes}
    client = ClusterClient(cluster.ports(), timeout=3.0)
    try:
        for start, _end, key in probes:
            r = client.write(("SET", key, "leader-probe"), deadline_s=deadline_s)
            leaders[start] = port_to_index[r.port] if r.outcome == ACK else None
    finally:
        client.close()
    return leaders


def time_until_writable(ports, key, t0, limit_s, excluded=()):
    """Seconds from t0 until a write of `key` is acknowledged (or None)."""
    client = ClusterClient(ports, timeout=1.0, connect_timeout=0.5)
    client.excluded = set(excluded)
    try:
        while time.monotonic() - t0 < limit_s:
            r = client.write(("SET", key, "failover-probe"), deadline_s=1.0)
            if r.outcome == ACK:
                return r.t_done - t0
        return None
    finally:
        client.close()


def measure_failover(ports, probes, shards, t0, limit_s, excluded):
    """Per shard in `shards` (start slots): failover seconds, measured in
    parallel."""
    results = {}
    key_of = {s: k for s, _e, k in probes}

    def one(s):
        results[s] = time_until_writable(ports, key_of[s], t0, limit_s, excluded)

    threads = [threading.Thread(target=one, args=(s,)) for s in shards]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def check(writers, values):
    """Checks the read-back `values` against what each writer did. Returns
    (stats dict, list of violations)."""
    bad = []
    st = dict(acked=0, lost=0, unknown=0, unknown_applied=0, unknown_not_applied=0,
              failed=0, failed_applied=0, over_acked=0, over_unknown=0, over_failed=0)

    def count(outcome, present, what):
        if outcome == ACK:
            st["acked"] += 1
            if not present:
                st["lost"] += 1
                bad.append(f"LOST acknowledged write: {what}")
        elif outcome == UNKNOWN:
            st["unknown"] += 1
            st["unknown_applied" if present else "unknown_not_applied"] += 1
        else:  # NOT_APPLIED after the deadline, or a definite ERROR reply
            st["failed"] += 1
            if present:
                st["failed_applied"] += 1
                bad.append(f"WRONG OUTCOME (H18): write reported as {outcome} was applied: {what}")

    for wr in writers:
        for key, (value, outcome) in wr.sets.items():
            got = values.get(key)
            if got is not None and got.decode() != value:
                bad.append(f"key {key} holds {got!r}, never written (wrote {value!r})")
            count(outcome, got is not None and got.decode() == value, f"SET {key} {value}")
        # fo:last:<w>: the value must be one that was written, and not older
        # than the last acknowledged one.
        key = f"fo:last:{wr.w}"
        got = values.get(key)
        written = {n: o for n, o in wr.last}
        for _n, o in wr.last:
            st["over_" + {ACK: "acked", UNKNOWN: "unknown"}.get(o, "failed")] += 1
        acked = [n for n, o in wr.last if o == ACK]
        if got is None:
            if acked:
                bad.append(f"LOST: {key} is missing; last acknowledged value {acked[-1]}")
        else:
            v = int(got)
            if v not in written:
                bad.append(f"{key} holds {v}, never written")
            elif written[v] not in (ACK, UNKNOWN):
                bad.append(f"WRONG OUTCOME (H18): {key}={v} was reported {written[v]}")
            if acked and v < acked[-1]:
                bad.append(f"LOST overwrite: {key}={v} but {acked[-1]} was acknowledged later")
    # APPEND tokens.
    seen = {}
    for j in range(Writer.APPEND_KEYS):
        key = f"fo:app:{j}"
        raw = (values.get(key) or b"").decode()
        for tok in raw.split(",")[:-1] if raw else []:
            t = tok + ","
            if t in seen:
                bad.append(f"DOUBLE APPLY (H17): token {t!r} twice (in {seen[t]} and {key})")
            seen[t] = key
        if raw and not raw.endswith(","):
            bad.append(f"{key} ends with a partial token: {raw[-20:]!r}")
    tokens = {}
    for wr in writers:
        tokens.update(wr.appends)
    for t, key in seen.items():
        if t not in tokens:
            bad.append(f"{key} holds token {t!r}, never written")
        elif tokens[t][0] != key:
            bad.append(f"token {t!r} found in {key}, written to {tokens[t][0]}")
    for t, (key, outcome) in tokens.items():
        count(outcome, seen.get(t) == key, f"APPEND {key} {t}")
    return st, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--cli-bin", required=True)
    ap.add_argument("--shards", type=int, default=12)
    ap.add_argument("--writers", type=int, default=6)
    ap.add_argument("--kill-rounds", type=int, default=5, help="SIGKILL rounds")
    ap.add_argument("--term-rounds", type=int, default=1, help="SIGTERM rounds")
    ap.add_argument("--down-s", type=float, default=1.5,
                    help="seconds the victim stays down after writes resume")
    ap.add_argument("--max-failover-s", type=float, default=15.0)
    ap.add_argument("--max-graceful-s", type=float, default=2.0,
                    help="bound on a shard's unavailability after SIGTERM (leadership is "
                         "handed over first)")
    ap.add_argument("--routing", choices=("redirect", "proxy"), default="redirect",
                    help="the nodes' --cluster-routing (proxy: writes sent to a follower are "
                         "forwarded to the leader)")
    ap.add_argument("--server-args", default="",
                    help="extra shoal-server flags, e.g. '--engine rocksdb'")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    log(f"seed {seed} (rerun with --seed {seed}); {args.shards} shards, {args.writers} writers, "
        f"{args.kill_rounds} SIGKILL + {args.term_rounds} SIGTERM rounds, {args.routing} routing"
        + (f", server args {args.server_args}" if args.server_args else ""))

    violations = []
    failover = []  # (round, how, node, {shard: seconds})
    started = time.monotonic()
    with ShoalCluster(args.server_bin, args.cli_bin, nodes=3, shards=args.shards,
                      extra_args=["--cluster-routing", args.routing,
                                  *args.server_args.split()]) as c:
        if not c.wait_state_ok(timeout=30):
            raise SystemExit("cluster never reached cluster_state:ok")
        probes = shard_probe_keys(c.port(0))
        leaders = find_leaders(c, probes, args.routing)
        log(f"cluster up: ports {c.ports()}; leaders by shard start slot: {leaders}")

        stop = threading.Event()
        writers = [Writer(w, c.ports(), stop, seed * 100 + w) for w in range(args.writers)]
        for wr in writers:
            wr.start()
        checker = Checker(writers, c.ports(), stop, seed)
        checker.start()
        time.sleep(2.0)

        hows = ["SIGKILL"] * args.kill_rounds
        for _ in range(args.term_rounds):
            hows.insert(rng.randrange(1, len(hows) + 1) if hows else 0, "SIGTERM")
        try:
            for rnd, how in enumerate(hows, 1):
                leaders = find_leaders(c, probes, args.routing)
                target = probes[rng.randrange(len(probes))][0]
                victim = leaders.get(target)
                if victim is None:
                    violations.append(f"round {rnd}: no leader found for shard @{target}")
                    break
                led = sorted(s for s, i in leaders.items() if i == victim)
                acks_before = sum(len(wr.acks) for wr in writers)
                unknown_before = sum(sum(wr.unknown_kinds.values()) for wr in writers)
                log(f"round {rnd}: {how} node {victim} (port {c.port(victim)}), "
                    f"which leads {len(led)} shards {led}; {acks_before} acks so far")
                log_size = len(full_log(c.nodes[victim]))
                t0 = time.monotonic()
                if how == "SIGKILL":
                    c.kill(victim)
                    stopper = None
                else:
                    # Node.stop() sends SIGTERM and waits for the exit.
                    stopper = threading.Thread(target=c.nodes[victim].stop)
                    stopper.start()
                others = [c.port(i) for i in range(3) if i != victim]
                times = measure_failover(others, probes, led, t0, args.max_failover_s + 15,
                                         [c.port(victim)])
                if stopper:
                    stopper.join()
                    code = c.nodes[victim].proc.returncode
                    log(f"round {rnd}: SIGTERM exit code {code} after "
                        f"{time.monotonic() - t0:.2f} s")
                    if code != 0:
                        violations.append(f"round {rnd}: SIGTERM exit code {code}")
                    text = full_log(c.nodes[victim])[log_size:]
                    if "shutting down while leading" in text:
                        at = text.find("shutting down while leading")
                        violations.append(f"round {rnd}: SIGTERM did not hand over every "
                                          f"leadership: {text[at:at + 60]!r}")
                worst = max((t for t in times.values() if t is not None), default=0.0)
                never = [s for s, t in times.items() if t is None]
                log(f"round {rnd}: failover ({how}) per shard: "
                    + ", ".join(f"@{s}={t:.2f}s" if t is not None else f"@{s}=NEVER"
                                for s, t in sorted(times.items()))
                    + f"; max {worst:.2f} s")
                failover.append((rnd, how, victim, times))
                if never:
                    violations.append(f"round {rnd}: shards {never} took no write within "
                                      f"{args.max_failover_s + 15:.0f} s of the {how}")
                elif worst > args.max_failover_s:
                    violations.append(f"round {rnd}: failover took {worst:.2f} s "
                                      f"(bound {args.max_failover_s} s)")
                elif how == "SIGTERM" and worst > args.max_graceful_s:
                    violations.append(f"round {rnd}: graceful failover took {worst:.2f} s "
                                      f"(bound {args.max_graceful_s} s)")
                time.sleep(args.down_s)
                acks_down = sum(len(wr.acks) for wr in writers) - acks_before
                unknown_down = sum(sum(wr.unknown_kinds.values()) for wr in writers) - unknown_before
                t_restart = time.monotonic()
                c.restart(victim)
                ok = c.wait_state_ok(via=victim, timeout=30)
                rec = measure_failover(c.ports(), probes, [p[0] for p in probes],
                                       time.monotonic(), 30, [])
                slow = max((t for t in rec.values() if t is not None), default=0.0)
                log(f"round {rnd}: node {victim} restarted (state ok: {ok}); every shard "
                    f"writable {time.monotonic() - t_restart:.2f} s after the restart "
                    f"(slowest probe {slow:.2f} s); {acks_down} acks and {unknown_down} unknown "
                    f"outcomes since the {how}")
                if any(t is None for t in rec.values()):
                    violations.append(f"round {rnd}: not every shard writable 30 s after restart")
                if any(wr.exc for wr in writers):
                    break
                time.sleep(1.0)
        finally:
            stop.set()
            for wr in writers:
                wr.join(timeout=60)
            checker.join(timeout=60)

        log(f"checker: {checker.reads} linearizable GETs of fo:last:* during the rounds, "
            f"{len(checker.bad)} stale")
        violations += checker.bad
        if checker.exc:
            violations.append(f"checker crashed: {checker.exc!r}")
        unknown_kinds = {}
        for wr in writers:
            for k, v in wr.unknown_kinds.items():
                unknown_kinds[k] = unknown_kinds.get(k, 0) + v
        log(f"unknown outcomes by kind: {unknown_kinds}")
        for wr in writers:
            if wr.exc:
                violations.append(f"writer {wr.w} crashed: {wr.exc!r}")
            for h in wr.hangs:
                violations.append(f"HANG (H22): writer {wr.w}: a write got no reply within 8 s: "
                                  f"{h}")
            for e in set(wr.errors):
                log(f"writer {wr.w}: unexpected error reply: {e}")

        # Read back everything through a fresh client (linearizable GETs).
        if not c.wait_state_ok(timeout=30):
            violations.append("cluster not ok before read-back")
        keys = [k for wr in writers for k in wr.sets]
        keys += [f"fo:last:{wr.w}" for wr in writers]
        keys += [f"fo:app:{j}" for j in range(Writer.APPEND_KEYS)]
        reader = ClusterClient(c.ports(), timeout=10.0)
        t_read = time.monotonic()
        values = reader.pipelined_gets(keys)
        reader.close()
        log(f"read back {len(keys)} keys in {time.monotonic() - t_read:.1f} s")

        st, bad = check(writers, values)
        violations += bad
        dead = [n.index for n in c.nodes if not n.alive()]
        if dead:
            violations.append(f"nodes {dead} died on their own")

    log(f"acknowledged {st['acked']} / lost {st['lost']} / unknown-outcome {st['unknown']} "
        f"(applied {st['unknown_applied']}, not applied {st['unknown_not_applied']}) / "
        f"failed {st['failed']} (applied {st['failed_applied']})")
    log(f"overwrites of fo:last:<w> (checked by order): acknowledged {st['over_acked']}, "
        f"unknown-outcome {st['over_unknown']}, failed {st['over_failed']}")
    for how in ("SIGKILL", "SIGTERM"):
        ts = [t for _r, h, _v, times in failover if h == how for t in times.values()
              if t is not None]
        if ts:
            log(f"failover time after {how}: max {max(ts):.2f} s, mean {sum(ts) / len(ts):.2f} s "
                f"over {len(ts)} shard failovers")
    log(f"total {time.monotonic() - started:.1f} s")
    if violations:
        for v in violations[:50]:
            log(f"VIOLATION: {v}")
        if len(violations) > 50:
            log(f"... and {len(violations) - 50} more")
        log(f"FAILED (seed {seed})")
        return 1
    log("PASSED")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup on ctest's timeout
    sys.exit(main())
