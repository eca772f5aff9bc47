#!/usr/bin/python3
"""Debian's python3-redis (redis-py 4.3) against a live server, RESP2 and RESP3.

Usage: test_python_redis.py <server-binary> [unittest args]

redis-py 4.3 predates its `protocol=3` option, so RESP3 is exercised through a
small parser subclass (Resp3Parser below) and a connection that opens with
`HELLO 3 [AUTH default <password>]`; everything else is the stock client. The
same test cases run over both protocols (ClientCases); a few cases check
RESP3-only reply shapes (maps, nulls) with the raw client.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import redis
from redis.connection import Connection, PythonParser
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from server_proc import ServerProcess, is_redis  # noqa: E402

SERVER_BIN = None
PASSWORD = "py-s3cret"


class Resp3Parser(PythonParser):
    """redis-py's pure-Python parser extended with the RESP3 reply types."""

    def read_response(self, disable_decoding=False):
        raw = self._buffer.readline()
        if not raw:
            raise ConnectionError("Connection closed by server.")
        byte, rest = raw[:1], raw[1:]
        read = lambda: self.read_response(disable_decoding=disable_decoding)  # noqa: E731

        if byte == b"-" or byte == b"!":               # simple / blob error
            if byte == b"!":
                rest = self._buffer.read(int(rest))
            error = self.parse_error(rest.decode("utf-8", errors="replace"))
            if isinstance(error, ConnectionError):
                raise error
            return error
        if byte == b"+":                                 # simple string
            response = rest
        elif byte in (b":", b"("):                       # integer / big number
            return int(rest)
        elif byte == b",":                               # double
            return float(rest)                           # also "inf", "-inf", "nan"
        elif byte == b"#":                               # boolean
            return rest == b"t"
        elif byte == b"_":                               # null
            return None
        elif byte in (b"$", b"="):                       # bulk / verbatim string
            length = int(rest)
            if length == -1:
                return None
            response = self._buffer.read(length)
            if byte == b"=":
                response = response[4:]                  # drop "txt:" / "mkd:"
        elif byte in (b"*", b"~", b">"):                 # array / set / push
            length = int(rest)
            if length == -1:
                return None
            return [read() for _ in range(length)]
        elif byte == b"%":                               # map
            out = {}
            for _ in range(int(rest)):
                key = read()
                out[key] = read()
            return out
        elif byte == b"|":                               # attribute: skip it
            for _ in range(2 * int(rest)):
                read()
            return read()
        else:
            raise redis.exceptions.InvalidResponse(f"Protocol Error: {raw!r}")
        if isinstance(response, bytes) and disable_decoding is False:
            response = self.encoder.decode(response)
        return response


class Resp3Connection(Connection):
    """Opens every connection with HELLO 3 (authenticating inside HELLO)."""

    def __init__(self, hello_password=None, **kwargs):
        kwargs["parser_class"] = Resp3Parser
        super().__init__(**kwargs)
        self.hello_password = hello_password

    def on_connect(self):
        self._parser.on_connect(self)
        args = ["HELLO", "3"]
        if self.hello_password is not None:
            args += ["AUTH", "default", self.hello_password]
        self.send_command(*args)
        reply = self.read_response()
        if isinstance(reply, Exception):
            raise reply
        proto = reply.get("proto", reply.get(b"proto"))
        if proto != 3:
            raise ConnectionError(f"HELLO 3 answered {reply!r}")
        if self.client_name:
            self.send_command("CLIENT", "SETNAME", self.client_name)
            if self.read_response() not in ("OK", b"OK"):
                raise ConnectionError("CLIENT SETNAME failed")


def make_client(port, protocol, password=None, decode=True, **kw):
    if protocol == 2:
        return redis.Redis(host="127.0.0.1", port=port, password=password,
                           decode_responses=decode, socket_timeout=30, **kw)
    pool = redis.ConnectionPool(connection_class=Resp3Connection, host="127.0.0.1",
                                port=port, hello_password=password,
                                decode_responses=decode, socket_timeout=30, **kw)
    client = redis.Redis(connection_pool=pool)
    # RESP3 answers CONFIG GET with a map; redis-py 4.3's callback expects a
    # flat list, so take the map as it comes (it is checked to be a dict).
    client.set_response_callback("CONFIG GET", lambda r, **_: r)
    return client


