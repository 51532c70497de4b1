"""The ``testflow run`` process itself: SIGKILLed mid-run (attach picks the run up) and SIGINT
(the run is cancelled, teardown runs, the report says cancelled). Real subprocesses."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from temporalio.client import Client

from testflow.runtime.attach import AttachError, attach, running_runs, write_attached_reports
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from tests.durable.procs import REPO, DevServer, calls, mark, sigkill, start_worker, until, waiting

pytestmark = [pytest.mark.workflow, pytest.mark.service, pytest.mark.slow, pytest.mark.e2e]


def _cli(
    flow: dict[str, Any], tmp: Path, server: DevServer, env: dict[str, str], queue: str
) -> subprocess.Popen[str]:
    path = tmp / "flow.yaml"
    path.write_text(yaml.safe_dump(flow))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "testflow.cli",
            "run",
            str(path),
            "--temporal",
            server.address,
            "--report-dir",
            str(tmp / "reports"),
            "--report",
            "json,junit",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**env, "TESTFLOW_TASK_QUEUE": queue, "PATH": "/usr/bin:/bin", "HOME": str(tmp)},
    )


async def _run_id_of(pg: asyncpg.Connection, slug: str) -> str:
    found: list[str] = []

    async def started() -> bool:
        rows = await pg.fetch(
            "SELECT run_id FROM durable_calls WHERE run_id LIKE $1 AND step = 'a'", f"run-{slug}-%"
        )
        found[:] = [r["run_id"] for r in rows]
        return bool(found)

    await until(started, "the CLI's run to pass step a", limit=90)
    return found[0]


async def test_cli_killed_mid_run_attach_follows_it_and_writes_reports(
    server: DevServer,
    proc_client: Client,
    proc_settings: Settings,
    proc_env: dict[str, str],
    pg: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:8]
    queue = f"cli-{tag}"
    flow = {
        "name": f"cli crash {tag}",
        "steps": [mark("a"), {"id": "wait", "type": "delay", "duration": "4s"}, mark("b")],
    }
    cli = _cli(flow, tmp_path, server, proc_env, queue)
    worker = None
    try:
        run_id = await _run_id_of(pg, f"cli-crash-{tag}")

        # Kill once step a's completion is in the history: a step killed in flight may run
        # twice (at-least-once); one recorded as done must not.
        await until(lambda: waiting(proc_client, run_id), "the delay timer")
        sigkill(cli)  # the CLI and its in-process worker die mid-run
        worker = start_worker(server.address, queue, proc_env)
        engine = Engine(
            proc_settings.model_copy(update={"task_queue": queue}),
            client=proc_client,
            with_worker=False,
        )
        async with engine:
            assert run_id in await running_runs(engine, [flow["name"]])
            seen: list[str] = []
            result = await asyncio.wait_for(
                attach(engine, run_id, lambda e: seen.append(e.type)), timeout=60
            )
            with pytest.raises(AttachError, match="no run 'run-missing'"):
                await attach(engine, "run-missing")
    finally:
        sigkill(cli)
        if worker is not None:
            sigkill(worker)
    assert result.status == "passed"
    assert seen[0] == "run_started" and seen[-1] == "run_finished"  # replayed from the start
    assert await calls(pg, run_id) == {"a": 1, "b": 1}
    written = write_attached_reports([result], tmp_path / "attached", ["json", "junit"])
    report = json.loads(written["json"].read_text())
    assert report["status"] == "passed" and report["runs"][0]["run_id"] == run_id
    assert "<testsuite" in written["junit"].read_text()


async def test_sigint_cancels_the_run_teardown_runs_report_says_cancelled(
    server: DevServer, proc_env: dict[str, str], pg: asyncpg.Connection, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    flow = {
        "name": f"cli cancel {tag}",
        "steps": [mark("a"), {"id": "wait", "type": "delay", "duration": "5m"}, mark("b")],
        "teardown": [mark("cleanup")],
    }
    cli = _cli(flow, tmp_path, server, proc_env, f"cancel-{tag}")
    try:
        run_id = await _run_id_of(pg, f"cli-cancel-{tag}")
        await asyncio.sleep(0.5)
        cli.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(cli.communicate, timeout=60)
    finally:
        sigkill(cli)
    assert cli.returncode == 1, output
    assert "cancelling the runs" in output
    report = json.loads((tmp_path / "reports" / "run.json").read_text())
    run = report["runs"][0]
    assert run["run_id"] == run_id and run["status"] == "cancelled"
    steps = {s["step_id"]: s["status"] for s in run["steps"]}
    assert steps["wait"] == "cancelled" and steps["cleanup"] == "passed"
    assert await calls(pg, run_id) == {"a": 1, "cleanup": 1}
