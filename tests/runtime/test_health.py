"""Worker probes, metrics page and SIGTERM-style drain, against a real worker on the dev server."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from temporalio.client import Client

from testflow.dsl.registry import default_registry
from testflow.runtime import metrics
from testflow.runtime.health import HealthServer, WorkerHealth, run_worker
from testflow.runtime.settings import Settings
from testflow.runtime.worker import build_worker


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_record_step_counts_and_times_by_kind_and_status() -> None:
    before = metrics.STEPS.labels(kind="http", status="passed")._value.get()
    metrics.record_step("http", "passed", 120.0)
    metrics.record_step("http", "passed", float("nan"))  # bad input is recorded as 0, not raised
    metrics.record_step("http", "failed", 5.0)
    assert metrics.STEPS.labels(kind="http", status="passed")._value.get() == before + 2
    page = metrics.render().decode()
    assert 'testflow_steps_total{kind="http",status="failed"}' in page
    assert 'testflow_step_duration_seconds_bucket{kind="http",le="0.25",status="passed"}' in page


def test_probes_follow_the_worker_state() -> None:
    health = WorkerHealth(stall_after_s=0.5)
    with HealthServer(health, host="127.0.0.1", port=0) as server:
        status, body = get(server.port, "/readyz")
        assert status == 503 and json.loads(body)["state"] == "starting"
        assert get(server.port, "/livez")[0] == 200
        health.mark_ready()
        assert get(server.port, "/readyz")[0] == 200
        # A loop that stops ticking is reported dead (and hence not ready).
        time.sleep(0.6)
        status, body = get(server.port, "/healthz")
        assert status == 503 and json.loads(body)["loop_lag_s"] >= 0.5
        assert get(server.port, "/readyz")[0] == 503
        health.beat()
        health.mark_failed("boom")
        assert get(server.port, "/livez")[0] == 503
        status, body = get(server.port, "/nope")
        assert status == 404 and "/readyz" in body
        status, page = get(server.port, "/metrics")
        assert status == 200 and "testflow_steps" in page


def test_port_in_use_is_a_clear_error() -> None:
    with HealthServer(WorkerHealth(), host="127.0.0.1", port=0) as first:
        second = HealthServer(WorkerHealth(), host="127.0.0.1", port=first.port)
        with pytest.raises(OSError, match=f"cannot serve worker health on 127.0.0.1:{first.port}"):
            second.start()


@pytest.mark.workflow
async def test_real_worker_ready_then_drains_on_stop(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    worker = build_worker(temporal_client, settings, default_registry(), task_queue=task_queue)
    health = WorkerHealth()
    stop = asyncio.Event()
    with HealthServer(health, host="127.0.0.1", port=0) as server:
        task = asyncio.create_task(run_worker(worker, health, signals=(), stop=stop))
        for _ in range(100):
            if health.state == "ready":
                break
            await asyncio.sleep(0.02)
        assert (await asyncio.to_thread(get, server.port, "/readyz"))[0] == 200
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        status, body = await asyncio.to_thread(get, server.port, "/readyz")
        assert status == 503 and json.loads(body)["state"] == "stopped"


class _Broken:
    async def run(self) -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("lost the connection")

    async def shutdown(self) -> None:  # pragma: no cover - never reached
        pass


async def test_worker_error_marks_it_failed() -> None:
    health = WorkerHealth()
    with pytest.raises(RuntimeError, match="lost the connection"):
        await run_worker(_Broken(), health, signals=())
    alive, body = health.liveness()
    assert not alive and "lost the connection" in body["reason"]
