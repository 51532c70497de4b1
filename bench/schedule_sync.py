"""Bench: one round of the API's schedule sync (testflow/api/schedule_sync.py) over N schedules.

Each schedule has F firings in Temporal (backfilled; no worker runs them). Timed, in the same
invocation on one dev server and a SQLite index:

- floor: the bare visibility queries a round needs (one ``list_workflows`` per schedule), no
  database;
- cold: the first round, which indexes every firing;
- steady: a round with nothing new (what every ``TESTFLOW_SCHEDULE_SYNC_S`` costs).

Printed: milliseconds each and the steady round over the floor. Timings are noisy on a shared
machine: give the load average with them.

Run: ``python bench/schedule_sync.py [--schedules 50] [--firings 3] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
    ScheduleState,
)

from testflow.api.app import create_app
from testflow.api.db.models import ScheduleRow
from testflow.api.db.session import Database
from testflow.api.deps import AppState
from testflow.api.schedule_sync import ScheduleSync
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings


async def make_schedules(state: AppState, count: int, firings: int) -> list[str]:
    ids = [f"bench{i:04d}" for i in range(count)]
    now = datetime.now(UTC)
    for sid in ids:
        handle = await state.client.create_schedule(
            f"testflow-schedule-{sid}",
            Schedule(
                action=ScheduleActionStartWorkflow(
                    "Nothing", id=f"run-sched-{sid}", task_queue="none"
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))]),
                state=ScheduleState(paused=True),
            ),
        )
        await handle.backfill(
            ScheduleBackfill(
                start_at=now - timedelta(minutes=firings, seconds=30),
                end_at=now,
                overlap=ScheduleOverlapPolicy.ALLOW_ALL,
            )
        )
    async with state.db.session() as session:
        session.add_all(ScheduleRow(id=sid, name=f"bench {sid}") for sid in ids)
        await session.commit()
    want = count * firings
    while True:  # visibility lists backfills a moment after they are asked
        seen = [w async for w in state.client.list_workflows('TemporalScheduledById > ""')]
        if len(seen) >= want:
            return ids
        await asyncio.sleep(0.5)


async def floor(state: AppState, ids: list[str]) -> float:
    since = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
    began = time.perf_counter()
    for sid in ids:
        query = f'TemporalScheduledById = "testflow-schedule-{sid}" AND StartTime >= "{since}"'
        _ = [w async for w in state.client.list_workflows(query)]
    return time.perf_counter() - began


async def main(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="tf-bench-sync-"))
    settings = Settings(home=home, schedule_sync_s=0)  # rounds run here, not in the app
    env = await start_dev_server(data_converter=data_converter(settings))
    db = Database(settings.database)
    try:
        async with Engine(settings, client=env.client, with_worker=False) as engine:
            app = create_app(settings, engine=engine, database=db)
            async with app.router.lifespan_context(app):
                state: AppState = app.state.tf
                ids = await make_schedules(state, args.schedules, args.firings)
                sync = ScheduleSync(state, 1.0)
                began = time.perf_counter()
                added = await sync.sync_all()
                cold = time.perf_counter() - began
                assert added >= args.schedules * args.firings, added
                floors, steadies = [], []
                for _ in range(args.rounds):
                    floors.append(await floor(state, ids))
                    began = time.perf_counter()
                    assert await sync.sync_all() == 0
                    steadies.append(time.perf_counter() - began)
                if state.tracker is not None:
                    await state.tracker.close()  # the firings never run: no worker
    finally:
        await db.dispose()
        await env.shutdown()
    best_floor, best_steady = min(floors), min(steadies)
    print(f"schedules={args.schedules} firings each={args.firings} load={os.getloadavg()[0]:.2f}")
    print(f"floor  (bare visibility queries): {best_floor * 1000:8.1f} ms")
    print(f"cold   (indexes {added} firings): {cold * 1000:8.1f} ms")
    print(f"steady (nothing new):            {best_steady * 1000:8.1f} ms")
    print(f"steady / floor: {best_steady / best_floor:.2f}")
    print(f"steady per schedule: {best_steady / args.schedules * 1000:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schedules", type=int, default=50)
    parser.add_argument("--firings", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
