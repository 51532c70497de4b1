"""Bench: N small flows at concurrency C as one SuiteWorkflow vs a client-side semaphore.

The floor is what ``testflow run`` did before suites: the client starts each flow's
FlowWorkflow when one of C slots frees and waits for its result. The suite does the same in a
parent workflow (durable: the bound survives the client), at the cost of a parent workflow task
per child start and end. Both run on one dev server with an in-process worker, in the same
invocation; printed: seconds each, flows/s, and the suite's time over the floor's.

Run: ``python bench/suite.py [--flows 60] [--concurrency 8] [--steps 3] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from testflow.dsl.models import Flow
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings
from testflow.workflows.suite import SuiteChild, SuiteInput


def bench_flow(i: int, steps: int) -> Flow:
    body = [{"id": f"s{k}", "type": "transform", "set": {f"v{k}": k}} for k in range(steps)]
    return Flow.model_validate({"name": f"suite bench {i}", "steps": body})


async def floor(engine: Engine, flows: int, concurrency: int, steps: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with slots:
            handle = await engine.start(bench_flow(i, steps), environ={})
            return (await handle.result()).status

    started = time.perf_counter()
    statuses = await asyncio.gather(*(one(i) for i in range(flows)))
    elapsed = time.perf_counter() - started
    assert set(statuses) == {"passed"}, statuses
    return elapsed


async def suite(engine: Engine, flows: int, concurrency: int, steps: int) -> float:
    started = time.perf_counter()
    children = []
    for i in range(flows):
        prepared = engine.prepare(bench_flow(i, steps), environ={})
        children.append(SuiteChild(run_id=prepared.run_id, input=prepared))
    spec = SuiteInput(name="bench", children=children, concurrency=concurrency)
    result = await (await engine.start_suite(spec)).result()
    elapsed = time.perf_counter() - started
    assert result.status == "passed", result.status
    return elapsed


async def main(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp())
    settings = Settings(home=home, artifacts_dir=home / "a", task_queue=f"bench-{uuid.uuid4().hex[:6]}")
    env = await start_dev_server(data_converter=data_converter(settings))
    try:
        async with Engine(settings, client=env.client) as engine:
            await floor(engine, 4, 4, 1)  # warm-up: the worker loads the interpreter once
            await suite(engine, 4, 4, 1)
            for round_ in range(args.rounds):
                base = await floor(engine, args.flows, args.concurrency, args.steps)
                mine = await suite(engine, args.flows, args.concurrency, args.steps)
                print(
                    f"round {round_ + 1}: {args.flows} flows, concurrency {args.concurrency}: "
                    f"semaphore (floor) {base:.2f} s ({args.flows / base:.1f} flows/s), "
                    f"suite {mine:.2f} s ({args.flows / mine:.1f} flows/s), "
                    f"ratio {mine / base:.2f}"
                )
    finally:
        await env.shutdown()
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
