"""A throwaway two-node Ray cluster on loopback for tests and benches (extra `ray`): head 127.0.0.2, worker 127.0.0.3.

Each node is one `ray start --block` process in a session of its own, with every port chosen free on its own
address and a temporary folder of its own. Stopping sends SIGTERM to those two PIDs (`ray start --block`
then stops the processes it started), waits, and kills by PID whatever is left of their sessions: never
`ray stop`, which stops every Ray process on the machine. Ray's own servers listen on all interfaces, but
every address the cluster is given and uses is a loopback one.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD, WORKER = "127.0.0.2", "127.0.0.3"
RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]
OBJECT_STORE_BYTES = 100 * 1024 * 1024  # Ray's minimum is 75 MB; the default (30 % of RAM) is far too much here


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _ports(host: str) -> list[str]:
    """Every port a node would otherwise take at a fixed default (two nodes on one machine would collide)."""
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
             "runtime-env-agent-port", "metrics-export-port")
    return [f"--{name}={_free_port(host)}" for name in names]


def _session(pid: int) -> list[int]:
    """PIDs (other than `pid`) in the session `pid` leads: what `ray start` started and left behind."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != pid:
            try:
                if os.getsid(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    return found


class RayCluster:
    """Head and worker node, `cpus` logical CPUs each; `address` is the head's GCS address for `ray.init`."""

    def __init__(self, cpus: int = 1, env: dict | None = None):
        self.cpus = cpus
        self.env = {**(env or os.environ), "RAY_USAGE_STATS_ENABLED": "0"}  # no reports home
        self.root = Path(tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp"))  # short: Ray's unix sockets live below
        self.port = _free_port(HEAD)
        self.address = f"{HEAD}:{self.port}"
        self.nodes: list[subprocess.Popen] = []
        self.leftovers: list[int] = []

    def _node(self, host: str, *args: str) -> subprocess.Popen:
        log = (self.root / f"{host}.log").open("w")
        cmd = [*RAY, "start", "--block", f"--node-ip-address={host}", f"--num-cpus={self.cpus}", "--num-gpus=0",
               f"--object-store-memory={OBJECT_STORE_BYTES}", f"--temp-dir={self.root / 'ray'}",
               "--disable-usage-stats", "--include-log-monitor=false", *_ports(host), *args]
        with log:
            return subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, timeout: float = 90) -> RayCluster:
        """Start both nodes, each until it says it is up; RuntimeError (with the logs) when one can't."""
        self.nodes.append(self._node(HEAD, "--head", f"--port={self.port}", "--include-dashboard=false"))
        self._wait(HEAD, timeout)
        self.nodes.append(self._node(WORKER, f"--address={self.address}"))
        self._wait(WORKER, timeout)
        return self

    def _wait(self, host: str, timeout: float) -> None:
        log, deadline = self.root / f"{host}.log", time.monotonic() + timeout
        while time.monotonic() < deadline and self.nodes[-1].poll() is None:
            if "Ray runtime started" in log.read_text(errors="replace"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Ray node on {host} did not start:\n{self.logs()}")

    def logs(self) -> str:
        """The `ray start` output of each node (where it failed and why)."""
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.root.glob("*.log")))

    def stop(self, timeout: float = 60) -> list[int]:
        """SIGTERM each node's `ray start`, then SIGKILL by PID what is left of its session; returns those PIDs."""
        for proc in reversed(self.nodes):  # the worker node first, then the head
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        deadline = time.monotonic() + 10
        while (left := [pid for p in self.nodes for pid in _session(p.pid)]) and time.monotonic() < deadline:
            time.sleep(0.5)  # raylets stop their workers on their way out
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.leftovers = left
        shutil.rmtree(self.root, ignore_errors=True)
        return left
