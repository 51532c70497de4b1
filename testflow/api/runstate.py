"""Reading runs: the index row, Temporal's live state, events from either.

A finished run is answered from the index (its stored RunResult), so it stays readable without
a worker and after Temporal's retention. A running one is read with the workflow's
``progress`` query (a worker answers it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from testflow.api.db.models import RunRow
from testflow.api.deps import AppState
from testflow.api.errors import NotFound
from testflow.dsl.results import RunEvent, RunResult, StepRecord
from testflow.runtime.run_events import MAX_POLL_INTERVAL, missed_events, query_progress
from testflow.workflows.types import ProgressPage


async def run_row(session: AsyncSession, run_id: str) -> RunRow | None:
    return await session.get(RunRow, run_id)


POLL_INTERVAL = 0.2
QUERY_TIMEOUT = timedelta(seconds=5)
QUERIES_PER_SECOND = 20.0
"""Default of ``TESTFLOW_STREAM_QUERIES_PER_SECOND``: what all the live streams of one server
ask of Temporal together. A ``progress`` query costs
about what a start costs (~5 ms of CPU in the dev server, ~5 ms in the worker, 1-2 ms here):
100 streams each polled every 0.2-1 s made 6 queries per run and cost the worker and the dev
server more CPU than running the runs (bench/api.py). A feed is asked every
max(its own interval, open feeds / QUERIES_PER_SECOND): one stream still every 0.2 s, 100
streams every 5 s each; a run that ends before its first poll comes is streamed from what the
tracker read, with no poll at all."""
QUERIES_IN_FLIGHT = 4
"""Polls due together (feeds opened in one burst) go out a few at a time, not all at once."""


async def progress(state: AppState, run_id: str, since: int, *, attempts: int = 4) -> ProgressPage:
    """One ``progress`` query, bounded and retried (testflow.runtime.run_events)."""
    try:
        return await query_progress(
            state.client, run_id, since, rpc_timeout=QUERY_TIMEOUT, attempts=attempts
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"run {run_id!r} does not exist") from None
        raise


async def query_events(state: AppState, run_id: str, since: int = 0) -> tuple[list[RunEvent], str]:
    """All events after ``since`` (every page) and the run's status, from the workflow."""
    events: list[RunEvent] = []
    while True:
        page = await progress(state, run_id, since)
        events.extend(page.events)
        if not page.events or page.done:
            return events, page.status
        since = page.events[-1].seq


def result_from_events(
    run_id: str, events: list[RunEvent], status: str, row: RunRow | None
) -> RunResult:
    steps: dict[str, StepRecord] = {}
    started = finished = None
    flow = row.flow_name if row else ""
    for event in events:
        flow = event.flow or flow
        if event.type == "run_started":
            started = event.at
        elif event.type == "run_finished":
            finished = event.at
        elif event.step is not None and event.type == "step_finished":
            steps[event.step.key] = event.step
    started = started or (row.started_at if row else datetime.now(UTC))
    end = finished or datetime.now(UTC)
    return RunResult.model_validate(
        {
            "run_id": run_id,
            "flow": flow,
            "status": status,
            "started_at": started,
            "finished_at": finished,
            "duration_ms": (end - started).total_seconds() * 1000,
            "steps": list(steps.values()),
            "tags": row.tags if row else [],
            "environment": row.environment if row else None,
        }
    )


async def get_result(state: AppState, session: AsyncSession, run_id: str) -> RunResult:
    row = await run_row(session, run_id)
    if row is not None and row.result is not None:
        return RunResult.model_validate(row.result)
    if row is None and state.engine is None:
        raise NotFound(f"run {run_id!r} does not exist")
    events, status = await query_events(state, run_id)
    return result_from_events(run_id, events, status, row)


def events_of_result(result: RunResult) -> list[RunEvent]:
    """A finished run's event stream, rebuilt from its stored result."""
    common = {"run_id": result.run_id, "flow": result.flow}
    out = [RunEvent(seq=1, type="run_started", at=result.started_at, status="running", **common)]
    for step in result.steps:
        out.append(
            RunEvent(
                seq=len(out) + 1,
                type="step_finished",
                at=step.finished_at or result.started_at,
                step=step,
                **common,
            )
        )
    out.append(
        RunEvent(
            seq=len(out) + 1,
            type="run_finished",
            at=result.finished_at or result.started_at,
            status=result.status,
            **common,
        )
    )
    return out


async def stream_events(
    state: AppState, row: RunRow | None, run_id: str, since: int
) -> AsyncIterator[RunEvent]:
    """Events after ``since``: stored ones for a finished run, else live from the workflow."""
    if row is not None and row.result is not None:
        if row.events is not None:
            stored = [RunEvent.model_validate(e) for e in row.events]
        else:
            stored = events_of_result(RunResult.model_validate(row.result))
        for event in stored:
            if event.seq > since:
                yield event
        return
    if state.feeds is None:
        state.feeds = RunFeeds(
            lambda: state.client,
            state.metrics.progress_queries,
            budget=state.settings.stream_queries_per_second,
        )
    async for event in state.feeds.stream(run_id, since):
        yield event


class RunFeed:
    """What one running run has said so far (events after ``base``), for all its streams."""

    def __init__(self, run_id: str, base: int) -> None:
        self.run_id = run_id
        self.base = base
        self.events: list[RunEvent] = []
        self.done = False
        self.error: Exception | None = None
        self.readers = 0
        self.changed = asyncio.Condition()
        self.ended = asyncio.Event()
        self.final: tuple[list[RunEvent] | None, str, RunResult | None] | None = None
        self.task: asyncio.Task[None] | None = None

    @property
    def last(self) -> int:
        return self.events[-1].seq if self.events else self.base

    async def publish(
        self, events: list[RunEvent], *, done: bool = False, error: Exception | None = None
    ) -> None:
        async with self.changed:
            self.events.extend(e for e in events if e.seq > self.last)
            self.done = self.done or done or error is not None
            self.error = self.error or error
            self.changed.notify_all()


