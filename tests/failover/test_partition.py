#!/usr/bin/env python3
"""Partitioned old leader (H12 stale read from a deposed leader; also H11/H18
for writes sent to it).

A 3-node cluster (RF 3, redirect routing) on loopback. Each node runs under
its own numeric uid so that iptables can tell its traffic apart: every node
dials each peer once and only sends on that connection, so cutting node X off
both ways takes three rules in the OUTPUT chain (loopback packets all pass
OUTPUT), each tagged with a comment naming this test's pid:
  * -m owner --uid-owner <X's uid> --dport <the other nodes' peer ports>
        (X's own connections to its peers)
  * --dport <X's peer port>  and  --sport <X's peer port>
        (the peers' connections to X)
Client ports stay reachable. Rounds rotate over --modes: both (all three
rules), inbound (only the --dport rule: X hears nothing) and outbound (only
the owner rule: nothing X sends arrives). The rules are removed in a finally block, at
exit and on SIGTERM; stale rules of a dead run of this test are removed at
start.

Each round:
 1. SET K v1 through the cluster; the node that acknowledged it leads K's
    shard: L.
 2. A reader polls GET K directly on L (a plain connection, no redirects),
    recording send time, reply time and reply, through the whole round.
 3. Isolate L. Send a write of another key of K's shard straight to L: an
    isolated leader must not acknowledge it (it cannot reach a majority).
 4. Write K = v2 through the two other nodes until acknowledged (T_ack).
 5. Check: no GET on L sent after T_ack returned v1 (a linearizable read
    never returns the old value once the new one was acknowledged). Print
    when L last served v1, when it started refusing (MOVED/CLUSTERDOWN/
    timeout), and when the majority took the write.
 6. Heal. L must catch up: a READONLY (follower) read on L returns v2, a
    plain GET on L answers v2 or MOVED to the new leader, and the isolated
    write is absent unless its outcome was unknown.
Skips (exit 77, `SKIPPED: <reason>`) only when iptables with the owner match
is unavailable (no binary, not root, no xt_owner).
"""

import argparse
import atexit
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from cluster_proc import Node, ShoalCluster, START_TIMEOUT_S, resp_command  # noqa: E402
from server_proc import _die_with_parent  # noqa: E402
from shoal_client import (ACK, UNKNOWN, ClusterClient, Conn, ConnectionLost,  # noqa: E402
                          RespError, cluster_slots, key_slot)

SKIP = 77
TAG = "shoal-failover-test"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- nodes under their own uid ------------------------------------------

class UidNode(Node):
    """A Node whose process runs as `uid` (so iptables' owner match can
    select its outgoing packets). Same ports, data and log as Node."""

    def __init__(self, node, uid):
        self.__dict__.update(node.__dict__)
        self.uid = uid

    def preexec(self):
        os.setgroups([])
        os.setgid(self.uid)
        os.setuid(self.uid)
        _die_with_parent()  # after setuid: a credential change clears it

    def start(self):
        for root, dirs, files in os.walk(self.data_dir):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), self.uid, self.uid)
        os.chown(self.data_dir, self.uid, self.uid)
        super().start()


# ---- iptables ------------------------------------------------------------

def iptables(*args, check=True):
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True,
                          check=check, timeout=30)


class Firewall:
    """DROP rules in OUTPUT, each tagged `shoal-failover-test:<pid>`."""

    def __init__(self):
        self.comment = f"{TAG}:{os.getpid()}"
        self.rules = []

    @staticmethod
    def remove_stale():
        """Removes rules left by a run of this test whose process is gone."""
        out = iptables("-S", "OUTPUT", check=False).stdout
        for line in out.splitlines():
            if TAG not in line or not line.startswith("-A "):
                continue
            pid = line.split(TAG + ":", 1)[1].split()[0].strip('"')
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                iptables("-D", *line.split()[1:], check=False)
                log(f"removed a stale rule: {line}")

    def drop(self, *match):
        spec = ["OUTPUT", "-p", "tcp", *match, "-m", "comment", "--comment", self.comment,
                "-j", "DROP"]
        iptables("-I", *spec)
        self.rules.append(spec)

    def clear(self):
        while self.rules:
            iptables("-D", *self.rules.pop(), check=False)


