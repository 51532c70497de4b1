"""``testflow run`` of several flows is one SuiteWorkflow: SIGKILL the CLI mid-suite and the
flows it had not started yet still start (any worker on the queue carries the suite on), and
``testflow run --resume`` follows the suite to its end and writes the reports of every flow.
Real subprocesses, a real dev server, steps that record themselves in PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
import yaml
from temporalio.client import Client

from tests.durable.procs import REPO, DevServer, calls, mark, sigkill, start_worker, until, waiting

pytestmark = [pytest.mark.workflow, pytest.mark.service, pytest.mark.slow, pytest.mark.e2e]


def _cli(
    folder: Path, server: DevServer, env: dict[str, str], queue: str, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "testflow.cli", "run", str(folder), "-c", "1",
         "--temporal", server.address, "--report-dir", str(folder.parent / "reports"),
         "--report", "json,junit", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**env, "TESTFLOW_TASK_QUEUE": queue, "PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )


async def _runs(pg: asyncpg.Connection, tag: str, step: str) -> list[str]:
    rows = await pg.fetch(
        "SELECT DISTINCT run_id FROM durable_calls WHERE run_id LIKE $1 AND step = $2",
        f"run-suite-kill-{tag}-%",
        step,
    )
    return sorted(r["run_id"] for r in rows)


async def test_killed_cli_the_suite_goes_on_and_resume_follows_it(
    server: DevServer,
    proc_client: Client,
    proc_env: dict[str, str],
    pg: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:8]
    queue = f"cli-suite-{tag}"
    folder = tmp_path / "flows"
    folder.mkdir()
    for i in range(3):
        flow = {
            "name": f"suite kill {tag} {i}",
            "steps": [mark("a"), {"id": "wait", "type": "delay", "duration": "4s"}, mark("b")],
        }
        (folder / f"f{i}.yaml").write_text(yaml.safe_dump(flow))
    cli = _cli(folder, server, proc_env, queue)
    worker = resumed = None
    try:
        first: list[str] = []

        async def first_started() -> bool:
            first[:] = await _runs(pg, tag, "a")
            return bool(first)

        await until(first_started, "the first flow to pass step a", limit=90)
        await until(lambda: waiting(proc_client, first[0]), "the first flow's timer")
        sigkill(cli)  # the CLI and its in-process worker die; flows 2 and 3 have not started
        worker = start_worker(server.address, queue, proc_env)

        async def second_started() -> bool:
            return len(await _runs(pg, tag, "a")) >= 2

        # No CLI is running: the suite itself starts the next flow (with a semaphore in the
        # CLI, as before, it never would).
        await until(second_started, "the second flow to start with no CLI", limit=60)
        resumed = _cli(folder, server, proc_env, queue, "--resume")
        out, _ = await asyncio.to_thread(resumed.communicate, timeout=120)
    finally:
        sigkill(cli)
        if resumed is not None:
            sigkill(resumed)
        if worker is not None:
            sigkill(worker)
    assert resumed.returncode == 0, out
    assert "resuming suite-" in out
    started = await _runs(pg, tag, "a")
    assert len(started) == 3  # the two flows not started when the CLI died ran too
    for run_id in started:
        assert await calls(pg, run_id) == {"a": 1, "b": 1}, run_id
    report = json.loads((tmp_path / "reports" / "run.json").read_text())
    assert report["status"] == "passed"
    assert sorted(r["run_id"] for r in report["runs"]) == started
    assert (tmp_path / "reports" / "junit.xml").read_text().count("<testsuite ") == 3


async def test_sigint_cancels_the_suite_teardown_runs_no_more_flow_starts(
    server: DevServer, proc_env: dict[str, str], pg: asyncpg.Connection, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    folder = tmp_path / "flows"
    folder.mkdir()
    for i in range(2):
        flow = {
            "name": f"suite kill {tag} {i}",
            "steps": [mark("a"), {"id": "wait", "type": "delay", "duration": "5m"}],
            "teardown": [mark("cleanup")],
        }
        (folder / f"f{i}.yaml").write_text(yaml.safe_dump(flow))
    cli = _cli(folder, server, proc_env, f"cli-suite-cancel-{tag}")
    try:
        first: list[str] = []

        async def first_started() -> bool:
            first[:] = await _runs(pg, tag, "a")
            return bool(first)

        await until(first_started, "the first flow to pass step a", limit=90)
        await asyncio.sleep(0.5)
        cli.send_signal(signal.SIGINT)
        out, _ = await asyncio.to_thread(cli.communicate, timeout=60)
    finally:
        sigkill(cli)
    assert cli.returncode == 1, out
    assert "cancelling the runs" in out
    report = json.loads((tmp_path / "reports" / "run.json").read_text())
    assert [(r["run_id"], r["status"]) for r in report["runs"]] == [(first[0], "cancelled")]
    assert await calls(pg, first[0]) == {"a": 1, "cleanup": 1}
    assert await _runs(pg, tag, "a") == first  # the second flow never started
