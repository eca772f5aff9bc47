"""A small MOVED-following Redis Cluster client for the failover tests, which
never guesses a write's outcome (H18).

redis-py's cluster client retries a command after a timeout or a dropped
connection; for a write that can apply it twice or report a write as failed
that in fact committed. This client classifies every write attempt:

  * ACK          the server answered a non-error reply: the write applied.
  * NOT_APPLIED  the command was never sent (connect failed), or the server
                 answered MOVED/ASK/CLUSTERDOWN/TRYAGAIN/LOADING, or one of
                 Shoal's definite "did not apply" errors (`ERR not leader`,
                 `ERR not committed ...; safe to retry`). Retrying is safe;
                 the client retries (with backoff) until the op's deadline.
  * UNKNOWN      the command may have been sent and no reply came (timeout,
                 reset, EOF), or the server answered -UNKNOWNOUTCOME. The
                 client stops: the write is never retried.
  * ERROR        any other error reply: definite, so the write must not
                 have applied (the tests check that).

Reads are retried freely (they change nothing).

Standard library only.
"""

import random
import socket
import threading
import time

# ---- slots ------------------------------------------------------------


def _crc16_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def crc16(data):
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc


def key_slot(key):
    """Redis Cluster's slot rule, hash tags included."""
    k = key if isinstance(key, bytes) else str(key).encode()
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return crc16(k) % 16384


# ---- RESP -------------------------------------------------------------


class RespError(Exception):
    """An error reply (-...). `str(e)` is the message without the dash."""

    @property
    def kind(self):
        return str(self).split(" ", 1)[0]


