#!/usr/bin/env python3
"""Differential test: Shoal against Debian's redis-server.

Runs one seeded random sequence of the commands Shoal supports against a
fresh redis-server and a fresh shoal-server (or, with --against-redis, a
second redis-server, which checks the harness itself) and requires the same
reply from both, byte for byte, after the few normalizations documented in
docs/testing-differential.md (and listed in NORMALIZATIONS below).

Everything random comes from one random.Random(seed); the generated sequence
never depends on the replies, so `--seed S --count N` replays a run exactly
(absolute expiry times are generated as offsets from the wall clock of the
run, so they stay far in the future / far in the past on replay).

With --cluster-nodes N the server under test is a proxy-mode Shoal cluster of
N nodes (tests/support/cluster_proc.py) and the reference a standalone
redis-server; commands are sent to one node per 500-command segment, in turn.
The generator then gives atomic multi-key commands keys of one hash tag (see
CLUSTER_DIFFERENCES).

Standard library only.  Usage:
  difftest.py --shoal-bin build/bin/shoal-server [--seed S] [--count N]
  difftest.py --shoal-bin build/bin/shoal-server --cluster-nodes 3 [--seed S]
  difftest.py --against-redis            # harness self-check
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
import time

NORMALIZATIONS = """\
- KEYS: the reply array is compared as a sorted list (order is hash-table order).
- SCAN: a single SCAN call is compared by shape; its keys are compared as a set
  only when it starts at cursor 0 and both servers return cursor 0 (from any
  other cursor the keys returned depend on the hash table's size and layout).
  A full SCAN iteration (generated as a unit) is compared as the set of keys
  returned over the whole iteration.
- RANDOMKEY: both nil, or both a key of the key universe (which key is random).
- TTL/EXPIRETIME: +-1 s; PTTL/PEXPIRETIME: +-TIME_TOL_MS (the two servers run
  each command a few ms apart). Inexact TTL/EXPIRETIME answers are also
  counted; more than 5% of them fails the run (catches rounding bugs).
- OBJECT IDLETIME: in the random stream, shape only (Redis reports the idle
  time of its shared integer objects); in the idle units, +-1 s.
- SELECT n / COPY .. DB n, n a valid nonzero int: Redis's "DB index is out of
  range" also accepts the Redis cluster-mode error (a Shoal node has db 0 only).
- HELLO (successful): compared as the set of map keys plus the 'proto' value
  (server name, version and connection id legitimately differ).
"""

CLUSTER_DIFFERENCES = """\
With --cluster-nodes (the reference is still a standalone redis-server):
- Atomic multi-key commands (MSET, MSETNX, RENAME, RENAMENX, COPY, LCS) are
  generated with keys of one hash tag only: across slots a cluster answers
  CROSSSLOT where standalone Redis runs them. Per-key multi-key commands (MGET,
  DEL, UNLINK, EXISTS, TOUCH) and keyspace-wide ones (DBSIZE, KEYS, SCAN,
  RANDOMKEY, FLUSHALL, FLUSHDB) stay random across slots: proxy mode splits or
  fans them out and must match standalone Redis.
- The key universe gains hash-tagged groups ({t}, {u}, {g}, {h}); everything else
  about the sequence is as in standalone mode.
- PTTL/PEXPIRETIME tolerance defaults to 1000 ms instead of 250 ms (a cluster
  write's lag behind the reference varies more on a loaded machine). SELECT n / COPY DB n are already
  tolerated (see NORMALIZATIONS); SWAPDB, MOVE and MULTI are not generated.
"""

# ----------------------------------------------------------------------------
# RESP client


class Incomplete(Exception):
    pass


class ServerGone(Exception):
    pass


class Conn:
    """A minimal RESP2/RESP3 client. Replies are parsed into exact,
    comparable tuples (type byte, payload) so that errors, nil flavours and
    reply types are compared precisely."""

    def __init__(self, port, timeout=20.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, cmds):
        data = b"".join(self.encode(c) for c in cmds)
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise ServerGone("send failed: %s" % e)

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise ServerGone("timed out waiting for a reply")
        except OSError as e:
            raise ServerGone("recv failed: %s" % e)
        if not chunk:
            raise ServerGone("connection closed by server")
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += chunk

    def _line(self, i):
        j = self.buf.find(b"\r\n", i)
        if j < 0:
            raise Incomplete()
        return self.buf[i:j], j + 2

    def _parse(self, i):
        if i >= len(self.buf):
            raise Incomplete()
        t = self.buf[i:i + 1]
        line, i = self._line(i + 1)
        if t in (b"+", b"-", b":", b",", b"#", b"("):
            return (t, line), i
        if t == b"_":
            return (t, None), i
        if t in (b"$", b"=", b"!"):
            n = int(line)
            if n < 0:
                return (t, None), i
            if len(self.buf) < i + n + 2:
                raise Incomplete()
            return (t, self.buf[i:i + n]), i + n + 2
        if t in (b"*", b"~", b">", b"%", b"|"):
            n = int(line)
            if n < 0:
                return (t, None), i
            if t in (b"%", b"|"):
                n *= 2
            items = []
            for _ in range(n):
                item, i = self._parse(i)
                items.append(item)
            if t == b"|":  # attribute: skip it, return the reply that follows
                return self._parse(i)
            return (t, tuple(items)), i
        raise ServerGone("protocol error: unexpected type byte %r" % t)

    def read(self):
        while True:
            try:
                r, self.pos = self._parse(self.pos)
                return r
            except Incomplete:
                self._fill()
            except ValueError:
                raise ServerGone("protocol error: bad length in %r"
                                 % self.buf[self.pos:self.pos + 40])

    def call(self, *args):
        self.send([list(args)])
        return self.read()


def fmt(reply, depth=0):
    """Human-readable rendering of a parsed reply."""
    if reply is None:
        return "<no reply>"
    t, v = reply
    t = t.decode()
    if v is None:
        return "(nil %s)" % t
    if isinstance(v, tuple):
        inner = ", ".join(fmt(x, depth + 1) for x in v)
        return "%s[%s]" % (t, inner)
    return "%s%r" % (t, v)


# ----------------------------------------------------------------------------
# Servers


def free_port(rng):
    for _ in range(200):
        p = rng.randrange(20000, 60000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port found")


class Server:
    """A server process started by this script and stopped by its PID."""

    def __init__(self, name, argv_for_port, port_rng):
        self.name = name
        self.proc = None
        self.tmp = tempfile.mkdtemp(prefix="shoal-diff-%s-" % name)
        try:
            self._start(argv_for_port, port_rng)
        except BaseException:
            self.cleanup()
            raise

    def _start(self, argv_for_port, port_rng):
        last = None
        for _attempt in range(10):
            self.port = free_port(port_rng)
            argv = argv_for_port(self.port, self.tmp)
            log = open(os.path.join(self.tmp, "server.log"), "ab")
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.tmp)
            log.close()
            if self._wait_ready():
                self.argv = argv
                return
            last = "exit code %s" % self.proc.poll()
            self.stop()
        raise RuntimeError("%s did not start (%s); log tail:\n%s"
                           % (self.name, last, self.log_tail()))

    def _wait_ready(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False  # e.g. port taken between our check and its bind
            try:
                c = Conn(self.port, timeout=2)
                r = c.call(b"PING")
                c.close()
                if self.proc.poll() is None and r == (b"+", b"PONG"):
                    return True
            except (OSError, ServerGone):
                pass
            time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, n=15):
        try:
            with open(os.path.join(self.tmp, "server.log"), "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class ClusterSut:
    """The server under test as a proxy-mode Shoal cluster of `nodes` nodes
    (tests/support/cluster_proc.py: started on free loopback ports, stopped
    by PID). `port` is node 0's client port, `ports` every node's."""

    def __init__(self, shoal_bin, cli_bin, nodes, shards, extra_args=()):
        support = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support")
        sys.path.insert(0, os.path.abspath(support))
        from cluster_proc import ShoalCluster
        self.cluster = ShoalCluster(shoal_bin, cli_bin, nodes=nodes, shards=shards,
                                    replicas=min(3, nodes),
                                    extra_args=["--cluster-routing", "proxy", *extra_args])
        try:
            self.cluster.start()
            if not self.cluster.wait_all_ok(timeout=30):
                raise RuntimeError("cluster_state did not become ok on every node")
            self.ports = self.cluster.ports()
            self.port = self.ports[0]
            self._warm_up()
        except BaseException:
            self.cleanup()
            raise

    def _warm_up(self):
        """Until every node answers a keyspace-wide command (which reaches
        every shard's leader) without an error: a shard may still be electing
        its first leader right after create (CLUSTERDOWN)."""
        deadline = time.time() + 30
        for port in self.ports:
            while True:
                c = Conn(port, timeout=10)
                try:
                    r = c.call(b"DBSIZE")
                finally:
                    c.close()
                if r[0] == b":":
                    break
                if time.time() > deadline:
                    raise RuntimeError("node on port %d answers DBSIZE with %s" % (port, fmt(r)))
                time.sleep(0.1)

    def alive(self):
        return all(n.alive() for n in self.cluster.nodes)

    def log_tail(self, n=15):
        out = []
        for node in self.cluster.nodes:
            lines = node.log_text().splitlines()[-n:]
            out.append("  [node %d, port %d, %s]\n%s" % (
                node.index, node.port, "alive" if node.alive() else "DEAD", "\n".join(lines)))
        return "\n".join(out)

    def cleanup(self):
        self.cluster.cleanup()


def redis_argv(binary):
    def argv(port, tmp):
        return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", tmp]
    return argv


def shoal_argv(binary, extra=()):
    def argv(port, tmp):
        return [binary, "--port", str(port), "--bind", "127.0.0.1", "--data-dir", tmp,
                "--log-level", "warn", *extra]
    return argv


# ----------------------------------------------------------------------------
# Command generator

LLONG_MAX = 9223372036854775807
LLONG_MIN = -9223372036854775808

# A small key universe so that commands collide a lot: plain keys, hash-tagged
# keys, keys full of glob metacharacters, the empty key, binary keys.
KEYS = ([b"k%d" % i for i in range(12)] +
        [b"{t}1", b"{t}2", b"{t}3", b"{u}x", b"user:1", b"user:2", b"user:10",
         b"a*b", b"a?b", b"[ab]", b"a\\b", b"", b"sp ace", b"bin\x00k",
         "\u00e9t\u00e9".encode(), b"K0", b"k\r\n", b"long-" + b"x" * 50])
KEYSET = set(KEYS) | {b"nokey:%d" % i for i in range(3)}
# Cluster mode: groups of keys sharing a hash tag (one slot each), for the
# commands that need all their keys in one slot. The first group's keys are
# already in KEYS.
SLOT_GROUPS = [[b"{t}1", b"{t}2", b"{t}3", b"{t}nokey"],
               [b"{u}x", b"{u}y", b"{u}z", b"{u}"],
               [b"{g}a", b"{g}b", b"{g}a*b", b"{g}\x00", b"x{g}"],
               [b"{h}1", b"{h}2", b"{h}" + b"y" * 40]]
SLOT_GROUP_KEYS = [k for g in SLOT_GROUPS for k in g if k not in KEYS]
KEYSET |= set(SLOT_GROUP_KEYS)

INT_EDGES = [b"0", b"1", b"-1", b"2", b"10", b"100", b"9999", b"10000", b"-10000",
             b"%d" % LLONG_MAX, b"%d" % LLONG_MIN, b"%d" % (LLONG_MAX - 1),
             b"%d" % (LLONG_MIN + 1), b"9223372036854775808", b"-9223372036854775809",
             b"18446744073709551616", b"12345678901234567890", b"1234567890123456789",
             b"+1", b" 1", b"1 ", b"01", b"-0", b"0x10", b"1e3", b"1.0", b"", b"abc",
             b"4294967296", b"-4294967297", b"2147483647", b"-2147483648",
             b"99999999999999999999999", b"007", b"1\x00"]
FLOAT_EDGES = [b"1.5", b"-1.5", b"0.1", b"-0.0", b"3.0e2", b"1e308", b"-1e308", b"1.7976931348623157e308",
               b"5e-324", b"1e-10", b".5", b"1.", b"inf", b"-inf", b"+inf", b"Infinity", b"nan",
               b"NaN", b"1e400", b"0x1p3", b" 1.5", b"1.5 ", b"1,5", b"3.14159265358979323846",
               b"10.50", b"1e5", b"-1e-5", b"123456789.123456789", b"0.0000001", b"1e17",
               b"100000000000000000000"]
CLUSTER_DB_ERRORS = {
    "select": (b"-", b"ERR SELECT is not allowed in cluster mode"),
    "copy": (b"-", b"ERR Copying to another database is not allowed in cluster mode"),
}
ALNUM = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class Gen:
    """Produces ops: (kind, args, cmp). kind is 'cmd', 'scanall' or 'sleep'."""

    def __init__(self, seed, now_s, cluster=False):
        self.r = random.Random(seed)
        self.now_s = now_s
        self.cluster = cluster
        self.picks = 0
        self.table = self._table()
        self.total_weight = sum(w for w, _ in self.table)

    # --- primitive pickers --------------------------------------------------
    def key(self):
        r = self.r
        if r.random() < 0.03:
            return b"nokey:%d" % r.randrange(3)
        if self.cluster and r.random() < 0.25:
            return r.choice(SLOT_GROUP_KEYS)
        return r.choice(KEYS)

    def slot_keys(self, n):
        """n keys for a command whose keys must share a slot: random keys
        standalone, keys of one hash-tag group in cluster mode."""
        if not self.cluster:
            return [self.key() for _ in range(n)]
        group = self.r.choice(SLOT_GROUPS)
        return [self.r.choice(group) for _ in range(n)]

    def keys(self, lo=1, hi=5):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def rand_str(self, n, alphabet=b"abcde"):
        r = self.r
        return bytes(r.choice(alphabet) for _ in range(n))

    def value(self):
        r = self.r
        x = r.random()
        if x < 0.25:
            return b"%d" % r.choice([r.randrange(0, 10000), r.randrange(-10 ** 6, 10 ** 6),
                                     r.randrange(LLONG_MIN, LLONG_MAX)])
        if x < 0.33:
            return r.choice(INT_EDGES)
        if x < 0.40:
            return r.choice(FLOAT_EDGES)
        if x < 0.45:
            return repr(r.uniform(-1e6, 1e6)).encode()
        if x < 0.52:
            n = r.choice([18, 19, 20, 21, 22, 43, 44, 45, 46])
            if r.random() < 0.5:  # long digit strings around the int threshold
                return (b"-" if r.random() < 0.3 else b"") + bytes(
                    r.choice(b"123456789") for _ in range(min(n, 21)))
            return self.rand_str(n, ALNUM)
        if x < 0.57:  # binary values
            n = r.randrange(0, 30)
            return bytes(r.choice(b"ab\x00\r\n\xff ") for _ in range(n))
        if x < 0.60:
            return self.rand_str(r.randrange(45, 200), ALNUM)
        if x < 0.63:
            return b""
        n = r.choice([1, 2, 3, 5, 8, 12, 20, 30, 44])
        return self.rand_str(r.randrange(0, n + 1), b"abcde" if r.random() < 0.7 else ALNUM)

    def int_arg(self, small=True):
        r = self.r
        x = r.random()
        if x < 0.6 and small:
            return b"%d" % r.randint(-20, 60)
        if x < 0.8:
            return b"%d" % r.randint(-1000000, 1000000)
        return r.choice(INT_EDGES)

    def float_arg(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            return b"%d" % r.randint(-1000, 1000)
        if x < 0.7:
            return repr(round(r.uniform(-1000, 1000), r.randint(0, 6))).encode()
        return r.choice(FLOAT_EDGES + INT_EDGES[:14])

    def case(self, word):
        r = self.r
        x = r.random()
        if x < 0.5:
            return word.upper()
        if x < 0.8:
            return word.lower()
        return bytes(c ^ 0x20 if chr(c).isalpha() and r.random() < 0.5 else c for c in word)

    def cmd(self, name, *args, cmp="exact"):
        return ("cmd", [self.case(name)] + list(args), cmp)

    # Expiry values never fire during a run: relative ones are at least a day
    # away, absolute ones at least a day away from now, in the future or in
    # the past (past ones delete the key at once, except SET's, see g_set).
    def rel_s(self):
        return b"%d" % self.r.randint(100000, 10 ** 9)

    def rel_ms(self):
        return b"%d" % self.r.randint(10 ** 8, 10 ** 12)

    def abs_s(self, past):
        if past:
            return b"%d" % self.r.choice([1, 0, self.r.randint(1, self.now_s - 100000)])
        return b"%d" % (self.now_s + self.r.randint(100000, 10 ** 9))

    def abs_ms(self, past):
        if past:
            return b"%d" % self.r.choice([1, 0, self.r.randint(1, (self.now_s - 100000) * 1000)])
        return b"%d" % ((self.now_s + self.r.randint(100000, 10 ** 9)) * 1000 + self.r.randrange(1000))

    def bad_expiry(self):
        return self.r.choice([b"0", b"-1", b"-100", b"abc", b"1.5", b"", b" 100000",
                              b"%d" % LLONG_MAX, b"%d" % LLONG_MIN, b"9223372036854775",
                              b"9223372036854776", b"9223372036854775808",
                              b"%d" % (LLONG_MAX // 1000 + 1), b"100000000000000000"])

    # --- command generators ---------------------------------------------------
    def g_ping(self):
        r = self.r
        x = r.random()
        if x < 0.6:
            return [self.cmd(b"PING")]
        if x < 0.9:
            return [self.cmd(b"PING", self.value())]
        return [self.cmd(b"PING", self.value(), self.value())]

    def g_echo(self):
        return [self.cmd(b"ECHO", self.value())]

    def g_select(self):
        # Only db 0 is valid on a Shoal node; valid nonzero dbs are excluded.
        db = self.r.choice([b"0", b"0", b"00", b"-1", b"16", b"100", b"abc", b"", b"1.0",
                            b"%d" % LLONG_MAX, b"9223372036854775808", b"-0"])
        return [self.cmd(b"SELECT", db, cmp="select")]

    def g_dbsize(self):
        return [self.cmd(b"DBSIZE")]

    def g_flushdb(self):
        opt = self.r.choice([[], [], [b"SYNC"], [b"ASYNC"], [b"sync"], [b"BAD"], [b"SYNC", b"ASYNC"]])
        return [self.cmd(b"FLUSHDB", *opt)]

    def g_flushall(self):
        opt = self.r.choice([[], [b"SYNC"], [b"ASYNC"], [b"BAD"]])
        return [self.cmd(b"FLUSHALL", *opt)]

    def g_get(self):
        return [self.cmd(b"GET", self.key())]

    def set_options(self, for_getex=False):
        r = self.r
        opts = []
        n = r.choice([0, 1, 1, 1, 2] if for_getex else [0, 1, 1, 1, 2, 2, 3])
        choices = ([b"EX", b"PX", b"EXAT", b"PXAT", b"PERSIST"] if for_getex else
                   [b"EX", b"PX", b"EXAT", b"PXAT", b"NX", b"XX", b"KEEPTTL", b"GET"])
        past = False
        for _ in range(n):
            if r.random() < 0.03:
                opts.append(self.case(r.choice([b"EXX", b"FOO", b"E", b"KEEP", b"IFEQ"])))
                continue
            o = r.choice(choices)
            opts.append(self.case(o))
            if o in (b"EX", b"PX", b"EXAT", b"PXAT"):
                y = r.random()
                if y < 0.1:
                    continue  # missing value -> syntax error (or swallows next option)
                if y < 0.25:
                    opts.append(self.bad_expiry())
                elif o == b"EX":
                    opts.append(self.rel_s())
                elif o == b"PX":
                    opts.append(self.rel_ms())
                else:
                    p = r.random() < 0.3
                    past = past or p
                    opts.append(self.abs_s(p) if o == b"EXAT" else self.abs_ms(p))
        return opts, past

    def g_set(self):
        k = self.key()
        opts, past = self.set_options()
        ops = [self.cmd(b"SET", k, self.value(), *opts)]
        if past:
            # Redis 7.0 stores a SET whose EXAT/PXAT is already past and only
            # deletes it lazily or in its active cycle, so DBSIZE would depend
            # on timing: touch the key at once so both servers drop it.
            ops.append(self.cmd(b"EXISTS", k))
        return ops

    def g_setnx(self):
        return [self.cmd(b"SETNX", self.key(), self.value())]

    def g_setex(self):
        r = self.r
        t = self.bad_expiry() if r.random() < 0.2 else self.rel_s()
        return [self.cmd(b"SETEX", self.key(), t, self.value())]

    def g_psetex(self):
        r = self.r
        t = self.bad_expiry() if r.random() < 0.2 else self.rel_ms()
        return [self.cmd(b"PSETEX", self.key(), t, self.value())]

    def g_getset(self):
        return [self.cmd(b"GETSET", self.key(), self.value())]

    def g_getdel(self):
        return [self.cmd(b"GETDEL", self.key())]

    def g_getex(self):
        opts, _ = self.set_options(for_getex=True)
        return [self.cmd(b"GETEX", self.key(), *opts)]

    def g_mget(self):
        return [self.cmd(b"MGET", *self.keys(1, 6))]

    def g_mset(self):
        r = self.r
        args = []
        if self.cluster:
            keys = self.slot_keys(r.randint(1, 4) + 1)
            keys, extra = keys[:-1], keys[-1]
        else:
            keys = self.keys(1, 4)
        for k in keys:
            args += [k, self.value()]
        if r.random() < 0.05:
            args.append(extra if self.cluster else self.key())  # odd argument count
        return [self.cmd(r.choice([b"MSET", b"MSETNX"]), *args)]

    def g_incr(self):
        r = self.r
        x = r.random()
        k = self.key()
        if x < 0.25:
            return [self.cmd(r.choice([b"INCR", b"DECR"]), k)]
        if x < 0.6:
            return [self.cmd(r.choice([b"INCRBY", b"DECRBY"]), k, self.int_arg(small=r.random() < 0.7))]
        return [self.cmd(b"INCRBYFLOAT", k, self.float_arg())]

    def g_int_value(self):
        # Plant numeric values so that INCR* paths are exercised, not only errors.
        r = self.r
        v = r.choice([b"%d" % r.randint(-100, 100), r.choice(INT_EDGES), r.choice(FLOAT_EDGES),
                      b"%d" % (LLONG_MAX - r.randint(0, 3)), b"%d" % (LLONG_MIN + r.randint(0, 3))])
        return [self.cmd(b"SET", self.key(), v)]

    def g_append(self):
        r = self.r
        v = self.value() if r.random() < 0.3 else self.rand_str(r.randint(0, 6))
        return [self.cmd(b"APPEND", self.key(), v)]

    def g_strlen(self):
        return [self.cmd(b"STRLEN", self.key())]

    def g_getrange(self):
        r = self.r
        name = r.choice([b"GETRANGE", b"GETRANGE", b"SUBSTR"])
        return [self.cmd(name, self.key(), self.int_arg(), self.int_arg())]

    def g_setrange(self):
        r = self.r
        x = r.random()
        if x < 0.8:
            off = b"%d" % r.randint(0, 60)
        elif x < 0.9:
            off = r.choice([b"-1", b"abc", b"536870912", b"%d" % LLONG_MAX, b"1.5", b"",
                            b"536870911", b"9999999999"])
        else:
            off = b"%d" % r.randint(60, 300)
        v = self.rand_str(r.randint(0, 8)) if r.random() < 0.8 else self.value()
        if off in (b"536870911",) and v:
            off = b"536870912"  # would allocate 512 MB on both servers: keep the error path only
        return [self.cmd(b"SETRANGE", self.key(), off, v)]

    def g_lcs(self):
        r = self.r
        args = self.slot_keys(2)
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            o = r.choice([b"LEN", b"IDX", b"MINMATCHLEN", b"WITHMATCHLEN", b"IDX", b"BAD"])
            args.append(self.case(o))
            if o == b"MINMATCHLEN":
                args.append(r.choice([b"0", b"1", b"2", b"3", b"5", b"-1", b"abc",
                                      b"%d" % LLONG_MAX]))
        return [self.cmd(b"LCS", *args)]

    def g_set_lcs_value(self):
        # Short strings over a tiny alphabet make LCS matches interesting.
        r = self.r
        return [self.cmd(b"SET", self.key(), self.rand_str(r.randint(0, 16), b"abc"))]

    def g_del(self):
        r = self.r
        return [self.cmd(r.choice([b"DEL", b"UNLINK"]), *self.keys(1, 3))]

    def g_exists(self):
        r = self.r
        return [self.cmd(r.choice([b"EXISTS", b"TOUCH"]), *self.keys(1, 4))]

    def g_type(self):
        return [self.cmd(b"TYPE", self.key())]

    def g_rename(self):
        r = self.r
        name = r.choice([b"RENAME", b"RENAMENX"])
        return [self.cmd(name, *self.slot_keys(2))]

    def g_copy(self):
        r = self.r
        args = self.slot_keys(2)
        for _ in range(r.choice([0, 0, 1, 1, 2])):
            o = r.choice([b"REPLACE", b"DB", b"DB", b"BAD"])
            args.append(self.case(o))
            if o == b"DB" and r.random() < 0.9:
                # Valid nonzero db indexes are excluded (a Shoal node has db 0 only).
                args.append(r.choice([b"0", b"0", b"-1", b"16", b"abc", b"", b"%d" % LLONG_MAX]))
        return [self.cmd(b"COPY", *args, cmp="copy")]

    def pattern(self):
        r = self.r
        pats = [b"*", b"k*", b"k?", b"k1*", b"k[0-5]", b"k[^0-5]", b"k[!1]", b"{t}*", b"\\{t\\}*",
                b"user:*", b"user:?", b"a\\*b", b"a\\?b", b"a*b", b"\\[ab\\]", b"[[]ab]",
                b"a\\\\b", b"*\\\\*", b"", b"sp*", b"*\x00*", b"?", b"??", b"*x", b"k[a-c", b"[",
                b"k[1-]", b"k[-1]", b"k[5-1]", b"[a-z][0-9]", b"*[^k]*", b"\\", b"*\\",
                b"K*", b"[kK]0", b"long-*", b"*e*", b"nokey:*", b"k\\", b"k[\\]0-2]",
                b"**", b"*?*?*", b"u*:1?"]
        return r.choice(pats)

    def g_keys(self):
        return [self.cmd(b"KEYS", self.pattern(), cmp="sorted")]

    def scan_opts(self, valid_only):
        r = self.r
        opts = []
        for _ in range(r.choice([0, 1, 1, 2, 3])):
            o = r.choice([b"MATCH", b"COUNT", b"TYPE"] + ([] if valid_only else [b"BAD"]))
            opts.append(self.case(o))
            if o == b"MATCH":
                opts.append(self.pattern())
            elif o == b"COUNT":
                if valid_only:
                    opts.append(r.choice([b"1", b"2", b"5", b"10", b"100", b"1000"]))
                else:
                    opts.append(r.choice([b"0", b"-1", b"abc", b"1", b"10", b"%d" % LLONG_MAX]))
            elif o == b"TYPE":
                opts.append(r.choice([b"string", b"STRING", b"list", b"hash", b"none",
                                      b"nosuchtype"]))
        return opts

    def g_scan(self):
        r = self.r
        if r.random() < 0.6:
            return [("scanall", self.scan_opts(valid_only=True), "scanall")]
        cur = r.choice([b"0", b"0", b"abc", b"-1", b"1", b"18446744073709551615",
                        b"18446744073709551616", b""])
        return [self.cmd(b"SCAN", cur, *self.scan_opts(valid_only=False),
                         cmp="scan" if cur == b"0" else "scan_mid")]

    def g_randomkey(self):
        return [self.cmd(b"RANDOMKEY", cmp="randomkey")]

    def g_expire(self):
        r = self.r
        name = r.choice([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"])
        x = r.random()
        if x < 0.15:
            t = self.bad_expiry()
        elif x < 0.25:
            t = r.choice([b"0", b"-1", b"-5"])  # delete at once
        elif name == b"EXPIRE":
            t = self.rel_s()
        elif name == b"PEXPIRE":
            t = self.rel_ms()
        else:
            p = r.random() < 0.25
            t = self.abs_s(p) if name == b"EXPIREAT" else self.abs_ms(p)
        opts = []
        for _ in range(r.choice([0, 0, 1, 1, 1, 2])):
            opts.append(self.case(r.choice([b"NX", b"XX", b"GT", b"LT", b"NX", b"GT", b"BAD"])))
        if (name in (b"EXPIRE", b"PEXPIRE") and t.isdigit() and int(t) >= 10 ** 12
                and any(o.upper() in (b"GT", b"LT") for o in opts)):
            # A fixed edge value may already be a key's relative expiry (PSETEX
            # k 9223372036854775 v); GT/LT against it with the same value would
            # compare two instants a few ms apart, which differ per server.
            t = b"%d" % (int(t) + r.randint(1, 10 ** 6))
        return [self.cmd(name, self.key(), t, *opts)]

    def g_ttl(self):
        r = self.r
        name = r.choice([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"])
        cmp = "ttl_ms" if name.startswith(b"P") else "ttl_s"
        return [self.cmd(name, self.key(), cmp=cmp)]

    def g_persist(self):
        return [self.cmd(b"PERSIST", self.key())]

    def g_object(self):
        r = self.r
        x = r.random()
        if x < 0.75:
            return [self.cmd(b"OBJECT", b"ENCODING", self.key())]
        if x < 0.85:
            return [self.cmd(b"OBJECT", b"FREQ", self.key())]
        if x < 0.92:
            # Only the reply's shape is compared here: in Redis the idle time
            # of a key holding a shared integer (0..9999) is that of the shared
            # object, touched by any key holding the same number. g_idle_unit
            # checks the value itself.
            return [self.cmd(b"OBJECT", b"IDLETIME", self.key(), cmp="idle_any")]
        return [self.cmd(b"OBJECT", r.choice([b"NOSUCH", b"ENCODING", b"FREQ"]),
                         *([self.key()] * r.choice([0, 2])))]

    def g_getkeys(self):
        r = self.r
        k = self.key
        sample = r.choice([
            [b"GET", k()], [b"SET", k(), b"v", b"EX", b"10"], [b"MSET", k(), b"1", k(), b"2"],
            [b"MGET", k(), k(), k()], [b"DEL", k(), k()], [b"RENAME", k(), k()],
            [b"COPY", k(), k(), b"REPLACE"], [b"LCS", k(), k(), b"IDX"], [b"EXPIRE", k(), b"10"],
            [b"MSETNX", k(), b"1"], [b"GETEX", k(), b"PERSIST"], [b"PING"], [b"KEYS", b"*"],
            [b"SCAN", b"0"], [b"GET"], [b"MSET", k()], [b"NOSUCHCMD", k()], [b"DBSIZE"],
            [b"EXISTS", k(), k()], [b"SETRANGE", k(), b"1", b"x"], [b"TOUCH", k()],
            [b"OBJECT", b"ENCODING", k()], [b"ECHO", b"x"]])
        sample = [self.case(sample[0])] + sample[1:]
        return [self.cmd(b"COMMAND", b"GETKEYS", *sample)]

    def g_hello_err(self):
        r = self.r
        if r.random() < 0.2:  # HELLO without a version reports, does not switch
            return [self.cmd(b"HELLO", cmp="hello")]
        args = r.choice([[b"4"], [b"0"], [b"1"], [b"abc"], [b"-1"], [b""], [b"3", b"BADOPT"],
                         [b"2", b"AUTH"], [b"2", b"SETNAME"], [b"9223372036854775808"]])
        return [self.cmd(b"HELLO", *args)]

    def g_auth_err(self):
        return [self.cmd(b"AUTH", self.r.choice([b"pw", b"", b"default"]))]

    def g_unknown(self):
        r = self.r
        name = r.choice([b"FOO", b"GETT", b"SETX", b"LPUSH2", b"", b"\x00", b"g e t", b"a\r\nb",
                         b"x" * 200])
        args = [self.value() for _ in range(r.choice([0, 1, 2, 3]))]
        if r.random() < 0.1:
            args.append(b"y" * 150)
        return [self.cmd(name, *args)]

    ARITY = [(b"GET", 2), (b"SET", -3), (b"SETNX", 3), (b"SETEX", 4), (b"PSETEX", 4),
             (b"GETSET", 3), (b"GETDEL", 2), (b"GETEX", -2), (b"MGET", -2), (b"MSET", -3),
             (b"MSETNX", -3), (b"INCR", 2), (b"DECR", 2), (b"INCRBY", 3), (b"DECRBY", 3),
             (b"INCRBYFLOAT", 3), (b"APPEND", 3), (b"STRLEN", 2), (b"GETRANGE", 4),
             (b"SETRANGE", 4), (b"SUBSTR", 4), (b"LCS", -3), (b"DEL", -2), (b"UNLINK", -2),
             (b"EXISTS", -2), (b"TYPE", 2), (b"TOUCH", -2), (b"RENAME", 3), (b"RENAMENX", 3),
             (b"COPY", -3), (b"KEYS", 2), (b"SCAN", -2), (b"RANDOMKEY", 1), (b"EXPIRE", -3),
             (b"PEXPIRE", -3), (b"EXPIREAT", -3), (b"PEXPIREAT", -3), (b"TTL", 2), (b"PTTL", 2),
             (b"EXPIRETIME", 2), (b"PEXPIRETIME", 2), (b"PERSIST", 2), (b"PING", -1),
             (b"ECHO", 2), (b"SELECT", 2), (b"DBSIZE", 1), (b"FLUSHDB", -1), (b"FLUSHALL", -1),
             (b"OBJECT", -2), (b"AUTH", -2), (b"HELLO", -1)]

    def g_arity(self):
        r = self.r
        name, arity = r.choice(self.ARITY)
        if arity > 0:
            n = r.choice([c for c in range(1, arity + 3) if c != arity])
        else:
            need = -arity
            if need == 1:
                return [self.cmd(b"OBJECT", b"ENCODING")] if r.random() < 0.5 else [
                    self.cmd(b"COMMAND", b"GETKEYS")]
            n = r.randint(1, need - 1)
        args = [self.key() if i == 0 else self.value() for i in range(n - 1)]
        return [self.cmd(name, *args)]

    def g_sleep_expire(self):
        """Short expiry, deterministically: flush, set a few-ms expiry on a key,
        wait well past it, then read the key (lazy expiry) on both servers."""
        r = self.r
        k = r.choice(KEYS)
        x = r.random()
        if x < 0.4:
            first = self.cmd(b"SET", k, self.value(), b"PX", b"%d" % r.randint(1, 20))
        elif x < 0.6:
            first = self.cmd(b"PSETEX", k, b"%d" % r.randint(1, 20), self.value())
        elif x < 0.8:
            first = self.cmd(b"PEXPIRE", k, b"%d" % r.randint(1, 20))
        else:
            first = self.cmd(b"GETEX", k, b"PX", b"%d" % r.randint(1, 20))
        probe = r.choice([b"GET", b"EXISTS", b"TTL", b"PTTL", b"STRLEN", b"TYPE", b"GETDEL",
                          b"INCR", b"APPEND", b"OBJECT", b"PERSIST"])
        if probe == b"APPEND":
            probe_cmd = self.cmd(b"APPEND", k, b"z")
        elif probe == b"OBJECT":
            probe_cmd = self.cmd(b"OBJECT", b"ENCODING", k)
        else:
            probe_cmd = self.cmd(probe, k)
        return [("barrier", [], None), first, ("sleep", [b"80"], None), probe_cmd,
                self.cmd(b"EXISTS", k)]

    def g_idle_unit(self):
        """OBJECT IDLETIME for real: a fresh string key, a 2.1 s pause, maybe
        a command that does (GET, STRLEN) or does not (TTL, TYPE, EXISTS,
        OBJECT ENCODING) count as an access in Redis, then OBJECT IDLETIME
        (+-1 s). Run at fixed positions (see next_ops), not at random."""
        r = self.r
        k = b"idle:%d" % r.randrange(1000)
        mid = r.choice([None, b"TTL", b"TYPE", b"EXISTS", b"OBJECT", b"GET", b"STRLEN"])
        ops = [("barrier", [], None), self.cmd(b"SET", k, b"idle-" + self.rand_str(8, ALNUM)),
               ("sleep", [b"2100"], None)]
        if mid == b"OBJECT":
            ops.append(self.cmd(b"OBJECT", b"ENCODING", k))
        elif mid:
            ops.append(self.cmd(mid, k))
        ops += [self.cmd(b"OBJECT", b"IDLETIME", k, cmp="idle"), self.cmd(b"DEL", k)]
        return ops

    def _table(self):
        g = self
        return [
            (3, g.g_ping), (2, g.g_echo), (1, g.g_select), (3, g.g_dbsize), (0.4, g.g_flushdb),
            (0.08, g.g_flushall), (12, g.g_get), (16, g.g_set), (2, g.g_setnx), (2, g.g_setex),
            (2, g.g_psetex), (2, g.g_getset), (2, g.g_getdel), (4, g.g_getex), (3, g.g_mget),
            (3, g.g_mset), (8, g.g_incr), (4, g.g_int_value), (4, g.g_append), (2, g.g_strlen),
            (4, g.g_getrange), (4, g.g_setrange), (3, g.g_lcs), (2, g.g_set_lcs_value),
            (3, g.g_del), (4, g.g_exists), (2, g.g_type), (3, g.g_rename), (3, g.g_copy),
            (2, g.g_keys), (1.5, g.g_scan), (1, g.g_randomkey), (7, g.g_expire), (6, g.g_ttl),
            (2, g.g_persist), (5, g.g_object), (1.5, g.g_getkeys), (0.5, g.g_hello_err),
            (0.3, g.g_auth_err), (1, g.g_unknown), (4, g.g_arity), (0.02, g.g_sleep_expire),
        ]

    IDLE_UNIT_EVERY = 50000

    def next_ops(self):
        self.picks += 1
        if self.picks % self.IDLE_UNIT_EVERY == self.IDLE_UNIT_EVERY // 2:
            return self.g_idle_unit()
        x = self.r.random() * self.total_weight
        for w, f in self.table:
            x -= w
            if x < 0:
                return f()
        return self.table[-1][1]()


# ----------------------------------------------------------------------------
# Comparison


class Checker:
    def __init__(self, time_tol_ms):
        self.time_tol_ms = time_tol_ms
        self.ttl_s_total = 0
        self.ttl_s_inexact = 0
        self.ttl_s_examples = []
        self.max_skew_ms = 0

    @staticmethod
    def _int(reply):
        if reply[0] == b":":
            return int(reply[1])
        return None

    def same(self, cmp, a, b, text=""):
        """True when reply b (server under test) matches reference reply a."""
        if a == b:
            if cmp == "ttl_s" and a[0] == b":" and int(a[1]) >= 0:
                self.ttl_s_total += 1
            return True
        if cmp == "idle_any":  # see g_object
            x, y = self._int(a), self._int(b)
            return x is not None and y is not None and x >= 0 and y >= 0
        if cmp in ("ttl_s", "ttl_ms", "idle"):
            x, y = self._int(a), self._int(b)
            if x is None or y is None or x < 0 or y < 0:
                return False
            d = abs(x - y)
            if cmp == "ttl_ms":
                self.max_skew_ms = max(self.max_skew_ms, d)
                return d <= self.time_tol_ms
            if cmp == "ttl_s":
                self.ttl_s_total += 1
                self.ttl_s_inexact += 1
                if len(self.ttl_s_examples) < 8:
                    self.ttl_s_examples.append("%s -> redis %d, other %d" % (text, x, y))
            return d <= 1
        if cmp in ("select", "copy"):
            # A Shoal node has db 0 only and answers a valid nonzero index as
            # a Redis *cluster* node does; the reference Redis is standalone.
            return a == (b"-", b"ERR DB index is out of range") and b == CLUSTER_DB_ERRORS[cmp]
        if cmp == "sorted":
            return (a[0] == b[0] == b"*" and a[1] is not None and b[1] is not None
                    and sorted(a[1]) == sorted(b[1]))
        if cmp == "randomkey":
            return (a[0] == b[0] and a[1] is not None and b[1] is not None
                    and a[1] in KEYSET and b[1] in KEYSET)
        if cmp == "scan":  # a SCAN that starts at cursor 0
            return self._scan_same(a, b, True)
        if cmp == "scan_mid":  # a SCAN from an arbitrary cursor: shape only
            return self._scan_same(a, b, False)
        if cmp == "hello":
            return self._hello_shape(a) == self._hello_shape(b)
        return False

    @staticmethod
    def _scan_shape(r):
        if r[0] != b"*" or r[1] is None or len(r[1]) != 2:
            return None
        cur, items = r[1]
        if cur[0] != b"$" or items[0] != b"*" or items[1] is None:
            return None
        if any(i[0] != b"$" for i in items[1]):
            return None
        return cur[1], set(i[1] for i in items[1])

    def _scan_same(self, a, b, from_zero):
        sa, sb = self._scan_shape(a), self._scan_shape(b)
        if sa is None or sb is None:
            return False
        if from_zero and sa[0] == b"0" and sb[0] == b"0":
            return sa[1] == sb[1]
        return True

    @staticmethod
    def _hello_shape(r):
        if r[0] not in (b"%", b"*") or r[1] is None:
            return r
        items = r[1]
        keys = tuple(sorted(items[i][1] for i in range(0, len(items), 2)))
        proto = [items[i + 1] for i in range(0, len(items), 2) if items[i][1] == b"proto"]
        return keys, tuple(proto)

    def ttl_verdict(self):
        if self.ttl_s_total >= 200 and self.ttl_s_inexact > 0.05 * self.ttl_s_total:
            return ("TTL/EXPIRETIME differed by 1 s in %d of %d comparisons (>5%%): "
                    "likely a rounding bug; first ones:\n    %s"
                    % (self.ttl_s_inexact, self.ttl_s_total, "\n    ".join(self.ttl_s_examples)))
        return None


# ----------------------------------------------------------------------------
# Runner


def show_args(args):
    """Render a command: plain words as they are, anything else as a Python
    bytes literal without the b prefix (e.g. 'a b', '\\x00')."""
    out = []
    for a in args:
        plain = a and all(33 <= c < 127 and c not in b"'\\\"" for c in a)
        out.append(a.decode() if plain else repr(a)[1:])
    return " ".join(out)


class Runner:
    def __init__(self, opts, ref, sut):
        self.o = opts
        self.ref, self.sut = ref, sut
        self.checker = Checker(opts.time_tol_ms)
        self.history = []  # (index, text, ref reply)
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.stats = {} if opts.stats else None
        self.conns = {}  # proto -> (reference conn, conn to the node in use)
        self.ports = list(getattr(sut, "ports", [sut.port]))
        self.ref_conns = {}
        self.sut_conns = {}  # (proto, node index) -> Conn
        self.node = 0
        for proto in (2, 3):
            self.ref_conns[proto] = Conn(ref.port)
            for i, port in enumerate(self.ports):
                self.sut_conns[(proto, i)] = Conn(port)
            if proto == 3:
                ra = self.ref_conns[proto].call(b"HELLO", b"3")
                for i in range(len(self.ports)):
                    rb = self.sut_conns[(proto, i)].call(b"HELLO", b"3")
                    if not self.checker.same("hello", ra, rb):
                        self.fail_report(-1, "HELLO 3 (connection setup, node %d)" % i, ra, rb)
        self.use_node(0)

    def use_node(self, i):
        """Cluster mode: send the following commands to node i."""
        self.node = i
        for proto in (2, 3):
            self.conns[proto] = (self.ref_conns[proto], self.sut_conns[(proto, i)])

    def replay_line(self, upto):
        script = os.path.relpath(os.path.abspath(__file__))
        if script.startswith(".."):
            script = os.path.abspath(__file__)
        parts = ["python3", script]
        parts += ["--seed", str(self.o.seed), "--count", str(upto)]
        if self.o.against_redis:
            parts.append("--against-redis")
        else:
            parts += ["--shoal-bin", self.o.shoal_bin]
            if self.o.shoal_args:
                parts += ["--shoal-args", "'%s'" % self.o.shoal_args]
        if self.o.cluster_nodes:
            parts += ["--cluster-nodes", str(self.o.cluster_nodes)]
            if self.o.cluster_shards != 16:
                parts += ["--cluster-shards", str(self.o.cluster_shards)]
        if self.o.batch != 64:
            parts += ["--batch", str(self.o.batch)]
        return " ".join(parts)

    def fail_report(self, idx, text, a, b, proto=2):
        self.failed += 1
        self.failures.append((idx, text, a, b))
        if self.failed > self.o.max_report:
            return
        out = sys.stdout
        where = " to cluster node %d (port %d)" % (self.node, self.ports[self.node]) \
            if self.o.cluster_nodes else ""
        out.write("\nMISMATCH at command #%d (RESP%d connection%s)\n" % (idx, proto, where))
        out.write("  command: %s\n" % text)
        out.write("  redis:   %s\n" % fmt(a))
        out.write("  %s:   %s\n" % ("redis2" if self.o.against_redis else "shoal", fmt(b)))
        out.write("  last commands (index: command -> redis reply):\n")
        for i, t, r in self.history[-21:-1]:
            out.write("    #%d: %s -> %s\n" % (i, t, fmt(r)[:200]))
        out.write("  replay: %s\n" % self.replay_line(idx + 1))
        out.flush()

    def note_stat(self, args, reply):
        name = args[0].upper().decode(errors="replace")
        if name in ("OBJECT", "COMMAND"):
            name += " " + (args[1].upper().decode() if len(args) > 1 else "")
        if reply[0] == b"-":
            kind = reply[1][:60].decode(errors="replace")
        elif reply[1] is None:
            kind = "nil"
        elif name in ("OBJECT ENCODING", "TYPE"):
            kind = reply[1].decode(errors="replace")
        else:
            kind = "ok " + reply[0].decode()
        per = self.stats.setdefault(name, {})
        per[kind] = per.get(kind, 0) + 1

    def print_stats(self):
        for name in sorted(self.stats):
            per = self.stats[name]
            total = sum(per.values())
            top = sorted(per.items(), key=lambda kv: -kv[1])[:6]
            print("%-14s %6d  %s" % (name[:14], total,
                                    "; ".join("%s: %d" % kv for kv in top)))

    def dump_keys(self, args, proto):
        """After a mismatch: the keys the command names, as each server now
        holds them (value, PTTL, encoding) -- usually enough to see why."""
        if self.failed > self.o.max_report:
            return
        for k in dict.fromkeys(a for a in args[1:] if a in KEYSET):
            for name, conn in zip(("redis", "other"), self.conns[proto]):
                got = [conn.call(b"GET", k), conn.call(b"PTTL", k),
                       conn.call(b"OBJECT", b"ENCODING", k)]
                print("  after this batch, %s has %s: GET %s, PTTL %s, encoding %s"
                      % (name, show_args([k]), fmt(got[0])[:120], fmt(got[1]), fmt(got[2])))

    def print_failure_groups(self):
        """With --max-failures > 1: one line per distinct kind of mismatch."""
        def kind(reply):
            if reply is None:
                return "none"
            if reply[0] == b"-":
                return reply[1][:40].decode(errors="replace")
            return reply[0].decode() + ("nil" if reply[1] is None else "")
        groups = {}
        for idx, text, a, b in self.failures:
            name = text.split(" ")[0].upper()
            if name in ("OBJECT", "COMMAND"):
                name = " ".join(text.split(" ")[:2]).upper()
            if a and a[0] == b"-" and a[1].startswith(b"ERR unknown command"):
                name, a_kind, b_kind = "<unknown command>", "", ""
            else:
                a_kind, b_kind = kind(a), kind(b)
            groups.setdefault((name, a_kind, b_kind), []).append((idx, text, a, b))
        print("\n%d distinct kinds of mismatch:" % len(groups))
        for (name, _, _), items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            idx, text, a, b = items[0]
            print("  %4dx %s   e.g. #%d %s\n        redis: %s\n        other: %s"
                  % (len(items), name, idx, text[:120], fmt(a)[:200], fmt(b)[:200]))

    def _resync(self, proto):
        for conn in self.conns[proto]:
            conn.call(b"FLUSHALL")

    def run_batch(self, batch, proto):
        """batch: list of (index, args, cmp). Pipelined on both servers."""
        a, b = self.conns[proto]
        cmds = [args for _, args, _ in batch]
        a.send(cmds)
        try:
            b.send(cmds)
        except ServerGone as e:
            return self.server_gone(batch, 0, e)
        ra = [a.read() for _ in batch]
        rb = []
        for n in range(len(batch)):
            try:
                rb.append(b.read())
            except ServerGone as e:
                return self.server_gone(batch, n, e)
        for n, (idx, args, cmp) in enumerate(batch):
            text = show_args(args)
            self.history.append((idx, text, ra[n]))
            if len(self.history) > 64:
                del self.history[:32]
            if self.stats is not None:
                self.note_stat(args, ra[n])
            if self.checker.same(cmp, ra[n], rb[n], text):
                self.passed += 1
                continue
            self.fail_report(idx, text, ra[n], rb[n], proto)
            self.dump_keys(args, proto)
            if self.failed >= self.o.max_failures:
                return False
            if ra[n][0] == b"-" and rb[n][0] == b"-":
                continue  # two different errors: neither server changed state
            # The states may have diverged: the rest of this batch is not
            # compared, and both servers restart from an empty keyspace.
            self._resync(proto)
            break
        return True

    def server_gone(self, batch, n, err):
        self.failed += 1
        idx = batch[n][0]
        print("\nSERVER UNDER TEST FAILED while answering command #%d..#%d: %s"
              % (idx, batch[-1][0], err))
        print("  first unanswered command: #%d %s" % (idx, show_args(batch[n][1])))
        print("  commands in flight:")
        for i, args, _ in batch[n:n + 20]:
            print("    #%d: %s" % (i, show_args(args)))
        print("  server alive: %s; log tail:\n%s" % (self.sut.alive(), self.sut.log_tail()))
        print("  replay: %s --batch 1" % self.replay_line(batch[-1][0] + 1))
        return False

    def scan_all(self, idx, opts, proto):
        results = []
        for conn in self.conns[proto]:
            cursor, seen, steps, bad = b"0", set(), 0, None
            while True:
                r = conn.call(b"SCAN", cursor, *opts)
                shape = Checker._scan_shape(r)
                if shape is None:
                    bad = r
                    break
                cursor = shape[0]
                seen |= shape[1]
                steps += 1
                if cursor == b"0" or steps > 10000:
                    break
            results.append(bad if bad is not None else (b"*", tuple(sorted(seen))))
        text = "SCAN <full iteration> %s" % show_args(opts)
        self.history.append((idx, text, results[0]))
        if results[0] == results[1]:
            self.passed += 1
            return True
        self.fail_report(idx, text, results[0], results[1], proto)
        if self.failed >= self.o.max_failures:
            return False
        self._resync(proto)
        return True

    def run(self):
        gen = Gen(self.o.seed, int(time.time()), cluster=bool(self.o.cluster_nodes))
        r = random.Random(self.o.seed ^ 0x5EED)
        idx = 0
        proto = 2
        next_switch = 0
        pending = []
        start = time.time()
        next_progress = start + 10
        ok = True
        while idx < self.o.count and ok:
            if idx >= next_switch:  # ~30% of the sequence runs on the RESP3 connection
                next_switch += 500
                if pending:
                    ok = self.run_batch(pending, proto)
                    pending = []
                proto = 3 if r.random() < 0.3 else 2
                if not ok:
                    break
                if len(self.ports) > 1:  # cluster mode: the next node in turn
                    self.use_node((next_switch // 500 - 1) % len(self.ports))
            for kind, args, cmp in gen.next_ops():
                if kind == "cmd":
                    pending.append((idx, args, cmp))
                    idx += 1
                    if len(pending) >= self.o.batch:
                        ok = self.run_batch(pending, proto)
                        pending = []
                else:
                    if pending:
                        ok = ok and self.run_batch(pending, proto)
                        pending = []
                    if not ok:
                        break
                    if kind == "scanall":
                        ok = self.scan_all(idx, args, proto)
                        idx += 1
                    elif kind == "sleep":
                        time.sleep(int(args[0]) / 1000.0)
                if not ok:
                    break
            if time.time() > next_progress and not self.o.quiet:
                print("  ... %d commands, %.0f s" % (idx, time.time() - start), flush=True)
                next_progress = time.time() + 10
        if ok and pending:
            ok = self.run_batch(pending, proto)
        verdict = self.checker.ttl_verdict()
        if verdict:
            print("\nMISMATCH (statistical): " + verdict)
            self.failed += 1
        return time.time() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, epilog="normalizations:\n" + NORMALIZATIONS
                                 + "\n" + CLUSTER_DIFFERENCES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="seed (default: random, printed)")
    ap.add_argument("--count", type=int, default=100000, help="number of commands (default 100000)")
    ap.add_argument("--shoal-bin", default=None, help="path of shoal-server")
    ap.add_argument("--against-redis", action="store_true",
                    help="compare redis-server with a second redis-server (harness self-check)")
    ap.add_argument("--redis-bin", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--cluster-nodes", type=int, default=0,
                    help="test a proxy-mode Shoal cluster of this many nodes (0: standalone)")
    ap.add_argument("--cluster-shards", type=int, default=16, help="shards of that cluster")
    ap.add_argument("--shoal-cli", default=None,
                    help="path of shoal-cli (cluster mode; default: next to --shoal-bin)")
    ap.add_argument("--batch", type=int, default=64, help="commands per pipelined write")
    ap.add_argument("--time-tol-ms", type=int, default=None,
                    help="tolerance for PTTL/PEXPIRETIME (default 250 ms, 1000 ms with "
                         "--cluster-nodes)")
    ap.add_argument("--max-failures", type=int, default=1,
                    help="stop after this many mismatches (after each one both servers are "
                         "FLUSHALLed so later comparisons are meaningful)")
    ap.add_argument("--max-report", type=int, default=50, help="print at most this many mismatches")
    ap.add_argument("--shoal-args", default="",
                    help="extra shoal-server flags (standalone), e.g. '--engine rocksdb'")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--stats", action="store_true",
                    help="print, per command, how often each kind of reply was seen")
    o = ap.parse_args()
    if o.seed is None:
        o.seed = random.SystemRandom().randrange(1, 2 ** 31)
    if not o.against_redis and not o.shoal_bin:
        ap.error("give --shoal-bin PATH or --against-redis")
    if o.shoal_bin:
        o.shoal_bin = os.path.abspath(o.shoal_bin)  # servers run in their temp dirs
        if not os.access(o.shoal_bin, os.X_OK):
            ap.error("%s is not an executable file" % o.shoal_bin)
    if o.cluster_nodes:
        if o.against_redis or not o.shoal_bin:
            ap.error("--cluster-nodes needs --shoal-bin (and not --against-redis)")
        o.shoal_cli = os.path.abspath(o.shoal_cli or os.path.join(os.path.dirname(o.shoal_bin),
                                                                  "shoal-cli"))
        if not os.access(o.shoal_cli, os.X_OK):
            ap.error("%s is not an executable file (give --shoal-cli)" % o.shoal_cli)
    if o.time_tol_ms is None:
        # A cluster write takes a Raft round on a loaded machine: the lag
        # between the reference and the cluster running the same command
        # varies by a few hundred ms under CPU contention.
        o.time_tol_ms = 1000 if o.cluster_nodes else 250
    o.redis_bin = shutil.which(o.redis_bin) or o.redis_bin
    print("difftest: seed %d, %d commands, %s%s" % (
        o.seed, o.count, "redis vs redis (self-check)" if o.against_redis else
        "redis vs " + o.shoal_bin, " (proxy-mode cluster of %d nodes, %d shards)"
        % (o.cluster_nodes, o.cluster_shards) if o.cluster_nodes else ""), flush=True)

    port_rng = random.Random()  # ports are not part of the replayable sequence
    servers = []
    interrupted = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    rc = 1
    try:
        ref = Server("redis", redis_argv(o.redis_bin), port_rng)
        servers.append(ref)
        if o.against_redis:
            sut = Server("redis2", redis_argv(o.redis_bin), port_rng)
        elif o.cluster_nodes:
            sut = ClusterSut(o.shoal_bin, o.shoal_cli, o.cluster_nodes, o.cluster_shards,
                             o.shoal_args.split())
        else:
            sut = Server("shoal", shoal_argv(o.shoal_bin, o.shoal_args.split()), port_rng)
        servers.append(sut)
        runner = Runner(o, ref, sut)
        elapsed = runner.run()
        if o.stats:
            runner.print_stats()
        print("max PTTL/PEXPIRETIME skew seen: %d ms; TTL/EXPIRETIME off by 1 s: %d of %d"
              % (runner.checker.max_skew_ms, runner.checker.ttl_s_inexact,
                 runner.checker.ttl_s_total))
        print("elapsed %.1f s, seed %d" % (elapsed, o.seed))
        if runner.failed:
            if len(runner.failures) > 1:
                runner.print_failure_groups()
            print("replay: %s" % runner.replay_line(o.count))
        print("%d passed, %d failed" % (runner.passed, runner.failed), flush=True)
        rc = 0 if runner.failed == 0 else 1
    except KeyboardInterrupt:
        print("interrupted (seed %d)" % o.seed)
        rc = 130
    except (RuntimeError, OSError, ServerGone) as e:
        print("error: %s (seed %d)" % (e, o.seed))
        print("0 passed, 1 failed")
        rc = 1
    finally:
        for s in servers:
            s.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
