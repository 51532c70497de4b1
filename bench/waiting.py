"""Bench: N runs waiting on a webhook, held by one worker process, then all delivered.

    python bench/waiting.py --n 10000 --concurrency 16 [--burst] [--max-cached 3000]

The worker process (this one) runs an embedded dev server (a child process), one worker
(``build_worker``), the webhook listener, and starts the runs through ``Engine.start``, as
``testflow run`` does. The partner is a second process (this file with ``--client``), so its
HTTP client does not compete with the worker for this event loop.

1. start N flows whose only step is ``webhook.wait``; the starter knows each URL at once
   (``testflow.webhooks.tokens``), so nothing asks the runs for them;
2. wait until every run has finished its first workflow task (``describe``: dev server only);
3. floor: M bare workflows on their own worker in this process, each waiting for a signal:
   the client signals them directly (no HTTP, no receiver, no interpreter) and measures
   signal -> completion, with the same concurrency;
4. the client delivers every webhook over HTTP, ``--concurrency`` at a time, and waits for
   each run's result: latency = the step's ``finished_at`` (workflow clock) - the moment the
   client sent the call. Default: closed loop, a delivery is in flight until its run is done
   (a partner flow paced by its test runs). ``--burst``: only the HTTP calls are limited, so
   all N are queued at once and the latency is the backlog's.

Reports: p50/p95/max and throughput of both, the ratios testflow / floor, worker-process peak
RSS (VmHWM) against the 1 GB target, dev server peak RSS, CPU per phase. Exit code 1 when a
target (p95 < 1 s, worker RSS < 1 GB) is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

# An installed testflow (pip install of the wheel) has bytecode for its modules; a source tree
# under PYTHONDONTWRITEBYTECODE=1 (this machine, .ci/run) has none for files edited since, and
# then the worker's sandbox compiles the interpreter module again for every workflow instance
# it creates (~4 ms; with py-spy, a third of the worker's CPU per delivery to an evicted run).
# Measure the installed case: keep a bytecode cache of our own.
BYTECODE_CACHE = sys.dont_write_bytecode
if BYTECODE_CACHE:
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(Path(tempfile.gettempdir()) / "tf-bench-pycache")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.procs

from temporalio import workflow  # noqa: E402
from temporalio.worker import UnsandboxedWorkflowRunner, Worker  # noqa: E402

from testflow.dsl.models import Flow  # noqa: E402
from testflow.dsl.results import RunResult  # noqa: E402
from testflow.runtime.devserver import connect, start_dev_server  # noqa: E402
from testflow.runtime.engine import Engine, data_converter  # noqa: E402
from testflow.runtime.settings import Settings  # noqa: E402
from testflow.webhooks.listener import start_listener  # noqa: E402
from testflow.webhooks.tokens import book_for  # noqa: E402
from tests.procs import children_of  # noqa: E402

RSS_TARGET_MB = 1024.0
P95_TARGET_MS = 1000.0
FLOOR_QUEUE = "bench-waiting-floor"


@workflow.defn(name="BareWait")
class BareWait:
    """The floor: wait for one signal, return the workflow time it was handled at."""

    def __init__(self) -> None:
        self.got = False

    @workflow.signal
    def go(self) -> None:
        self.got = True

    @workflow.run
    async def run(self) -> float:
        await workflow.wait_condition(lambda: self.got, timeout=timedelta(minutes=30))
        return workflow.now().timestamp()


# -- /proc helpers ---------------------------------------------------------------------------
def _status(pid: int | str, field: str) -> float:
    """A ``/proc/PID/status`` memory field (VmHWM: peak RSS, VmRSS: now) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dev_server_pids() -> list[int]:
    """Child processes of this one that are the temporal binary."""
    return children_of(os.getpid(), b"temporal")


