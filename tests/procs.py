"""Helpers for tests and benches that start real processes: ports, waits, /proc (Linux).

Standard library and httpx only, so bench scripts import it too.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped has exited: it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def children_of(parent: int, marker: bytes) -> list[int]:
    """Direct children of ``parent`` whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{parent}\n" in status and marker in cmdline:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line."""
    out: dict[int, str] = {}
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:  # exited meanwhile
                continue
            out[int(child)] = cmd
            out |= descendants(int(child))
    return out


def wait_until(what: str, check: Callable[[], object], limit_s: float = 60) -> None:
    """Poll ``check()`` until it is true; AssertionError naming ``what`` after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {limit_s} s")


def wait_http_ok(
    url: str,
    proc: subprocess.Popen[str],
    *,
    limit_s: float = 60,
    output: Callable[[], str] | None = None,
) -> None:
    """Wait until ``url`` answers 200 while ``proc`` (the server) runs; its exit fails the
    wait at once, with ``output()`` (what it printed) in the message."""

    def ready() -> bool:
        if proc.poll() is not None:
            printed = output() if output is not None else ""
            raise AssertionError(f"{' '.join(map(str, proc.args))} exited:\n{printed}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(f"{url} answering 200", ready, limit_s)