class RunFeeds:
    """One poller per running run, shared by its streams and cut short by the run tracker.

    Each stream used to poll its run by itself: a ``progress`` query every 0.2-1 s per stream,
    each answer decoded on the API's event loop (100 streams: a fifth of its time). Now one task
    polls a run while anyone watches it, starting one interval after the first reader came,
    and when the tracker sees the run end (it long-polls the result anyway) it hands over the
    events it read for the index: a quick run is streamed with no poll at all. All the feeds
    share one query budget (``budget`` queries a second, :data:`QUERIES_PER_SECOND`).
    """

    def __init__(
        self,
        client_of: Callable[[], Client],
        queries: Counter | None = None,
        *,
        budget: float = QUERIES_PER_SECOND,
    ) -> None:
        if budget <= 0:
            raise ValueError("the stream query budget must be above 0 queries a second")
        self.client_of = client_of
        self.budget = budget
        self.feeds: dict[str, RunFeed] = {}
        self.in_flight = asyncio.Semaphore(QUERIES_IN_FLIGHT)
        self.queries = queries  # counts the progress queries sent (/metrics)

    def interval(self, own: float) -> float:
        """The wait before a feed's next poll: its own interval, or longer when many feeds
        share the budget."""
        return max(own, len(self.feeds) / self.budget)

    async def stream(self, run_id: str, since: int) -> AsyncIterator[RunEvent]:
        feed = self.feeds.get(run_id)
        if feed is None:
            feed = self.feeds[run_id] = RunFeed(run_id, since)
            feed.task = asyncio.create_task(self._poll(feed), name=f"feed {run_id}")
        feed.readers += 1
        try:
            if since < feed.base:  # a reader resuming from before the first reader came
                async for event in self._range(run_id, since, feed.base):
                    since = event.seq
                    yield event
            async for event in self._read(feed, since):
                yield event
        finally:
            feed.readers -= 1
            if feed.readers == 0:
                if self.feeds.get(run_id) is feed:
                    del self.feeds[run_id]
                if feed.task is not None:
                    feed.task.cancel()

    def finished(
        self,
        run_id: str,
        events: list[RunEvent] | None,
        status: str,
        result: RunResult | None = None,
    ) -> None:
        """The tracker saw the run end: ``events`` are all of them (None: it could not read
        them, or did not for a long run), ``status`` its final status, ``result`` its result."""
        feed = self.feeds.get(run_id)
        if feed is not None:
            feed.final = (events, status, result)
            feed.ended.set()

    async def _read(self, feed: RunFeed, since: int) -> AsyncIterator[RunEvent]:
        index = 0
        while True:
            async with feed.changed:
                while index >= len(feed.events) and not feed.done:
                    await feed.changed.wait()
                batch, index = feed.events[index:], len(feed.events)
                done, error = feed.done, feed.error
            for event in batch:
                if event.seq > since:
                    since = event.seq
                    yield event
            if done and index >= len(feed.events):
                if error is not None:
                    raise error
                return

    async def _poll(self, feed: RunFeed) -> None:
        delay = POLL_INTERVAL
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(feed.ended.wait(), self.interval(delay))
                if feed.final is None:
                    async with self.in_flight:
                        if feed.final is None:  # the tracker may have ended it meanwhile
                            if self.queries is not None:
                                self.queries.inc()
                            # A stream outlives a busy moment of Temporal: keep asking.
                            page = await query_progress(
                                self.client_of(),
                                feed.run_id,
                                feed.last,
                                rpc_timeout=QUERY_TIMEOUT,
                                attempts=30,
                            )
                if feed.final is not None:
                    await self._finish(feed, *feed.final)
                    return
                await feed.publish(page.events, done=page.done)
                if page.done:
                    return
                delay = POLL_INTERVAL if page.events else min(delay * 1.5, MAX_POLL_INTERVAL)
        except Exception as exc:  # the streams end with it (as a stream's own poll did)
            await feed.publish([], error=exc)

    async def _finish(
        self, feed: RunFeed, events: list[RunEvent] | None, status: str, result: RunResult | None
    ) -> None:
        if events is None and result is not None:
            # Not read from the finished run (each page replays it): rebuilt from its result.
            seen = {e.step.key for e in feed.events if e.type == "step_finished" and e.step}
            events = missed_events(result, feed.last, seen)
        if events is None:  # the tracker's read failed: one more try, from where we are
            try:
                events = [e async for e in self._range(feed.run_id, feed.last, None)]
            except Exception:
                events = []
        await feed.publish(events)
        if not feed.events or feed.events[-1].type != "run_finished":
            # Terminated, or its events are gone: end the streams as the index has it.
            flow = feed.events[-1].flow if feed.events else ""
            end = RunEvent.model_validate(
                {
                    "seq": feed.last + 1,
                    "type": "run_finished",
                    "at": datetime.now(UTC),
                    "run_id": feed.run_id,
                    "flow": flow,
                    "status": status,
                }
            )
            await feed.publish([end])
        await feed.publish([], done=True)

    async def _range(self, run_id: str, since: int, until: int | None) -> AsyncIterator[RunEvent]:
        """Events after ``since`` up to ``until`` (None: all), page by page."""
        while True:
            page = await query_progress(
                self.client_of(), run_id, since, rpc_timeout=QUERY_TIMEOUT, attempts=30
            )
            for event in page.events:
                if until is not None and event.seq > until:
                    return
                since = event.seq
                yield event
            if not page.events or page.done:
                return