class Cpu:
    """CPU seconds used by this process, the dev server and the client between two marks."""

    def __init__(self) -> None:
        self.servers = dev_server_pids()
        self.client: int | None = None
        self.mark()

    def now(self) -> tuple[float, float, float]:
        return (
            cpu_s(),
            sum(cpu_s(p) for p in self.servers),
            cpu_s(self.client) if self.client else 0.0,
        )

    def mark(self) -> None:
        self.t, self.at = time.monotonic(), self.now()

    def report(self, phase: str) -> str:
        wall = time.monotonic() - self.t
        used = [b - a for a, b in zip(self.at, self.now(), strict=True)]
        self.mark()
        return (
            f"  {phase}: {wall:.1f} s wall; CPU worker process {used[0]:.1f} s "
            f"({used[0] / wall:.0%} of a core), dev server {used[1]:.1f} s ({used[1] / wall:.0%}), "
            f"client {used[2]:.1f} s"
        )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bounded(n: int, limit: int, make: Callable[[int], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(i: int) -> Any:
        async with gate:
            return await make(i)

    return await asyncio.gather(*(one(i) for i in range(n)))


# -- the worker process ----------------------------------------------------------------------
async def wait_parked(client: Any, run_ids: list[str], limit: int) -> None:
    """Until each run has completed its first workflow task (4+ history events)."""

    async def one(i: int) -> None:
        handle = client.get_workflow_handle(run_ids[i])
        for _ in range(1200):
            described = await handle.describe()
            if described.raw_description.workflow_execution_info.history_length >= 4:
                return
            await asyncio.sleep(0.5)  # polling the server: no local event to wait for
        raise TimeoutError(f"{run_ids[i]} did not start within 10 minutes")

    await bounded(len(run_ids), limit, one)


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="tf-bench-waiting-"))
    extra = {} if args.max_cached is None else {"max_cached_workflows": args.max_cached}
    settings = Settings(home=home, sticky_queue_timeout_s=2.0, **extra)
    env = await start_dev_server(data_converter=data_converter(settings))
    client = env.client
    flow = Flow.model_validate(
        {
            "name": "bench waiting",
            "steps": [{"id": "hook", "type": "webhook.wait", "name": "done", "within": "30m"}],
        }
    )
    n, c = args.n, args.concurrency
    if BYTECODE_CACHE:
        print(f"PYTHONDONTWRITEBYTECODE is set: using a bytecode cache in {sys.pycache_prefix}")
    try:
        floor_worker = Worker(
            client,
            task_queue=FLOOR_QUEUE,
            workflows=[BareWait],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        async with Engine(settings, client=client) as engine, floor_worker:
            base, stop = await start_listener(client, 0)
            try:
                cpu = Cpu()
                rss_idle = _status("self", "VmRSS")
                t0 = time.monotonic()
                tag = f"{os.getpid()}-{int(time.time())}"
                run_ids: list[str] = await bounded(
                    n,
                    c,
                    lambda i: _start(engine, flow, base, f"run-bench-waiting-{i}-{tag}"),
                )
                started = time.monotonic() - t0
                # The starter registered every run: the URL is known without asking it.
                book = book_for(client)
                tokens = [book.get(r).token for r in run_ids]  # type: ignore[union-attr]
                await wait_parked(client, run_ids, 32)
                parked = time.monotonic() - t0
                per_run = (_status("self", "VmRSS") - rss_idle) * 1024 / n
                print(
                    f"{n} runs started in {started:.1f} s ({n / started:.0f}/s), all parked after "
                    f"{parked:.1f} s; worker process RSS {_status('self', 'VmRSS'):.0f} MB "
                    f"(~{per_run:.0f} KB per parked run; max_cached_workflows="
                    f"{settings.max_cached_workflows})"
                )
                print(cpu.report("start+park"))
                floor_ids = [f"bench-floor-{i}-{tag}" for i in range(min(n, args.floor_n))]
                await bounded(
                    len(floor_ids),
                    c,
                    lambda i: client.start_workflow(
                        BareWait.run, id=floor_ids[i], task_queue=FLOOR_QUEUE
                    ),
                )
                await wait_parked(client, floor_ids, 32)
                spec = {
                    "address": client.service_client.config.target_host,
                    "home": str(home),
                    "base": base,
                    "concurrency": c,
                    "burst": args.burst,
                    "floor_ids": floor_ids,
                    "run_ids": run_ids,
                    "tokens": tokens,
                    "result_timeout": args.result_timeout,
                    "out": str(home / "client.json"),
                }
                (home / "spec.json").write_text(json.dumps(spec))
                cpu.mark()
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--client",
                    str(home / "spec.json"),
                    stdout=asyncio.subprocess.PIPE,
                )
                cpu.client = proc.pid
                assert proc.stdout is not None
                async for line in proc.stdout:  # the client names each phase as it ends
                    print(cpu.report(line.decode().strip()))
                await proc.wait()
                if proc.returncode != 0:
                    print(f"the client process failed (exit {proc.returncode})")
                    return 2
                got = json.loads((home / "client.json").read_text())
            finally:
                await stop()
        rss_peak = _status("self", "VmHWM")
        server_rss = sum(_status(p, "VmHWM") for p in dev_server_pids())
    finally:
        await env.shutdown()
    return report(got, n, c, args.burst, rss_peak, server_rss)


async def _start(engine: Engine, flow: Flow, base: str, run_id: str) -> str:
    handle = await engine.start(flow, environ={}, webhook_base=base, run_id=run_id)
    return handle.id


