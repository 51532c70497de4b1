"""Crash safety with real processes: SIGKILLed workers, a restarted dev server.

Every flow records its steps in a PostgreSQL table, so the tests see how many times each step
really ran: steps that finished before the crash must not run again; a step in flight at the
crash may (at-least-once, docs/durable.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from testflow.dsl.models import Flow
from testflow.dsl.results import RunResult
from testflow.runtime.artifacts import read_artifact
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from testflow.webhooks.listener import start_listener
from testflow.workflows.types import WebhookConfig
from tests.durable.procs import DevServer, calls, mark, sigkill, start_worker, until, waiting

pytestmark = [pytest.mark.workflow, pytest.mark.service, pytest.mark.slow]
PG_DSN = os.environ.get("TESTFLOW_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def engine_for(settings: Settings, proc_client: Client, queue: str) -> Engine:
    return Engine(
        settings.model_copy(update={"task_queue": queue}), client=proc_client, with_worker=False
    )


async def test_killed_worker_mid_wait_a_new_worker_finishes_every_run(
    proc_client: Client, proc_settings: Settings, proc_env: dict[str, str], pg: asyncpg.Connection
) -> None:
    """One SIGKILL while four runs wait: on a webhook, a durable timer, a poll, Kafka."""
    from aiokafka import AIOKafkaProducer

    from testflow.runtime.kafka_broker import TansuBroker

    queue = f"crash-{uuid.uuid4().hex[:8]}"
    topic = f"crash-{uuid.uuid4().hex[:8]}"
    broker = TansuBroker().start()
    flows = {
        "webhook": [{"id": "wait", "type": "webhook.wait", "name": "done", "within": "90s"}],
        "delay": [{"id": "wait", "type": "delay", "duration": "6s"}],
        "poll": [
            {
                "id": "wait",
                "type": "poll",
                "every": "500ms",
                "within": "90s",
                "step": {
                    "id": "flag",
                    "type": "postgresql.query",
                    "dsn": PG_DSN,
                    "sql": "SELECT count(*) AS n FROM durable_flags WHERE run_id = $1",
                    "params": ["{{ run.id }}"],
                    "assert": {"$[0].n": 1},
                },
            }
        ],
        "kafka": [
            {
                "id": "wait",
                "type": "kafka.consume",
                "brokers": broker.bootstrap,
                "topic": topic,
                "start": "flow_start",
                "match": {"key": "{{ run.id }}"},
                "within": "90s",
            }
        ],
    }
    base, stop_listener = await start_listener(proc_client, 0)
    worker = start_worker(proc_client.service_client.config.target_host, queue, proc_env)
    try:
        async with engine_for(proc_settings, proc_client, queue) as engine:
            runs: dict[str, str] = {}
            for name, middle in flows.items():
                flow = Flow.model_validate(
                    {"name": f"crash {name}", "steps": [mark("a"), *middle, mark("b")]}
                )
                runs[name] = (await engine.start(flow, environ={}, webhook_base=base)).id

            async def all_waiting() -> bool:
                done = [(await calls(pg, run_id)).get("a") == 1 for run_id in runs.values()]
                return all(done)

            await until(all_waiting, what="every run to pass step a")

            async def recorded() -> bool:
                return all([await waiting(proc_client, run_id) for run_id in runs.values()])

            # Step a is recorded as done before the kill: it must not run again.
            await until(recorded, what="every run to start waiting")
            await asyncio.sleep(0.5)  # let the poll and the consume get going
            sigkill(worker)
            worker = start_worker(proc_client.service_client.config.target_host, queue, proc_env)
            # What the runs wait for arrives after the crash.
            await pg.execute("INSERT INTO durable_flags VALUES ($1)", runs["poll"])
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(topic, b'{"ok": true}', key=runs["kafka"].encode())
            finally:
                await producer.stop()
            handle = proc_client.get_workflow_handle(runs["webhook"])
            token = (await handle.query("webhook_config", "done", result_type=WebhookConfig)).token
            async with httpx.AsyncClient(base_url=base) as http:
                reply = await http.post(f"/hooks/{token}/done", json={"status": "shipped"})
            assert reply.status_code == 200
            results: dict[str, RunResult] = {}
            for name, run_id in runs.items():
                results[name] = await asyncio.wait_for(engine.follow(run_id), timeout=120)
    finally:
        sigkill(worker)
        await stop_listener()
        broker.stop()
    for name, result in results.items():
        assert result.status == "passed", (name, [(s.step_id, s.error) for s in result.steps])
        assert await calls(pg, result.run_id) == {"a": 1, "b": 1}, name
    # The in-flight poll ran again on the new worker (at-least-once for the step in flight).
    poll = next(s for s in results["poll"].steps if s.step_id == "wait")
    assert poll.detail is not None
    assert json.loads(read_artifact(poll.detail) or b"{}")["attempt"] >= 2


async def test_dev_server_restarted_mid_run_the_run_continues(
    server: DevServer,
    proc_client: Client,
    proc_settings: Settings,
    proc_env: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    flow = Flow.model_validate(
        {
            "name": "server restart",
            "steps": [mark("a"), {"id": "wait", "type": "delay", "duration": "5s"}, mark("b")],
        }
    )
    worker = start_worker(server.address, queue, proc_env)
    try:
        async with engine_for(proc_settings, proc_client, queue) as engine:
            run_id = (await engine.start(flow, environ={})).id

            async def started() -> bool:
                return (await calls(pg, run_id)).get("a") == 1

            await until(started, what="step a")
            await until(lambda: waiting(proc_client, run_id), what="the delay timer")
            server.kill()
            await asyncio.sleep(1.0)
            server.start()  # same port, same database file
            result = await asyncio.wait_for(engine.follow(run_id), timeout=90)
    finally:
        sigkill(worker)
    assert result.status == "passed", [(s.step_id, s.error) for s in result.steps]
    assert await calls(pg, run_id) == {"a": 1, "b": 1}