class ClientCases:
    """Test cases run over RESP2 and RESP3 (see the subclasses)."""

    PROTOCOL = None

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(SERVER_BIN).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertTrue(self.server.alive(), "server died")
        self.r = make_client(self.server.port, self.PROTOCOL)
        self.rb = make_client(self.server.port, self.PROTOCOL, decode=False)
        self.r.flushall()

    def tearDown(self):
        self.r.close()
        self.rb.close()

    def test_strings(self):
        r = self.r
        self.assertTrue(r.set("s", "hello"))
        self.assertEqual(r.get("s"), "hello")
        self.assertIsNone(r.get("missing"))
        self.assertEqual(r.append("s", " world"), 11)
        self.assertEqual(r.strlen("s"), 11)
        self.assertEqual(r.getrange("s", 0, 4), "hello")
        self.assertEqual(r.setrange("s", 6, "WORLD"), 11)
        self.assertEqual(r.get("s"), "hello WORLD")
        self.assertIsNone(r.set("s", "x", nx=True))
        self.assertTrue(r.set("s2", "y", nx=True))
        self.assertIsNone(r.set("nope", "z", xx=True))
        self.assertEqual(r.getset("s2", "y2"), "y")
        self.assertEqual(r.getdel("s2"), "y2")
        self.assertEqual(r.exists("s2"), 0)
        self.assertTrue(r.mset({"a": "1", "b": "2", "c": "3"}))
        self.assertEqual(r.mget("a", "b", "zz", "c"), ["1", "2", None, "3"])
        self.assertEqual(r.incr("a"), 2)
        self.assertEqual(r.incrby("a", 10), 12)
        self.assertEqual(r.decr("a"), 11)
        self.assertEqual(r.decrby("a", 5), 6)
        self.assertAlmostEqual(r.incrbyfloat("f", 2.5), 2.5)
        self.assertAlmostEqual(r.incrbyfloat("f", -0.5), 2.0)
        self.assertEqual(r.set("old", "v", get=True), None)
        self.assertEqual(r.set("old", "w", get=True), "v")
        self.assertEqual(r.delete("a", "b", "zz"), 2)
        self.assertEqual(r.exists("a", "b", "c"), 1)
        self.assertEqual(r.type("c"), "string")
        self.assertEqual(r.dbsize(), 4)  # s, f, old, c

    def test_expiries(self):
        r = self.r
        self.assertTrue(r.set("e", "v", ex=100))
        self.assertTrue(98 <= r.ttl("e") <= 100)
        self.assertTrue(99000 <= r.pttl("e") <= 100000)
        self.assertTrue(r.persist("e"))
        self.assertEqual(r.ttl("e"), -1)
        self.assertEqual(r.ttl("missing"), -2)
        self.assertTrue(r.expire("e", 50))
        self.assertTrue(48 <= r.ttl("e") <= 50)
        self.assertTrue(r.setex("e2", 30, "v"))
        self.assertTrue(28 <= r.ttl("e2") <= 30)
        self.assertTrue(r.set("short", "v", px=100))
        deadline = time.monotonic() + 5
        while r.get("short") is not None:
            self.assertLess(time.monotonic(), deadline, "PX 100 key did not expire")
            time.sleep(0.05)
        self.assertEqual(r.exists("short"), 0)

    def test_pipeline(self):
        r = self.r
        n = 2000
        pipe = r.pipeline(transaction=False)
        for i in range(n):
            pipe.set(f"p:{i}", i)
        for i in range(n):
            pipe.incr(f"p:{i}")
        pipe.get("p:1999")
        pipe.incr("p:fresh")
        results = pipe.execute()
        self.assertEqual(results[:n], [True] * n)
        self.assertEqual(results[n:2 * n], list(range(1, n + 1)))
        self.assertEqual(results[2 * n], str(n))
        self.assertEqual(results[2 * n + 1], 1)
        # An error inside a pipeline is reported at its position.
        pipe = r.pipeline(transaction=False)
        pipe.set("txt", "abc").incr("txt").get("txt")
        results = pipe.execute(raise_on_error=False)
        self.assertTrue(results[0])
        self.assertIsInstance(results[1], ResponseError)
        self.assertEqual(results[2], "abc")

    def test_scan_iter(self):
        r = self.r
        with r.pipeline(transaction=False) as pipe:
            for i in range(1000):
                pipe.set(f"scan:{i}", "v")
            for i in range(100):
                pipe.set(f"other:{i}", "v")
            pipe.execute()
        seen = list(r.scan_iter(match="scan:*", count=37))
        # SCAN may repeat a key, but must return every key present throughout.
        self.assertEqual(set(seen), {f"scan:{i}" for i in range(1000)})
        self.assertEqual(len(set(r.scan_iter(count=500))), 1100)
        cursor, keys = r.scan(0, match="nomatch:*", count=10)
        self.assertIsInstance(cursor, int)
        self.assertTrue(all(k.startswith("nomatch:") for k in keys))

    def test_client_name(self):
        r = self.r
        self.assertIsNone(r.client_getname())
        self.assertTrue(r.client_setname("py-test"))
        self.assertEqual(r.client_getname(), "py-test")
        # The name survives on that connection only; a client configured with
        # a name gets it on every new connection.
        named = make_client(self.server.port, self.PROTOCOL, client_name="configured")
        self.assertEqual(named.client_getname(), "configured")
        named.close()
        self.assertIsInstance(r.client_id(), int)

    def test_info(self):
        r = self.r
        r.set("k", "v")
        info = r.info()
        self.assertIsInstance(info, dict)
        self.assertIn("redis_version", info)
        self.assertGreaterEqual(info["connected_clients"], 1)
        self.assertIsInstance(info["used_memory"], int)
        self.assertIsInstance(info["total_commands_processed"], int)
        keyspace = r.info("keyspace")
        self.assertEqual(keyspace["db0"]["keys"], 1)
        self.assertIn("connected_clients", r.info("clients"))

    def test_config_get(self):
        port = self.r.config_get("port")
        self.assertIsInstance(port, dict)
        self.assertEqual(port, {"port": str(self.server.port)})
        self.assertIn("maxclients", self.r.config_get("maxclients"))
        self.assertEqual(self.r.config_get("no-such-setting"), {})

    def test_error_types(self):
        r = self.r
        with self.assertRaises(ResponseError) as cm:
            r.execute_command("GET")
        self.assertEqual(str(cm.exception), "wrong number of arguments for 'get' command")
        with self.assertRaises(ResponseError) as cm:
            r.execute_command("SET", "k")
        self.assertEqual(str(cm.exception), "wrong number of arguments for 'set' command")
        r.set("word", "abc")
        with self.assertRaises(ResponseError) as cm:
            r.incr("word")
        self.assertEqual(str(cm.exception), "value is not an integer or out of range")
        with self.assertRaises(ResponseError) as cm:
            r.execute_command("NOSUCHCOMMAND", "a")
        self.assertTrue(str(cm.exception).startswith("unknown command 'NOSUCHCOMMAND'"),
                        str(cm.exception))
        with self.assertRaises(ResponseError) as cm:
            r.execute_command("SET", "k", "v", "EX", "notanumber")
        self.assertEqual(str(cm.exception), "value is not an integer or out of range")
        # The connection is still usable after errors.
        self.assertEqual(r.get("word"), "abc")

    def test_binary_safe(self):
        rb = self.rb
        every_byte = bytes(range(256))
        key = b"bin\x00key\r\n\xff"
        self.assertTrue(rb.set(key, every_byte * 4))
        self.assertEqual(rb.get(key), every_byte * 4)
        self.assertEqual(rb.strlen(key), 1024)
        self.assertEqual(rb.keys(b"bin*"), [key])
        big = os.urandom(1 << 20)
        rb.set(b"big", big)
        self.assertEqual(rb.get(b"big"), big)
        self.assertEqual(rb.getrange(b"big", 1000, 1999), big[1000:2000])
        self.assertTrue(rb.set(b"empty", b""))
        self.assertEqual(rb.get(b"empty"), b"")
        self.assertEqual(rb.mget([key, b"empty", b"missing"]), [every_byte * 4, b"", None])


