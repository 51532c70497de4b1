"""Bench: N runs waiting on a webhook, held by one worker process, then all delivered.

1. starts an embedded dev server, one worker (testflow.runtime.worker.build_worker) and the
   webhook listener in this process;
2. starts N flows whose only step is ``webhook.wait`` and waits until every run has
   declared its hook (query ``webhook_config``) -- N runs are now parked in Temporal;
3. delivers every webhook over HTTP through the listener (query + signal per call, as a
   partner would), ``--concurrency`` calls in flight;
4. measures, per run, the time from the start of its delivery to the step's completion
   (the step's ``finished_at``), and the total time to drain all N.

Peak RSS is this process's (worker + client + listener; the dev server is another process and
reported apart). Floor: the same deliveries' HTTP round trip (query + signal) alone, i.e. the
receiver's share. Targets (ARCHITECTURE.md 8): N=10,000 under 1 GB RSS, p95 under 1 s.

Run: ``python bench/waiting.py [--n 1000] [--concurrency 64]``. Exit code 1 when a target is
missed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.service import RPCError

from testflow.dsl.models import Flow
from testflow.dsl.registry import default_registry
from testflow.dsl.results import RunResult
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings
from testflow.webhooks.listener import start_listener
from testflow.workflows.types import WebhookConfig

RSS_TARGET_MB = 1024.0
P95_TARGET_MS = 1000.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int | str = "self") -> float:
    """Peak resident set (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dev_server_pids() -> list[int]:
    """Child processes of this one that are the temporal binary."""
    me = os.getpid()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me and b"temporal" in cmd:
            out.append(int(entry.name))
    return out


async def in_batches(n: int, concurrency: int, make: object) -> list[object]:
    limit = asyncio.Semaphore(concurrency)

    async def one(i: int) -> object:
        async with limit:
            return await make(i)  # type: ignore[operator]

    return await asyncio.gather(*(one(i) for i in range(n)))


def cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_now_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Cpu:
    """CPU seconds used by this process and by the dev server between two marks."""

    def __init__(self) -> None:
        self.servers = dev_server_pids()
        self.mark()

    def now(self) -> tuple[float, float]:
        return cpu_s(), sum(cpu_s(p) for p in self.servers)

    def mark(self) -> None:
        self.t, (self.me, self.server) = time.monotonic(), self.now()

    def report(self, phase: str) -> str:
        wall = time.monotonic() - self.t
        me, server = self.now()
        line = (
            f"  {phase}: {wall:.1f} s wall; CPU worker process {me - self.me:.1f} s "
            f"({(me - self.me) / wall:.0%} of a core), dev server {server - self.server:.1f} s "
            f"({(server - self.server) / wall:.0%})"
        )
        self.mark()
        return line


async def main(n: int, concurrency: int, max_cached: int | None, result_timeout: float) -> int:
    logging.basicConfig(level=logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="tf-bench-waiting-"))
    extra = {} if max_cached is None else {"max_cached_workflows": max_cached}
    settings = Settings(home=home, sticky_queue_timeout_s=2.0, **extra)
    env = await start_dev_server(data_converter=data_converter(settings))
    flow = Flow.model_validate(
        {
            "name": "bench waiting",
            "steps": [{"id": "hook", "type": "webhook.wait", "name": "done", "within": "30m"}],
        }
    )
    retries = 0
    try:
        async with Engine(settings, client=env.client, registry=default_registry()) as engine:
            base, stop = await start_listener(env.client, 0)
            try:
                cpu = Cpu()
                rss_idle = rss_now_mb()
                t0 = time.monotonic()
                ids = await in_batches(n, concurrency, lambda i: _start(engine, flow, base, i))
                run_ids = [str(i) for i in ids]
                tokens = await in_batches(n, concurrency, lambda i: _token(engine, run_ids[i]))
                parked = time.monotonic() - t0
                rss_parked = rss_mb()
                per_run_kb = (rss_now_mb() - rss_idle) * 1024 / n
                print(
                    f"{n} runs started and parked in {parked:.1f} s; worker process peak RSS "
                    f"{rss_parked:.0f} MB (~{per_run_kb:.0f} KB per parked run; "
                    f"max_cached_workflows={settings.max_cached_workflows})"
                )
                print(cpu.report("start+park"))
                sent: dict[str, datetime] = {}
                http_ms: list[float] = []
                limits = httpx.Limits(
                    max_connections=concurrency, max_keepalive_connections=concurrency
                )
                async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

                    async def deliver(i: int) -> int:
                        # A partner retries a 503 (the receiver could not reach the run) with
                        # backoff; latency counts from the first attempt.
                        nonlocal retries
                        sent[run_ids[i]] = datetime.now(UTC)
                        t = time.monotonic()
                        for attempt in range(8):
                            reply = await http.post(f"/hooks/{tokens[i]}/done", json={"i": i})
                            if reply.status_code != 503:
                                break
                            retries += 1
                            await asyncio.sleep(min(0.25 * 2**attempt, 4.0))
                        http_ms.append((time.monotonic() - t) * 1000)
                        return reply.status_code

                    t1 = time.monotonic()
                    statuses = await in_batches(n, concurrency, deliver)
                    delivered = time.monotonic() - t1
                print(cpu.report("delivery"))
                results: list[RunResult | None] = await in_batches(
                    n, concurrency, lambda i: _result(engine, run_ids[i], result_timeout)
                )  # type: ignore[assignment]
                drained = time.monotonic() - t1
                print(cpu.report("drain"))
            finally:
                await stop()
        bad: list[object] = [s for s in statuses if s != 200]
        latencies = []
        for result in results:
            if result is None:
                bad.append("not finished")
                continue
            step = result.steps[0]
            if result.status != "passed" or step.finished_at is None:
                bad.append(result.status)
                continue
            latencies.append((step.finished_at - sent[result.run_id]).total_seconds() * 1000)
        rss_peak = rss_mb()
        server_rss = sum(rss_mb(p) for p in dev_server_pids())
    finally:
        await env.shutdown()
    p50, p95 = pct(latencies or [0.0], 0.5), pct(latencies or [0.0], 0.95)
    print(
        f"delivered {n} webhooks in {delivered:.1f} s ({n / delivered:.0f}/s, {retries} retried "
        f"503s), all runs done after {drained:.1f} s"
    )
    print(
        f"receiver HTTP (query+signal) p50 {pct(http_ms, 0.5):.0f} ms  p95 {pct(http_ms, 0.95):.0f} ms  (floor)"
    )
    print(
        f"delivery -> step completion  p50 {p50:.0f} ms  p95 {p95:.0f} ms  max {max(latencies or [0.0]):.0f} ms  (target p95 < {P95_TARGET_MS:.0f} ms)"
    )
    print(
        f"worker process peak RSS {rss_peak:.0f} MB (target < {RSS_TARGET_MB:.0f} MB); dev server {server_rss:.0f} MB"
    )
    if bad:
        print(f"{len(bad)} deliveries or runs failed: {bad[:5]}")
    ok = not bad and p95 < P95_TARGET_MS and rss_peak < RSS_TARGET_MB
    print("targets met" if ok else "targets MISSED")
    return 0 if ok else 1


