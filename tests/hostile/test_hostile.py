#!/usr/bin/python3
"""Hostile input against a live server (HAZARDS.md H24).

Usage: test_hostile.py <server-binary> [unittest args]

Attacks: absurd and negative lengths, unterminated bulks, garbage bytes, a
non-'$' inside a multibulk, an inline line over 64 KiB, unbalanced quotes,
pre-AUTH size limits, a 1,000,000-command pipeline, clients that never read
their replies, and connection floods. After every attack another client must
get correct replies and the keys stored before the attacks must be intact.

Expected error texts are Redis 7.0's, byte for byte; the same file runs
against Debian's redis-server (ctest `hostile_ref`) to keep them honest.
Standard library only; every wait is bounded.
"""

import os
import random
import resource
import selectors
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from server_proc import ServerProcess  # noqa: E402

SERVER_BIN = None
PASSWORD = "hostile-pw"
KIB = 1024
MIB = 1024 * KIB

# Keys written before any attack and checked after each one.
SENTINELS = {b"sentinel:%d" % i: b"value-%d-" % i + bytes([i % 251]) * 100 for i in range(100)}
SENTINEL_BIG = (b"sentinel:big", os.urandom(256 * KIB))

# Redis 7.0's protocol-error replies (networking.c).
INVALID_MULTIBULK = b"-ERR Protocol error: invalid multibulk length\r\n"
INVALID_BULK = b"-ERR Protocol error: invalid bulk length\r\n"
TOO_BIG_INLINE = b"-ERR Protocol error: too big inline request\r\n"
TOO_BIG_MBULK_COUNT = b"-ERR Protocol error: too big mbulk count string\r\n"
TOO_BIG_BULK_COUNT = b"-ERR Protocol error: too big bulk count string\r\n"
UNBALANCED = b"-ERR Protocol error: unbalanced quotes in request\r\n"
MAX_CLIENTS = b"-ERR max number of clients reached\r\n"


def expected_dollar(got):
    return b"-ERR Protocol error: expected '$', got '%s'\r\n" % got


def resp(*args):
    """Encodes one command as a RESP multibulk."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def bulk(value):
    """A RESP2 bulk-string reply."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