class Resp2Client(ClientCases, unittest.TestCase):
    PROTOCOL = 2

    def test_hello_2_shape(self):
        reply = self.r.execute_command("HELLO", "2")
        # RESP2 answers HELLO with a flat list of field/value pairs.
        self.assertIsInstance(reply, list)
        fields = dict(zip(reply[0::2], reply[1::2]))
        self.assertEqual(fields["proto"], 2)


class Resp3Client(ClientCases, unittest.TestCase):
    PROTOCOL = 3

    def test_resp3_shapes(self):
        r = self.r
        hello = r.execute_command("HELLO", "3")
        self.assertIsInstance(hello, dict)
        self.assertEqual(hello["proto"], 3)
        self.assertIn("server", hello)
        self.assertIn("version", hello)
        # Read the wire directly: RESP3 null is "_", not "$-1".
        conn = r.connection_pool.get_connection("GET")
        try:
            conn.send_command("GET", "definitely-missing")
            line = conn._parser._buffer.readline()
            self.assertEqual(line, b"_")
            # CONFIG GET answers a map of one field.
            conn.send_command("CONFIG", "GET", "port")
            self.assertEqual(conn._parser._buffer.readline(), b"%1")
            self.assertEqual(conn.read_response(), "port")
            self.assertEqual(conn.read_response(), str(self.server.port))
        finally:
            r.connection_pool.release(conn)
        self.assertEqual(r.ping(), True)


