"""Distributed execution: three worker processes on one task queue, one SIGKILLed mid-batch.

300 small flows (transform -> durable 1 s delay -> log -> assert) are submitted to the
session's Temporal dev server. Three real worker processes (bench/cluster.py, the same worker
the Helm chart runs) share the task queue. When a third of the runs has finished, one worker
is SIGKILLed. Every run must still complete exactly once, every step must appear exactly once
in its run, and the steps must say which worker ran them.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import time
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from testflow.dsl.models import Flow
from testflow.dsl.results import RunResult
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from cluster import WorkerProcess, free_port, spawn_worker, worker_env

pytestmark = [pytest.mark.e2e, pytest.mark.workflow, pytest.mark.slow]

FLOWS = 300
STEP_IDS = ["compute", "pause", "note", "check"]


def small_flow(i: int) -> Flow:
    return Flow.model_validate(
        {
            "name": f"distributed {i}",
            "tags": ["distributed"],
            "context": {"n": i},
            "steps": [
                {"id": "compute", "type": "transform", "set": {"double": "{{ n * 2 }}"}},
                # A durable timer between steps: a run paused here when its worker dies must
                # be continued by another worker (the hand-over this test is about).
                {"id": "pause", "type": "delay", "duration": "1s"},
                {"id": "note", "type": "log", "message": "flow {{ n }} doubled is {{ double }}"},
                {"id": "check", "type": "assert", "value": "{{ double }}", "assert": {"$": i * 2}},
            ],
        }
    )


async def _spawn(
    address: str, task_queue: str, settings: Settings, count: int
) -> list[WorkerProcess]:
    env = worker_env(settings.home)
    env["TESTFLOW_ARTIFACTS_DIR"] = str(settings.artifact_root)
    return list(
        await asyncio.gather(
            *(
                asyncio.to_thread(
                    spawn_worker, address, task_queue, env=env, health_port=free_port()
                )
                for _ in range(count)
            )
        )
    )


async def test_three_workers_one_killed_no_run_lost_or_doubled(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    address = temporal_client.service_client.config.target_host
    workers = await _spawn(address, task_queue, settings, 3)
    victim, survivors = workers[0], workers[1:]
    try:
        for worker in workers:
            status, body = await asyncio.to_thread(worker.get, "/readyz")
            assert status == 200, body

        engine = Engine(
            settings.model_copy(update={"task_queue": task_queue}),
            client=temporal_client,
            with_worker=False,
        )
        async with engine:
            handles = await asyncio.gather(
                *(engine.start(small_flow(i), environ={}) for i in range(FLOWS))
            )
            started = time.monotonic()
            pending = {asyncio.ensure_future(h.result()): h.id for h in handles}
            results: list[RunResult] = []
            killed_at: int | None = None
            # Generous: this 2-core machine is shared with other test runs; typical is well under it.
            deadline = started + 240
            try:
                while pending:
                    done, _ = await asyncio.wait(
                        pending,
                        timeout=max(0.1, deadline - time.monotonic()),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if not done:
                        raise AssertionError(
                            f"{len(pending)} runs unfinished, e.g. {list(pending.values())[:5]}"
                        )
                    for fut in done:
                        pending.pop(fut)
                        results.append(fut.result())
                    if killed_at is None and len(results) >= FLOWS // 3:
                        victim.kill()
                        killed_at = len(results)
            finally:
                for fut in pending:
                    fut.cancel()
            elapsed = time.monotonic() - started

        assert killed_at is not None and victim.proc.returncode == -9
        # Every run completed once, and passed.
        assert sorted(r.run_id for r in results) == sorted(h.id for h in handles)
        failed = [(r.run_id, r.status, r.error) for r in results if r.status != "passed"]
        assert not failed, failed[:3]
        # Exactly one execution per run id, and it completed (no duplicate or retried runs).
        executions = collections.Counter()
        async for execution in temporal_client.list_workflows(f'TaskQueue = "{task_queue}"'):
            assert execution.status == WorkflowExecutionStatus.COMPLETED, (
                execution.id,
                execution.status,
            )
            executions[execution.id] += 1
        assert set(executions) == {h.id for h in handles}
        assert max(executions.values()) == 1
        # Every step once per run; activity steps say which worker ran them.
        known = {w.worker_id for w in workers}
        per_worker: collections.Counter[str] = collections.Counter()
        handed_over = 0
        for result in results:
            assert [s.step_id for s in result.steps] == STEP_IDS, result.run_id
            ran_by = {s.worker for s in result.steps if s.kind != "delay"}
            assert None not in ran_by, (
                result.run_id,
                [(s.step_id, s.worker) for s in result.steps],
            )
            assert ran_by <= known, (ran_by, known)
            per_worker.update(s.worker for s in result.steps if s.worker)
            if victim.worker_id in ran_by and len(ran_by) > 1:
                handed_over += 1
        # Runs the killed worker had begun were continued by the survivors (the hand-over this
        # test proves); it did real work before it died, and so did the others.
        assert handed_over >= 1
        assert all(per_worker[w.worker_id] > 0 for w in workers), per_worker
        print(
            f"\n{FLOWS} runs in {elapsed:.1f}s; worker {victim.worker_id} SIGKILLed after {killed_at} runs; "
            f"steps per worker {dict(per_worker)}; runs continued by another worker after the kill: {handed_over}"
        )

        # The survivors still serve, expose testflow's and the SDK's metrics, and drain on SIGTERM.
        for worker in survivors:
            status, page = await asyncio.to_thread(worker.get, "/metrics")
            assert status == 200
            assert "testflow_worker_info" in page
            assert "testflow_sdk_metrics_up 1" in page
            assert "temporal_" in page
        codes = await asyncio.gather(*(asyncio.to_thread(w.terminate) for w in survivors))
        assert codes == [0, 0], "".join(survivors[0].log_lines[-20:])
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(timeout=10)


async def test_testflow_worker_command_survives_a_killed_peer(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    """The same proof, smaller, with the `testflow worker` command itself as the process."""
    address = temporal_client.service_client.config.target_host
    env = worker_env(settings.home)
    env["TESTFLOW_ARTIFACTS_DIR"] = str(settings.artifact_root)
    workers = list(
        await asyncio.gather(
            *(
                asyncio.to_thread(spawn_worker, address, task_queue, env=env, launcher="command")
                for _ in range(2)
            )
        )
    )
    try:
        engine = Engine(
            settings.model_copy(update={"task_queue": task_queue}),
            client=temporal_client,
            with_worker=False,
        )
        async with engine:
            handles = await asyncio.gather(
                *(engine.start(small_flow(i), environ={}) for i in range(40))
            )
            results: list[RunResult] = []
            pending = [asyncio.ensure_future(h.result()) for h in handles]
            try:
                for fut in asyncio.as_completed(pending, timeout=180):
                    results.append(await fut)
                    if len(results) == 10:
                        workers[0].kill()
            finally:
                for fut in pending:
                    fut.cancel()
        assert len(results) == 40 and all(r.status == "passed" for r in results)
        assert len({r.run_id for r in results}) == 40
        assert all([s.step_id for s in r.steps] == STEP_IDS for r in results)
        assert workers[1].terminate() == 0, "".join(workers[1].log_lines[-20:])
        assert any("worker stopped" in line for line in workers[1].log_lines)
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(timeout=10)
