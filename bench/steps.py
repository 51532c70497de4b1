"""Per-step overhead of quick HTTP steps, against floors measured in the same run.

    python bench/steps.py [--steps 200] [--rounds 3]

Prints, per round, the per-step time of a testflow flow of N quick ``http`` steps, of
(a) a bare local-activity loop doing the same GET on the same dev server, and of (b) a raw
httpx loop; then the ratios against the best round of each. Target (issue 3): testflow within
1.2x of (a). Also measures a cold ``testflow run`` of a one-step flow (dev server included).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _floor import BareLoop, bare_get  # noqa: E402

from testflow.demo import start_demo_service  # noqa: E402
from testflow.dsl.models import Flow  # noqa: E402
from testflow.runtime.devserver import start_dev_server  # noqa: E402
from testflow.runtime.engine import Engine, data_converter  # noqa: E402
from testflow.runtime.settings import Settings  # noqa: E402
from testflow.runtime.worker import workflow_runner  # noqa: E402


def http_flow(url: str, n: int) -> Flow:
    steps = [
        {"id": f"get{i}", "type": "http", "request": {"url": url}, "assert": {"status": 200}}
        for i in range(n)
    ]
    return Flow.model_validate({"name": "bench steps", "steps": steps})


async def raw_httpx(url: str, n: int) -> float:
    async with httpx.AsyncClient() as client:
        t0 = time.perf_counter()
        for _ in range(n):
            (await client.get(url)).raise_for_status()
        return (time.perf_counter() - t0) / n * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tf-bench-"))
    settings = Settings(home=home, artifacts_dir=home / "artifacts", task_queue="bench")
    base, stop = start_demo_service(0)
    url = f"{base}/health"
    env = await start_dev_server(data_converter=data_converter(settings))
    results: dict[str, list[float]] = {"testflow": [], "bare local activity": [], "raw httpx": []}
    try:
        async with Worker(
            env.client, task_queue="bench-floor", workflows=[BareLoop], activities=[bare_get],
            workflow_runner=workflow_runner(),
        ), Engine(settings, client=env.client) as engine:
            flow = http_flow(url, args.steps)
            for round_ in range(args.rounds):
                t0 = time.perf_counter()
                handle = await engine.start(flow, environ={})
                result = await handle.result()
                assert result.status == "passed", result.status
                results["testflow"].append((time.perf_counter() - t0) / args.steps * 1000)
                t0 = time.perf_counter()
                await env.client.execute_workflow(
                    BareLoop.run, (url, args.steps), id=f"bare-{uuid.uuid4()}", task_queue="bench-floor"
                )
                results["bare local activity"].append((time.perf_counter() - t0) / args.steps * 1000)
                results["raw httpx"].append(await raw_httpx(url, args.steps))
                print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f} ms/step" for k, v in results.items()))
    finally:
        await env.shutdown()
        stop()
    best = {k: min(v) for k, v in results.items()}
    print(f"\nbest of {args.rounds} rounds, {args.steps} quick HTTP steps:")
    for name, value in best.items():
        print(f"  {name:22s} {value:7.2f} ms/step  (median {statistics.median(results[name]):.2f})")
    print(f"  ratio testflow / bare local activity: {best['testflow'] / best['bare local activity']:.2f}x (target <= 1.2x)")
    print(f"  ratio testflow / raw httpx:           {best['testflow'] / best['raw httpx']:.2f}x")
    with tempfile.TemporaryDirectory() as tmp:
        flow_file = Path(tmp) / "one.yaml"
        flow_file.write_text("name: one\nsteps:\n  - id: hello\n    type: log\n    message: hi\n")
        colds = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "testflow", "run", str(flow_file), "--report-dir", str(Path(tmp) / "r")],
                check=True, capture_output=True,
            )
            colds.append(time.perf_counter() - t0)
        print(f"  cold `testflow run` of a one-step flow: best {min(colds):.2f} s, median {statistics.median(colds):.2f} s (target < 1.5 s)")


if __name__ == "__main__":
    asyncio.run(main())
