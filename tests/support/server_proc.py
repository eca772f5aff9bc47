"""Start and stop a real server process for integration tests.

Every test starts its own server on a free loopback port with its own temporary
data directory, and stops it by PID (SIGTERM, then SIGKILL after a bounded
wait) even when the test fails. Nothing here ever kills by name.

The same tests run against shoal-server and, as a reference, against Debian's
redis-server: the flavour is chosen from the binary's file name, and only the
command-line flags differ.

Standard library only.
"""

import atexit
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

# Bounds for start-up and shutdown; a server that needs longer is broken.
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


def _die_with_parent():
    """Runs in the child before exec: SIGKILL it if the test process dies, so
    a crashed or interrupted test never leaves a server behind."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def terminate(proc, timeout=STOP_TIMEOUT_S):
    """SIGTERM by PID, then SIGKILL by PID after `timeout`; reaps it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def free_port():
    """Returns a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_redis(binary):
    return "redis-server" in os.path.basename(binary)


class ServerProcess:
    """One server process on 127.0.0.1:<port>; use as a context manager.

    binary:      path to shoal-server or redis-server
    requirepass: password clients must AUTH with (None: no password)
    maxclients:  connection limit (None: the server's default)
    extra_redis: extra flags passed only to redis-server (e.g. to give it the
                 output-buffer limit Shoal has by default)
    extra_shoal: extra flags passed only to shoal-server
    """

    def __init__(self, binary, requirepass=None, maxclients=None, extra_redis=(),
                 extra_shoal=()):
        self.binary = os.path.abspath(binary)
        self.requirepass = requirepass
        self.maxclients = maxclients
        self.extra_redis = list(extra_redis)
        self.extra_shoal = list(extra_shoal)
        self.port = None
        self.proc = None
        self.data_dir = None
        self._log = None

    @property
    def pid(self):
        return self.proc.pid

    def _argv(self):
        if is_redis(self.binary):
            argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", self.data_dir,
                    "--loglevel", "warning"]
            if self.requirepass is not None:
                argv += ["--requirepass", self.requirepass]
            if self.maxclients is not None:
                argv += ["--maxclients", str(self.maxclients)]
            return argv + self.extra_redis
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--data-dir", self.data_dir, "--log-level", "warn"]
        if self.requirepass is not None:
            argv += ["--requirepass", self.requirepass]
        if self.maxclients is not None:
            argv += ["--maxclients", str(self.maxclients)]
        return argv + self.extra_shoal

    def start(self):
        self.data_dir = tempfile.mkdtemp(prefix="shoal-it-")
        # A port picked by free_port() can be taken before the server binds it;
        # retry a few times with a fresh port.
        for _attempt in range(5):
            self.port = free_port()
            self._spawn("wb")
            atexit.register(self._kill)
            if self._wait_ready() and self._answered_by_us():
                return self
            self._kill()
        raise RuntimeError("server did not start; log:\n" + self.log_text())

    def _spawn(self, log_mode):
        """Starts the server process on self.port and self.data_dir, its
        output to server.log, dying with the test process."""
        if self._log:
            self._log.close()
        self._log = open(os.path.join(self.data_dir, "server.log"), log_mode)
        self.proc = subprocess.Popen(self._argv(), stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)

    def restart_after_kill(self):
        """SIGKILLs the server by PID and starts it again on the same data
        directory and port (a crash and a restart), with the same guards as
        start(). Raises if the new process does not answer as ours."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._spawn("ab")
        if self._wait_ready() and self._answered_by_us():
            return self
        self._kill()
        raise RuntimeError("server did not restart; log:\n" + self.log_text())

    def _wait_ready(self):
        """Waits until the port answers PING (any reply, even NOAUTH)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _answered_by_us(self):
        """The port must be answered by our process, not by another test's
        server that took it between free_port() and our bind (tests run in
        parallel): INFO's process_id must be our child's pid."""
        request = b""
        if self.requirepass is not None:
            request += f"AUTH {self.requirepass}\r\n".encode()
        request += b"INFO server\r\n"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(request)
                got = b""
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:
                    m = re.search(rb"process_id:(\d+)\r\n", got)
                    if m:
                        return int(m.group(1)) == self.proc.pid
                    chunk = s.recv(65536)
                    if not chunk:
                        return False
                    got += chunk
        except OSError:
            pass
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        """Resident set size of the server process, from /proc/<pid>/status."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    def log_text(self):
        try:
            with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
                return f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _kill(self):
        """SIGTERM by PID, then SIGKILL by PID after a bounded wait."""
        if self.proc is None:
            return
        terminate(self.proc)
        if self._log:
            self._log.close()
            self._log = None

    def stop(self):
        """Stops the server; returns its exit code. Removes the data dir."""
        self._kill()
        code = self.proc.returncode if self.proc else None
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        return code

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
