"""Start, inspect, kill and stop a real local Shoal cluster for tests.

A ShoalCluster is N shoal-server processes (--cluster-enabled yes) on free
loopback ports, each with its own temporary data directory, made one cluster
with `shoal-cli cluster create`. Nodes are stopped by PID (SIGTERM, then
SIGKILL after a bounded wait); kill(i) SIGKILLs one node and restart(i)
starts it again on the same ports and data directory. Nothing here kills by
name.

    with ShoalCluster(server_bin, cli_bin, nodes=3, shards=16) as c:
        c.port(0)              # client port of node 0
        c.leader_of_slot(123)  # index of the node leading slot 123 (or None)

Standard library only.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_proc import _die_with_parent, free_port, terminate  # noqa: E402

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
CREATE_TIMEOUT_S = 60
PORT_ATTEMPTS = 5


def resp_command(port, *args, timeout=5.0):
    """Sends one command over a fresh connection; returns the raw reply bytes
    (enough for simple checks; tests use real clients for the rest)."""
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
        return data


def _complete(data):
    """Whether `data` holds one complete RESP2 reply (simple parser)."""
    def parse(i):
        if i >= len(data):
            return None
        end = data.find(b"\r\n", i)
        if end < 0:
            return None
        kind, body = data[i:i + 1], data[i + 1:end]
        if kind in b"+-:":
            return end + 2
        if kind in b"$=":
            n = int(body)
            if n < 0:
                return end + 2
            return end + 2 + n + 2 if len(data) >= end + 2 + n + 2 else None
        if kind in b"*%~":
            n = int(body) * (2 if kind == b"%" else 1)
            j = end + 2
            for _ in range(max(n, 0)):
                j = parse(j)
                if j is None:
                    return None
            return j
        return end + 2
    return parse(0) is not None


_ports_taken = set()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def unique_free_port():
    """A free loopback port not handed out before in this process: the kernel
    may return a port again once its probe socket is closed, and two nodes on
    one port would pass for one another. Chosen below the ephemeral range
    when there is room, so that no process's outgoing connection can take it
    between now and a node's bind (or a restart's); other tests choosing
    ports the same way can, rarely: a first start retries (Node.start)."""
    low, _high = _ephemeral_range()
    if low > 11000:
        for _ in range(200):
            port = random.randrange(10000, low)
            if port not in _ports_taken and _port_is_free(port):
                _ports_taken.add(port)
                return port
    while True:
        port = free_port()
        if port not in _ports_taken:
            _ports_taken.add(port)
            return port


class Node:
    def __init__(self, index, server_bin, base_dir, extra_args):
        self.index = index
        self.server_bin = server_bin
        self.port = unique_free_port()
        self.peer_port = unique_free_port()
        self.data_dir = os.path.join(base_dir, f"n{index}")
        self.extra_args = list(extra_args)
        self.proc = None
        self._log = None
        self.started_once = False
        os.makedirs(self.data_dir, exist_ok=True)

    def argv(self):
        return [self.server_bin, "--port", str(self.port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-port", str(self.peer_port),
                "--data-dir", self.data_dir, "--log-level", os.environ.get("SHOAL_LOG_LEVEL", "warn")] + self.extra_args

    def preexec(self):
        """Runs in the child before exec (subclasses may change credentials;
        they must end with _die_with_parent())."""
        _die_with_parent()

    def start(self):
        """Starts the node. Its first start retries on fresh ports when
        another process took one of its ports between choosing and binding
        it (tests run in parallel, and outgoing connections take ports from
        the same range); a restart keeps its ports, which the cluster map
        names."""
        attempts = 1 if self.started_once else PORT_ATTEMPTS
        for attempt in range(attempts):
            if attempt > 0:
                self.port = unique_free_port()
                self.peer_port = unique_free_port()
            if self._start_once():
                self.started_once = True
                return
        raise RuntimeError(f"node {self.index}: ports {self.port}/{self.peer_port} taken "
                           f"({attempts} attempt(s)); log:\n{self.log_text()}")

    def _start_once(self):
        """True once our process answers PING; False when a port was taken."""
        self._close_log()
        log_from = len(self._log_bytes())
        self._log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=self.preexec)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if b"Address already in use" in self._log_bytes()[log_from:]:
                    return False
                raise RuntimeError(f"node {self.index} exited; log:\n{self.log_text()}")
            try:
                if resp_command(self.port, "PING", timeout=1).startswith(b"+PONG"):
                    if self._answered_by_us():
                        return True
                    self.kill()
                    return False
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"node {self.index} did not start; log:\n{self.log_text()}")

    def _answered_by_us(self):
        """The PONG must come from our process, not from another test's server
        that took the port first."""
        info = resp_command(self.port, "INFO", "server", timeout=2)
        return f"process_id:{self.proc.pid}".encode() in info

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def kill(self):
        """SIGKILL by PID and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._close_log()

    def stop(self):
        """SIGTERM by PID (leadership is handed over), SIGKILL after a bounded
        wait. Returns the exit code."""
        if self.proc is None:
            return None
        terminate(self.proc, STOP_TIMEOUT_S)
        self._close_log()
        return self.proc.returncode

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def _log_bytes(self):
        try:
            with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
                return f.read()
        except OSError:
            return b""

    def log_text(self):
        return self._log_bytes()[-4000:].decode("utf-8", "replace")


