"""API load: start N runs concurrently through a real `testflow serve` and read their streams.

`testflow serve` runs as a user starts it (its own process, embedded Temporal dev server,
embedded worker, SQLite or PostgreSQL index, an API token required). This process is only the
load: N clients each POST /runs (a stored flow, by id) and then read the run's SSE stream to run_finished.

Printed: p50/p95 of the POST /runs latency (and p50 of 20 starts one at a time before); the floor measured in the same run against the same
dev server (N concurrent bare ``client.start_workflow`` of the same workflow and input, nothing
else in between, their runs executed by the same worker); the ratio; lost runs (a stream that
did not end with run_finished); the server's own breakdown of a start (its Server-Timing
header: auth, parse, prepare, temporal, index).

    python bench/api.py [--runs 100] [--db sqlite|postgresql] [--profile out.svg|out.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testflow.api.db.session import Database  # noqa: E402
from testflow.api.security import create_token  # noqa: E402
from testflow.dsl.loader import parse_flow  # noqa: E402
from testflow.dsl.registry import default_registry  # noqa: E402
from testflow.runtime.engine import data_converter, kind_options  # noqa: E402
from testflow.runtime.settings import Settings  # noqa: E402

FLOW = """\
name: bench api
tags: [bench]
steps:
  - {id: one, type: log, message: one}
  - {id: two, type: transform, set: {n: 2}}
  - {id: three, type: log, message: three}
"""
SINGLE = 20  # starts one at a time, before the concurrent ones
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> float:
    return round(value * 1000, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`testflow serve` in its own process; its output is kept for the Temporal address."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "testflow", "serve", "--port", str(port)],
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,  # this tree's testflow, also when another checkout is installed
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.url = f"http://127.0.0.1:{port}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    async def ready(self) -> str:
        """Waits for /readyz; returns the embedded Temporal frontend's address."""
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                if self.proc.poll() is not None:
                    raise SystemExit("serve exited:\n" + "".join(self.lines))
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        for line in self.lines:
            if found := re.search(r"Temporal frontend: (\S+)", line):
                return found.group(1)
        raise SystemExit("serve printed no Temporal frontend address:\n" + "".join(self.lines))

    def stop(self) -> list[str]:
        """SIGINT, as a user stops it; returns (and kills) the children it left behind."""
        children = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        left = []
        for pid, name in children.items():
            if Path(f"/proc/{pid}").exists():
                left.append(name)
                os.kill(pid, signal.SIGKILL)
        return left


async def floor(settings: Settings, address: str, runs: int) -> tuple[list[float], list[float]]:
    """Bare start_workflow calls of the same workflow and input (then their ends): SINGLE one
    at a time, then N concurrently."""
    from temporalio.client import Client
    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    from testflow.workflows import FlowWorkflow
    from testflow.workflows.search import FLOW as FLOW_NAME
    from testflow.workflows.search import STATUS, TAGS
    from testflow.workflows.types import FlowInput, RunOptions

    client = await Client.connect(address, data_converter=data_converter(settings))
    flow = parse_flow(FLOW, "bench.yaml").flow
    base = FlowInput(
        run_id="", flow=flow, kinds=kind_options(flow, default_registry()), options=RunOptions()
    )
    attrs = TypedSearchAttributes(
        [
            SearchAttributePair(FLOW_NAME, flow.name),
            SearchAttributePair(STATUS, "running"),
            SearchAttributePair(TAGS, list(flow.tags)),
        ]
    )
    latencies: list[float] = []

    async def one(record: bool) -> None:
        run_id = f"run-bench-floor-{uuid.uuid4().hex[:8]}"
        began = time.perf_counter()
        handle = await client.start_workflow(
            FlowWorkflow.run,
            base.model_copy(update={"run_id": run_id}),
            id=run_id,
            task_queue=settings.task_queue,
            search_attributes=attrs,
            static_summary=f"{flow.name} (inline)",
        )
        if record:
            latencies.append(time.perf_counter() - began)
        await handle.result()

    await one(False)  # warm: the client's first call, the worker's first run
    for _ in range(SINGLE):
        await one(True)
    single, latencies[:] = latencies[:], []
    await asyncio.gather(*(one(True) for _ in range(runs)))
    return single, latencies


