"""Indexes the firings of every schedule in the background, found through Temporal visibility.

A schedule's description keeps only its last ~10 actions, and the readers of a schedule
(routers/schedules.sync_runs) see only those: a schedule nobody reads would have its runs
missing from ``GET /runs`` and unfollowed. Every ``TESTFLOW_SCHEDULE_SYNC_S`` seconds this
task lists, per schedule, the workflows Temporal started for it (the ``TemporalScheduledById``
search attribute Temporal sets on them) and indexes the new ones through the same
``index_firings`` as the readers. Several API replicas may do it at once: the loser of an
insert rolls back and leaves the firing to the winner, who follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from temporalio.service import RPCError, RPCStatusCode

from testflow.api.db.models import RunRow, ScheduleRow
from testflow.api.routers.schedules import (
    index_firings,
    recorded_starts,
    temporal_id,
    unindexed,
)

if TYPE_CHECKING:
    from testflow.api.deps import AppState

log = logging.getLogger("testflow.api.schedules")

LOOKBACK = timedelta(seconds=60)
"""Firings listed again before the newest indexed one: visibility (Elasticsearch on a real
cluster) may show a firing a moment after a later one, which must not hide it for good."""

CHUNK = 500
"""Firings indexed per transaction (and per visibility page): a schedule the index never
followed (the API was down for days, or older than this task) catches up in chunks."""


async def visible_firings(
    state: AppState, schedule_id: str, since: datetime | None
) -> dict[str, datetime | None]:
    """The workflows Temporal started for the schedule (not their children), started after
    ``since`` when given: workflow id -> start time."""
    query = f'TemporalScheduledById = "{temporal_id(schedule_id)}"'
    if since is not None:
        query += f' AND StartTime >= "{since.isoformat()}"'
    firings: dict[str, datetime | None] = {}
    async for wf in state.client.list_workflows(query, page_size=CHUNK):
        if wf.parent_id is None:
            firings[wf.id] = wf.start_time
    return firings


async def action_starts(state: AppState, schedule_id: str) -> dict[str, datetime]:
    """The start the schedule recorded for each of its recent actions (workflow id -> time): a
    reader indexes a firing with it (sync_runs), so a firing's start does not depend on who
    indexed it (the workflow's own start time, from visibility, is a few ms earlier)."""
    try:
        desc = await state.client.get_schedule_handle(temporal_id(schedule_id)).describe()
    except RPCError as exc:  # deleted in Temporal: its firings keep their workflow start time
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return {}
    return recorded_starts(desc)


async def newest_firings(state: AppState) -> dict[str, datetime]:
    """The start of each schedule's newest indexed firing, in one query for all."""
    query = (
        select(RunRow.schedule_id, func.max(RunRow.started_at))
        .where(RunRow.schedule_id.is_not(None), RunRow.parent_run_id.is_(None))
        .group_by(RunRow.schedule_id)
    )
    async with state.db.session() as session:
        rows = (await session.execute(query)).all()
    # SQLite keeps no offset (an aggregate's value comes back naive there).
    return {sid: at if at.tzinfo else at.replace(tzinfo=UTC) for sid, at in rows if sid and at}


async def sync_schedule(state: AppState, schedule_id: str, newest: datetime | None) -> list[str]:
    """Index the schedule's firings since ``newest`` (its newest indexed one, if any) less
    ``LOOKBACK``; returns those added.

    The lower bound keeps a schedule's past firings, however many, out of each sync: a round
    with nothing new costs one visibility query per schedule, and a database query only for
    the schedules that fired in the last ``LOOKBACK``. A backlog is indexed oldest first, so
    a sync stopped half-way (Temporal or the database away) leaves the bound below the
    firings it did not reach and the next sync takes them."""
    since = newest - LOOKBACK if newest is not None else None
    listed = await visible_firings(state, schedule_id, since)
    if not listed:
        return []
    oldest_first = sorted(listed, key=lambda i: listed[i] or datetime.max.replace(tzinfo=UTC))
    added: list[str] = []
    recorded: dict[str, datetime] | None = None
    async with state.db.session() as session:
        for start in range(0, len(oldest_first), CHUNK):
            new = await unindexed(session, oldest_first[start : start + CHUNK])
            if not new:
                continue
            row = await session.get(ScheduleRow, schedule_id)
            if row is None:  # deleted since the round began
                return added
            if recorded is None:  # asked once there is something to index
                recorded = await action_starts(state, schedule_id)
            firings = {i: recorded.get(i, listed[i]) for i in new}
            added += await index_firings(state, session, row, firings)
    return added


class ScheduleSync:
    """The background task: started and closed with the app (app.py lifespan)."""

    def __init__(self, state: AppState, every_s: float) -> None:
        self.state = state
        self.every_s = every_s
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="schedule sync")

    async def _loop(self) -> None:
        while True:
            await self.sync_all()
            await asyncio.sleep(self.every_s)

    async def sync_all(self) -> int:
        """One round over every schedule; returns the firings added. Errors (Temporal or the
        database away for a while, a schedule deleted meanwhile) are logged once per round
        and the next round tries again."""
        failed: list[tuple[str, Exception]] = []
        added = 0
        try:
            async with self.state.db.session() as session:
                ids = list((await session.execute(select(ScheduleRow.id))).scalars())
            newest = await newest_firings(self.state)
        except Exception as exc:
            log.warning("schedule sync: could not read the schedules: %s", exc)
            return 0
        for schedule_id in ids:
            try:
                added += len(await sync_schedule(self.state, schedule_id, newest.get(schedule_id)))
            except Exception as exc:
                failed.append((schedule_id, exc))
        if failed:
            first_id, first_error = failed[0]
            log.warning(
                "schedule sync: firings of %d schedule(s) not indexed this round "
                "(schedule %s: %s); trying again in %gs",
                len(failed),
                first_id,
                first_error,
                self.every_s,
            )
        return added

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
