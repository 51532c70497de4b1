"""Reading a run's live events: the ``progress`` query, bounded and retried, and its polling.

The CLI's progress, ``testflow runs attach`` and the API's event stream all read runs this way.
A query that reaches a workflow in the instant it completes, or while its worker is busy with a
long workflow task, can time out (seen with SDK 1.35); a short deadline and a retry turn that
into a hiccup instead of a hung stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from testflow.dsl.results import RunEvent
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
    run's result, say) cuts the next wait short when it completes.
    """
    delay = poll_interval
    while True:
        page = await query_progress(client, run_id, since, attempts=attempts)
        for event in page.events:
            since = event.seq
            yield event
        if page.done:
            return
        if page.events:
            delay = poll_interval
        else:
            if wake is not None and not wake.done():
                await asyncio.wait([wake], timeout=delay)
            else:
                await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_INTERVAL)