def report(
    got: dict[str, Any], n: int, c: int, burst: bool, rss_peak: float, server_rss: float
) -> int:
    floor, main = got["floor"], got["main"]
    mode = "burst (HTTP calls limited only)" if burst else "closed loop (in flight until done)"
    print(f"mode: {mode}, concurrency {c}")
    for name, part in (("floor: bare signal", floor), ("testflow: webhook", main)):
        lat = part["latency_ms"]
        print(
            f"{name:<20} n={len(lat):>5}  p50 {pct(lat, 0.5):6.0f} ms  p95 {pct(lat, 0.95):6.0f} ms"
            f"  max {max(lat or [0.0]):6.0f} ms  {part['rate']:6.1f}/s  wall {part['wall']:.1f} s"
        )
    fl, ml = floor["latency_ms"], main["latency_ms"]
    print(
        f"ratio testflow/floor: p50 {pct(ml, 0.5) / max(pct(fl, 0.5), 1e-9):.1f}x  "
        f"p95 {pct(ml, 0.95) / max(pct(fl, 0.95), 1e-9):.1f}x  "
        f"throughput {main['rate'] / max(floor['rate'], 1e-9):.2f}x"
    )
    http = main["http_ms"]
    print(
        f"receiver HTTP call p50 {pct(http, 0.5):.0f} ms  p95 {pct(http, 0.95):.0f} ms; "
        f"{main['retries']} 503s retried"
    )
    print(
        f"worker process peak RSS {rss_peak:.0f} MB (target < {RSS_TARGET_MB:.0f} MB); "
        f"dev server peak RSS {server_rss:.0f} MB; client peak RSS {got['client_rss']:.0f} MB"
    )
    bad = main["bad"]
    if bad:
        print(f"{len(bad)} deliveries or runs failed: {bad[:5]}")
    p95 = pct(ml, 0.95)
    ok = not bad and len(ml) == n and p95 < P95_TARGET_MS and rss_peak < RSS_TARGET_MB
    print("targets met" if ok else "targets MISSED")
    return 0 if ok else 1


# -- the partner: a separate process ---------------------------------------------------------
async def client_main(spec: dict[str, Any]) -> dict[str, Any]:
    import httpx  # only the client process needs it

    settings = Settings(home=Path(spec["home"]))
    client = await connect(
        spec["address"], namespace="default", data_converter=data_converter(settings)
    )
    c, burst, wait_s = spec["concurrency"], spec["burst"], spec["result_timeout"]

    async def floor_one(i: int) -> float:
        handle = client.get_workflow_handle(spec["floor_ids"][i], result_type=float)
        sent = time.time()
        await handle.signal("go")
        return (await handle.result() - sent) * 1000

    t = time.monotonic()
    floor = await bounded(len(spec["floor_ids"]), c, floor_one)
    floor_wall = time.monotonic() - t
    print("floor (bare signals)", flush=True)

    http_ms: list[float] = []
    latency: list[float] = []
    bad: list[str] = []
    retries = 0
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    waiting = asyncio.Semaphore(c if not burst else 512)  # result long-polls held at once

    async with httpx.AsyncClient(base_url=spec["base"], limits=limits, timeout=60) as http:

        async def deliver(i: int) -> float:
            # A partner retries a 503 (the receiver could not reach the run) with backoff;
            # the latency counts from the first attempt.
            nonlocal retries
            sent, t = time.time(), time.monotonic()
            for attempt in range(8):
                reply = await http.post(f"/hooks/{spec['tokens'][i]}/done", json={"i": i})
                if reply.status_code != 503:
                    break
                retries += 1
                await asyncio.sleep(min(0.25 * 2**attempt, 4.0))
            http_ms.append((time.monotonic() - t) * 1000)
            if reply.status_code != 200:
                bad.append(f"HTTP {reply.status_code}")
            return sent

        async def finished(i: int, sent: float) -> None:
            handle = client.get_workflow_handle(spec["run_ids"][i], result_type=RunResult)
            try:
                result = await asyncio.wait_for(handle.result(), wait_s)
            except TimeoutError:
                bad.append("not finished")
                return
            step = result.steps[0]
            if result.status != "passed" or step.finished_at is None:
                bad.append(result.status)
                return
            latency.append((step.finished_at.timestamp() - sent) * 1000)

        gate = asyncio.Semaphore(c)

        async def one(i: int) -> None:
            if burst:
                async with gate:
                    sent = await deliver(i)
                async with waiting:
                    await finished(i, sent)
            else:
                async with gate:
                    await finished(i, await deliver(i))

        t = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(len(spec["run_ids"]))))
        wall = time.monotonic() - t
    print("webhook deliveries until every run is done", flush=True)
    n = len(spec["run_ids"])
    return {
        "floor": {"latency_ms": floor, "rate": len(floor) / floor_wall, "wall": floor_wall},
        "main": {
            "latency_ms": latency,
            "http_ms": http_ms,
            "rate": n / wall,
            "wall": wall,
            "retries": retries,
            "bad": bad,
        },
        "client_rss": _status("self", "VmHWM"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="runs waiting at once")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="starts, and deliveries in flight"
    )
    parser.add_argument(
        "--burst",
        action="store_true",
        help="limit only the HTTP calls (all N queued at once), not deliveries until done",
    )
    parser.add_argument("--floor-n", type=int, default=300, help="bare workflows of the floor")
    parser.add_argument(
        "--max-cached",
        type=int,
        default=None,
        help="worker's max_cached_workflows (default: TESTFLOW_MAX_CACHED_WORKFLOWS or 3000)",
    )
    parser.add_argument(
        "--result-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for each run's result after delivery before counting it unfinished",
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_spec = json.loads(Path(args.client).read_text())
        measured = asyncio.run(client_main(client_spec))
        Path(client_spec["out"]).write_text(json.dumps(measured))
        sys.exit(0)
    sys.exit(asyncio.run(main(args)))
