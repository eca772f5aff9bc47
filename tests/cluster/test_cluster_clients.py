#!/usr/bin/python3
"""Real Redis cluster clients against a live multi-process Shoal cluster.

Usage: test_cluster_clients.py --server BIN --cli BIN [--nodes N] [unittest args]

Two clusters of N nodes (RF 3, 16 shards) are started per run, each once per
test class, by tests/support/cluster_proc.py (stopped by PID, also when a test
fails):

* RedirectModeTests (--cluster-routing redirect, Redis Cluster semantics):
  Debian's redis-py `redis.cluster.RedisCluster`, `redis-cli -c` following
  MOVED, `redis-benchmark --cluster`, CROSSSLOT error texts, CLUSTER KEYSLOT
  against the Redis algorithm (and a real redis-server in cluster mode when
  installed), CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT against the written keys,
  READONLY reads on followers, CLUSTER SLOTS/INFO coverage.
* ProxyModeTests (--cluster-routing proxy): a plain `redis.Redis` on every
  node reads and writes every key, including cross-shard MGET/DEL/EXISTS/
  UNLINK/TOUCH, keyspace-wide DBSIZE/KEYS/SCAN/FLUSHALL, pipelines.

ioredis's Cluster client is tested by ioredis_cluster.test.mjs (run through
cluster_proc.py's command-line entry point).
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import redis
from redis.cluster import RedisCluster
from redis.exceptions import ResponseError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from cluster_proc import ShoalCluster  # noqa: E402
from server_proc import _die_with_parent, free_port  # noqa: E402

SERVER_BIN = None
CLI_BIN = None
NODES = 3
SHARDS = 16
REPLICAS = 3
WARMUP_TIMEOUT_S = 30
TOOL_TIMEOUT_S = 120
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"


# ----------------------------------------------------------------------------
# The Redis Cluster key-slot algorithm (CRC16/XMODEM of the key or of its
# first non-empty {hash tag}, mod 16384), written out here independently of
# Shoal so that CLUSTER KEYSLOT is checked against it.

def crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def keyslot(key):
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % 16384


# Values documented by Redis (cluster spec / CLUSTER KEYSLOT docs) or fixed by
# CRC16/XMODEM's check value (crc16("123456789") == 0x31C3).
KNOWN_SLOTS = {
    b"123456789": 0x31C3,
    b"foo": 12182,
    b"somekey": 11058,
    b"foo{hash_tag}": 2515,
    b"bar{hash_tag}": 2515,
    b"{user1000}.following": 3443,
    b"{user1000}.followers": 3443,
}


def key_in_slot_range(prefix, start, end):
    """A key (prefix + counter) whose slot lies in [start, end]."""
    for n in range(1000000):
        k = "%s%d" % (prefix, n)
        if start <= keyslot(k) <= end:
            return k
    raise AssertionError("no key found for slots %d-%d" % (start, end))


def is_transient(err):
    text = str(err)
    return text.startswith(("CLUSTERDOWN", "TRYAGAIN")) or "CLUSTERDOWN" in text


def start_cluster(routing):
    cluster = ShoalCluster(SERVER_BIN, CLI_BIN, nodes=NODES, shards=SHARDS, replicas=REPLICAS,
                           extra_args=["--cluster-routing", routing])
    try:
        cluster.start()
        if not cluster.wait_all_ok(timeout=WARMUP_TIMEOUT_S):
            raise RuntimeError("cluster_state did not become ok on every node")
        warm_up(cluster, routing)
    except BaseException:
        cluster.cleanup()
        raise
    return cluster


def warm_up(cluster, routing):
    """Until every shard answers a read (through its leader in redirect mode,
    through every node in proxy mode): right after create, a shard may still
    be electing its first leader and answer CLUSTERDOWN briefly."""
    deadline = time.monotonic() + WARMUP_TIMEOUT_S
    ranges = []
    while time.monotonic() < deadline:
        ranges = cluster.slot_ranges()
        if ranges and all(r[2] and r[2][0] is not None for r in ranges):
            break
        time.sleep(0.1)
    assert ranges, "CLUSTER SLOTS answered nothing"
    for start, end, members in ranges:
        key = key_in_slot_range("warmup:", start, end)
        targets = range(NODES) if routing == "proxy" else [None]
        for i in targets:
            while True:
                port = cluster.port(i if i is not None else
                                    (cluster.leader_of_slot(start) or 0))
                try:
                    redis.Redis(port=port, socket_timeout=5).get(key)
                    break
                except ResponseError as e:
                    if str(e).startswith("MOVED") and i is None:
                        pass  # leadership changed since CLUSTER SLOTS: look again
                    elif not is_transient(e):
                        raise
                if time.monotonic() > deadline:
                    raise AssertionError("slots %d-%d did not become available" % (start, end))
                time.sleep(0.1)


def start_redis_cluster_node():
    """A redis-server in cluster mode (no slots assigned; enough for
    CLUSTER KEYSLOT and argument errors). Returns (proc, tmpdir, client).
    Both its ports are chosen here (by default its bus port is port + 10000,
    which may be taken or past 65535)."""
    last = None
    for _attempt in range(5):
        tmp = tempfile.mkdtemp(prefix="shoal-redis-cluster-")
        port = free_port()
        proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-port", str(free_port()), "--save", "", "--appendonly", "no",
             "--dir", tmp, "--cluster-enabled", "yes",
             "--cluster-config-file", os.path.join(tmp, "nodes.conf"), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        ref = redis.Redis(port=port, socket_timeout=5)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                ref.ping()
                return proc, tmp, ref
            except redis.ConnectionError as e:
                last = e
                time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    raise RuntimeError("redis-server (cluster mode) did not start: %s" % last)


def poll(fn, want, timeout=10):
    """fn() until it returns `want` (bounded): for READONLY reads, which may
    lag the leader by a little (bounded staleness)."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.02)
        got = fn()
    return got


