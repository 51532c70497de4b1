"""Per-step cost of a long flow: 10,000 quick steps against a 1,000-step floor in the same run
(issue 3 of testflow).

    python bench/long_flow.py [--steps 10000] [--floor-steps 1000] [--rounds 1]

Each run is a flow of N ``transform`` steps (no I/O: what is left is testflow and Temporal),
on the embedded dev server with its default continue-as-new threshold and an in-process
worker, followed as ``testflow run`` follows it (Engine.follow: progress events, then the
result). Per run:

* wall and CPU (this process: worker, client, SDK threads) per step, start to result in hand;
* the run's own per-step time in its first and last tenth (step timestamps): a per-step cost
  that grows with the finished steps shows as last/first well above 1;
* follow tail: from the run's end to the follower's end (reading what it had not read yet);
* runs (continue-as-new), largest payload Temporal holds (continue-as-new input, result).

Ratios N / floor per step near 1 mean the cost is linear in the step count. Numbers only:
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from testflow.dsl.models import Flow
from testflow.dsl.results import RunEvent, RunResult
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings


@dataclass
class Measured:
    steps: int
    wall_ms: float
    cpu_ms: float
    first_ms: float
    last_ms: float
    tail_s: float
    runs: int
    largest: int
    events: int


def long_flow(n: int) -> Flow:
    steps = [{"id": f"s{i}", "type": "transform", "set": {"i": i}} for i in range(n)]
    return Flow.model_validate({"name": f"bench long {n}", "steps": steps})


def decile_ms(result: RunResult, last: bool) -> float:
    """The run's own time per step over its first (or last) tenth of steps."""
    stamps = [s.finished_at for s in result.steps if s.finished_at is not None]
    tenth = max(1, len(stamps) // 10)
    window = stamps[-tenth - 1 :] if last else stamps[: tenth + 1]
    return (window[-1] - window[0]).total_seconds() * 1000 / max(1, len(window) - 1)


async def payloads(client: Client, run_id: str) -> tuple[int, int]:
    """(runs of the workflow id, largest continue-as-new input or result in bytes)."""
    runs, largest = 0, 0
    async for run in client.list_workflows(f"WorkflowId = '{run_id}'"):
        runs += 1
        history = await client.get_workflow_handle(run_id, run_id=run.run_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                items = event.workflow_execution_continued_as_new_event_attributes.input.payloads
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                items = event.workflow_execution_completed_event_attributes.result.payloads
            else:
                continue
            largest = max(largest, sum(p.ByteSize() for p in items))
    return runs, largest


async def measure(engine: Engine, client: Client, n: int) -> Measured:
    events: list[RunEvent] = []
    ended_at: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time()
    handle = await engine.start(long_flow(n), environ={})
    watch = asyncio.ensure_future(handle.result())
    watch.add_done_callback(lambda _f: ended_at.append(time.perf_counter()))
    result = await engine.follow(handle.id, events.append)
    done = time.perf_counter()
    wall, cpu = done - wall, time.process_time() - cpu
    await watch
    if result.status != "passed" or len(result.steps) != n:
        raise SystemExit(f"{n} steps: {result.status}, {len(result.steps)} steps in the result")
    runs, largest = await payloads(client, handle.id)
    return Measured(
        steps=n,
        wall_ms=wall * 1000 / n,
        cpu_ms=cpu * 1000 / n,
        first_ms=decile_ms(result, last=False),
        last_ms=decile_ms(result, last=True),
        tail_s=max(0.0, done - ended_at[0]),
        runs=runs,
        largest=largest,
        events=len(events),
    )


def show(m: Measured) -> str:
    return (
        f"{m.steps:>7} steps  {m.wall_ms:6.2f} ms/step wall  {m.cpu_ms:6.2f} ms/step CPU  "
        f"first/last tenth {m.first_ms:5.2f}/{m.last_ms:5.2f} ms  follow tail {m.tail_s:5.2f} s  "
        f"{m.runs} run(s), largest payload {m.largest / 1024:7.1f} KiB, {m.events} events"
    )


async def main(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-long-"))
    settings = Settings(home=home, artifacts_dir=home / "artifacts", task_queue="bench-long")
    env = await start_dev_server(data_converter=data_converter(settings))
    floors: list[Measured] = []
    bigs: list[Measured] = []
    try:
        async with Engine(settings, client=env.client) as engine:
            await measure(engine, env.client, 50)  # warm-up: imports, sandbox, first tasks
            for _ in range(args.rounds):
                for n, into in ((args.floor_steps, floors), (args.steps, bigs)):
                    into.append(await measure(engine, env.client, n))
                    print(show(into[-1]), flush=True)
    finally:
        await env.shutdown()

    def med(items: list[Measured], name: str) -> float:
        return statistics.median(getattr(m, name) for m in items)

    print(
        f"\nper step, {args.steps} vs {args.floor_steps} steps (medians of {args.rounds}): "
        f"wall {med(bigs, 'wall_ms') / med(floors, 'wall_ms'):.2f}x, "
        f"CPU {med(bigs, 'cpu_ms') / med(floors, 'cpu_ms'):.2f}x; "
        f"last/first tenth of the {args.steps}-step run "
        f"{med(bigs, 'last_ms') / med(bigs, 'first_ms'):.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--floor-steps", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