class ConnectionLost(Exception):
    pass


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One RESP2 connection with a per-reply timeout."""

    def __init__(self, port, connect_timeout=1.0, timeout=5.0, host="127.0.0.1"):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, payload):
        self.sock.sendall(payload)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionLost("connection closed by server")
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def _bytes(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        self.pos += n + 2
        return data

    def read_reply(self):
        """Returns the reply; error replies are returned as RespError
        instances (not raised), so a pipeline keeps its order."""
        line = self._line()
        kind, body = line[:1], line[1:]
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            return RespError(body.decode("utf-8", "replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            n = int(body)
            return None if n < 0 else self._bytes(n)
        if kind == b"*":
            n = int(body)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        raise ConnectionLost(f"unexpected reply type {line[:40]!r}")

    def call(self, *args):
        self.send(encode(args))
        return self.read_reply()


# ---- cluster client ----------------------------------------------------

ACK, NOT_APPLIED, UNKNOWN, ERROR = "ack", "not_applied", "unknown", "error"

_RETRYABLE_KINDS = ("MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN", "LOADING")


def _definitely_not_applied(err):
    msg = str(err)
    if err.kind in _RETRYABLE_KINDS:
        return True
    # Shoal's definite "did not apply" answers (src/replica/replica.cc).
    return err.kind == "ERR" and ("not leader" in msg or "safe to retry" in msg
                                  or "node cannot write its log" in msg)


class Result:
    __slots__ = ("outcome", "reply", "port", "attempts", "errors", "t_send", "t_done",
                 "timed_out")

    def __init__(self):
        self.outcome = None
        self.reply = None
        self.port = None       # the node that answered the last attempt
        self.attempts = 0
        self.errors = []       # short texts of every failed attempt
        self.t_send = None     # monotonic time of the first send
        self.t_done = None
        self.timed_out = False  # no reply within the client's timeout (a hang: H22)


class ClusterClient:
    """Follows MOVED; keeps one connection per node. Not thread-safe: give
    each thread its own."""

    def __init__(self, ports, timeout=5.0, connect_timeout=1.0, rng=None):
        self.ports = list(ports)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.rng = rng or random.Random()
        self.slot_port = {}
        self.conns = {}
        self.excluded = set()  # ports never to use (a test's isolated node)

    def close(self):
        for c in self.conns.values():
            c.close()
        self.conns.clear()

    def _conn(self, port):
        c = self.conns.get(port)
        if c is None:
            c = Conn(port, self.connect_timeout, self.timeout)
            self.conns[port] = c
        return c

    def _drop(self, port):
        c = self.conns.pop(port, None)
        if c:
            c.close()

    def _pick(self, slot):
        port = self.slot_port.get(slot)
        if port is not None and port not in self.excluded:
            return port
        choices = [p for p in self.ports if p not in self.excluded]
        return self.rng.choice(choices)

    def _note_redirect(self, slot, err):
        parts = str(err).split()
        if len(parts) >= 3 and parts[0] in ("MOVED", "ASK"):
            try:
                self.slot_port[slot] = int(parts[2].rsplit(":", 1)[1])
            except ValueError:
                pass
        elif parts and parts[0] in ("CLUSTERDOWN", "TRYAGAIN"):
            self.slot_port.pop(slot, None)

    def write(self, args, deadline_s=30.0, backoff_s=0.02):
        """Runs a write; see the module doc for the outcomes."""
        r = Result()
        slot = key_slot(args[1])
        end = time.monotonic() + deadline_s
        backoff = backoff_s
        while True:
            port = self._pick(slot)
            r.port = port
            r.attempts += 1
            try:
                conn = self._conn(port)
            except OSError as e:  # never sent
                r.errors.append(f"{port}: connect: {e}")
                self.slot_port.pop(slot, None)
            else:
                try:
                    if r.t_send is None:
                        r.t_send = time.monotonic()
                    conn.send(encode(args))
                    reply = conn.read_reply()
                except (OSError, ConnectionLost, ValueError) as e:
                    # Sent (maybe partly) and no reply: the outcome is unknown.
                    self._drop(port)
                    self.slot_port.pop(slot, None)
                    r.outcome, r.t_done = UNKNOWN, time.monotonic()
                    r.timed_out = isinstance(e, socket.timeout)
                    r.errors.append(f"{port}: no reply: {e!r}")
                    return r
                if not isinstance(reply, RespError):
                    r.outcome, r.reply, r.t_done = ACK, reply, time.monotonic()
                    self.slot_port[slot] = port
                    return r
                r.errors.append(f"{port}: {reply}")
                if reply.kind == "UNKNOWNOUTCOME":
                    r.outcome, r.reply, r.t_done = UNKNOWN, reply, time.monotonic()
                    return r
                if not _definitely_not_applied(reply):
                    r.outcome, r.reply, r.t_done = ERROR, reply, time.monotonic()
                    return r
                self._note_redirect(slot, reply)
                if reply.kind in ("MOVED", "ASK") and self.slot_port.get(slot) not in self.excluded:
                    if r.attempts % 8 != 0:
                        continue  # follow the redirect at once (a loop gets a pause)
            if time.monotonic() >= end:
                r.outcome, r.t_done = NOT_APPLIED, time.monotonic()
                return r
            time.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(backoff * 2, 0.2)

    def read(self, args, deadline_s=30.0):
        """Runs a read, retrying anything until it gets a non-error reply;
        returns (reply, port). Raises TimeoutError at the deadline."""
        slot = key_slot(args[1])
        end = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < end:
            port = self._pick(slot)
            try:
                reply = self._conn(port).call(*args)
            except (OSError, ConnectionLost, ValueError) as e:
                self._drop(port)
                self.slot_port.pop(slot, None)
                last = e
                time.sleep(0.05)
                continue
            if isinstance(reply, RespError):
                last = reply
                self._note_redirect(slot, reply)
                if reply.kind not in ("MOVED", "ASK"):
                    time.sleep(0.05)
                continue
            self.slot_port[slot] = port
            return reply, port
        raise TimeoutError(f"read {args!r} failed until the deadline; last: {last}")

    def pipelined_gets(self, keys, batch=500, deadline_s=60.0):
        """GET of many keys: pipelined per node by the slot cache; any key
        whose reply is an error goes again through read(). Returns a dict."""
        out = {}
        by_port = {}
        for k in keys:
            by_port.setdefault(self._pick(key_slot(k)), []).append(k)
        retry = []
        for port, ks in by_port.items():
            for i in range(0, len(ks), batch):
                part = ks[i:i + batch]
                try:
                    conn = self._conn(port)
                    conn.send(b"".join(encode(("GET", k)) for k in part))
                    replies = [conn.read_reply() for _ in part]
                except (OSError, ConnectionLost, ValueError):
                    self._drop(port)
                    retry.extend(part)
                    continue
                for k, v in zip(part, replies):
                    if isinstance(v, RespError):
                        retry.append(k)
                    else:
                        out[k] = v
        end = time.monotonic() + deadline_s
        for k in retry:
            out[k], _ = self.read(("GET", k), deadline_s=max(1.0, end - time.monotonic()))
        return out


def cluster_slots(port, timeout=3.0):
    """[(start, end, [ports...])] from CLUSTER SLOTS of one node; the first
    port of each range is the leader that node believes in."""
    c = Conn(port, timeout, timeout)
    try:
        reply = c.call("CLUSTER", "SLOTS")
    finally:
        c.close()
    if isinstance(reply, RespError):
        raise reply
    return [(r[0], r[1], [n[1] for n in r[2:]]) for r in reply]


def key_in_range(prefix, start, end):
    """A key `prefix<n>` whose slot is in [start, end]."""
    n = 0
    while True:
        k = f"{prefix}{n}"
        if start <= key_slot(k) <= end:
            return k
        n += 1


class Counter:
    """A thread-safe counter dict (for progress lines)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}

    def add(self, name, n=1):
        with self.lock:
            self.values[name] = self.values.get(name, 0) + n

    def get(self, name):
        with self.lock:
            return self.values.get(name, 0)
