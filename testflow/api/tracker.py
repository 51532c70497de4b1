"""Keeps the run index in step with Temporal: awaits each run's result and stores its summary.

Temporal is the source of truth for live runs; the index answers lists and filters quickly.
Every run started through the API is followed by a task that waits for its result; at start
the tracker picks up the runs the index still calls running (the server restarted meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from testflow.api.db.models import RunRow
from testflow.dsl.results import RunEvent, RunResult
from testflow.runtime.run_results import StoredStepsMissing, with_stored_steps

if TYPE_CHECKING:
    from testflow.api.deps import AppState

log = logging.getLogger("testflow.api.tracker")

EVENTS_READ_UP_TO = 250
"""Steps of a finished run whose events the index reads from the workflow. Each ``progress``
page (500 events) of a finished run replays its whole history (a 3,000-step run: seconds per
page); a longer run's stored stream is rebuilt from its result (runstate.events_of_result)."""


def summary_values(result: RunResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "finished_at": result.finished_at or datetime.now(UTC),
        "duration_ms": result.duration_ms,
        "counts": result.counts,
        "result": result.model_dump(mode="json"),
    }


class RunTracker:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def track(self, run_id: str) -> None:
        if run_id in self.tasks:
            return
        task = asyncio.create_task(self._follow(run_id), name=f"track {run_id}")
        self.tasks[run_id] = task
        self.state.metrics.runs_active.inc()
        task.add_done_callback(lambda _t: self._done(run_id))

    def _done(self, run_id: str) -> None:
        self.tasks.pop(run_id, None)
        self.state.metrics.runs_active.dec()

    async def _follow(self, run_id: str) -> None:
        handle = self.state.client.get_workflow_handle(run_id, result_type=RunResult)
        values: dict[str, Any]
        events: list[RunEvent] | None = None
        result: RunResult | None = None
        try:
            result = await handle.result()
            try:  # the records a long run kept in the artifact store, back in the result
                result = await asyncio.to_thread(with_stored_steps, result)
            except StoredStepsMissing as exc:  # indexed as it came, its pages referenced
                log.warning("run %s: %s", run_id, exc)
            values = summary_values(result)
            if len(result.steps) <= EVENTS_READ_UP_TO:
                events = await self._events(run_id)
            values["events"] = (
                None if events is None else [e.model_dump(mode="json") for e in events]
            )
        except WorkflowFailureError as exc:
            # Terminated or failed outside the interpreter's own error handling.
            values = {"status": "error", "finished_at": datetime.now(UTC)}
            log.warning("run %s ended without a result: %s", run_id, exc.cause or exc)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            values = {"status": "error", "finished_at": datetime.now(UTC)}
            log.warning("run %s is not known to Temporal any more", run_id)
        await self.store(run_id, values)
        if self.state.feeds is not None:  # the run's live streams end with these events
            self.state.feeds.finished(run_id, events, values["status"], result)

    async def _events(self, run_id: str) -> list[RunEvent] | None:
        """The finished run's events, kept so SSE replays them with their ids after retention."""
        from testflow.api.runstate import query_events

        try:
            events, _status = await query_events(self.state, run_id)
        except Exception as exc:  # the stream falls back to events rebuilt from the result
            log.warning("could not read the events of run %s: %s", run_id, exc)
            return None
        return events

    async def store(self, run_id: str, values: dict[str, Any]) -> None:
        self.state.metrics.runs_finished.labels(values["status"]).inc()
        await self.state.db.write(
            lambda session: session.execute(
                update(RunRow).where(RunRow.run_id == run_id).values(**values)
            )
        )

    async def resume(self) -> None:
        """Follow the runs the index still calls running (after a restart)."""
        async with self.state.db.session() as session:
            ids = (
                await session.execute(select(RunRow.run_id).where(RunRow.status == "running"))
            ).scalars()
            for run_id in ids:
                self.track(run_id)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
