"""API load: start N runs concurrently through the HTTP API and read all their event streams.

Everything is real: `create_app` on uvicorn, SQLite index, the embedded Temporal dev server and
an in-process worker (what `testflow serve` runs). Prints p50/p95 of the POST /runs latency,
the floor (the same number of `engine.start` calls with no HTTP/DB in between), the ratio,
and how many runs' streams ended with run_finished (none may be lost).

    python bench/api.py [--runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testflow.api.app import create_app  # noqa: E402
from testflow.dsl.loader import parse_flow  # noqa: E402
from testflow.runtime.engine import Engine  # noqa: E402
from testflow.runtime.settings import Settings  # noqa: E402
from tests.api.conftest import serve  # noqa: E402

FLOW = """\
name: bench api
tags: [bench]
steps:
  - {id: one, type: log, message: one}
  - {id: two, type: transform, set: {n: 2}}
  - {id: three, type: log, message: three}
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(runs: int) -> dict[str, object]:
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    settings = Settings(home=home, auth="off")
    async with Engine(settings) as engine:
        # Floor: the engine's own start, no HTTP, no validation cache, no index.
        flow = parse_flow(FLOW, "bench.yaml").flow
        floor: list[float] = []

        async def direct() -> None:
            began = time.perf_counter()
            handle = await engine.start(flow, environ={})
            floor.append(time.perf_counter() - began)
            await handle.result()

        await asyncio.gather(*(direct() for _ in range(runs)))

        app = create_app(settings, engine=engine)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=runs * 2 + 10)) as client:
            await client.post("/api/v1/runs", json={"text": FLOW})  # warm the flow cache
            latencies: list[float] = []

            async def start() -> str:
                began = time.perf_counter()
                answer = await client.post("/api/v1/runs", json={"text": FLOW})
                latencies.append(time.perf_counter() - began)
                answer.raise_for_status()
                return str(answer.json()["run_id"])

            began = time.perf_counter()
            ids = await asyncio.gather(*(start() for _ in range(runs)))
            started_all = time.perf_counter() - began

            async def stream(run_id: str) -> tuple[str | None, int]:
                status, count = None, 0
                async with client.stream("GET", f"/api/v1/runs/{run_id}/events") as answer:
                    async for line in answer.aiter_lines():
                        if line.startswith("data:"):
                            event = json.loads(line[5:])
                            count += 1
                            if event["type"] == "run_finished":
                                status = event["status"]
                return status, count

            streamed = await asyncio.gather(*(stream(r) for r in ids))
            total = time.perf_counter() - began
    finished = [s for s, _ in streamed if s is not None]
    return {
        "runs": runs,
        "start_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "start_p95_ms": round(pct(latencies, 0.95) * 1000, 1),
        "floor_engine_start_p50_ms": round(statistics.median(floor) * 1000, 1),
        "floor_engine_start_p95_ms": round(pct(floor, 0.95) * 1000, 1),
        "p95_ratio_to_floor": round(pct(latencies, 0.95) / pct(floor, 0.95), 2),
        "all_started_s": round(started_all, 2),
        "all_streamed_s": round(total, 2),
        "streams_finished": len(finished),
        "passed": finished.count("passed"),
        "lost": runs - len(finished),
        "events_per_run": sorted({c for _, c in streamed}),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    result = asyncio.run(main(parser.parse_args().runs))
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["lost"] == 0 else 1)