class Conn:
    """A raw TCP connection that reads with bounded waits."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        """Sends; returns False if the server already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def read_exact(self, n, timeout=30.0):
        """Reads exactly n bytes (or fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out with {len(self.buf)}/{n} bytes: {self.buf[:200]!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise AssertionError(f"closed after {len(self.buf)}/{n} bytes: {self.buf[:200]!r}")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def drain(self, idle=0.5, limit=10.0):
        """Reads until the peer closes or sends nothing for `idle` seconds.

        Returns (bytes, closed)."""
        deadline = time.monotonic() + limit
        data, self.buf = self.buf, b""
        while time.monotonic() < deadline:
            self.sock.settimeout(idle)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
        return data, False

    def close(self):
        self.sock.close()


class HostileBase(unittest.TestCase):
    """Starts one server per class, stores the sentinels, checks health after each test."""

    SERVER_ARGS = {}

    @classmethod
    def setUpClass(cls):
        raise_fd_limit(8192)
        cls.server = ServerProcess(SERVER_BIN, **cls.SERVER_ARGS).start()
        c = cls.client()
        for k, v in SENTINELS.items():
            c.send(resp("SET", k, v))
        c.send(resp("SET", *SENTINEL_BIG))
        assert c.read_exact(5 * (len(SENTINELS) + 1)) == b"+OK\r\n" * (len(SENTINELS) + 1)
        c.close()

    @classmethod
    def tearDownClass(cls):
        alive = cls.server.alive()
        log = cls.server.log_text()
        code = cls.server.stop()
        if not alive:
            raise AssertionError(f"server died (exit {code}); log:\n{log}")

    @classmethod
    def client(cls, authenticate=True):
        c = Conn(cls.server.port)
        if authenticate and cls.SERVER_ARGS.get("requirepass"):
            c.send(resp("AUTH", cls.SERVER_ARGS["requirepass"]))
            assert c.read_exact(5) == b"+OK\r\n"
        return c

    def tearDown(self):
        self.assert_healthy()

    def assert_healthy(self):
        """Another client gets correct replies; the sentinels are intact."""
        self.assertTrue(self.server.alive(), "server died:\n" + self.server.log_text())
        c = self.client()
        try:
            c.send(resp("PING"))
            self.assertEqual(c.read_exact(7, timeout=10), b"+PONG\r\n")
            keys = list(SENTINELS)
            c.send(resp("MGET", *keys))
            expected = b"*%d\r\n" % len(keys) + b"".join(bulk(SENTINELS[k]) for k in keys)
            self.assertEqual(c.read_exact(len(expected)), expected)
            c.send(resp("GET", SENTINEL_BIG[0]))
            expected = bulk(SENTINEL_BIG[1])
            self.assertEqual(c.read_exact(len(expected)), expected)
            c.send(resp("SET", "probe", "after-attack") + resp("GET", "probe"))
            self.assertEqual(c.read_exact(5 + 19), b"+OK\r\n$12\r\nafter-attack\r\n")
        finally:
            c.close()

    def assert_error_and_close(self, payload, expected, authenticate=True):
        """Sends `payload` on a fresh connection; expects `expected` and a close."""
        c = self.client(authenticate)
        try:
            c.send(payload)
            data, closed = c.drain(idle=2.0)
            self.assertEqual(data, expected, f"payload {payload[:80]!r}")
            self.assertTrue(closed, f"connection left open after {payload[:80]!r}")
        finally:
            c.close()

    def assert_reply_and_open(self, payload, expected):
        """Sends `payload`; expects exactly `expected` and the connection kept open."""
        c = self.client()
        try:
            c.send(payload)
            data, closed = c.drain(idle=0.5)
            self.assertEqual(data, expected, f"payload {payload[:80]!r}")
            self.assertFalse(closed, f"connection closed after {payload[:80]!r}")
            c.send(resp("PING"))
            self.assertEqual(c.read_exact(7), b"+PONG\r\n")
        finally:
            c.close()


class MalformedProtocol(HostileBase):
    """Each malformed request gets Redis's error text and the connection closes."""

    def test_absurd_multibulk_lengths(self):
        self.assert_error_and_close(b"*2147483648\r\n", INVALID_MULTIBULK)
        self.assert_error_and_close(b"*9223372036854775807\r\n", INVALID_MULTIBULK)
        self.assert_error_and_close(b"*99999999999999999999999\r\n", INVALID_MULTIBULK)
        self.assert_error_and_close(b"*abc\r\n", INVALID_MULTIBULK)
        self.assert_error_and_close(b"*1x\r\n", INVALID_MULTIBULK)

    def test_absurd_bulk_lengths(self):
        self.assert_error_and_close(b"*1\r\n$2147483647\r\n", INVALID_BULK)
        self.assert_error_and_close(b"*1\r\n$536870913\r\n", INVALID_BULK)  # 512 MiB + 1
        self.assert_error_and_close(b"*2\r\n$3\r\nGET\r\n$9223372036854775807\r\n", INVALID_BULK)
        self.assert_error_and_close(b"*1\r\n$abc\r\n", INVALID_BULK)

    def test_negative_bulk_lengths(self):
        self.assert_error_and_close(b"*1\r\n$-1\r\n", INVALID_BULK)
        self.assert_error_and_close(b"*1\r\n$-5\r\n", INVALID_BULK)
        self.assert_error_and_close(b"*2\r\n$3\r\nGET\r\n$-2147483648\r\n", INVALID_BULK)

    def test_negative_and_zero_multibulk_are_empty_commands(self):
        # Redis treats *0 and *-n as an empty command: no reply, connection open.
        self.assert_reply_and_open(b"*-5\r\n", b"")
        self.assert_reply_and_open(b"*-1\r\n*0\r\n" + resp("PING"), b"+PONG\r\n")

    def test_non_dollar_inside_multibulk(self):
        self.assert_error_and_close(b"*1\r\n:3\r\nfoo\r\n", expected_dollar(b":"))
        self.assert_error_and_close(b"*2\r\n$3\r\nGET\r\n+abc\r\n", expected_dollar(b"+"))
        self.assert_error_and_close(b"*2\r\n$3\r\nGET\r\n*1\r\n", expected_dollar(b"*"))
        # A good command before the bad one is still answered.
        self.assert_error_and_close(resp("PING") + b"*1\r\nx\r\n",
                                    b"+PONG\r\n" + expected_dollar(b"x"))

    def test_too_long_count_strings(self):
        # A length line with no CRLF may not grow past 64 KiB.
        self.assert_error_and_close(b"*1" + b"1" * (70 * KIB), TOO_BIG_MBULK_COUNT)
        self.assert_error_and_close(b"*1\r\n$" + b"1" * (70 * KIB), TOO_BIG_BULK_COUNT)

    def test_inline_line_over_64k_without_newline(self):
        self.assert_error_and_close(b"x" * (64 * KIB + 100), TOO_BIG_INLINE)
        self.assert_error_and_close(b"SET k " + b"v" * (200 * KIB), TOO_BIG_INLINE)

    def test_unbalanced_quotes_inline(self):
        self.assert_error_and_close(b'GET "abc\r\n', UNBALANCED)
        self.assert_error_and_close(b"SET 'a b\r\n", UNBALANCED)
        self.assert_error_and_close(b'SET "a"b c\r\n', UNBALANCED)  # closing quote must end the arg
        self.assert_error_and_close(b"PING\r\nECHO \"x\r\n", b"+PONG\r\n" + UNBALANCED)

    def test_inline_commands_still_work(self):
        self.assert_reply_and_open(b'ECHO "a\\x41\\n"\r\n', b"$3\r\naA\n\r\n")
        self.assert_reply_and_open(b"\r\n\r\nPING\r\n", b"+PONG\r\n")