async def _start(engine: Engine, flow: Flow, base: str, i: int) -> str:
    handle = await engine.start(
        flow, environ={}, webhook_base=base, run_id=f"run-bench-waiting-{i}-{os.getpid()}"
    )
    return handle.id


async def _token(engine: Engine, run_id: str) -> str:
    handle = engine._client().get_workflow_handle(run_id)
    while True:
        try:
            config: WebhookConfig = await handle.query(
                "webhook_config", "done", result_type=WebhookConfig
            )
        except RPCError:  # a busy worker may not answer in time: ask again
            await asyncio.sleep(1.0)
            continue
        if config.known:
            return config.token
        await asyncio.sleep(0.2)


async def _result(engine: Engine, run_id: str, wait_s: float) -> RunResult | None:
    """The run's result, or None when it is still running after ``wait_s`` seconds."""
    handle = engine._client().get_workflow_handle(run_id, result_type=RunResult)
    try:
        return await asyncio.wait_for(handle.result(), wait_s)
    except TimeoutError:
        return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="runs waiting at once")
    parser.add_argument("--concurrency", type=int, default=64, help="starts/deliveries in flight")
    parser.add_argument(
        "--max-cached",
        type=int,
        default=None,
        help="worker's max_cached_workflows (default: TESTFLOW_MAX_CACHED_WORKFLOWS or its default)",
    )
    parser.add_argument(
        "--result-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for each run's result after delivery before counting it unfinished",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.n, args.concurrency, args.max_cached, args.result_timeout)))