def run_tool(argv, timeout=TOOL_TIMEOUT_S):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    return out.returncode, out.stdout, out.stderr


# ----------------------------------------------------------------------------


class RedirectModeTests(unittest.TestCase):
    """Redis Cluster semantics: MOVED redirects, CROSSSLOT."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = start_cluster("redirect")
        cls.rc = RedisCluster(host="127.0.0.1", port=cls.cluster.port(0), decode_responses=True,
                              socket_timeout=10)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.rc.close()
        finally:
            cls.cluster.cleanup()

    def raw(self, i, **kw):
        kw.setdefault("decode_responses", True)
        return redis.Redis(port=self.cluster.port(i), socket_timeout=10, **kw)

    def all_keys(self, pattern):
        """Every key matching `pattern`: the union of each node's SCAN (in
        redirect mode a node's SCAN covers the shards it leads). A small
        COUNT makes every shard's SCAN resume from a mid-shard cursor."""
        keys = set()
        for i in range(NODES):
            keys |= set(self.raw(i).scan_iter(match=pattern, count=50))
        return keys

    def total_dbsize(self):
        return sum(self.raw(i).dbsize() for i in range(NODES))

    def flush_all_shards(self):
        for i in range(NODES):  # each node flushes the shards it leads
            self.assertTrue(self.raw(i).flushall())
        self.assertEqual(self.total_dbsize(), 0)

    def leader_port(self, slot):
        i = self.cluster.leader_of_slot(slot)
        self.assertIsNotNone(i, "no leader for slot %d" % slot)
        return self.cluster.port(i)

    def non_leader(self, slot):
        leader = self.cluster.leader_of_slot(slot)
        return next(i for i in range(NODES) if i != leader)

    # --- topology ---------------------------------------------------------------
    def test_cluster_slots_cover_every_slot_on_every_node(self):
        for i in range(NODES):
            ranges = sorted(self.cluster.slot_ranges(via=i))
            self.assertEqual(ranges[0][0], 0)
            self.assertEqual(ranges[-1][1], 16383)
            for (s1, e1, _), (s2, _, _) in zip(ranges, ranges[1:]):
                self.assertEqual(e1 + 1, s2, "gap or overlap in CLUSTER SLOTS of node %d" % i)
            for start, end, members in ranges:
                self.assertEqual(len(members), min(REPLICAS, NODES),
                                 "slots %d-%d: %r" % (start, end, members))
                self.assertNotIn(None, members)
                self.assertEqual(len(set(members)), len(members))
            info = self.raw(i).execute_command("CLUSTER", "INFO")
            if isinstance(info, dict):
                info = "\n".join("%s:%s" % kv for kv in info.items())
            self.assertIn("cluster_state:ok", info)
            self.assertIn("cluster_slots_assigned:16384", info)
            self.assertIn("cluster_known_nodes:%d" % NODES, info)

    # --- CLUSTER KEYSLOT --------------------------------------------------------
    def test_keyslot_matches_redis_algorithm(self):
        r = self.raw(0, decode_responses=False)
        for key, slot in KNOWN_SLOTS.items():
            self.assertEqual(keyslot(key), slot, key)  # the reference itself
            self.assertEqual(r.execute_command("CLUSTER", "KEYSLOT", key), slot, key)
        rng = random.Random(5)
        edge = [b"", b"{", b"}", b"{}", b"{}x", b"x{}", b"{}{a}", b"{a}{b}", b"a{b}c{d}",
                b"{{a}}", b"a{", b"a}b{c", b"{a", b"\x00{\xff}", b"\xff" * 10, b"k\r\n",
                b"{user1000}", b"x" * 1000]
        rand = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 20)))
                for _ in range(300)]
        for key in edge + rand:
            self.assertEqual(r.execute_command("CLUSTER", "KEYSLOT", key), keyslot(key), key)

    @unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
    def test_keyslot_matches_a_redis_cluster_node(self):
        """The same CLUSTER KEYSLOT questions to a real redis-server in
        cluster mode (no slots needed for these)."""
        proc, tmp, ref = start_redis_cluster_node()
        try:
            ours = redis.Redis(port=self.cluster.port(0), socket_timeout=5)
            rng = random.Random(7)
            keys = list(KNOWN_SLOTS) + [b"", b"{}", b"{a}{b}", b"{{a}}", b"\xff{\x00}"] + [
                bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12))) for _ in range(200)]
            for key in keys:
                self.assertEqual(ours.execute_command("CLUSTER", "KEYSLOT", key),
                                 ref.execute_command("CLUSTER", "KEYSLOT", key), key)
        finally:
            proc.kill()
            proc.wait(timeout=10)
            shutil.rmtree(tmp, ignore_errors=True)

    # --- redis-py RedisCluster --------------------------------------------------
    def test_redis_py_cluster_many_keys(self):
        rc = self.rc
        n = 600
        keys = ["rpy:%d" % i for i in range(n)]
        self.assertGreater(len({keyslot(k) for k in keys}), 500)
        for i, k in enumerate(keys):
            self.assertTrue(rc.set(k, "v%d" % i))
        for i, k in enumerate(keys):
            self.assertEqual(rc.get(k), "v%d" % i, k)
        # INCR family
        ctrs = ["rpy:ctr:%d" % i for i in range(100)]
        for i, k in enumerate(ctrs):
            self.assertEqual(rc.incr(k), 1)
            self.assertEqual(rc.incrby(k, i), 1 + i)
            self.assertEqual(rc.decr(k), i)
        for i, k in enumerate(ctrs):
            self.assertEqual(rc.get(k), str(i))
        # MSET/MGET within a hash tag, across many tags.
        for t in range(40):
            group = {"{rpy-tag%d}:%s" % (t, f): "%d-%s" % (t, f) for f in "abcde"}
            self.assertEqual(len({keyslot(k) for k in group}), 1)
            self.assertTrue(rc.mset(group))
            self.assertEqual(rc.mget(list(group)), list(group.values()))
            self.assertTrue(rc.msetnx({"{rpy-tag%d}:new" % t: "n"}))
            self.assertFalse(rc.msetnx({"{rpy-tag%d}:new" % t: "m", "{rpy-tag%d}:z" % t: "z"}))
        # MGET across slots: the client splits it per slot.
        self.assertEqual(rc.mget_nonatomic(keys), ["v%d" % i for i in range(n)])
        self.assertEqual(rc.exists(*keys[:200]), 200)
        # DEL across slots (redis-py splits it per slot); the rest stays.
        self.assertEqual(rc.delete(*keys[:300]), 300)
        self.assertEqual(rc.delete(*keys[:300]), 0)
        got = rc.mget_nonatomic(keys)
        self.assertEqual(got[:300], [None] * 300)
        self.assertEqual(got[300:], ["v%d" % i for i in range(300, n)])
        # Expiry
        for k in keys[300:400]:
            self.assertTrue(rc.expire(k, 1000))
        for k in keys[300:400]:
            self.assertIn(rc.ttl(k), range(990, 1001), k)
            self.assertTrue(rc.persist(k))
            self.assertEqual(rc.ttl(k), -1)
        for k in keys[400:450]:
            self.assertTrue(rc.pexpire(k, 1))
        deadline = time.monotonic() + 10
        while any(rc.exists(k) for k in keys[400:450]) and time.monotonic() < deadline:
            time.sleep(0.05)
        for k in keys[400:450]:
            self.assertIsNone(rc.get(k), k)
        for i in range(450, n):
            self.assertEqual(rc.get(keys[i]), "v%d" % i)
        # RENAME within a tag
        self.assertTrue(rc.rename("{rpy-tag0}:a", "{rpy-tag0}:renamed"))
        self.assertEqual(rc.get("{rpy-tag0}:renamed"), "0-a")
        self.assertIsNone(rc.get("{rpy-tag0}:a"))

    def test_redis_py_cluster_pipeline(self):
        rc = self.rc
        n = 400
        pipe = rc.pipeline()
        for i in range(n):
            pipe.set("pipe:%d" % i, "p%d" % i)
        for i in range(n):
            pipe.get("pipe:%d" % i)
        for i in range(50):
            pipe.incr("pipe:ctr:%d" % i)
            pipe.incrby("pipe:ctr:%d" % i, 10)
        res = pipe.execute()
        self.assertEqual(res[:n], [True] * n)
        self.assertEqual(res[n:2 * n], ["p%d" % i for i in range(n)])
        self.assertEqual(res[2 * n:], [1, 11] * 50)
        for i in range(n):
            self.assertEqual(rc.get("pipe:%d" % i), "p%d" % i)
        pipe = rc.pipeline()
        for i in range(0, n, 2):
            pipe.delete("pipe:%d" % i)
        self.assertEqual(pipe.execute(), [1] * (n // 2))
        self.assertEqual(rc.mget_nonatomic(["pipe:%d" % i for i in range(n)]),
                         [None if i % 2 == 0 else "p%d" % i for i in range(n)])

    # --- CROSSSLOT --------------------------------------------------------------
    def test_crossslot_errors(self):
        a, b = "cross:a", "cross:b"
        self.assertNotEqual(keyslot(a), keyslot(b))
        cases = [("MSET", a, "1", b, "2"), ("MSETNX", a, "1", b, "2"), ("RENAME", a, b),
                 ("RENAMENX", a, b), ("COPY", a, b), ("LCS", a, b), ("MGET", a, b),
                 ("DEL", a, b), ("EXISTS", a, b), ("UNLINK", a, b), ("TOUCH", a, b)]
        for i in range(NODES):  # the check comes before any redirect, on every node
            r = self.raw(i)
            for args in cases:
                with self.assertRaises(ResponseError, msg="%s on node %d" % (args, i)) as cm:
                    r.execute_command(*args)
                self.assertEqual(str(cm.exception), CROSSSLOT, "%s on node %d" % (args, i))
        # One slot: accepted (answered or redirected, never CROSSSLOT).
        x, y = "{cross}a", "{cross}b"
        port = self.leader_port(keyslot(x))
        r = redis.Redis(port=port, decode_responses=True)
        self.assertTrue(r.mset({x: "1", y: "2"}))
        self.assertEqual(r.mget(x, y), ["1", "2"])
        other = self.raw(self.non_leader(keyslot(x)))
        with self.assertRaises(ResponseError) as cm:
            other.mset({x: "1", y: "2"})
        self.assertEqual(str(cm.exception), "MOVED %d 127.0.0.1:%d" % (keyslot(x), port))

    # --- redis-cli -c -----------------------------------------------------------
    def test_redis_cli_follows_moved(self):
        cli = shutil.which("redis-cli")
        if not cli:
            self.skipTest("redis-cli not installed")
        checked = 0
        for n in range(200):
            key = "cli:%d" % n
            slot = keyslot(key)
            leader = self.cluster.leader_of_slot(slot)
            node = next(i for i in range(NODES) if i != leader)
            port = self.cluster.port(node)
            # Without -c: the MOVED error itself.
            rc, out, err = run_tool([cli, "-p", str(port), "SET", key, "x"])
            self.assertEqual(out.strip(), "MOVED %d 127.0.0.1:%d"
                             % (slot, self.cluster.port(leader)), err)
            # With -c: followed.
            rc, out, err = run_tool([cli, "-c", "-p", str(port), "SET", key, "val-%d" % n])
            self.assertEqual((rc, out.strip()), (0, "OK"), err)
            rc, out, err = run_tool([cli, "-c", "-p", str(port), "GET", key])
            self.assertEqual((rc, out.strip()), (0, "val-%d" % n), err)
            rc, out, err = run_tool([cli, "-c", "-p", str(port), "INCR", key + ":n"])
            self.assertEqual((rc, out.strip()), (0, "1"), err)
            self.assertEqual(self.rc.get(key), "val-%d" % n)
            checked += 1
            if checked >= 12:
                break
        self.assertEqual(checked, 12)
        # Several commands in one redis-cli session (stdin), hopping nodes.
        script = "".join("SET clis:%d v%d\nGET clis:%d\n" % (i, i, i) for i in range(30))
        out = subprocess.run([cli, "-c", "-p", str(self.cluster.port(0))], input=script,
                             capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
        self.assertEqual(out.returncode, 0, out.stderr)
        # redis-cli prints "-> Redirected to slot [S] located at H:P" when it follows one.
        lines = [l for l in out.stdout.splitlines() if not l.startswith("-> Redirected to slot")]
        self.assertEqual(lines, sum((["OK", "v%d" % i] for i in range(30)), []))
        self.assertIn("-> Redirected to slot", out.stdout)

    # --- redis-benchmark --cluster -----------------------------------------------
    def test_redis_benchmark_cluster(self):
        bench = shutil.which("redis-benchmark")
        if not bench:
            self.skipTest("redis-benchmark not installed")
        rc, out, err = run_tool([bench, "--cluster", "-h", "127.0.0.1",
                                 "-p", str(self.cluster.port(NODES - 1)), "-t", "set,get",
                                 "-n", "4000", "-r", "400", "-c", "10", "-d", "3", "-q"], timeout=180)
        text = (out + err).replace("\r", "\n")
        self.assertEqual(rc, 0, text[-3000:])
        # redis-benchmark takes masters from CLUSTER NODES: one per node that
        # leads a shard (see DesignExpectationTests.test_every_node_leads_a_shard).
        leaders = {r[2][0] for r in self.cluster.slot_ranges()}
        self.assertIn("Cluster has %d master nodes" % len(leaders), text)
        for word in ("rror", "MOVED", "ASK ", "CLUSTERDOWN", "TRYAGAIN", "CROSSSLOT"):
            self.assertNotIn(word, text, text[-3000:])
        summary = [l for l in text.splitlines() if "requests per second" in l]
        self.assertEqual([l.split(":")[0].strip() for l in summary], ["SET", "GET"], text[-3000:])
        # The keys exist afterwards, one hash tag per master, value "xxx".
        found = self.all_keys("key:{*}:*")
        self.assertGreater(len(found), 0)
        self.assertLessEqual(len(found), 400 * len(leaders))
        tags = {k.split("}")[0] for k in found}
        self.assertEqual(len(tags), len(leaders), sorted(tags))
        values = set(self.rc.mget_nonatomic(sorted(found)))
        self.assertEqual(len(values), 1, values)  # one (random) 3-byte payload, -d 3
        self.assertEqual(len(values.pop()), 3)

    # --- COUNTKEYSINSLOT / GETKEYSINSLOT ------------------------------------------
    def test_countkeysinslot_getkeysinslot(self):
        rc = self.rc
        self.flush_all_shards()
        written = {}
        for t in range(25):  # 25 tagged groups of 1..20 keys, plus 200 untagged keys
            for f in range(1 + (t * 7) % 20):
                k = "{cks%d}f%d" % (t, f)
                written.setdefault(keyslot(k), set()).add(k)
        for n in range(200):
            k = "cks-plain:%d" % n
            written.setdefault(keyslot(k), set()).add(k)
        for keys in written.values():
            for k in keys:
                rc.set(k, "1")
        total = sum(len(v) for v in written.values())
        self.assertEqual(self.total_dbsize(), total)
        self.assertEqual(self.all_keys("*"), set().union(*written.values()))
        for slot, keys in written.items():
            leader = redis.Redis(port=self.leader_port(slot), decode_responses=True)
            self.assertEqual(leader.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot),
                             len(keys), "slot %d" % slot)
            got = leader.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
            self.assertEqual(sorted(got), sorted(keys), "slot %d" % slot)
            some = leader.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 2)
            self.assertEqual(len(some), min(2, len(keys)))
            self.assertLessEqual(set(some), keys)
            self.assertEqual(leader.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 0), [])
        empty = next(s for s in range(16384) if s not in written)
        leader = redis.Redis(port=self.leader_port(empty), decode_responses=True)
        self.assertEqual(leader.execute_command("CLUSTER", "COUNTKEYSINSLOT", empty), 0)
        self.assertEqual(leader.execute_command("CLUSTER", "GETKEYSINSLOT", empty, 10), [])

    # --- READONLY -----------------------------------------------------------------
    def test_readonly_reads_on_followers(self):
        checked = 0
        for start, end, members in self.cluster.slot_ranges():
            key = key_in_slot_range("ro:", start, end)
            slot = keyslot(key)
            self.assertEqual(self.rc.set(key, "ro-" + key), True)
            members = [m for m in self.cluster.slot_ranges() if m[0] == start][0][2]
            for f in members[1:]:
                r = self.raw(f, single_connection_client=True)
                try:
                    with self.assertRaises(ResponseError) as cm:
                        r.get(key)  # not READONLY: redirected to the leader
                    self.assertTrue(str(cm.exception).startswith("MOVED %d " % slot))
                    self.assertEqual(r.execute_command("READONLY"), True)
                    # A follower may lag the leader a little (bounded staleness).
                    self.assertEqual(poll(lambda: r.get(key), "ro-" + key), "ro-" + key)
                    self.assertEqual(r.exists(key), 1)
                    self.assertEqual(r.mget(key, key), ["ro-" + key] * 2)
                    with self.assertRaises(ResponseError) as cm:
                        r.set(key, "no")  # writes still go to the leader
                    self.assertTrue(str(cm.exception).startswith("MOVED %d " % slot))
                    self.assertEqual(r.execute_command("READWRITE"), True)
                    with self.assertRaises(ResponseError) as cm:
                        r.get(key)
                    self.assertTrue(str(cm.exception).startswith("MOVED %d " % slot))
                finally:
                    r.close()
                checked += 1
            for outsider in (i for i in range(NODES) if i not in members):
                r = self.raw(outsider, single_connection_client=True)
                try:  # a node without a replica of the shard redirects even when READONLY
                    self.assertEqual(r.execute_command("READONLY"), True)
                    with self.assertRaises(ResponseError) as cm:
                        r.get(key)
                    self.assertTrue(str(cm.exception).startswith("MOVED %d " % slot))
                finally:
                    r.close()
        self.assertGreaterEqual(checked, SHARDS)
        self.assertEqual(self.rc.get("ro:never-written"), None)