class ShoalCluster:
    """nodes: how many shoal-server processes; shards, replicas: passed to
    `shoal-cli cluster create`; extra_args: extra shoal-server flags (e.g.
    ["--cluster-routing", "proxy"])."""

    def __init__(self, server_bin, cli_bin, nodes=3, shards=16, replicas=3, extra_args=()):
        self.server_bin = os.path.abspath(server_bin)
        self.cli_bin = os.path.abspath(cli_bin)
        self.shards = shards
        self.replicas = replicas
        self.base_dir = tempfile.mkdtemp(prefix="shoal-cluster-")
        self.nodes = [Node(i, self.server_bin, self.base_dir, extra_args) for i in range(nodes)]

    def start(self):
        for n in self.nodes:
            n.start()
        argv = [self.cli_bin, "cluster", "create", "--shards", str(self.shards), "--replicas",
                str(self.replicas), "--wait", str(CREATE_TIMEOUT_S)]
        argv += [f"127.0.0.1:{n.port}" for n in self.nodes]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=CREATE_TIMEOUT_S + 30)
        if out.returncode != 0:
            raise RuntimeError(f"shoal-cli cluster create failed:\n{out.stdout}{out.stderr}")
        return self

    def port(self, i):
        return self.nodes[i].port

    def ports(self):
        return [n.port for n in self.nodes]

    def kill(self, i):
        self.nodes[i].kill()

    def restart(self, i):
        self.nodes[i].start()

    def wait_state_ok(self, via=None, timeout=30):
        """Waits until a live node (or node `via`) reports cluster_state:ok."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n in ([self.nodes[via]] if via is not None else self.nodes):
                if not n.alive():
                    continue
                try:
                    if b"cluster_state:ok" in resp_command(n.port, "CLUSTER", "INFO", timeout=2):
                        return True
                except OSError:
                    pass
            time.sleep(0.1)
        return False

    def wait_all_ok(self, timeout=30):
        """Waits until every live node reports cluster_state:ok."""
        deadline = time.monotonic() + timeout
        for n in self.nodes:
            if not n.alive():
                continue
            if not self.wait_state_ok(via=n.index, timeout=max(0.1, deadline - time.monotonic())):
                return False
        return True

    def slot_ranges(self, via=None):
        """CLUSTER SLOTS as a live node (or node `via`) sees it: a list of
        (start, end, [node indexes]), the leader first, or [] when no node
        answered."""
        for n in ([self.nodes[via]] if via is not None else self.nodes):
            if not n.alive():
                continue
            try:
                reply = parse_resp(resp_command(n.port, "CLUSTER", "SLOTS", timeout=2))
            except (OSError, ValueError):
                continue
            if not isinstance(reply, list):
                continue
            by_port = {m.port: m.index for m in self.nodes}
            out = []
            for entry in reply:
                members = [by_port.get(node[1]) for node in entry[2:]]
                out.append((entry[0], entry[1], members))
            return out
        return []

    def leader_of_slot(self, slot, via=None):
        """Index of the node that leads `slot`, as a live node sees it
        (CLUSTER SLOTS: the first node of the range), or None."""
        for n in ([self.nodes[via]] if via is not None else self.nodes):
            if not n.alive():
                continue
            try:
                reply = resp_command(n.port, "CLUSTER", "SLOTS", timeout=2)
            except OSError:
                continue
            port = _leader_port_for_slot(reply, slot)
            for m in self.nodes:
                if m.port == port:
                    return m.index
        return None

    def stop(self):
        for n in self.nodes:
            n.stop()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
        return False


def parse_resp(data):
    """Parses one RESP2/RESP3 reply into Python values: errors become
    RespError instances, simple strings str, bulk strings bytes, maps
    dicts. Raises ValueError on an incomplete or malformed reply."""
    def parse(i):
        end = data.find(b"\r\n", i)
        if end < 0:
            raise ValueError("incomplete reply")
        kind, body = data[i:i + 1], data[i + 1:end]
        j = end + 2
        if kind == b"+":
            return body.decode("utf-8", "replace"), j
        if kind in b"-!":
            if kind == b"!":
                n = int(body)
                body, j = data[j:j + n], j + n + 2
            return RespError(body.decode("utf-8", "replace")), j
        if kind in b":(":
            return int(body), j
        if kind == b",":
            return float(body), j
        if kind == b"#":
            return body == b"t", j
        if kind == b"_":
            return None, j
        if kind in b"$=":
            n = int(body)
            if n < 0:
                return None, j
            if len(data) < j + n + 2:
                raise ValueError("incomplete reply")
            return data[j:j + n], j + n + 2
        if kind in b"*~>%":
            n = int(body)
            if n < 0:
                return None, j
            items = []
            for _ in range(n * (2 if kind == b"%" else 1)):
                item, j = parse(j)
                items.append(item)
            if kind == b"%":
                return dict(zip(items[0::2], items[1::2])), j
            return items, j
        raise ValueError("unexpected RESP type byte %r" % kind)
    value, _ = parse(0)
    return value


class RespError(Exception):
    """An error reply (as a value: parse_resp returns it, does not raise)."""


def _leader_port_for_slot(reply, slot):
    """Parses a RESP2 CLUSTER SLOTS reply just enough to find `slot`'s first
    node's port."""
    lines = reply.split(b"\r\n")
    i = 1  # skip the outer array header
    while i < len(lines):
        if not lines[i].startswith(b"*"):
            i += 1
            continue
        # range: *N, :start, :end, *4, $len, host, :port, $40, id, *0, ...
        if i + 6 < len(lines) and lines[i + 1].startswith(b":") and lines[i + 2].startswith(b":"):
            start, end = int(lines[i + 1][1:]), int(lines[i + 2][1:])
            if start <= slot <= end and lines[i + 6].startswith(b":"):
                return int(lines[i + 6][1:])
            i += 3
            continue
        i += 1
    return None


