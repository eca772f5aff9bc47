#!/usr/bin/python3
"""redis-cli against a live server: a scripted session checked line by line.

Usage: test_redis_cli.py <server-binary> [unittest args]

Runs Debian's redis-cli (7.0) as a subprocess. Its output is not a terminal,
so replies come in redis-cli's raw format: bulk strings and integers as plain
lines, nil as an empty line, errors as their text. `--no-raw` is used where the
type of a reply matters (RESP3 maps, nil).
"""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from server_proc import ServerProcess  # noqa: E402

SERVER_BIN = None
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
PASSWORD = "s3cret-pw"
CLI_TIMEOUT_S = 60


def cli(server, *args, stdin=None, password=None, check_rc=True):
    """Runs redis-cli against `server`; returns (stdout, stderr) as text."""
    argv = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(server.port)]
    if password is not None:
        argv += ["--no-auth-warning", "-a", password]
    argv += list(args)
    res = subprocess.run(argv, input=stdin, capture_output=True,
                         timeout=CLI_TIMEOUT_S)
    if check_rc and res.returncode != 0:
        raise AssertionError(f"redis-cli {args} exited {res.returncode}: "
                             f"{res.stdout!r} {res.stderr!r}")
    return res.stdout.decode(), res.stderr.decode()


def lines(out):
    """Reply lines of a raw-mode session (redis-cli adds a blank line after errors)."""
    return out.rstrip("\n").split("\n")


