"""Reading a run's live events: the ``progress`` query, bounded and retried, and its polling.

The CLI's progress, ``testflow runs attach`` and the API's event stream all read runs this way.
A query that reaches a workflow in the instant it completes, or while its worker is busy with a
long workflow task, can time out (seen with SDK 1.35); a short deadline and a retry turn that
into a hiccup instead of a hung stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from testflow.dsl.results import RunEvent, RunResult
from testflow.workflows.types import ProgressPage

PROGRESS_QUERY = "progress"
MAX_POLL_INTERVAL = 1.0
TRANSIENT = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED, RPCStatusCode.UNAVAILABLE)


def is_transient(exc: RPCError) -> bool:
    return exc.status in TRANSIENT or "Timeout expired" in exc.message


async def query_progress(
    client: Client,
    run_id: str,
    since: int,
    *,
    rpc_timeout: timedelta = timedelta(seconds=5),
    attempts: int = 4,
) -> ProgressPage:
    """One page of events after ``since``; NOT_FOUND and non-transient errors are raised."""
    handle = client.get_workflow_handle(run_id)
    for attempt in range(attempts):
        try:
            page: ProgressPage = await handle.query(
                PROGRESS_QUERY, since, result_type=ProgressPage, rpc_timeout=rpc_timeout
            )
            return page
        except RPCError as exc:
            if not is_transient(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def iter_events(
    client: Client,
    run_id: str,
    *,
    since: int = 0,
    poll_interval: float = 0.3,
    attempts: int = 4,
    wake: asyncio.Future[Any] | None = None,
) -> AsyncIterator[RunEvent]:
    """The run's events as they happen, until the run is over.

    Polling backs off while nothing happens (a run waiting an hour for a webhook is asked about
    once a second, not five times) and is prompt again as soon as events flow. ``wake`` (the
    run's result, say) cuts the next wait short when it completes; when it gives the
    :class:`RunResult`, what was not read by then comes from it (:func:`missed_events`).
    """
    delay = poll_interval
    seen: set[str] = set()
    while True:
        query = asyncio.ensure_future(query_progress(client, run_id, since, attempts=attempts))
        if wake is not None:
            # The run may end while the query waits for the worker (a long workflow task):
            # answering it then means replaying the whole history, so stop waiting for it.
            try:
                await asyncio.wait([query, wake], return_when=asyncio.FIRST_COMPLETED)
            except BaseException:  # the follower was cancelled: so is its query
                query.cancel()
                raise
        result = _result_of(wake)
        if result is not None and (not query.done() or query.exception() is not None):
            query.cancel()
            for event in missed_events(result, since, seen):
                yield event
            return
        page = await query
        for event in page.events:
            since = event.seq
            if event.type == "step_finished" and event.step is not None:
                seen.add(event.step.key)
            yield event
        if page.done:
            return
        if result is not None:
            for event in missed_events(result, since, seen):
                yield event
            return
        if page.events:
            delay = poll_interval
        else:
            if wake is not None and not wake.done():
                await asyncio.wait([wake], timeout=delay)
            else:
                await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_INTERVAL)


def _result_of(wake: asyncio.Future[Any] | None) -> RunResult | None:
    if wake is None or not wake.done() or wake.cancelled() or wake.exception() is not None:
        return None
    value = wake.result()
    return value if isinstance(value, RunResult) else None


def missed_events(result: RunResult, since: int, seen: Collection[str]) -> list[RunEvent]:
    """What a follower had not read when the run ended, rebuilt from the run's result.

    A finished workflow is out of the worker's cache: each ``progress`` query replays its whole
    history: the pages a follower still had to read of a 3,000-step run took 227 s
    (bench/long_flow.py, before this). Instead: a ``step_finished`` event per record whose key was not
    seen (in run order; records an earlier continue-as-new took with it included), then
    ``run_finished``, numbered after ``since``. No ``step_started`` events and no previews
    for those: they were for watching a step run.
    """
    common = {"run_id": result.run_id, "flow": result.flow}
    out: list[RunEvent] = []
    if since == 0:  # nothing was read: the run ended before the first answer
        out.append(
            RunEvent(seq=1, type="run_started", at=result.started_at, status="running", **common)
        )
    for record in result.steps:
        if record.key in seen:
            continue
        at = record.finished_at or result.finished_at or result.started_at
        out.append(
            RunEvent(seq=since + len(out) + 1, type="step_finished", at=at, step=record, **common)
        )
    end = result.finished_at or result.started_at
    out.append(
        RunEvent(
            seq=since + len(out) + 1, type="run_finished", at=end, status=result.status, **common
        )
    )
    return out
