"""Keeps the run index in step with Temporal: awaits each run's result and stores its summary.

Temporal is the source of truth for live runs; the index answers lists and filters quickly.
Every run started through the API is followed by a task that waits for its result; at start
the tracker picks up the runs the index still calls running (the server restarted meanwhile).
A suite run is followed by asking its SuiteWorkflow which children it started: each one turns
from ``queued`` to ``running`` in the index and is followed from then on as any run.

Several API replicas share one index, and a run is followed only by the replica that started
it: if that replica dies, a periodic sweep (``TESTFLOW_TRACKER_SWEEP_S``) in every replica asks
Temporal's visibility which of the runs the index calls open, and nobody here follows, have
ended, and follows those the same way as at start-up. Two replicas may then store the same
run; the summary is written only while the row is still open, so the first write wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from testflow.api.db.models import RunRow
from testflow.api.suiterun import child_counts, query_suite, suite_result, unstarted_result
from testflow.dsl.results import RunEvent, RunResult
from testflow.runtime.run_results import StoredStepsMissing, with_stored_steps

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from testflow.api.deps import AppState
    from testflow.workflows.suite import SuiteProgress

log = logging.getLogger("testflow.api.tracker")

OPEN = ("running", "queued")
"""Index statuses of a run that has not ended (``queued``: a suite's child not started yet)."""

SWEEP_PAGE = 100
"""Open index rows a sweep looks up in one visibility query, and the most runs it picks up at
the same time: a replica that died with thousands of runs is caught up a page at a time, not
with thousands of result reads at once."""

SUITE_POLL_S = (0.3, 2.0)
"""A suite's ``progress`` is asked at first this often, backing off to the second while no
child starts (a suite of long flows is asked every 2 s, not 3 times a second)."""

EVENTS_READ_UP_TO = 250
"""Steps of a finished run whose events the index reads from the workflow. Each ``progress``
page (500 events) of a finished run replays its whole history (a 3,000-step run: seconds per
page); a longer run's stored stream is rebuilt from its result (runstate.events_of_result).

The read costs ~12 ms of dev server and ~5 ms of worker CPU per run, but the result cannot
stand in for it below this size without changing what the stream shows: an action step's
``step_started`` event and its ``step_finished`` preview exist only in the workflow's event
log, and a record's times are the activity's clock, not the events' (``at``). A 3-step run
streams 8 events; rebuilt from its result, 5, numbered differently, so a client resuming with
``Last-Event-ID`` would land elsewhere."""


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
        self._sweeper: asyncio.Task[None] | None = None

    def track(self, run_id: str) -> None:
        if run_id in self.tasks:
            return
        task = asyncio.create_task(self._follow(run_id), name=f"track {run_id}")
        self.tasks[run_id] = task
        self.state.metrics.runs_active.inc()
        task.add_done_callback(lambda _t: self._done(run_id))

    def track_suite(self, run_id: str) -> None:
        if run_id in self.tasks:
            return
        task = asyncio.create_task(self._follow_suite(run_id), name=f"track suite {run_id}")
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

    async def _follow_suite(self, run_id: str) -> None:
        from testflow.workflows.suite import SuiteProgress

        handle = self.state.client.get_workflow_handle(run_id, result_type=SuiteProgress)
        ended = asyncio.ensure_future(handle.result())
        seen: set[str] = set()
        delay = SUITE_POLL_S[0]
        values: dict[str, Any]
        try:
            while not ended.done():
                await asyncio.wait([ended], timeout=delay)
                if ended.done():
                    break
                try:
                    before = len(seen)
                    await self._children_started(await query_suite(self.state, run_id), seen)
                    grew = len(seen) > before
                    delay = SUITE_POLL_S[0] if grew else min(delay * 1.5, SUITE_POLL_S[1])
                except RPCError as exc:  # a busy worker answers late: ask again
                    if exc.status == RPCStatusCode.NOT_FOUND:
                        break
                except WorkflowQueryFailedError as exc:  # the suite's result still comes
                    log.warning("suite run %s: progress query failed: %s", run_id, exc)
            final = await ended
            await self._children_started(final, seen)
            await self._never_started(run_id, "cancelled")
            # The suite run is over in the index only once each child is: a list never shows a
            # finished suite with a running child.
            following = [self.tasks[c] for c in seen if c in self.tasks]
            await asyncio.gather(*following, return_exceptions=True)
            values = {
                "status": final.status,
                "finished_at": final.finished_at or datetime.now(UTC),
                "duration_ms": suite_result(run_id, final, None).duration_ms,
                "counts": child_counts(final),
            }
            async with self.state.db.session() as session:
                row = await session.get(RunRow, run_id)
            values["result"] = suite_result(run_id, final, row).model_dump(mode="json")
        except (WorkflowFailureError, RPCError) as exc:
            if isinstance(exc, RPCError) and exc.status != RPCStatusCode.NOT_FOUND:
                raise
            log.warning("suite run %s ended without a result: %s", run_id, exc)
            await self._never_started(run_id, "error")
            values = {"status": "error", "finished_at": datetime.now(UTC)}
        finally:
            ended.cancel()
        await self.store(run_id, values)

    async def _children_started(self, progress: SuiteProgress, seen: set[str]) -> None:
        """Children the suite started since last time: running in the index, and followed."""
        new = [c.run_id for c in progress.children if c.started and c.run_id not in seen]
        if not new:
            return
        await self.state.db.write(
            lambda session: session.execute(
                update(RunRow)
                .where(RunRow.run_id.in_(new), RunRow.status == "queued")
                .values(status="running", started_at=datetime.now(UTC))
            )
        )
        for child in new:
            seen.add(child)
            self.track(child)

    async def _never_started(self, parent_id: str, status: str) -> None:
        """The children still queued when their suite ended: it never started them."""
        async with self.state.db.session() as session:
            rows = list(
                (
                    await session.execute(
                        select(RunRow).where(
                            RunRow.parent_run_id == parent_id, RunRow.status == "queued"
                        )
                    )
                ).scalars()
            )
        for row in rows:
            values = {
                "status": status,
                "finished_at": datetime.now(UTC),
                "result": unstarted_result(row, status),
            }
            await self.store(row.run_id, values)

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
        """The run's summary, written only while its row is open: a run another replica
        stored already (both followed it) keeps the first summary, and is counted once."""
        written: list[int] = []

        async def write(session: AsyncSession) -> None:
            done = await session.execute(
                update(RunRow)
                .where(RunRow.run_id == run_id, RunRow.status.in_(OPEN))
                .values(**values)
            )
            written.append(done.rowcount)  # type: ignore[attr-defined]

        await self.state.db.write(write)
        if written and written[-1]:
            self.state.metrics.runs_finished.labels(values["status"]).inc()

    def _pick_up(self, run_id: str, suite_id: str | None, parent_run_id: str | None) -> None:
        """Follow a run this process did not start, from its index row."""
        if suite_id is not None and parent_run_id is None:
            self.track_suite(run_id)
        else:
            self.track(run_id)

    async def resume(self) -> None:
        """Follow the runs the index still calls running (after a restart); a suite run's
        queued children are picked up by following the suite."""
        async with self.state.db.session() as session:
            rows = (
                await session.execute(
                    select(RunRow.run_id, RunRow.suite_id, RunRow.parent_run_id).where(
                        RunRow.status == "running"
                    )
                )
            ).all()
        for run_id, suite_id, parent_run_id in rows:
            self._pick_up(run_id, suite_id, parent_run_id)

    async def sweep(self) -> int:
        """Follow the open runs of the index that ended in Temporal while no process here
        followed them (the replica that started them died); returns how many it picked up.

        Visibility is asked, not each run's result: the runs another replica follows cost one
        query per page, not a long-poll each in every replica."""
        picked, after = 0, ""
        while True:
            async with self.state.db.session() as session:
                rows = (
                    await session.execute(
                        select(RunRow.run_id, RunRow.suite_id, RunRow.parent_run_id)
                        .where(RunRow.status.in_(OPEN), RunRow.run_id > after)
                        .order_by(RunRow.run_id)
                        .limit(SWEEP_PAGE)
                    )
                ).all()
            if not rows:
                return picked
            after = rows[-1].run_id
            unfollowed = {r.run_id: r for r in rows if r.run_id not in self.tasks}
            if not unfollowed:
                continue
            ended = await self._ended(list(unfollowed))
            for run_id in ended:
                self._pick_up(*unfollowed[run_id])
            # Ended runs answer at once; waiting for them keeps one page in flight at a time.
            following = [self.tasks[r] for r in ended if r in self.tasks]
            await asyncio.gather(*following, return_exceptions=True)
            picked += len(ended)

    async def _ended(self, run_ids: list[str]) -> set[str]:
        """The ones among ``run_ids`` whose workflow has ended (a run that continued as new
        goes on in its next execution, which is still running)."""
        ids = ", ".join(f'"{r}"' for r in run_ids)
        query = (
            f"WorkflowId IN ({ids}) "
            'AND ExecutionStatus != "Running" AND ExecutionStatus != "ContinuedAsNew"'
        )
        listed = self.state.client.list_workflows(query, page_size=SWEEP_PAGE)
        return {wf.id async for wf in listed if wf.id in run_ids}

    def start_sweep(self, every_s: float) -> None:
        """Sweep every ``every_s`` seconds until :meth:`close` (0: never)."""
        if every_s > 0 and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_every(every_s), name="tracker sweep")

    async def _sweep_every(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                picked = await self.sweep()
            except Exception as exc:  # Temporal or the database away: the next round retries
                log.warning("run tracker sweep failed: %s", exc)
                continue
            if picked:
                log.info("run tracker sweep picked up %d ended run(s)", picked)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(BaseException):
                await self._sweeper
            self._sweeper = None
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