def iptables_unavailable():
    """None if iptables with the owner match works here, else the reason."""
    if not shutil_which("iptables"):
        return "iptables is not installed"
    if os.geteuid() != 0:
        return "not root (iptables and per-node uids need root)"
    probe = ["OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", "65534", "--dport", "9",
             "-m", "comment", "--comment", f"{TAG}:{os.getpid()}", "-j", "DROP"]
    try:
        r = iptables("-I", *probe, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"iptables failed: {e}"
    if r.returncode != 0:
        return f"iptables cannot add an owner-match rule: {r.stderr.strip()}"
    iptables("-D", *probe, check=False)
    return None


def shutil_which(name):
    import shutil
    return shutil.which(name)


# ---- the reader on the isolated node ---------------------------------------

class DirectReader(threading.Thread):
    """GET key on one node over a plain connection, again and again."""

    def __init__(self, port, key, timeout=2.0, pause=0.01):
        super().__init__(daemon=True)
        self.port, self.key, self.timeout, self.pause = port, key, timeout, pause
        self.stop = threading.Event()
        self.log = []  # (t_send, t_reply, kind, value)

    def run(self):
        conn = None
        while not self.stop.is_set():
            t_send = time.monotonic()
            try:
                if conn is None:
                    conn = Conn(self.port, 1.0, self.timeout)
                    t_send = time.monotonic()
                reply = conn.call("GET", self.key)
            except (OSError, ConnectionLost, ValueError) as e:
                self.log.append((t_send, time.monotonic(), "timeout/conn", repr(e)))
                if conn:
                    conn.close()
                conn = None
                time.sleep(self.pause)
                continue
            if isinstance(reply, RespError):
                self.log.append((t_send, time.monotonic(), reply.kind, str(reply)))
            else:
                self.log.append((t_send, time.monotonic(), "value", reply))
            time.sleep(self.pause)
        if conn:
            conn.close()


def describe(entries, t0):
    """Run-length summary of a reader log, times relative to t0."""
    out = []
    for t_send, t_reply, kind, value in entries:
        label = f"{kind}:{value.decode()}" if kind == "value" and value else kind
        if kind not in ("value", "timeout/conn"):
            label = value.split(" ")[0] if kind != "ERR" else value[:60]
        if out and out[-1][0] == label:
            out[-1][2] = t_reply - t0
            out[-1][3] += 1
        else:
            out.append([label, t_send - t0, t_reply - t0, 1])
    return "; ".join(f"{lab} x{n} [{a:+.2f}s..{b:+.2f}s]" for lab, a, b, n in out)


# ---- one round -----------------------------------------------------------

def proxy_leader_port(c, slot, timeout=10.0):
    """The leader of `slot` that every node's CLUSTER SLOTS agrees on."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        views = set()
        for n in c.nodes:
            try:
                views.add(next(ps[0] for s, e, ps in cluster_slots(n.port) if s <= slot <= e))
            except (OSError, ValueError, StopIteration):
                views.add(None)
        if len(views) == 1 and None not in views:
            return views.pop()
        time.sleep(0.1)
    return None


def run_round(rnd, mode, routing, c, fw, uids, observe_s, violations):
    ports = c.ports()
    tag = f"part:{rnd}:{random.randrange(1 << 30)}"
    key, iso_key = f"{{{tag}}}k", f"{{{tag}}}iso"
    v1, viso = f"v1-{tag}", f"iso-{tag}"
    client = ClusterClient(ports, timeout=5.0)
    r = client.write(("SET", key, v1))
    if r.outcome != ACK:
        violations.append(f"round {rnd}: SET v1 did not succeed: {r.outcome} {r.errors[-3:]}")
        return
    lport = r.port if routing == "redirect" else proxy_leader_port(c, key_slot(key))
    if lport is None:
        violations.append(f"round {rnd}: the nodes do not agree on the leader of {key}'s shard")
        return
    L = ports.index(lport)
    others = [i for i in range(len(ports)) if i != L]
    log(f"round {rnd}: SET {key} {v1} acknowledged; node {L} (port {lport}) leads its shard "
        f"(slot {key_slot(key)}); peer ports {[n.peer_port for n in c.nodes]}")
    direct = Conn(lport, 1.0, 2.0)
    got = direct.call("GET", key)
    direct.close()
    log(f"round {rnd}: GET on node {L} before the partition: {got!r}")
    if got != v1.encode():
        violations.append(f"round {rnd}: leader's GET before the partition gave {got!r}")

    reader = DirectReader(lport, key, timeout=8.0)
    reader.start()
    time.sleep(0.2)
    before = c.nodes[L]
    t_iso = time.monotonic()
    if mode in ("both", "outbound"):  # what L sends to its peers
        fw.drop("-m", "owner", "--uid-owner", str(uids[L]), "-m", "multiport", "--dports",
                ",".join(str(c.nodes[i].peer_port) for i in others))
    if mode in ("both", "inbound"):  # what its peers send to L
        fw.drop("--dport", str(before.peer_port))
    if mode == "both":
        fw.drop("--sport", str(before.peer_port))
    what = {"both": "both ways", "inbound": "it hears nothing, its own messages still go out",
            "outbound": "nothing it sends arrives, it still hears its peers"}[mode]
    log(f"round {rnd}: node {L} cut off from its peers ({mode}: {what}); clients still reach it")

    # A write sent straight to the isolated leader.
    iso = {}

    def isolated_write():
        t = time.monotonic()
        try:
            conn = Conn(lport, 1.0, 8.0)
            reply = conn.call("SET", iso_key, viso)
            conn.close()
        except (OSError, ConnectionLost, ValueError) as e:
            reply = e
        iso.update(t=time.monotonic() - t_iso, took=time.monotonic() - t, reply=reply)

    iso_thread = threading.Thread(target=isolated_write, daemon=True)
    iso_thread.start()

    # The new value through the majority.
    # (In proxy mode a write the majority forwards to the old leader ends
    # as UNKNOWNOUTCOME: it goes again with another value, v2.1, v2.2, ...)
    majority = ClusterClient(ports, timeout=8.0)
    majority.excluded = {lport}
    unknown_v2 = []
    end = time.monotonic() + 30
    while True:
        v2 = f"v2.{len(unknown_v2)}-{tag}"
        w = majority.write(("SET", key, v2), deadline_s=max(1.0, end - time.monotonic()))
        if w.outcome != UNKNOWN or time.monotonic() >= end:
            break
        log(f"round {rnd}: SET {key} {v2} through the majority: unknown outcome "
            f"({w.errors[-1]}); again with another value")
        unknown_v2.append(v2)
    t_ack = w.t_done
    if w.outcome != ACK:
        violations.append(f"round {rnd}: the majority did not take SET v2 within 30 s: "
                          f"{w.outcome} {w.errors[-3:]}")
        fw.clear()
        reader.stop.set()
        return
    log(f"round {rnd}: majority acknowledged SET {key} {v2} at +{t_ack - t_iso:.2f} s "
        f"(via node {ports.index(w.port)}, {w.attempts} attempts)")
    time.sleep(observe_s)
    # Stay isolated until at least one GET sent after the ack was answered
    # (a refusal can take the server's 2 s election wait or 5 s forward
    # deadline).
    wait_end = time.monotonic() + 15
    while time.monotonic() < wait_end and not any(e[0] > t_ack for e in list(reader.log)):
        time.sleep(0.05)
    iso_thread.join(timeout=15)
    if iso:
        reply = iso["reply"]
        log(f"round {rnd}: write sent to the isolated node answered after {iso['took']:.2f} s: "
            f"{reply!r}")
        iso_outcome = ACK if not isinstance(reply, (RespError, Exception)) else (
            UNKNOWN if not isinstance(reply, RespError) or reply.kind == "UNKNOWNOUTCOME"
            else "not_applied")
        if iso_outcome == ACK:
            violations.append(f"round {rnd}: the isolated node ACKNOWLEDGED a write "
                              f"({iso_key}): it cannot have reached a majority")
        if isinstance(reply, TimeoutError):
            violations.append(f"round {rnd}: HANG (H22): the isolated node answered no write "
                              f"within 8 s")
    else:
        iso_outcome = UNKNOWN
        violations.append(f"round {rnd}: the write sent to the isolated node hung > 15 s (H22)")

    # Read on the isolated node while still isolated.
    during = [e for e in reader.log if e[0] >= t_iso]
    served_v1 = [e for e in during if e[2] == "value" and e[3] == v1.encode()]
    log(f"round {rnd}: reads on node {L} while isolated: {describe(during, t_iso)}")
    if served_v1:
        log(f"round {rnd}: node {L} served v1 last at +{served_v1[-1][1] - t_iso:.2f} s "
            f"(reply time; lease end), the majority acknowledged v2 at +{t_ack - t_iso:.2f} s")

    # Heal; the old leader must catch up.
    fw.clear()
    t_heal = time.monotonic()
    log(f"round {rnd}: healed at +{t_heal - t_iso:.2f} s")
    caught_up = follower_ok = False
    last = None
    deadline = t_heal + 20
    while time.monotonic() < deadline and not (caught_up and follower_ok):
        try:
            conn = Conn(lport, 1.0, 3.0)
            if not follower_ok:
                conn.call("READONLY")
                got = conn.call("GET", key)
                follower_ok = got == v2.encode()
                last = ("READONLY GET", got)
                conn.call("READWRITE")
            got = conn.call("GET", key)
            last = ("GET", got)
            caught_up = got == v2.encode() or (isinstance(got, RespError)
                                               and got.kind == "MOVED")
            conn.close()
        except (OSError, ConnectionLost, ValueError) as e:
            last = ("conn", e)
        if not (caught_up and follower_ok):
            time.sleep(0.1)
    reader.stop.set()
    reader.join(timeout=10)
    after = [e for e in reader.log if e[0] >= t_heal]
    log(f"round {rnd}: reads on node {L} after healing: {describe(after, t_heal)}")
    if caught_up and follower_ok:
        log(f"round {rnd}: node {L} caught up {time.monotonic() - t_heal:.2f} s after healing "
            f"(READONLY GET gives v2; GET gives {last[1]!r})")
    else:
        violations.append(f"round {rnd}: node {L} did not catch up within 20 s of healing "
                          f"(READONLY ok: {follower_ok}; last: {last!r})")
    hung = [e for e in reader.log if e[2] == "timeout/conn" and "timed out" in e[3]]
    if hung:
        violations.append(f"round {rnd}: HANG (H22): {len(hung)} GETs on node {L} got no reply "
                          f"within 8 s (first sent at +{hung[0][0] - t_iso:.2f} s)")
    # Once v2 is acknowledged nothing else is written to K: every read sent
    # later must return exactly v2 (or refuse).
    stale = [e for e in reader.log if e[0] > t_ack and e[2] == "value" and e[3] != v2.encode()]
    if stale:
        violations.append(f"round {rnd}: STALE READ (H12): {len(stale)} GETs on the old "
                          f"leader sent after {v2} was acknowledged returned "
                          f"{sorted(set(e[3] for e in stale))}; first sent at "
                          f"+{stale[0][0] - t_iso:.3f} s (ack at +{t_ack - t_iso:.3f} s)")
    refused = [e for e in reader.log if t_ack < e[0] < t_heal and e[2] != "value"]
    log(f"round {rnd}: {len(refused)} GETs on node {L} sent between the ack and healing were "
        f"refused or timed out; {len(stale)} returned v1 (stale)")
    if not [e for e in reader.log if t_ack < e[0] < t_heal]:
        violations.append(f"round {rnd}: no GET on the isolated node was sent after v2 was "
                          f"acknowledged and before healing (nothing checked)")

    final_client = ClusterClient(ports, timeout=5.0)
    final, _ = final_client.read(("GET", key))
    iso_final, _ = final_client.read(("GET", iso_key))
    final_client.close()
    log(f"round {rnd}: final GET {key} = {final!r}; GET {iso_key} = {iso_final!r} "
        f"(its write's outcome: {iso_outcome})")
    if final != v2.encode():
        violations.append(f"round {rnd}: final value of {key} is {final!r}, expected {v2!r}")
    if iso_final is not None and iso_outcome not in (ACK, UNKNOWN):
        violations.append(f"round {rnd}: WRONG OUTCOME (H18): the isolated write was refused "
                          f"definitely but {iso_key} = {iso_final!r}")
    if iso_final is not None and iso_final != viso.encode():
        violations.append(f"round {rnd}: {iso_key} = {iso_final!r}, never written")
    client.close()
    majority.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--cli-bin", required=True)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--routing", choices=("redirect", "proxy"), default="redirect")
    ap.add_argument("--modes", default="both,inbound,outbound",
                    help="partition kinds, used round by round in turn: both (cut off both "
                         "ways), inbound (the node hears nothing), outbound (nothing it sends "
                         "arrives)")
    ap.add_argument("--observe-s", type=float, default=3.0,
                    help="seconds to keep reading the isolated node after the new write")
    args = ap.parse_args()

    modes = args.modes.split(",")
    if any(m not in ("both", "inbound", "outbound") for m in modes):
        ap.error("--modes: both, inbound, outbound")
    why = iptables_unavailable()
    if why:
        print(f"SKIPPED: {why}", flush=True)
        return SKIP
    Firewall.remove_stale()
    fw = Firewall()
    atexit.register(fw.clear)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # finally/atexit still run

    violations = []
    base_uid = 300000 + (os.getpid() % 100000) * 4
    c = ShoalCluster(args.server_bin, args.cli_bin, nodes=3, shards=args.shards,
                     extra_args=["--cluster-routing", args.routing])
    uids = [base_uid + i for i in range(3)]
    c.nodes = [UidNode(n, uid) for n, uid in zip(c.nodes, uids)]
    os.chmod(c.base_dir, 0o755)
    started = time.monotonic()
    try:
        with c:
            if not c.wait_state_ok(timeout=30):
                raise SystemExit("cluster never reached cluster_state:ok")
            log(f"cluster up ({args.routing} routing): client ports {c.ports()}, peer ports "
                f"{[n.peer_port for n in c.nodes]}, uids {uids}")
            for rnd in range(1, args.rounds + 1):
                run_round(rnd, modes[(rnd - 1) % len(modes)], args.routing, c, fw, uids, args.observe_s,
                          violations)
                fw.clear()
                dead = [n.index for n in c.nodes if not n.alive()]
                if dead:
                    violations.append(f"nodes {dead} died")
                    break
                time.sleep(1.0)
    finally:
        fw.clear()
    log(f"total {time.monotonic() - started:.1f} s")
    if violations:
        for v in violations:
            log(f"VIOLATION: {v}")
        log("FAILED")
        return 1
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
