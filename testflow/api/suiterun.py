"""Suite runs from the API: one SuiteWorkflow whose children the index knows from the start.

``POST /runs {suite_id}`` prepares every flow's input here (the same preparation as a single
run: engine.prepare), picks each child's run id, then starts the SuiteWorkflow and indexes the
parent and one ``queued`` row per child together. The tracker turns a child ``running`` when the
suite starts it and follows it from then on as any run (tracker.py).
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import FlowRow, RunRow, SuiteRow, tag_text, utcnow
from testflow.api.deps import AppState, Principal
from testflow.api.errors import Invalid
from testflow.api.launcher import load_environment, prepare_flow
from testflow.api.schemas import RunStart
from testflow.dsl.results import RunEvent, RunResult

if TYPE_CHECKING:
    from testflow.dsl.models import Flow
    from testflow.workflows.suite import SuiteProgress
    from testflow.workflows.types import FlowInput

ROW_POLL_S = 0.3
"""How often a stream of a queued child (or of a running suite) re-reads the index row."""


def is_suite_parent(row: RunRow | None) -> bool:
    """The index row of a suite run itself (its children name it as parent_run_id)."""
    return row is not None and row.suite_id is not None and row.parent_run_id is None


@dataclass
class PreparedChild:
    """One flow of a suite, prepared to run: its stored row, its flow and its input."""

    stored: FlowRow
    flow: Flow
    input: FlowInput


async def prepare_children(
    state: AppState,
    session: AsyncSession,
    suite: SuiteRow,
    environment: str | None,
    variables: dict[str, Any],
    run_id: Callable[[int, Flow], str],
) -> list[PreparedChild]:
    """Every flow of the suite prepared as a single run would be (engine.prepare); ``run_id``
    names child ``i``. A vanished flow or a preparation error is a 422, nothing started."""
    if state.engine is None:
        raise Invalid("this server has no Temporal connection")
    bundle = await load_environment(state, session, environment)
    out: list[PreparedChild] = []
    for index, flow_id in enumerate(suite.flow_ids):
        stored = await session.get(FlowRow, flow_id)
        if stored is None:
            raise Invalid(
                f"suite {suite.name!r} names flow {flow_id!r}, which does not exist any more"
            )
        prepared = prepare_flow(
            state,
            bundle,
            variables,
            stored.text,
            stored.filename,
            functools.partial(run_id, index),
            problem=f"cannot start flow {stored.name!r} of the suite",
        )
        out.append(PreparedChild(stored, prepared.flow, prepared))
    return out


def child_row(
    run_id: str,
    parent: RunRow,
    *,
    flow_id: str,
    flow_version: int | None,
    flow_name: str,
    tags: list[str],
    text: str | None,
) -> RunRow:
    """The ``queued`` index row of a suite run's child (the tracker turns it running)."""
    return RunRow(
        run_id=run_id,
        flow_id=flow_id,
        flow_version=flow_version,
        flow_name=flow_name,
        suite_id=parent.suite_id,
        parent_run_id=parent.run_id,
        tags=tags,
        tag_text=tag_text(tags),
        environment=parent.environment,
        status="queued",
        trigger="suite",
        started_by=parent.started_by,
        started_at=parent.started_at,
        text=text,
        variables=parent.variables,
    )