class AuthCases(unittest.TestCase):
    """A server with --requirepass: NOAUTH before auth, AUTH and HELLO AUTH."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(SERVER_BIN, requirepass=PASSWORD).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_noauth(self):
        r = make_client(self.server.port, 2)
        with self.assertRaises(AuthenticationError) as cm:
            r.get("k")
        self.assertEqual(str(cm.exception), "Authentication required.")
        r.close()
        # HELLO 3 without AUTH is refused before authentication.
        r = make_client(self.server.port, 3)
        with self.assertRaises(AuthenticationError) as cm:
            r.ping()
        self.assertIn("HELLO must be called with the client already authenticated",
                      str(cm.exception))
        r.close()

    def test_auth_resp2_and_resp3(self):
        r2 = make_client(self.server.port, 2, password=PASSWORD)
        self.assertTrue(r2.set("k", "v"))
        r3 = make_client(self.server.port, 3, password=PASSWORD)  # HELLO 3 AUTH
        self.assertEqual(r3.get("k"), "v")
        # HELLO 2 AUTH authenticates too, and reports protocol 2.
        raw = make_client(self.server.port, 2)
        conn = raw.connection_pool.get_connection("HELLO")
        try:
            conn.send_command("HELLO", "2", "AUTH", "default", PASSWORD)
            reply = conn.read_response()
            self.assertEqual(dict(zip(reply[0::2], reply[1::2]))["proto"], 2)
            conn.send_command("GET", "k")
            self.assertEqual(conn.read_response(), "v")
        finally:
            raw.connection_pool.release(conn)
        for c in (r2, r3, raw):
            c.close()

    def test_wrong_password(self):
        r = make_client(self.server.port, 2, password="wrong")
        with self.assertRaises(ResponseError) as cm:
            r.ping()
        self.assertEqual(str(cm.exception),
                         "WRONGPASS invalid username-password pair or user is disabled.")
        r.close()
        r3 = make_client(self.server.port, 3, password="wrong")
        with self.assertRaises(ResponseError) as cm:
            r3.ping()
        self.assertTrue(str(cm.exception).startswith("WRONGPASS"))
        r3.close()


class ShoalInfoCases(unittest.TestCase):
    """Shoal's own INFO fields (not in Redis): the engine, the fsync policy and
    the Raft log's group-commit batches, as a client reads them."""

    @classmethod
    def setUpClass(cls):
        if is_redis(SERVER_BIN):
            raise unittest.SkipTest("Shoal-only INFO fields")
        cls.server = ServerProcess(SERVER_BIN).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_engine_fsync_and_mode(self):
        r = make_client(self.server.port, 2)
        server = r.info("server")
        self.assertEqual(server["redis_mode"], "standalone")
        self.assertEqual(server["shoal_engine"], "memory")
        self.assertEqual(server["shoal_fsync"], "always")
        self.assertEqual(r.info("cluster")["cluster_enabled"], 0)
        r.close()

    def test_log_batches_count_writes(self):
        r = make_client(self.server.port, 2)
        before = r.info("stats")["raft_log_batches"]
        for i in range(5):
            r.set(f"batch:{i}", "v")
        after = r.info("stats")["raft_log_batches"]
        # Each acknowledged SET was in a log batch; with one client and no
        # pipelining, in its own.
        self.assertGreaterEqual(after - before, 5)
        r.close()

    def test_wal_syncs_are_counted_with_their_time(self):
        # fsync always: every acknowledged SET waited for a sync on the sync
        # thread, which counts its syncs and the time in them and between.
        r = make_client(self.server.port, 2)
        before = r.info("stats")
        for i in range(20):
            r.set(f"sync:{i}", "v")
        # Between back-to-back SETs the sync thread's wait can round to
        # nothing: on a loaded machine the next request may be in before the
        # thread goes back to waiting (CI saw exactly that). A pause the
        # thread must wait through makes the wait measurable.
        time.sleep(0.05)
        r.set("sync:after-pause", "v")
        # The counters are published by the raft loop's next iteration.
        r.set("sync:publish", "v")
        after = r.info("stats")
        syncs = after["shoal_wal_syncs"] - before["shoal_wal_syncs"]
        self.assertGreaterEqual(syncs, 21)
        self.assertLessEqual(syncs, 42)
        self.assertGreater(after["shoal_wal_sync_us"], before["shoal_wal_sync_us"])
        # Most of the 50 ms pause, allowing for the thread being scheduled late.
        self.assertGreaterEqual(
            after["shoal_wal_sync_wait_us"] - before["shoal_wal_sync_wait_us"], 25_000
        )
        r.close()

    def test_rocksdb_crc32c_is_ours(self):
        # src/server/rocksdb_crc32c.cc replaces librocksdb's table-driven
        # CRC32C only if the executable exports it (CMake's
        # --export-dynamic-symbol); losing that would only make Shoal slower.
        import subprocess
        symbols = subprocess.run(["nm", "-D", "--defined-only", SERVER_BIN], check=True,
                                 capture_output=True, text=True).stdout
        self.assertIn("_ZN7rocksdb6crc32c6ExtendEjPKcm", symbols)

    def test_threads_are_named_by_their_job(self):
        # top -H, perf and bench/cpu_budget.sh tell the raft loop from the
        # client loops by these names. Defaults: two client loops, fsync
        # always (so a sync thread).
        task_dir = f"/proc/{self.server.pid}/task"
        names = []
        for tid in os.listdir(task_dir):
            with open(os.path.join(task_dir, tid, "comm")) as f:
                names.append(f.read().strip())
        for name in ("shoal-raft", "shoal-io-0", "shoal-io-1", "shoal-sync", "shoal-snapfile"):
            self.assertEqual(names.count(name), 1, f"{name} in {sorted(names)}")

    def moves(self, r):
        return r.info("stats")["shoal_connection_loop_moves"]

    def test_unpipelined_writer_moves_to_the_raft_loop_and_back(self):
        # Loop affinity (src/server/connection.h): single writes move a
        # connection to the raft loop, pipelining moves it back; replies stay
        # right and in order across every move.
        r = make_client(self.server.port, 2)
        r.delete("aff:n")
        start = self.moves(r)
        for i in range(1, 21):
            self.assertEqual(r.incr("aff:n"), i)
        self.assertGreaterEqual(self.moves(r), start + 1, "single writes did not move it")
        p = r.pipeline(transaction=False)
        for _ in range(100):
            p.incr("aff:n")
        self.assertEqual(p.execute(), list(range(21, 121)))
        for i in range(121, 141):
            self.assertEqual(r.incr("aff:n"), i)
        self.assertGreaterEqual(self.moves(r), start + 3, "pipelining did not move it back")
        self.assertEqual(r.get("aff:n"), "140")
        # The moved connection is still one registered, counted client
        # (other tests' closed connections may take a moment to go).
        me = r.client_id()
        deadline = time.time() + 5
        while time.time() < deadline and r.info("clients")["connected_clients"] != 1:
            time.sleep(0.05)
        self.assertEqual(r.info("clients")["connected_clients"], 1)
        self.assertEqual([c["id"] for c in r.client_list()], [str(me)])
        r.close()

    def test_no_command_is_lost_when_a_connection_moves(self):
        # A client whose next command arrives while its connection moves
        # between loops (the pending read already completed, its handler not
        # yet run) must still get that command answered. Raw sockets send the
        # next command as soon as a reply is in; each connection moves to the
        # raft loop after 8 single writes and back when it pipelines, 3 times.
        # A lost command shows as a read timing out (before the fix, most
        # connections lost one).
        import socket
        r = make_client(self.server.port, 2)
        start = self.moves(r)
        for c in range(40):
            key = b"mv:%02d" % c
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.settimeout(10)
            f = s.makefile("rb")
            n = 0
            for rnd in range(3):
                for i in range(12):
                    s.sendall(b"*2\r\n$4\r\nINCR\r\n$5\r\n%s\r\n" % key)
                    n += 1
                    self.assertEqual(f.readline(), b":%d\r\n" % n,
                                     f"connection {c}, round {rnd}, command {i}")
                s.sendall(b"*1\r\n$4\r\nPING\r\n" * 8)
                for _ in range(8):
                    self.assertEqual(f.readline(), b"+PONG\r\n")
            s.close()
            self.assertEqual(r.get(key.decode()), "36")
        self.assertGreaterEqual(self.moves(r), start + 40, "the connections did not move")
        r.close()

    def test_bytes_sent_during_a_move_are_read_after_it(self):
        # Eight single writes ask for a move; the client then sends a long
        # pipeline at once, without waiting, while the move may be under way.
        # The raw socket makes the timing the test's own.
        import socket
        r = make_client(self.server.port, 2)
        r.delete("aff:m")
        start = self.moves(r)
        s = socket.create_connection(("127.0.0.1", self.server.port))
        f = s.makefile("rb")
        for i in range(1, 9):
            s.sendall(b"*2\r\n$4\r\nINCR\r\n$5\r\naff:m\r\n")
            self.assertEqual(f.readline(), b":%d\r\n" % i)
        s.sendall(b"*2\r\n$4\r\nINCR\r\n$5\r\naff:m\r\n" * 500)
        for i in range(9, 509):
            self.assertEqual(f.readline(), b":%d\r\n" % i)
        s.close()
        self.assertGreaterEqual(self.moves(r), start + 1)
        self.assertEqual(r.get("aff:m"), "508")
        r.close()

    def test_many_moving_clients_keep_their_own_order(self):
        import threading
        errors = []

        def client(k):
            try:
                c = make_client(self.server.port, 2)
                c.delete(f"aff:c{k}")
                expect = 0
                for round_ in range(6):
                    for _ in range(10):
                        expect += 1
                        if c.incr(f"aff:c{k}") != expect:
                            errors.append((k, expect))
                    p = c.pipeline(transaction=False)
                    for _ in range(20):
                        p.incr(f"aff:c{k}")
                    got = p.execute()
                    if got != list(range(expect + 1, expect + 21)):
                        errors.append((k, "pipeline", round_))
                    expect += 20
                c.close()
            except Exception as e:  # reported below, not lost in the thread
                errors.append((k, repr(e)))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])

    def test_command_names_in_any_case_and_order(self):
        # A connection remembers its last command's spec (dispatch.cc): each
        # name, in any case, after any other, must still find its own.
        import socket
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.settimeout(10)
        f = s.makefile("rb")

        def cmd(*words):
            s.sendall(b"*%d\r\n" % len(words) +
                      b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
            line = f.readline()
            if line.startswith(b"$") and line != b"$-1\r\n":
                return f.readline().rstrip(b"\r\n")
            return line.rstrip(b"\r\n")

        self.assertEqual(cmd(b"set", b"nc:a", b"1"), b"+OK")
        self.assertEqual(cmd(b"SET", b"nc:b", b"2"), b"+OK")
        self.assertEqual(cmd(b"Get", b"nc:a"), b"1")
        self.assertEqual(cmd(b"GET", b"nc:b"), b"2")
        self.assertEqual(cmd(b"get", b"nc:b"), b"2")
        self.assertEqual(cmd(b"CLIENT", b"SETNAME", b"nc"), b"+OK")
        self.assertEqual(cmd(b"CLIENT", b"GETNAME"), b"nc")
        self.assertEqual(cmd(b"client", b"getname"), b"nc")
        self.assertEqual(cmd(b"GET", b"nc:a"), b"1")
        self.assertTrue(cmd(b"GETT", b"nc:a").startswith(b"-ERR unknown command"))
        self.assertTrue(cmd(b"shoal.expire", b"nc:a", b"1").startswith(b"-ERR unknown command"))
        self.assertEqual(cmd(b"GET", b"nc:a"), b"1")
        self.assertEqual(cmd(b"INCR", b"nc:a"), b":2")
        self.assertEqual(cmd(b"GET", b"nc:a", b"extra"),
                         b"-ERR wrong number of arguments for 'get' command")
        self.assertEqual(cmd(b"GET", b"nc:a"), b"2")
        s.close()

    def test_randomkey_varies_single_and_pipelined(self):
        # Reads served on a client loop draw RANDOMKEY's bits per read, not
        # per batch (one batch shares one reading of the clock) and not from
        # the clock (helper review: a pipeline got one key 40 times).
        r = make_client(self.server.port, 2)
        p = r.pipeline(transaction=False)
        for i in range(200):
            p.set(f"rk:{i}", "v")
        p.execute()
        single = {r.randomkey() for _ in range(40)}
        p = r.pipeline(transaction=False)
        for _ in range(40):
            p.randomkey()
        piped = set(p.execute())
        self.assertGreaterEqual(len(single), 5, single)
        self.assertGreaterEqual(len(piped), 5, piped)
        r.close()

    def test_keys_expire_between_two_single_reads(self):
        # Reads served on a client loop take the clock once per batch of
        # commands read together (KeyspaceService::ReadTime); a later read
        # must see a later time. 5,000 keys, so that the active expiry cycle
        # (64 keys per cycle) can't have deleted the ones read: their reads
        # must find them expired themselves.
        r = make_client(self.server.port, 2)
        p = r.pipeline(transaction=False)
        for i in range(5000):
            p.set(f"exp:{i}", "v", px=300)
        p.execute()
        self.assertEqual(r.get("exp:0"), "v")
        time.sleep(0.45)
        for i in range(1, 30):
            self.assertIsNone(r.get(f"exp:{i}"), f"exp:{i}")
        r.close()

    def test_reads_on_the_raft_loop_see_the_writes_before_them(self):
        # On the raft loop a connection's commands are handed over with a
        # call and its replies come back within the loop's iteration, which
        # may run the rest of its input at once. A read must still wait for
        # the same client's earlier writes: after 8 single writes (the move),
        # one burst of 300 SET/GET/INCR/GET commands, more than a connection
        # may have in flight (128), so part of it runs from a delivery.
        import socket
        r = make_client(self.server.port, 2)
        r.delete("ord:k", "ord:c")
        start = self.moves(r)
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.settimeout(10)
        f = s.makefile("rb")
        for i in range(1, 9):
            s.sendall(b"*2\r\n$4\r\nINCR\r\n$5\r\nord:c\r\n")
            self.assertEqual(f.readline(), b":%d\r\n" % i)
        burst = b""
        for i in range(75):
            v = b"v%03d" % i
            burst += b"*3\r\n$3\r\nSET\r\n$5\r\nord:k\r\n$4\r\n%s\r\n" % v
            burst += b"*2\r\n$3\r\nGET\r\n$5\r\nord:k\r\n"
            burst += b"*2\r\n$4\r\nINCR\r\n$5\r\nord:c\r\n"
            burst += b"*2\r\n$3\r\nGET\r\n$5\r\nord:c\r\n"
        s.sendall(burst)
        for i in range(75):
            self.assertEqual(f.readline(), b"+OK\r\n")
            self.assertEqual(f.readline(), b"$4\r\n")
            self.assertEqual(f.readline(), b"v%03d\r\n" % i, f"GET after SET {i}")
            self.assertEqual(f.readline(), b":%d\r\n" % (9 + i))
            n = b"%d" % (9 + i)
            self.assertEqual(f.readline(), b"$%d\r\n" % len(n))
            self.assertEqual(f.readline(), n + b"\r\n", f"GET after INCR {i}")
        s.close()
        self.assertGreaterEqual(self.moves(r), start + 1, "the connection did not move")
        r.close()


class RestartMemoryCases(unittest.TestCase):
    """A restart replays the stored log; the memory that costs goes back to
    the OS once the server serves (src/server/main.cc return_replay_memory)."""

    def test_a_restart_returns_the_replay_memory(self):
        if is_redis(SERVER_BIN):
            raise unittest.SkipTest("Shoal's restart")
        import subprocess
        server = ServerProcess(SERVER_BIN, extra_shoal=(
            "--fsync", "no", "--i-accept-data-loss-on-crash")).start()
        try:
            # ~60 MB of stored log, all kept for replay (memory-only compactions).
            subprocess.run(["redis-benchmark", "-p", str(server.port), "-c", "50", "-d", "64",
                            "-r", "100000", "-n", "550000", "-P", "16", "-t", "set", "-q"],
                           check=True, stdout=subprocess.DEVNULL, timeout=120)
            before = server.rss_kib()
            server.restart_after_kill()
            r = make_client(server.port, 2)
            self.assertGreater(r.dbsize(), 90000)
            r.close()
            # The purge runs just after the server starts answering. Without it
            # the restarted server stayed at 208-224 MB for 15 s and more,
            # against 132 MB before the kill.
            deadline = time.time() + 5
            while True:
                after = server.rss_kib()
                if after < before * 1.3 or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertLess(after, before * 1.3, f"{after} KiB after the restart, {before} before")
        finally:
            server.stop()


class UnbootstrappedClusterNodeCases(unittest.TestCase):
    def test_a_node_not_in_a_cluster_yet_answers_clusterdown(self):
        # Its keyspace has no node core yet; the reply must still be sent
        # (it was gathered and never delivered: the client hung).
        if is_redis(SERVER_BIN):
            raise unittest.SkipTest("Shoal's cluster bootstrap")
        # Below the ephemeral range: ServerProcess retries on a new client
        # port only, so this one must stay free.
        from cluster_proc import unique_free_port
        server = ServerProcess(SERVER_BIN, extra_shoal=(
            "--cluster-enabled", "yes", "--cluster-port", str(unique_free_port()))).start()
        try:
            r = redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True,
                            socket_timeout=5)
            with self.assertRaises(ResponseError) as cm:
                r.get("x")
            self.assertIn("CLUSTERDOWN", str(cm.exception))
            with self.assertRaises(ResponseError):
                r.set("x", "1")
            r.close()
        finally:
            server.stop()

    def test_a_taken_peer_port_fails_the_start(self):
        # The peer port is bound at start, not at the join: a join that
        # failed to bind left a member no peer could reach, reporting
        # cluster_state:fail for ever (a CI failure of cluster_clients_5).
        if is_redis(SERVER_BIN):
            raise unittest.SkipTest("Shoal's cluster bootstrap")
        from server_proc import free_port
        with socket.socket() as taken, tempfile.TemporaryDirectory() as data_dir:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            peer_port = taken.getsockname()[1]
            out = subprocess.run(
                [SERVER_BIN, "--port", str(free_port()), "--cluster-enabled", "yes",
                 "--cluster-port", str(peer_port), "--data-dir", data_dir],
                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(f"peer listener on 127.0.0.1:{peer_port}: Address already in use",
                      out.stderr)


class ReaderGatheringCases(unittest.TestCase):
    """--gather-readers (src/server/connection.h): connections that send one
    read at a time move to the first client loop; writes and pipelines still
    move them to the raft loop and back home, and every reply stays right."""

    @classmethod
    def setUpClass(cls):
        if is_redis(SERVER_BIN):
            raise unittest.SkipTest("Shoal's event loops")
        cls.on = ServerProcess(SERVER_BIN, extra_shoal=["--gather-readers", "yes"]).start()
        cls.off = ServerProcess(SERVER_BIN, extra_shoal=["--gather-readers", "no"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.on.stop()
        cls.off.stop()

    @staticmethod
    def moves(port):
        r = make_client(port, 2)
        n = r.info("stats")["shoal_connection_loop_moves"]
        r.close()
        return n

    def single_reads(self, port, clients=6, reads=20):
        # Connections are accepted on the client loops in turn, so about
        # half of them start away from the first one.
        setup = make_client(port, 2)
        for c in range(clients):
            setup.set(f"gr:{c}", f"value-{c}")
        setup.close()
        conns = [make_client(port, 2) for _ in range(clients)]
        for _ in range(reads):
            for c, r in enumerate(conns):
                self.assertEqual(r.get(f"gr:{c}"), f"value-{c}")
        for r in conns:
            r.close()

    def test_single_readers_gather(self):
        # Exactly the connections accepted away from the first loop move.
        start = self.moves(self.on.port)
        self.single_reads(self.on.port)
        self.assertEqual(self.moves(self.on.port) - start, 3)

    def test_without_gathering_readers_stay(self):
        start = self.moves(self.off.port)
        self.single_reads(self.off.port)
        self.assertEqual(self.moves(self.off.port) - start, 0)

    def phases(self, port):
        # Two connections accepted one after the other (one on each client
        # loop), 3 rounds of: 12 GETs, 12 INCRs, 12 GETs, a pipeline of
        # INCR/GET pairs. Returns the moves they made; every reply checked.
        conns = [make_client(port, 2), make_client(port, 2)]
        other = make_client(port, 2)
        for k, r in enumerate(conns):
            r.delete(f"ph:{k}")
        counts = [0, 0]
        start = self.moves(port)
        for rnd in range(3):
            for k, r in enumerate(conns):
                key = f"ph:{k}"
                n = counts[k]
                for _ in range(12):
                    self.assertEqual(r.get(key), str(n) if n else None)
                for _ in range(12):
                    n += 1
                    self.assertEqual(r.incr(key), n)
                for _ in range(12):
                    self.assertEqual(r.get(key), str(n))
                p = r.pipeline(transaction=False)
                for _ in range(10):
                    p.incr(key)
                    p.get(key)
                got = p.execute()
                self.assertEqual(got[0::2], list(range(n + 1, n + 11)), f"round {rnd}")
                self.assertEqual(got[1::2], [str(v) for v in range(n + 1, n + 11)])
                counts[k] = n + 10
                # Another client's write, read by this one wherever it is.
                other.set("ph:other", f"{rnd}-{k}")
                self.assertEqual(r.get("ph:other"), f"{rnd}-{k}")
        moved = self.moves(port) - start
        for r in conns + [other]:
            r.close()
        return moved

    def test_moves_follow_one_way_rules(self):
        # Per round, both connections: single INCRs -> the raft loop, the
        # GETs after them stay there, the pipeline -> home (2 moves each).
        # With gathering, the one accepted on the second loop also moves to
        # the first for its first GETs of each round (the pipeline sent it
        # home): 1 more per round; the other is home there already. A rule
        # that moved readers off the raft loop, or a pipelining client off
        # the reader loop, would add moves; one that gathered nothing would
        # miss them.
        self.assertEqual(self.phases(self.off.port), 12)
        self.assertEqual(self.phases(self.on.port), 15)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_python_redis.py <server-binary> [unittest args]")
    SERVER_BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
