"""What the server benchmarks share: a free port, a readiness wait and the server's memory."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks since boot, from /proc/stat's first line (Linux).

    Steal is time the hypervisor gave this VM's CPUs to others: on a shared host the same build
    reads tens of percent slower in a window with a few percent steal, so the benchmarks record it.
    """
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return fields[7], sum(fields)


def steal_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of CPU time stolen between two `cpu_ticks()` readings, in percent."""
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 2) if total else 0.0


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Return once GET /healthz answers 200; raise if the server exits, answers otherwise or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        try:
            r = httpx.get(url + "/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if r.status_code == 200:
            return
        raise RuntimeError(f"the server answers {r.status_code}: {r.text}")  # it loads before it listens
    raise RuntimeError(f"the server at {url} was not ready within {timeout:.0f}s")