def main(argv=None):
    """Command line: start a cluster, run one command with SHOAL_CLUSTER_PORTS
    (comma-separated client ports, node 0 first) and SHOAL_CLUSTER_ROUTING in
    its environment, stop the cluster, exit with the command's status.

        cluster_proc.py --server B --cli C [--nodes 3] [--shards 16]
            [--replicas 3] [--routing redirect|proxy] [--timeout S] -- CMD ARGS...
    """
    import argparse
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--server", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--routing", default="redirect", choices=["redirect", "proxy"])
    ap.add_argument("--timeout", type=float, default=240, help="bound on the command (s)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    o = ap.parse_args(argv)
    cmd = o.command[1:] if o.command[:1] == ["--"] else o.command
    if not cmd:
        ap.error("no command given")
    with ShoalCluster(o.server, o.cli, nodes=o.nodes, shards=o.shards, replicas=o.replicas,
                      extra_args=["--cluster-routing", o.routing]) as c:
        if not c.wait_all_ok():
            print("cluster_proc: cluster_state did not become ok", flush=True)
            return 1
        env = dict(os.environ, SHOAL_CLUSTER_PORTS=",".join(str(p) for p in c.ports()),
                   SHOAL_CLUSTER_ROUTING=o.routing)
        print("cluster_proc: %d nodes on ports %s (%s); running: %s"
              % (o.nodes, env["SHOAL_CLUSTER_PORTS"], o.routing, " ".join(cmd)), flush=True)
        proc = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
        try:
            return proc.wait(timeout=o.timeout)
        except subprocess.TimeoutExpired:
            print("cluster_proc: command timed out after %.0f s; killing PID %d"
                  % (o.timeout, proc.pid), flush=True)
            proc.kill()
            proc.wait()
            return 124


if __name__ == "__main__":
    sys.exit(main())