class RedisCliNoAuth(unittest.TestCase):
    """Server without a password."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(SERVER_BIN).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertTrue(self.server.alive(), "server died")
        cli(self.server, "FLUSHALL")

    def test_string_commands(self):
        s = self.server
        self.assertEqual(cli(s, "SET", "greeting", "hello world")[0], "OK\n")
        self.assertEqual(cli(s, "GET", "greeting")[0], "hello world\n")
        self.assertEqual(cli(s, "GET", "missing")[0], "\n")  # nil
        self.assertEqual(cli(s, "--no-raw", "GET", "missing")[0], "(nil)\n")
        self.assertEqual(cli(s, "INCR", "counter")[0], "1\n")
        self.assertEqual(cli(s, "INCR", "counter")[0], "2\n")
        self.assertEqual(cli(s, "--no-raw", "INCR", "counter")[0], "(integer) 3\n")
        self.assertIn("ERR value is not an integer or out of range",
                      cli(s, "INCR", "greeting")[0])

    def test_expire_and_ttl(self):
        s = self.server
        cli(s, "SET", "temp", "x")
        self.assertEqual(cli(s, "TTL", "temp")[0], "-1\n")
        self.assertEqual(cli(s, "EXPIRE", "temp", "100")[0], "1\n")
        ttl = int(cli(s, "TTL", "temp")[0])
        self.assertTrue(98 <= ttl <= 100, ttl)
        self.assertEqual(cli(s, "TTL", "missing")[0], "-2\n")
        self.assertEqual(cli(s, "EXPIRE", "missing", "100")[0], "0\n")
        # A short expiry really expires (bounded wait).
        cli(s, "SET", "short", "x", "PX", "100")
        deadline = time.monotonic() + 5
        while cli(s, "EXISTS", "short")[0] != "0\n":
            self.assertLess(time.monotonic(), deadline, "key did not expire")
            time.sleep(0.05)

    def test_scripted_session(self):
        """Several commands on one connection, read from stdin."""
        script = (b"SET a 1\nMSET b 2 c 3\nMGET a b c nope\nDEL a b\n"
                  b"EXISTS a b c\nKEYS *\nINCR\nGET c\n")
        out, _ = cli(self.server, stdin=script)
        self.assertEqual(lines(out), [
            "OK", "OK",
            "1", "2", "3", "",        # MGET: nil for the missing key
            "2",                       # DEL
            "1",                       # EXISTS
            "c",                       # KEYS *
            "ERR wrong number of arguments for 'incr' command", "",
            "3",
        ])

    def test_keys_and_scan(self):
        s = self.server
        cli(s, "MSET", "user:1", "a", "user:2", "b", "user:3", "c", "other", "d")
        self.assertEqual(sorted(lines(cli(s, "KEYS", "user:*")[0])),
                         ["user:1", "user:2", "user:3"])
        scanned = lines(cli(s, "--scan", "--pattern", "user:*")[0])
        self.assertEqual(sorted(scanned), ["user:1", "user:2", "user:3"])
        self.assertEqual(sorted(lines(cli(s, "--scan")[0])),
                         ["other", "user:1", "user:2", "user:3"])

    def test_pipe_mode_10k(self):
        """--pipe sends 10,000 raw RESP commands and counts the replies."""
        n = 10000
        chunks = []
        for i in range(n):
            k, v = b"pipe:%d" % i, b"value-%d" % i
            chunks.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        out, _ = cli(self.server, "--pipe", stdin=b"".join(chunks))
        self.assertIn(f"errors: 0, replies: {n}", out)
        self.assertEqual(cli(self.server, "DBSIZE")[0], f"{n}\n")
        self.assertEqual(cli(self.server, "GET", "pipe:9999")[0], "value-9999\n")
        self.assertEqual(len(lines(cli(self.server, "--scan", "--pattern", "pipe:*")[0])), n)
        # Errors inside a pipe are counted, and the exit code says so.
        res = subprocess.run([REDIS_CLI, "-p", str(self.server.port), "--pipe"],
                             input=b"SET p 1\r\nINCR p\r\nINCR\r\n", capture_output=True,
                             timeout=CLI_TIMEOUT_S)
        self.assertIn(b"errors: 1, replies: 3", res.stdout)
        self.assertNotEqual(res.returncode, 0)

    def test_resp3_mode(self):
        """-3 makes redis-cli send HELLO 3; maps come back as maps."""
        s = self.server
        out, err = cli(s, "-3", "--no-raw", "HELLO", "3")
        self.assertNotIn("failed", err)
        self.assertIn('"proto" => (integer) 3', out)
        self.assertEqual(cli(s, "-3", "SET", "r3", "v3")[0], "OK\n")
        self.assertEqual(cli(s, "-3", "GET", "r3")[0], "v3\n")
        self.assertEqual(cli(s, "-3", "--no-raw", "GET", "nope")[0], "(nil)\n")
        self.assertEqual(cli(s, "-3", "--no-raw", "INCR", "n3")[0], "(integer) 1\n")
        # The same HELLO without -3 is a RESP2 flat array.
        out2, _ = cli(s, "--no-raw", "HELLO", "2")
        self.assertIn('"proto"', out2)
        self.assertNotIn("=>", out2)


class RedisCliAuth(unittest.TestCase):
    """Server started with --requirepass."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(SERVER_BIN, requirepass=PASSWORD).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_noauth_before_auth(self):
        s = self.server
        self.assertIn("NOAUTH Authentication required.", cli(s, "PING")[0])
        self.assertIn("NOAUTH Authentication required.",
                      cli(s, "SET", "refused", "v")[0])
        # Nothing was written by the refused SET.
        self.assertEqual(cli(s, "EXISTS", "refused", password=PASSWORD)[0], "0\n")

    def test_auth_with_dash_a(self):
        s = self.server
        self.assertEqual(cli(s, "PING", password=PASSWORD)[0], "PONG\n")
        self.assertEqual(cli(s, "SET", "k", "v", password=PASSWORD)[0], "OK\n")
        self.assertEqual(cli(s, "GET", "k", password=PASSWORD)[0], "v\n")
        self.assertEqual(cli(s, "-3", "GET", "k", password=PASSWORD)[0], "v\n")

    def test_wrong_password(self):
        out, err = cli(self.server, "PING", password="wrong")
        self.assertIn("WRONGPASS invalid username-password pair or user is disabled.", err)
        self.assertIn("NOAUTH Authentication required.", out)

    def test_auth_inside_session(self):
        out, _ = cli(self.server, stdin=b"GET k2\nAUTH bad\nAUTH " + PASSWORD.encode()
                     + b"\nSET k2 ok\nGET k2\n")
        self.assertEqual([l for l in lines(out) if l], [
            "NOAUTH Authentication required.",
            "WRONGPASS invalid username-password pair or user is disabled.",
            "OK", "OK", "ok",
        ])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_redis_cli.py <server-binary> [unittest args]")
    SERVER_BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