def descendants(pid: int) -> dict[int, str]:
    out: dict[int, str] = {}
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            out[int(child)] = "worker" if b"worker_main" in cmd else cmd.split()[0].decode()
            out |= descendants(int(child))
    return out


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) of ``pid`` and its children, by name: the load-independent cost
    of a phase (other test runs on the machine skew latencies)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for p, name in {pid: "serve", **descendants(pid)}.items():
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def server_timing(header: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";")
        if found := re.search(r"dur=([\d.]+)", rest):
            out[name] = float(found.group(1)) / 1000
    return out


async def through_api(url: str, token: str, runs: int, streams: bool = True) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends them: at 5 s both
    # sides raced and a request sent on a connection the server was closing failed.
    limits = httpx.Limits(
        max_connections=runs + 10, max_keepalive_connections=runs + 10, keepalive_expiry=4
    )
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=120, limits=limits
    ) as client:
        # A stored flow, started by id: what the UI does (the index row of the flow is read).
        stored = await client.post("/api/v1/flows", json={"text": FLOW})
        stored.raise_for_status()
        body = {"flow_id": stored.json()["id"]}
        (await client.post("/api/v1/runs", json=body)).raise_for_status()  # warm
        single = []
        for _ in range(SINGLE):  # one at a time, nothing else going on
            began = time.perf_counter()
            (await client.post("/api/v1/runs", json=body)).raise_for_status()
            single.append(time.perf_counter() - began)
        await asyncio.sleep(2)  # let those runs end
        # One open connection per client, as the floor's client has its channel: the load
        # generator's TCP handshakes are not the server's start latency. Right before the
        # burst: uvicorn closes connections idle for 5 s.
        await asyncio.gather(*(client.get("/healthz") for _ in range(runs)))
        latencies: list[float] = []
        spans: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []

        async def one() -> tuple[str | None, int]:
            began = time.perf_counter()
            try:
                answer = await client.post("/api/v1/runs", json=body)
                answer.raise_for_status()
            except httpx.HTTPError as exc:  # a start that failed is a lost run: count it
                errors.append(f"POST /runs: {type(exc).__name__}: {exc}")
                return None, 0
            latencies.append(time.perf_counter() - began)
            for name, value in server_timing(answer.headers.get("server-timing", "")).items():
                spans[name].append(value)
            run_id = answer.json()["run_id"]
            if not streams:  # --no-streams: the start latency without 100 live streams
                return "not streamed", 0
            status, count = None, 0
            try:
                async with client.stream("GET", f"/api/v1/runs/{run_id}/events") as stream:
                    if stream.status_code != 200:
                        text = (await stream.aread())[:120].decode(errors="replace")
                        errors.append(f"{run_id}: HTTP {stream.status_code} {text}")
                        return None, 0
                    async for line in stream.aiter_lines():
                        if line.startswith("data:"):
                            event = json.loads(line[5:])
                            count += 1
                            if event["type"] == "run_finished":
                                status = event["status"]
            except httpx.HTTPError as exc:  # a broken stream is a lost run: count it, go on
                errors.append(f"{run_id}: {type(exc).__name__}: {exc}")
            else:
                if status is None:
                    errors.append(f"{run_id}: the stream ended after {count} events")
            return status, count

        began = time.perf_counter()
        ended = await asyncio.gather(*(one() for _ in range(runs)))
        total = time.perf_counter() - began
    finished = [s for s, _ in ended if s is not None]
    return {
        "latencies": latencies,
        "single_start_p50_ms": ms(statistics.median(single)),
        "spans_p95_ms": {k: ms(pct(v, 0.95)) for k, v in sorted(spans.items())},
        "all_streamed_s": round(total, 2),
        "streams_finished": len(finished),
        "passed": finished.count("passed"),
        "events_per_run": sorted({c for _, c in ended}),
        "stream_errors": errors[:5],
    }


