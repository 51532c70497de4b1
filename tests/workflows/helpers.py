"""Run flows on the session dev server with a worker on a fresh task queue."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

from testflow.dsl.models import Flow
from testflow.dsl.results import RunEvent, RunResult
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from testflow.workflows.types import RunOptions


def flow_of(data: dict[str, Any]) -> Flow:
    data = {"name": "test flow", **data}
    return Flow.model_validate(data)


async def run_flow(
    client: Client,
    settings: Settings,
    task_queue: str,
    flow: Flow | dict[str, Any],
    *,
    variables: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    options: RunOptions | None = None,
) -> tuple[RunResult, list[RunEvent]]:
    flow = flow if isinstance(flow, Flow) else flow_of(flow)
    events: list[RunEvent] = []
    engine = Engine(settings.model_copy(update={"task_queue": task_queue}), client=client)
    async with engine:
        handle = await engine.start(flow, variables=variables, environ=environ or {}, options=options)
        result = await engine.follow(handle.id, events.append)
    return result, events