class IncompleteAndGarbage(HostileBase):
    """Unterminated and trickled requests, and garbage that is not RESP at all."""

    def test_unterminated_bulk_waits_then_completes(self):
        c = self.client()
        try:
            c.send(b"*2\r\n$3\r\nGET\r\n$10\r\nsentinel")   # 2 bytes short
            data, closed = c.drain(idle=0.5)
            self.assertEqual((data, closed), (b"", False))
            self.assert_healthy()                         # others are served meanwhile
            c.send(b":7\r\n")
            want = bulk(SENTINELS[b"sentinel:7"])
            self.assertEqual(c.read_exact(len(want)), want)
        finally:
            c.close()

    def test_unterminated_requests_then_disconnect(self):
        # Many connections each leave a different partial request and vanish.
        partials = [b"*3\r\n", b"*3\r\n$3\r\nSET\r\n$1", b"*1\r\n$100000\r\nabc",
                    b"*2147483647\r\n", b"*1\r\n$536870912\r\n", b"GET sentinel:1",
                    b"*2147483647\r\n" + resp("GET", "x")[4:] * 1000]
        conns = []
        try:
            for i in range(200):
                c = self.client()
                conns.append(c)
                c.send(partials[i % len(partials)])
            time.sleep(0.5)
            self.assert_healthy()
            # Announcing a 512 MiB bulk or 2^31 arguments must not make the
            # server commit that memory before the bytes arrive.
            self.assertLess(self.server.rss_kib() * KIB, 512 * MIB)
        finally:
            for c in conns:
                c.close()

    def test_byte_at_a_time(self):
        c = self.client()
        try:
            for b in resp("SET", "trickle", "slow value") + b"GET trickle\r\n":
                self.assertTrue(c.send(bytes([b])))
            self.assertEqual(c.read_exact(5 + 17), b"+OK\r\n$10\r\nslow value\r\n")
        finally:
            c.close()

    def test_garbage_lines_are_unknown_commands(self):
        rng = random.Random(2024)
        # Bytes that are not CR, LF, NUL or quotes, so each line is one inline
        # command with an unknown name (it starts with \x01).
        alphabet = bytes(b for b in range(1, 256) if b not in b"\r\n\"'")
        lines = [b"\x01" + bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 200)))
                 for _ in range(100)]
        c = self.client()
        try:
            c.send(b"".join(line + b"\r\n" for line in lines))
            data, closed = c.drain(idle=1.0)
            self.assertFalse(closed)
            replies = data.split(b"\r\n")[:-1]
            self.assertEqual(len(replies), len(lines), data[:300])
            for r in replies:
                self.assertTrue(r.startswith(b"-ERR unknown command '"), r[:100])
            c.send(resp("PING"))
            self.assertEqual(c.read_exact(7), b"+PONG\r\n")
        finally:
            c.close()

    def test_random_bytes_never_crash(self):
        rng = random.Random(7)
        prefixes = [b"", b"*", b"*3\r\n", b"*2\r\n$3\r\nGET\r\n", b"$", b"*1\r\n$5\r\n"]
        for _batch in range(6):
            # 50 connections at a time, each sending one random payload.
            conns = []
            for _ in range(50):
                payload = rng.choice(prefixes) + bytes(rng.randrange(256)
                                                       for _ in range(rng.randint(1, 3000)))
                c = self.client()
                c.send(payload)
                conns.append(c)
            time.sleep(0.2)
            for c in conns:
                data, _closed = c.drain(idle=0.02, limit=2.0)
                # Whatever comes back is RESP: errors, statuses, bulks...
                if data:
                    self.assertIn(data[:1], b"-+:$*_", data[:100])
                c.close()
            self.assertTrue(self.server.alive())


