"""A local testflow "cluster": worker processes on one task queue, for bench/scale.py and tests.

Each worker is a real OS process that connects to a Temporal frontend over gRPC, exactly as a
pod of the Helm chart does. Two launchers:

* ``script`` (default): ``python bench/cluster.py worker ...`` builds the same worker
  (``testflow.runtime.worker.build_worker``) and runs it under :mod:`testflow.runtime.health`
  (probes, metrics, SIGTERM drain) -- what ``testflow worker`` does once it wires that module;
* ``command``: the ``testflow worker`` command itself (``launcher="command"`` or
  ``TESTFLOW_CLUSTER_LAUNCHER=command``); it has no probe port yet.

The script form prints one JSON line on stdout when it serves:
``{"worker_id": ..., "pid": ..., "health_port": ...}`` -- ``worker_id`` is the value the
activity runner writes into ``StepRecord.worker``, so a test can tell which process ran a step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SCRIPT = Path(__file__).resolve()


@dataclass
class WorkerProcess:
    """One worker process and what it announced."""

    proc: subprocess.Popen[str]
    health_port: int | None
    worker_id: str | None = None
    log_lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye -- a crashed node."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the graceful drain; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until ``/readyz`` says 200 (the worker polls its task queue)."""
        deadline = time.monotonic() + timeout
        body = ""
        while time.monotonic() < deadline:
            try:
                status, body = self.get("/readyz")
                if status == 200:
                    return
            except OSError as exc:
                body = str(exc)
            time.sleep(0.05)
        raise TimeoutError(f"worker {self.worker_id} not ready after {timeout}s: {body}")

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        if self.health_port is None:
            raise RuntimeError("this worker was started without a health port")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}{path}", timeout=timeout
            ) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def has_worker_command() -> bool:
    return importlib.util.find_spec("testflow.commands.worker") is not None


def launcher_kind(launcher: str | None = None) -> str:
    """``script`` (bench/cluster.py worker: probes, metrics, worker id) or ``command``
    (``testflow worker``); default from ``TESTFLOW_CLUSTER_LAUNCHER``, else ``script``."""
    kind = launcher or os.environ.get("TESTFLOW_CLUSTER_LAUNCHER", "script")
    if kind not in ("script", "command"):
        raise ValueError(f"unknown launcher {kind!r}: use 'script' or 'command'")
    if kind == "command" and not has_worker_command():
        raise RuntimeError("`testflow worker` is not available in this installation")
    return kind


def worker_argv(
    address: str,
    task_queue: str,
    *,
    launcher: str,
    health_port: int | None,
    max_activities: int | None,
) -> list[str]:
    if launcher == "script":
        argv = [
            sys.executable,
            str(SCRIPT),
            "worker",
            "--temporal",
            address,
            "--task-queue",
            task_queue,
        ]
        argv += ["--health-port", str(health_port or 0)]
    else:
        argv = [
            sys.executable,
            "-m",
            "testflow.cli",
            "worker",
            "--temporal",
            address,
            "--task-queue",
            task_queue,
            "--health-port",
            str(health_port or 0),
        ]
    if max_activities is not None:
        argv += ["--max-concurrent-activities", str(max_activities)]
    return argv


def spawn_worker(
    address: str,
    task_queue: str,
    *,
    env: dict[str, str],
    health_port: int | None = None,
    max_activities: int | None = None,
    ready_timeout: float = 60.0,
    launcher: str | None = None,
) -> WorkerProcess:
    """Start a worker process and wait until it serves.

    The script form announces itself with a JSON line and is then awaited on ``/readyz``;
    ``testflow worker`` is awaited on its "worker on task queue" line.
    """
    kind = launcher_kind(launcher)
    if kind == "script" and health_port is None:
        health_port = free_port()
    argv = worker_argv(
        address, task_queue, launcher=kind, health_port=health_port, max_activities=max_activities
    )
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    if health_port is not None:
        full_env["TESTFLOW_METRICS_PORT"] = str(health_port)
    proc = subprocess.Popen(
        argv, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    worker = WorkerProcess(proc=proc, health_port=health_port if kind == "script" else None)
    deadline = time.monotonic() + ready_timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(
                f"worker exited with {proc.wait()} before serving:\n{''.join(worker.log_lines)}"
            )
        worker.log_lines.append(line)
        if kind == "script" and line.startswith("{") and '"worker_id"' in line:
            worker.worker_id = json.loads(line)["worker_id"]
            break
        if kind == "command" and "worker on task queue" in line:
            break
    else:
        proc.kill()
        raise TimeoutError(
            f"worker did not start within {ready_timeout}s:\n{''.join(worker.log_lines)}"
        )
    _drain_in_background(proc.stdout, worker.log_lines)
    if worker.health_port is not None:
        worker.wait_ready(timeout=max(1.0, deadline - time.monotonic()))
    return worker


def _drain_in_background(stream: IO[str], sink: list[str]) -> None:
    """Keep reading the worker's output so a full pipe never blocks it."""
    import threading

    def pump() -> None:
        for line in stream:
            sink.append(line)

    threading.Thread(target=pump, daemon=True).start()


def worker_env(home: Path, *, sticky_timeout_s: float = 1.0) -> dict[str, str]:
    """Settings every worker of a cluster shares: the state dir (encryption key, artifacts)."""
    return {
        "TESTFLOW_HOME": str(home),
        "TESTFLOW_ARTIFACTS_DIR": str(home / "artifacts"),
        "TESTFLOW_STICKY_QUEUE_TIMEOUT_S": str(sticky_timeout_s),
    }


async def _serve(args: argparse.Namespace) -> None:
    # SDK metrics must be installed before the first client of the process.
    from testflow.runtime import metrics

    metrics.install_sdk_metrics()
    from testflow.activities.runner import WORKER_ID
    from testflow.dsl.registry import default_registry
    from testflow.runtime.devserver import connect
    from testflow.runtime.engine import data_converter
    from testflow.runtime.health import HealthServer, WorkerHealth, run_worker
    from testflow.runtime.settings import Settings
    from testflow.runtime.worker import build_worker

    overrides: dict[str, Any] = {"temporal_address": args.temporal, "task_queue": args.task_queue}
    if args.max_concurrent_activities:
        overrides["max_concurrent_activities"] = args.max_concurrent_activities
    settings = Settings().model_copy(update=overrides)
    client = await connect(
        args.temporal,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
    worker = build_worker(client, settings, default_registry(), task_queue=args.task_queue)
    metrics.set_worker_info(build_id=None, task_queue=args.task_queue)
    health = WorkerHealth()
    with HealthServer(health, host="127.0.0.1", port=args.health_port) as server:
        print(
            json.dumps({"worker_id": WORKER_ID, "pid": os.getpid(), "health_port": server.port}),
            flush=True,
        )
        await run_worker(worker, health)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("worker", help="run one worker process (what `testflow worker` does)")
    serve.add_argument("--temporal", required=True, help="HOST:PORT of the Temporal frontend")
    serve.add_argument("--task-queue", required=True)
    serve.add_argument("--health-port", type=int, default=0)
    serve.add_argument("--max-concurrent-activities", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
