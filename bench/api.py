"""API load: start N runs concurrently through a real `testflow serve` and read their streams.

`testflow serve` runs as a user starts it (its own process, embedded Temporal dev server,
embedded worker, SQLite or PostgreSQL index, an API token required). This process is only the
load: N clients each POST /runs (a stored flow, by id) and then read the run's SSE stream to run_finished.

Printed: p50/p95 of the POST /runs latency (and p50 of 20 starts one at a time before); the floor measured in the same run against the same
dev server (N concurrent bare ``client.start_workflow`` of the same workflow and input, nothing
else in between, their runs executed by the same worker); the ratio; lost runs (a stream that
did not end with run_finished); the server's own breakdown of a start (its Server-Timing
header: auth, parse, prepare, temporal, index).

What bounds the p95 on this machine: a last phase starts N runs again with the worker stopped
(SIGSTOP; its runs execute after SIGCONT), so the CPU each process spends per start is the start
alone, not the runs' execution. From it: ``0.95 x N x serve's CPU per start`` (one event loop
serves every request: they cannot finish before the loop has done 95 of them) and
``0.95 x N x (serve + dev server + clients) CPU per start / cores`` (everything shares the
cores); the larger is the CPU-derived lower bound of the p95, printed beside the floor's own.

    python bench/api.py [--runs 100] [--db sqlite|postgresql] [--profile out.svg|out.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
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


def bare_starter(client: Any, task_queue: str) -> Any:
    """``start(tag)``: one bare start_workflow of the bench flow, as engine.start sends it (the
    same input, search attributes and summary), nothing else."""
    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    from testflow.workflows import FlowWorkflow
    from testflow.workflows.search import FLOW as FLOW_NAME
    from testflow.workflows.search import STATUS, TAGS
    from testflow.workflows.types import FlowInput, RunOptions

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

    async def start(tag: str) -> Any:
        run_id = f"run-bench-{tag}-{uuid.uuid4().hex[:8]}"
        return await client.start_workflow(
            FlowWorkflow.run,
            base.model_copy(update={"run_id": run_id}),
            id=run_id,
            task_queue=task_queue,
            search_attributes=attrs,
            static_summary=f"{flow.name} (inline)",
        )

    return start


async def floor(settings: Settings, address: str, runs: int) -> tuple[list[float], list[float]]:
    """Bare start_workflow calls of the same workflow and input (then their ends): SINGLE one
    at a time, then N concurrently."""
    from temporalio.client import Client

    client = await Client.connect(address, data_converter=data_converter(settings))
    bare_start = bare_starter(client, settings.task_queue)
    latencies: list[float] = []

    async def one(record: bool) -> None:
        began = time.perf_counter()
        handle = await bare_start("floor")
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


TLS = ssl.create_default_context()
"""Shared by the clients: httpx builds one per client otherwise (loading the CA bundle, ~40 ms
each; 100 clients took 4 s of the machine's CPU)."""


def http_client(url: str, token: str) -> httpx.AsyncClient:
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends them: at 5 s both
    # sides raced and a request sent on a connection the server was closing failed.
    return httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
        limits=httpx.Limits(max_connections=4, keepalive_expiry=4),
        verify=TLS,
    )