def profiler(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy on serve and its worker child, only samples holding the GIL (CPU, not waits)."""
    args = ["py-spy", "record", "--gil", "--subprocesses", "-p", str(pid), "-o", out]
    if not out.endswith(".svg"):
        args += ["--format", "raw"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def prepare_db(url: str, schema: str | None) -> str:
    db = Database(url, schema=schema)
    try:
        await db.migrate()
        async with db.session() as session:
            _row, token = await create_token(session, name="bench", role="runner")
        return token
    finally:
        await db.dispose()


async def drop_schema(schema: str) -> None:
    from sqlalchemy import text

    db = Database(PG_URL)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await db.dispose()


async def main(
    runs: int,
    backend: str,
    profile: str | None,
    dev_bytecode: bool = False,
    streams: bool = True,
) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    schema = f"bench_api_{uuid.uuid4().hex[:8]}" if backend == "postgresql" else None
    db_url = PG_URL if schema else f"sqlite+aiosqlite:///{home / 'testflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTFLOW_")}
    env |= {"TESTFLOW_HOME": str(home), "TESTFLOW_AUTH": "required"}
    # As installed (pip compiles the bytecode): with PYTHONDONTWRITEBYTECODE in a dev shell and
    # sources edited since their .pyc, the worker's sandbox compiled testflow.workflows from
    # source for every new run (a third of its CPU). --dev-bytecode keeps the shell's setting.
    if not dev_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["TESTFLOW_DATABASE_URL"] = db_url
    if schema:
        env["TESTFLOW_DATABASE_SCHEMA"] = schema
    token = await prepare_db(db_url, schema)
    server = Server(env, free_port())
    spy: subprocess.Popen[bytes] | None = None
    try:
        address = await server.ready()
        settings = Settings(home=home)
        floor_single, floor_latencies = await floor(settings, address, runs)
        if profile:
            spy = profiler(server.proc.pid, profile)
            await asyncio.sleep(1)
        cpu_before, own = cpu_seconds(server.proc.pid), time.process_time()
        api = await through_api(server.url, token, runs, streams)
        cpu_after, own = cpu_seconds(server.proc.pid), time.process_time() - own
        api["cpu_s"] = {k: round(v - cpu_before.get(k, 0.0), 2) for k, v in cpu_after.items()}
        api["cpu_s"]["bench_clients"] = round(own, 2)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        leaked = server.stop()
        (home / "serve.log").write_text("".join(server.lines))
        print(f"serve's output: {home / 'serve.log'}", file=sys.stderr)
        if schema:
            await drop_schema(schema)
    latencies = api.pop("latencies")
    return {
        "runs": runs,
        "database": backend,
        "start_p50_ms": ms(statistics.median(latencies)),
        "start_p95_ms": ms(pct(latencies, 0.95)),
        "floor_start_workflow_p50_ms": ms(statistics.median(floor_latencies)),
        "floor_start_workflow_p95_ms": ms(pct(floor_latencies, 0.95)),
        "p95_ratio_to_floor": round(pct(latencies, 0.95) / pct(floor_latencies, 0.95), 2),
        "single_floor_p50_ms": ms(statistics.median(floor_single)),
        "lost": runs - api["streams_finished"],
        "children_left_after_sigint": leaked,
        **api,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--profile", help="py-spy profile of serve and its worker (API phase)")
    parser.add_argument("--dev-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE")
    parser.add_argument("--no-streams", action="store_true", help="start runs, read no streams")
    args = parser.parse_args()
    result = asyncio.run(
        main(args.runs, args.db, args.profile, args.dev_bytecode, not args.no_streams)
    )
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["lost"] == 0 else 1)