async def start_suite(
    state: AppState, session: AsyncSession, suite: SuiteRow, body: RunStart, who: Principal
) -> tuple[RunRow, list[RunRow]]:
    """Prepare every child, start the SuiteWorkflow, index the parent and the children."""
    from testflow.runtime.engine import new_run_id, new_suite_id
    from testflow.workflows.suite import SuiteChild, SuiteInput

    environment = body.environment or suite.environment
    variables = dict(body.vars)
    parent_id = new_suite_id(suite.name)
    prepared = await prepare_children(
        state, session, suite, environment, variables, lambda _i, flow: new_run_id(flow.name)
    )
    engine = state.engine
    assert engine is not None  # prepare_children refused a server without Temporal
    now = utcnow()
    parent = RunRow(
        run_id=parent_id,
        flow_name=suite.name,
        suite_id=suite.id,
        tags=list(suite.tags),
        tag_text=tag_text(list(suite.tags)),
        environment=environment,
        status="running",
        trigger="api",
        started_by=who.name,
        started_at=now,
        variables=variables,
    )
    children = [SuiteChild(run_id=c.input.run_id, input=c.input) for c in prepared]
    rows = [
        child_row(
            c.input.run_id,
            parent,
            flow_id=c.stored.id,
            flow_version=c.stored.version,
            flow_name=c.flow.name,
            tags=list(c.flow.tags),
            text=c.stored.text,
        )
        for c in prepared
    ]
    spec = SuiteInput(
        name=suite.name,
        suite_id=suite.id,
        children=children,
        concurrency=suite.concurrency,
        fail_fast=suite.fail_fast,
        tags=list(suite.tags),
        environment=environment,
    )
    # No pooled connection held while Temporal starts the suite (as launcher.start_run).
    await session.commit()
    started, indexed = await asyncio.gather(
        engine.start_suite(spec, suite_run_id=parent_id),
        state.db.add(parent, *rows),
        return_exceptions=True,
    )
    if isinstance(started, BaseException):
        if not isinstance(indexed, BaseException):
            ids = [parent_id, *(r.run_id for r in rows)]
            await state.db.write(lambda s: s.execute(delete(RunRow).where(RunRow.run_id.in_(ids))))
        raise started
    if isinstance(indexed, BaseException):
        raise indexed
    if state.tracker is not None:
        state.tracker.track_suite(parent_id)
    state.metrics.runs_started.labels("suite").inc(len(rows))
    return parent, rows


def child_counts(progress: SuiteProgress) -> dict[str, int]:
    """A suite run's ``counts`` in the index: its children by status."""
    out = {"passed": 0, "failed": 0, "error": 0, "cancelled": 0, "running": 0, "queued": 0}
    out.update(Counter(c.status for c in progress.children))
    return out


def suite_result(run_id: str, progress: SuiteProgress, row: RunRow | None) -> RunResult:
    """The suite run as a RunResult without steps (GET /runs/{id}; its children are runs of
    their own, listed with ``GET /runs?parent=<id>``)."""
    end = progress.finished_at or datetime.now(UTC)
    return RunResult(
        run_id=run_id,
        flow=progress.name,
        status=progress.status,
        started_at=progress.started_at,
        finished_at=progress.finished_at,
        duration_ms=(end - progress.started_at).total_seconds() * 1000,
        tags=list(row.tags) if row else [],
        environment=row.environment if row else None,
    )


def unstarted_result(row: RunRow, status: str) -> dict[str, Any]:
    """The stored result of a child the suite never started (cancelled or stopped first)."""
    now = datetime.now(UTC)
    return RunResult.model_validate(
        {
            "run_id": row.run_id,
            "flow": row.flow_name,
            "status": status,
            "started_at": row.started_at,
            "finished_at": now,
            "tags": row.tags,
            "environment": row.environment,
        }
    ).model_dump(mode="json")


async def query_suite(state: AppState, run_id: str) -> SuiteProgress:
    from testflow.api.runstate import QUERY_TIMEOUT
    from testflow.workflows.suite import SuiteProgress

    answer: SuiteProgress = await state.client.get_workflow_handle(run_id).query(
        "progress", 0, result_type=SuiteProgress, rpc_timeout=QUERY_TIMEOUT
    )
    return answer


async def wait_until_started(state: AppState, run_id: str) -> RunRow | None:
    """A queued child's row once the suite started it (or ended without starting it)."""
    while True:
        async with state.db.session() as session:
            row = await session.get(RunRow, run_id)
        if row is None or row.status != "queued":
            return row
        await asyncio.sleep(ROW_POLL_S)


async def parent_events(state: AppState, row: RunRow, since: int) -> AsyncIterator[RunEvent]:
    """A running suite's stream: run_started now, run_finished when the index says it is over
    (the children have streams of their own)."""
    common = {"run_id": row.run_id, "flow": row.flow_name}
    if since < 1:
        yield RunEvent(seq=1, type="run_started", at=row.started_at, status="running", **common)
    current: RunRow | None = row
    while current is not None and current.status == "running":
        await asyncio.sleep(ROW_POLL_S)
        async with state.db.session() as session:
            current = await session.get(RunRow, row.run_id)
    if since < 2:
        status = current.status if current is not None else "error"
        at = (current.finished_at if current is not None else None) or datetime.now(UTC)
        yield RunEvent.model_validate(
            {"seq": 2, "type": "run_finished", "at": at, "status": status, **common}
        )
