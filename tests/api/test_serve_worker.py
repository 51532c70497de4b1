"""`testflow serve` runs its worker in a child process: runs pass through it, it is restarted
when it dies, it stops with the server (SIGINT, SIGTERM), and it stops by itself when the server
is killed. Real processes, real embedded Temporal; no timing is asserted (deadlines only bound
the waits)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.api.flows import QUICK
from tests.procs import alive, descendants, free_port, wait_http_ok, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass
class Serve:
    proc: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)

    def workers(self) -> list[int]:
        return [
            int(m.group(1))
            for line in self.lines
            if (m := re.match(r"worker: process (\d+)", line))
        ]

    def output(self) -> str:
        return "".join(self.lines)

    def run_flow(self) -> dict[str, object]:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            started = client.post("/api/v1/runs", json={"text": QUICK})
            assert started.status_code == 202, started.text
            run_id = started.json()["run_id"]
            last: dict[str, object] = {}
            with client.stream("GET", f"/api/v1/runs/{run_id}/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        last = json.loads(line[5:])
            return last


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTFLOW_")}
    env |= {"TESTFLOW_HOME": str(tmp_path), "TESTFLOW_AUTH": "off", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "testflow", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Serve(proc, f"http://127.0.0.1:{port}")

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            server.lines.append(line)

    threading.Thread(target=read, daemon=True).start()

    children: dict[int, str] = {}
    try:
        wait_http_ok(f"{server.url}/readyz", proc, output=server.output)
        children = descendants(proc.pid)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in descendants(proc.pid) | children:  # never leave a child behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_worker_is_a_child_process_and_stops_with_the_server(serve: Serve) -> None:
    [worker] = serve.workers()
    children = descendants(serve.proc.pid)
    assert "worker_main" in children[worker]
    assert any("temporal" in cmd and "start-dev" in cmd for cmd in children.values())
    assert serve.run_flow()["status"] == "passed"

    serve.proc.send_signal(signal.SIGINT)
    serve.proc.wait(timeout=60)
    wait_until("the server's children gone", lambda: not any(alive(p) for p in children))
    assert "Beginning worker shutdown" in serve.output()  # it drained, it was not killed


def test_a_dead_worker_is_restarted_and_runs_go_on(serve: Serve) -> None:
    [first] = serve.workers()
    os.kill(first, signal.SIGKILL)
    wait_until("a new worker", lambda: len(serve.workers()) == 2)
    second = serve.workers()[1]
    assert second != first and alive(second)
    assert serve.run_flow()["status"] == "passed"


def test_sigterm_stops_the_worker_too(serve: Serve) -> None:
    [worker] = serve.workers()
    serve.proc.send_signal(signal.SIGTERM)
    serve.proc.wait(timeout=60)
    wait_until("the worker gone", lambda: not alive(worker))


def test_a_killed_server_leaves_no_worker_behind(serve: Serve) -> None:
    children = descendants(serve.proc.pid)
    serve.proc.kill()  # no cleanup runs in the server: the worker sees its stdin close, the
    serve.proc.wait()  # dev server gets PR_SET_PDEATHSIG (testflow.runtime.devserver)
    wait_until("the orphaned children gone", lambda: not any(alive(p) for p in children))