@contextlib.asynccontextmanager
async def n_clients(url: str, token: str, n: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP client per simulated client, each with its own open connection (as the
    floor's client has its channel: the load generator's TCP handshakes are not the server's
    start latency). One shared httpx pool of 100 connections cost 4-7 ms of CPU per request
    (its pool is scanned per request), one pool each ~1.5 ms. Warmed right before the burst:
    uvicorn closes connections idle for 5 s."""
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(http_client(url, token)) for _ in range(n)]
        await asyncio.gather(*(c.get("/healthz") for c in clients))
        yield clients


async def metric(client: httpx.AsyncClient, name: str) -> float:
    """One unlabelled sample of serve's /metrics."""
    text = (await client.get("/metrics")).text
    found = re.search(rf"^{name} ([\d.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def through_api(url: str, token: str, runs: int, streams: bool = True) -> dict[str, Any]:
    async with http_client(url, token) as client:
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
        latencies: list[float] = []
        spans: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []

        async def one(client: httpx.AsyncClient) -> tuple[str | None, int]:
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

        queries = await metric(client, "testflow_progress_queries_total")
        async with n_clients(url, token, runs) as clients:
            began = time.perf_counter()
            ended = await asyncio.gather(*(one(c) for c in clients))
            total = time.perf_counter() - began
        queries = await metric(client, "testflow_progress_queries_total") - queries
    finished = [s for s, _ in ended if s is not None]
    return {
        "latencies": latencies,
        "single_start_p50_ms": ms(statistics.median(single)),
        "spans_p95_ms": {k: ms(pct(v, 0.95)) for k, v in sorted(spans.items())},
        "all_streamed_s": round(total, 2),
        "streams_finished": len(finished),
        "passed": finished.count("passed"),
        "events_per_run": sorted({c for _, c in ended}),
        # Each costs the worker and the dev server about what a start costs.
        "stream_progress_queries_per_run": round(queries / runs, 2),
        "stream_errors": errors[:5],
    }


def worker_pid(server_pid: int) -> int:
    found = [pid for pid, name in descendants(server_pid).items() if name == "worker"]
    if not found:
        raise SystemExit("serve has no worker child to pause")
    return found[0]


async def start_cost(
    server: Server, token: str, settings: Settings, address: str, runs: int
) -> dict[str, Any]:
    """CPU per start of each process, the runs' execution left out: the worker is stopped
    while N bare starts (the floor's) and then N POST /runs go out concurrently."""
    from temporalio.client import Client

    client = await Client.connect(address, data_converter=data_converter(settings))
    bare_start = bare_starter(client, settings.task_queue)
    out: dict[str, Any] = {}
    async with http_client(server.url, token) as http:
        stored = await http.post("/api/v1/flows", json={"text": FLOW})
        body = {"flow_id": stored.raise_for_status().json()["id"]}

        async def bare() -> None:
            await bare_start("cost")

        async def post(client: httpx.AsyncClient) -> None:
            (await client.post("/api/v1/runs", json=body)).raise_for_status()

        await asyncio.sleep(2)  # the tracker's last reads of the finished API runs
        worker = worker_pid(server.proc.pid)
        os.kill(worker, signal.SIGSTOP)
        try:
            await bare()
            await post(http)  # warm: the first of each after the pause
            async with n_clients(server.url, token, runs) as clients:
                for name in ("floor", "api"):
                    before, own = cpu_seconds(server.proc.pid), time.process_time()
                    if name == "floor":
                        await asyncio.gather(*(bare() for _ in range(runs)))
                    else:
                        await asyncio.gather(*(post(c) for c in clients))
                    await asyncio.sleep(0.3)  # the tracker's result long-polls go out
                    after, own = cpu_seconds(server.proc.pid), time.process_time() - own
                    per = {k: (v - before.get(k, 0.0)) / runs for k, v in after.items()}
                    per["clients"] = own / runs
                    out[name] = {k.rsplit("/", 1)[-1]: v for k, v in per.items() if k != "worker"}
        finally:
            os.kill(worker, signal.SIGCONT)
        # Those runs end before serve is stopped (their trackers store them).
        for _ in range(300):
            listed = await http.get("/api/v1/runs", params={"status": "running", "page_size": 1})
            if listed.json()["total"] == 0:
                break
            await asyncio.sleep(0.2)
    return out


def bounds(cost: dict[str, dict[str, float]], runs: int) -> dict[str, Any]:
    """The CPU-derived lower bounds of the p95 (ms) on this machine, for the API and the floor:
    one event loop does every request serially; all processes share the cores."""
    cores = os.cpu_count() or 1
    k = 0.95 * runs * 1000
    api, floor_ = cost["api"], cost["floor"]
    api_total, floor_total = sum(api.values()), sum(floor_.values())
    serve_loop = k * api.get("serve", 0.0)
    api_cores = k * api_total / cores
    floor_cores = k * floor_total / cores
    return {
        "cpu_ms_per_start": {
            "api": {name: round(v * 1000, 2) for name, v in api.items()},
            "floor": {name: round(v * 1000, 2) for name, v in floor_.items()},
        },
        "cores": cores,
        "p95_bound_ms": {
            "api_serve_loop": round(serve_loop),
            "api_all_processes_on_cores": round(api_cores),
            "api": round(max(serve_loop, api_cores)),
            "floor": round(floor_cores),
        },
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
    load_before = os.getloadavg()
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
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            spy = None
        cost = await start_cost(server, token, settings, address, runs)
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
    bound = bounds(cost, runs)
    p95 = pct(latencies, 0.95)
    return {
        "runs": runs,
        "database": backend,
        "start_p50_ms": ms(statistics.median(latencies)),
        "start_p95_ms": ms(pct(latencies, 0.95)),
        "floor_start_workflow_p50_ms": ms(statistics.median(floor_latencies)),
        "floor_start_workflow_p95_ms": ms(pct(floor_latencies, 0.95)),
        "p95_ratio_to_floor": round(p95 / pct(floor_latencies, 0.95), 2),
        "p95_ratio_to_cpu_bound": round(p95 * 1000 / max(bound["p95_bound_ms"]["api"], 1), 2),
        **bound,
        "single_floor_p50_ms": ms(statistics.median(floor_single)),
        "lost": runs - api["streams_finished"],
        "children_left_after_sigint": leaked,
        # Other work on the machine skews every latency here (not the CPU per start).
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
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
