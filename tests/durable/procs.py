"""Real processes for crash tests: a persistent Temporal dev server and worker subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from testflow.runtime.devserver import find_temporal_binary

PG_DSN = os.environ.get("TESTFLOW_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SEARCH_ATTRIBUTES = {
    "TestflowFlow": "Keyword",
    "TestflowTags": "KeywordList",
    "TestflowStatus": "Keyword",
    "TestflowEnvironment": "Keyword",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class DevServer:
    """``temporal server start-dev`` with a database file: it can be killed and restarted."""

    def __init__(self, db_file: Path, port: int | None = None) -> None:
        self.db_file = db_file
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DevServer:
        args = [
            find_temporal_binary(),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db-filename",
            str(self.db_file),
            "--log-level",
            "error",
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
        ]
        for name, kind in SEARCH_ATTRIBUTES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def start_worker(address: str, task_queue: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """A worker subprocess; returns once it polls the task queue."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "worker_main.py"), address, task_queue],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "worker ready" not in line:
        proc.kill()
        raise RuntimeError(f"the worker did not start: {line}{proc.stdout.read()}")
    return proc


def sigkill(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


def mark(step: str) -> dict[str, Any]:
    """A step that records one execution of itself."""
    return {
        "id": step,
        "type": "postgresql.insert",
        "dsn": PG_DSN,
        "table": "durable_calls",
        "values": {"run_id": "{{ run.id }}", "step": step},
    }


async def calls(pg: asyncpg.Connection, run_id: str) -> dict[str, int]:
    rows = await pg.fetch(
        "SELECT step, count(*) AS n FROM durable_calls WHERE run_id = $1 GROUP BY step", run_id
    )
    return {r["step"]: r["n"] for r in rows}


async def until(predicate: Any, what: str, limit: float = 30.0) -> None:
    try:
        async with asyncio.timeout(limit):
            while not await predicate():  # noqa: ASYNC110 - polling a database, not an event
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def waiting(client: Client, run_id: str) -> bool:
    """Whether the run's history shows a wait begun (a timer or a regular activity scheduled),
    i.e. the local-activity steps before it are recorded as done."""
    history = await client.get_workflow_handle(run_id).fetch_history()
    kinds = (EventType.EVENT_TYPE_TIMER_STARTED, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    return any(e.event_type in kinds for e in history.events)
