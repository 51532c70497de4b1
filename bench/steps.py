"""Per-step overhead of quick HTTP steps and the cold start of `testflow run`, against floors
measured in the same run (issue 3).

    python bench/steps.py [--steps 200] [--rounds 5] [--cold-runs 7]

1. A flow of N quick ``http`` steps (GET of the demo service's /health, ``status: 200``) on an
   in-process worker and the embedded dev server, against (a) a bare local-activity loop doing
   the same GET on the same dev server and (b) a raw httpx loop. Rounds alternate the order of
   testflow and (a). Wall time per step, and CPU time per step of this process (worker,
   client and SDK threads; the demo service runs in its own process), which a busy machine
   disturbs less. Target: testflow within 1.2x of (a).
2. ``testflow run`` of a one-step flow (the same GET), a fresh process each time, dev server
   included: best and median of several runs, next to the dev server's own start (spawn to
   connected client) in this process. Target: under 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _floor import BareLoop, bare_get

from testflow.dsl.models import Flow
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings
from testflow.runtime.worker import workflow_runner

TESTFLOW, BARE, HTTPX = "testflow", "bare local activity", "raw httpx"


def http_flow(url: str, n: int) -> Flow:
    steps = [
        {"id": f"get{i}", "type": "http", "request": {"url": url}, "assert": {"status": 200}}
        for i in range(n)
    ]
    return Flow.model_validate({"name": "bench steps", "steps": steps})


def start_demo_process(home: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """The demo partner service in its own process, as a partner is (no GIL shared with us)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "testflow.demo", "--port", str(port), "--db", str(home / "demo.db")],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/health"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url).raise_for_status()
            return url, proc
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the demo service did not start") from None
            time.sleep(0.05)


async def per_step(n: int, run: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(wall ms, CPU ms) per step of one loop of n steps."""
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000


async def raw_httpx(url: str, n: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(n):
            (await client.get(url)).raise_for_status()


def cold_runs(url: str, runs: int, home: Path) -> list[float]:
    flow_file = home / "one.yaml"
    flow_file.write_text(
        f"name: one\nsteps:\n  - id: get\n    type: http\n    request: {{url: '{url}'}}\n"
        "    assert: {status: 200}\n"
    )
    env = {**os.environ, "TESTFLOW_HOME": str(home / "cli-home")}
    env.pop("TESTFLOW_TEMPORAL_ADDRESS", None)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "testflow",
                "run",
                str(flow_file),
                "--report-dir",
                str(home / "r"),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        times.append(time.perf_counter() - t0)
    return times


def summary(values: list[float]) -> str:
    return f"best {min(values):6.2f}  median {statistics.median(values):6.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=7)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tf-bench-steps-"))
    url, demo = start_demo_process(home)
    settings = Settings(home=home, artifacts_dir=home / "artifacts", task_queue="bench")
    wall: dict[str, list[float]] = {TESTFLOW: [], BARE: [], HTTPX: []}
    cpu: dict[str, list[float]] = {TESTFLOW: [], BARE: [], HTTPX: []}
    try:
        t0 = time.perf_counter()
        env = await start_dev_server(data_converter=data_converter(settings))
        server_start = time.perf_counter() - t0
        try:
            async with (
                Worker(
                    env.client,
                    task_queue="bench-floor",
                    workflows=[BareLoop],
                    activities=[bare_get],
                    workflow_runner=workflow_runner(),
                ),
                Engine(settings, client=env.client) as engine,
            ):
                flow = http_flow(url, args.steps)

                async def testflow_loop(flow: Flow = flow) -> None:
                    result = await (await engine.start(flow, environ={})).result()
                    assert result.status == "passed", result.status

                async def bare_loop(n: int = args.steps) -> None:
                    await env.client.execute_workflow(
                        BareLoop.run, (url, n), id=f"bare-{uuid.uuid4()}", task_queue="bench-floor"
                    )

                loops = {TESTFLOW: testflow_loop, BARE: bare_loop}
                # Warm-up (not counted): imports, sandboxes, connections.
                warm = http_flow(url, 20)
                await (await engine.start(warm, environ={})).result()
                await env.client.execute_workflow(
                    BareLoop.run, (url, 20), id=f"bare-{uuid.uuid4()}", task_queue="bench-floor"
                )
                for round_ in range(args.rounds):
                    order = [TESTFLOW, BARE] if round_ % 2 == 0 else [BARE, TESTFLOW]
                    for name in order:
                        w, c = await per_step(args.steps, loops[name])
                        wall[name].append(w)
                        cpu[name].append(c)
                    w, c = await per_step(args.steps, lambda: raw_httpx(url, args.steps))
                    wall[HTTPX].append(w)
                    cpu[HTTPX].append(c)
                    print(
                        f"round {round_ + 1}: "
                        + ", ".join(
                            f"{k} {wall[k][-1]:.2f} ms ({cpu[k][-1]:.2f} CPU)" for k in wall
                        ),
                        flush=True,
                    )
        finally:
            await env.shutdown()
        colds = cold_runs(url, args.cold_runs, home)
    finally:
        demo.terminate()
        demo.wait()
    print(f"\n{args.steps} quick HTTP steps, {args.rounds} rounds, ms per step:")
    for name in wall:
        print(f"  {name:20s} wall {summary(wall[name])}   CPU {summary(cpu[name])}")
    ratio = min(wall[TESTFLOW]) / min(wall[BARE])
    ratio_median = statistics.median(wall[TESTFLOW]) / statistics.median(wall[BARE])
    ratio_cpu = min(cpu[TESTFLOW]) / min(cpu[BARE])
    print(
        f"  testflow / bare local activity: {ratio:.2f}x (best), {ratio_median:.2f}x (median), "
        f"{ratio_cpu:.2f}x (CPU)  target <= 1.2x"
    )
    print(f"  testflow / raw httpx:           {min(wall[TESTFLOW]) / min(wall[HTTPX]):.2f}x (best)")
    print(f"\ncold `testflow run` of a one-step HTTP flow, {args.cold_runs} runs, s:")
    print(f"  {summary(colds)}  target < 1.5 s")
    print(f"  (the dev server alone, spawn to connected client: {server_start:.2f} s)")


if __name__ == "__main__":
    asyncio.run(main())