class BigPipeline(HostileBase):
    N = 1_000_000

    def test_million_command_pipeline(self):
        """1,000,000 INCRs in one burst: every reply arrives, in order, correct."""
        c = self.client()
        cmd = resp("INCR", "pipeline:counter")
        batch = cmd * 10_000
        errors = []

        def writer():
            try:
                for _ in range(self.N // 10_000):
                    c.sock.sendall(batch)
            except OSError as e:  # reported below; the reader then times out
                errors.append(e)

        c.sock.settimeout(60)
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            expected = b"".join(b":%d\r\n" % i for i in range(1, self.N + 1))
            got = c.read_exact(len(expected), timeout=120)
            t.join(timeout=60)
            self.assertEqual(errors, [])
            self.assertTrue(got == expected, "pipeline replies differ")
            data, closed = c.drain(idle=0.3)
            self.assertEqual((data, closed), (b"", False))   # nothing extra
        finally:
            c.close()


class SlowReaders(HostileBase):
    """Clients that send many commands and never read the replies."""

    VALUE = os.urandom(32 * KIB)
    CLIENTS = 4
    COMMANDS = 20_000          # per client: 640 MiB of replies each if buffered
    RSS_GROWTH_LIMIT = 384 * MIB
    # Redis's default leaves normal clients' output unlimited; give the
    # reference run the kind of limit Shoal has by default.
    SERVER_ARGS = {"extra_redis": ["--client-output-buffer-limit", "normal 32mb 16mb 5"]}

    def test_clients_that_never_read(self):
        c = self.client()
        c.send(resp("SET", "slow:value", self.VALUE))
        self.assertEqual(c.read_exact(5), b"+OK\r\n")
        c.close()
        rss_before = self.server.rss_kib() * KIB

        slow = []
        for _ in range(self.CLIENTS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # read nothing, buffer little
            s.connect(("127.0.0.1", self.server.port))
            s.setblocking(False)
            slow.append([s, resp("GET", "slow:value") * self.COMMANDS])
        if self.SERVER_ARGS.get("requirepass"):
            self.fail("slow readers assume no password")

        peak = rss_before
        probe = self.client()
        deadline = time.monotonic() + 20
        try:
            # Push the commands (as far as the server lets us) while checking
            # that a well-behaved client is served promptly and memory stays put.
            while time.monotonic() < deadline:
                pending = False
                for entry in slow:
                    s, data = entry
                    if not data:
                        continue
                    try:
                        n = s.send(data[:256 * KIB])
                        entry[1] = data[n:]
                    except BlockingIOError:
                        pass
                    except OSError:
                        entry[1] = b""      # the server disconnected this reader
                    pending = pending or bool(entry[1])
                t0 = time.monotonic()
                probe.send(resp("GET", "sentinel:3"))
                want = bulk(SENTINELS[b"sentinel:3"])
                self.assertEqual(probe.read_exact(len(want), timeout=5), want)
                self.assertLess(time.monotonic() - t0, 2.0, "well-behaved client starved")
                peak = max(peak, self.server.rss_kib() * KIB)
                self.assertLess(peak - rss_before, self.RSS_GROWTH_LIMIT,
                                f"server RSS grew by {(peak - rss_before) // MIB} MiB")
                if not pending:
                    # Everything is sent; watch memory a little longer.
                    deadline = min(deadline, time.monotonic() + 3)
                time.sleep(0.05)
        finally:
            probe.close()
            for s, _ in slow:
                s.close()
        sys.stderr.write(f"slow readers: RSS before {rss_before // MIB} MiB, "
                         f"peak {peak // MIB} MiB\n")


class ConnectionFlood(HostileBase):
    """2,000 connections at once against --maxclients 100."""

    MAXCLIENTS = 100
    FLOOD = 2000
    SERVER_ARGS = {"maxclients": MAXCLIENTS}

    def open_flood(self, n):
        conns, failed = [], 0
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
                conns.append(s)
            except OSError:
                failed += 1
        return conns, failed

    def test_flood_over_maxclients(self):
        conns, failed = self.open_flood(self.FLOOD)
        try:
            self.assertLess(failed, self.FLOOD // 10, "most connects must complete")
            # Over-limit connections receive the error and are closed; the
            # others stay silent. Wait (bounded) until the rejections settle.
            sel = selectors.DefaultSelector()
            for s in conns:
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, bytearray())
            rejected, odd = 0, []
            deadline = time.monotonic() + 30
            last_event = time.monotonic()
            while time.monotonic() < deadline and time.monotonic() - last_event < 2.0:
                for key, _ in sel.select(timeout=0.2):
                    last_event = time.monotonic()
                    try:
                        chunk = key.fileobj.recv(4096)
                    except ConnectionResetError:
                        chunk = b""
                    key.data.extend(chunk)
                    if not chunk:       # closed by the server
                        sel.unregister(key.fileobj)
                        if bytes(key.data) == MAX_CLIENTS:
                            rejected += 1
                        else:
                            odd.append(bytes(key.data))
            accepted = [key.fileobj for key in sel.get_map().values()]
            sel.close()
            self.assertEqual(odd, [], "closed connections with unexpected replies")
            self.assertLessEqual(len(accepted), self.MAXCLIENTS)
            self.assertGreaterEqual(len(accepted), self.MAXCLIENTS - 5)
            self.assertEqual(rejected + len(accepted), len(conns))
            # Every admitted connection works.
            for s in accepted:
                s.setblocking(True)
                s.settimeout(10)
                s.sendall(b"PING\r\n")
            for s in accepted:
                self.assertEqual(s.recv(7), b"+PONG\r\n")
            # While full, a newcomer is told why.
            extra = Conn(self.server.port)
            data, closed = extra.drain(idle=2.0)
            extra.close()
            self.assertEqual((data, closed), (MAX_CLIENTS, True))
        finally:
            for s in conns:
                s.close()
        # Slots are given back once the flood disconnects (bounded wait).
        deadline = time.monotonic() + 10
        while True:
            c = Conn(self.server.port)
            c.send(b"PING\r\n")
            data, _ = c.drain(idle=1.0)
            c.close()
            if data == b"+PONG\r\n":
                break
            self.assertLess(time.monotonic(), deadline, f"still refused: {data!r}")
            time.sleep(0.2)


class ConnectionFloodDefault(HostileBase):
    """2,000 connections at once with the default limit: all are served."""

    FLOOD = 2000

    def test_flood_within_limits(self):
        rss_before = self.server.rss_kib() * KIB
        conns = [socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
                 for _ in range(self.FLOOD)]
        try:
            for s in conns:
                s.sendall(resp("GET", "sentinel:5"))
            want = bulk(SENTINELS[b"sentinel:5"])
            for s in conns:
                got = b""
                while len(got) < len(want):
                    chunk = s.recv(len(want) - len(got))
                    self.assertTrue(chunk, "connection closed")
                    got += chunk
                self.assertEqual(got, want)
            growth = self.server.rss_kib() * KIB - rss_before
            # 2,000 idle connections must not cost more than ~64 KiB each.
            self.assertLess(growth, self.FLOOD * 64 * KIB, f"RSS grew {growth // MIB} MiB")
        finally:
            for s in conns:
                s.close()


class UnauthenticatedLimits(HostileBase):
    """Before AUTH, Redis refuses requests over 10 arguments or 16 KiB bulks."""

    SERVER_ARGS = {"requirepass": PASSWORD}

    def test_big_requests_before_auth(self):
        self.assert_error_and_close(
            b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n",
            authenticate=False)
        self.assert_error_and_close(
            b"*1\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n",
            authenticate=False)

    def test_limits_lifted_after_auth(self):
        c = self.client()
        try:
            big = b"b" * (100 * KIB)
            c.send(resp("SET", "authed:big", big) + resp("MSET", *[b"m%d" % i for i in range(20)]))
            self.assertEqual(c.read_exact(10), b"+OK\r\n+OK\r\n")
        finally:
            c.close()

    def test_noauth_then_close_is_harmless(self):
        c = self.client(authenticate=False)
        try:
            c.send(resp("GET", "sentinel:1"))
            data, closed = c.drain(idle=0.5)
            self.assertEqual((data, closed), (b"-NOAUTH Authentication required.\r\n", False))
        finally:
            c.close()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_hostile.py <server-binary> [unittest args]")
    SERVER_BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