class ProxyModeTests(unittest.TestCase):
    """Plain (non-cluster) clients on any node of a proxy-mode cluster."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = start_cluster("proxy")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def setUp(self):
        self.clients = [redis.Redis(port=p, decode_responses=True, socket_timeout=10)
                        for p in self.cluster.ports()]
        self.assertTrue(self.clients[0].flushall())

    def tearDown(self):
        for c in self.clients:
            c.close()

    def test_every_node_reads_and_writes_every_key(self):
        cs = self.clients
        n = 500
        keys = ["px:%d" % i for i in range(n)]
        self.assertGreater(len({keyslot(k) for k in keys}), 400)
        for i, k in enumerate(keys):
            self.assertTrue(cs[i % NODES].set(k, "v%d" % i))
        for c in cs:
            for i, k in enumerate(keys):
                self.assertEqual(c.get(k), "v%d" % i, k)
        for c in cs:  # keyspace-wide commands cover every shard
            self.assertEqual(c.dbsize(), n)
            self.assertEqual(sorted(c.keys("px:*")), sorted(keys))
            self.assertEqual(sorted(c.scan_iter(match="px:*", count=37)), sorted(keys))
            self.assertIn(c.randomkey(), set(keys))
        for j, c in enumerate(cs):  # cross-shard MGET, in request order
            order = keys[j::2] + ["px:missing:%d" % j]
            self.assertEqual(c.mget(order), [c.get(k) for k in keys[j::2]] + [None])
            self.assertEqual(c.exists(*keys, "px:missing"), n)
            self.assertEqual(c.exists("px:0", "px:0", "px:1"), 3)  # duplicates count
            self.assertEqual(c.touch(*keys[:100]), 100)
        # Cross-shard DEL / UNLINK from one node, checked from the others.
        self.assertEqual(cs[0].delete(*keys[:200], "px:missing"), 200)
        self.assertEqual(cs[-1].unlink(*keys[:250]), 50)
        for c in cs:
            got = c.mget(keys)
            self.assertEqual(got[:250], [None] * 250)
            self.assertEqual(got[250:], ["v%d" % i for i in range(250, n)])
            self.assertEqual(c.dbsize(), n - 250)
        self.assertTrue(cs[-1].flushall())
        for c in cs:
            self.assertEqual(c.dbsize(), 0)
            self.assertEqual(c.keys("*"), [])

    def test_counters_expiry_and_atomic_multikey(self):
        cs = self.clients
        for i in range(60):
            k = "pxc:%d" % i
            for j in range(NODES):
                self.assertEqual(cs[j].incr(k), j + 1)
            self.assertEqual(cs[i % NODES].incrby(k, 10), NODES + 10)
        for c in cs:
            self.assertEqual(c.mget(["pxc:%d" % i for i in range(60)]), [str(NODES + 10)] * 60)
        # Expiry through another node
        for i in range(30):
            self.assertTrue(cs[i % NODES].expire("pxc:%d" % i, 1000))
        for c in cs:
            for i in range(30):
                self.assertIn(c.ttl("pxc:%d" % i), range(990, 1001))
            self.assertEqual(c.ttl("pxc:59"), -1)
        self.assertTrue(cs[0].set("pxc:short", "x", px=1))
        deadline = time.monotonic() + 10
        while cs[-1].exists("pxc:short") and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIsNone(cs[-1].get("pxc:short"))
        # Atomic multi-key commands: one slot works from any node, else CROSSSLOT.
        for j, c in enumerate(cs):
            tag = "{pxt%d}" % j
            self.assertTrue(c.mset({tag + "a": "1", tag + "b": "2"}))
            self.assertFalse(c.msetnx({tag + "a": "9", tag + "c": "3"}))
            self.assertTrue(c.rename(tag + "a", tag + "r"))
            self.assertTrue(c.copy(tag + "b", tag + "copy"))
            for other in cs:
                self.assertEqual(other.mget(tag + "a", tag + "r", tag + "b", tag + "copy"),
                                 [None, "1", "2", "2"])
            for args in (("MSET", "pxa", "1", "pxb", "2"), ("MSETNX", "pxa", "1", "pxb", "2"),
                         ("RENAME", "pxa", "pxb"), ("RENAMENX", "pxa", "pxb"),
                         ("COPY", "pxa", "pxb"), ("LCS", "pxa", "pxb")):
                self.assertNotEqual(keyslot("pxa"), keyslot("pxb"))
                with self.assertRaises(ResponseError) as cm:
                    c.execute_command(*args)
                self.assertEqual(str(cm.exception), CROSSSLOT, args)

    def test_pipelines_across_shards(self):
        cs = self.clients
        n = 300
        for j, c in enumerate(cs):
            pipe = c.pipeline(transaction=False)
            for i in range(n):
                pipe.set("pxp:%d:%d" % (j, i), i)
                pipe.incr("pxp:ctr:%d" % (i % 17))
            pipe.mget(["pxp:%d:%d" % (j, i) for i in range(n)])
            res = pipe.execute()
            self.assertEqual(res[0:2 * n:2], [True] * n)
            self.assertEqual(res[-1], [str(i) for i in range(n)])
        for c in cs:
            self.assertEqual(c.dbsize(), NODES * n + 17)
            self.assertEqual(sum(int(c.get("pxp:ctr:%d" % i)) for i in range(17)), NODES * n)

    def test_readonly_connection_reads(self):
        cs = self.clients
        keys = ["pxro:%d" % i for i in range(100)]
        for k in keys:
            self.assertTrue(cs[0].set(k, k))
        for p in self.cluster.ports():
            r = redis.Redis(port=p, decode_responses=True, single_connection_client=True)
            try:
                self.assertEqual(r.execute_command("READONLY"), True)
                # Local follower reads may lag a little (bounded staleness).
                self.assertEqual(poll(lambda: r.mget(keys), keys), keys)
                for k in keys[:20]:
                    self.assertEqual(r.get(k), k)
                self.assertTrue(r.set("pxro:w", "1"))  # writes still work (forwarded)
                self.assertEqual(r.execute_command("READWRITE"), True)
                self.assertEqual(r.get("pxro:w"), "1")
            finally:
                r.close()
        self.assertEqual(cs[0].dbsize(), 101)

    def test_cluster_client_on_proxy_nodes(self):
        rc = RedisCluster(host="127.0.0.1", port=self.cluster.port(NODES - 1),
                          decode_responses=True, socket_timeout=10)
        try:
            for i in range(200):
                rc.set("pxrc:%d" % i, i)
            self.assertEqual(rc.mget_nonatomic(["pxrc:%d" % i for i in range(200)]),
                             [str(i) for i in range(200)])
        finally:
            rc.close()
        self.assertEqual(self.clients[0].dbsize(), 200)


class ParityTests(unittest.TestCase):
    """Parity with Redis and DESIGN.md on three points that once differed
    (ctest cluster_parity_N): CLUSTER *KEYSINSLOT error texts, WAIT waiting
    for replicas, leaders spread over the nodes. See docs/testing-cluster.md."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = start_cluster("redirect")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    @unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
    def test_slot_command_errors_match_a_redis_cluster_node(self):
        """Error replies of CLUSTER KEYSLOT / COUNTKEYSINSLOT / GETKEYSINSLOT
        for bad arguments, against a real redis-server in cluster mode.
        Known to fail today: a non-integer slot or count answers 'Invalid
        slot ...' where Redis answers 'value is not an integer or out of
        range' (src/kv/slot_commands.cc, docs/testing-cluster.md)."""
        proc, tmp, ref = start_redis_cluster_node()
        try:
            ours = redis.Redis(port=self.cluster.port(0), socket_timeout=5)
            diffs = []
            for args in (["KEYSLOT"], ["KEYSLOT", "a", "b"], ["COUNTKEYSINSLOT", "16384"],
                         ["COUNTKEYSINSLOT", "-1"], ["COUNTKEYSINSLOT", "abc"],
                         ["GETKEYSINSLOT", "16384", "1"], ["GETKEYSINSLOT", "1", "-1"],
                         ["GETKEYSINSLOT", "1", "abc"], ["GETKEYSINSLOT", "1"]):
                got = []
                for conn in (ref, ours):
                    try:
                        got.append(("ok", conn.execute_command("CLUSTER", *args)))
                    except ResponseError as e:
                        got.append(("err", str(e)))
                if got[0] != got[1]:
                    diffs.append("CLUSTER %s: redis %r, shoal %r" % (" ".join(args), *got))
            self.assertEqual(diffs, [])
        finally:
            proc.kill()
            proc.wait(timeout=10)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_wait_counts_every_replica_that_applied(self):
        """DESIGN §4.6: `WAIT n timeout` waits until n replicas have applied
        the connection's last write. Shoal's WAIT answers floor(RF/2) at
        once (src/server/cluster_commands.cc cmd_wait)."""
        for start, end, members in self.cluster.slot_ranges()[:4]:
            key = key_in_slot_range("wait:", start, end)
            r = redis.Redis(port=self.cluster.port(members[0]), single_connection_client=True,
                            socket_timeout=15)
            try:
                self.assertTrue(r.set(key, "1"))
                self.assertEqual(r.execute_command("WAIT", len(members) - 1, 5000),
                                 len(members) - 1, "WAIT %d 5000 after SET %s"
                                 % (len(members) - 1, key))
            finally:
                r.close()

    def test_every_node_leads_a_shard(self):
        """DESIGN §6 / docs/cluster-map.md: the first replica of a shard is
        its preferred leader and leaders are spread (counts differ by at most
        1). After create, leaders are whoever won the first election; a node
        may lead no shard at all (redis-benchmark --cluster then skips it)."""
        deadline = time.monotonic() + 10
        while True:
            counts = {i: 0 for i in range(NODES)}
            for _, _, members in self.cluster.slot_ranges():
                counts[members[0]] += 1
            if max(counts.values()) - min(counts.values()) <= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertLessEqual(max(counts.values()) - min(counts.values()), 1,
                             "shards led per node: %r" % counts)


def main():
    global SERVER_BIN, CLI_BIN, NODES
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--server", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--nodes", type=int, default=3)
    o, rest = ap.parse_known_args()
    SERVER_BIN, CLI_BIN, NODES = o.server, o.cli, o.nodes
    print("cluster client tests: %d nodes, %d shards, RF %d" % (NODES, SHARDS, REPLICAS),
          flush=True)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
