"""Worker operations: liveness/readiness probes, the metrics page, graceful shutdown on SIGTERM.

``testflow worker`` (and any process hosting a worker) uses it like this::

    health = WorkerHealth()
    with HealthServer(health, port=settings_port):      # /livez /readyz /metrics
        await run_worker(worker, health)                 # SIGTERM -> drain -> exit

Why the probes say what they say:

* **liveness** (``/livez``, alias ``/healthz``) fails when the worker's event loop has not
  ticked for ``stall_after_s`` (a blocked loop polls no task and heartbeats nothing: the pod
  must be restarted) or when the worker stopped with an error. The HTTP server runs in its
  own thread precisely so that a stuck loop is *reported*, not just unanswered.
* **readiness** (``/readyz``) is true only while the worker polls its task queue. On SIGTERM
  it turns false first, so a Service or load balancer stops routing before the worker drains.

Graceful shutdown: on SIGTERM/SIGINT :func:`run_worker` calls ``Worker.shutdown()``, which
stops polling, lets in-flight activities finish within the worker's
``graceful_shutdown_timeout`` and then cancels them, so Temporal retries them on another
worker (nothing is lost: the step's retry policy applies). Kubernetes'
``terminationGracePeriodSeconds`` must be longer than that timeout (the Helm chart checks it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol

from testflow.runtime import metrics

log = logging.getLogger(__name__)


class RunnableWorker(Protocol):
    """What :func:`run_worker` needs of a ``temporalio.worker.Worker``."""

    async def run(self) -> None: ...

    async def shutdown(self) -> None: ...


class WorkerHealth:
    """The state the probes report: starting -> ready -> draining -> stopped (or failed)."""

    def __init__(self, *, stall_after_s: float = 30.0) -> None:
        self.stall_after_s = stall_after_s
        self.state = "starting"
        self.reason: str | None = None
        self._last_beat = time.monotonic()
        self._lock = threading.Lock()

    def _set(self, state: str, reason: str | None = None) -> None:
        with self._lock:
            self.state = state
            self.reason = reason

    def mark_ready(self) -> None:
        self._set("ready")

    def mark_draining(self, reason: str = "shutdown requested") -> None:
        self._set("draining", reason)

    def mark_stopped(self) -> None:
        self._set("stopped")

    def mark_failed(self, reason: str) -> None:
        self._set("failed", reason)

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    async def keep_beating(self, interval_s: float = 1.0) -> None:
        """Tick from the worker's event loop; a blocked loop stops ticking (liveness fails)."""
        while True:
            self.beat()
            await asyncio.sleep(interval_s)

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        lag = time.monotonic() - self._last_beat
        alive = self.state != "failed" and lag < self.stall_after_s
        return alive, {
            "alive": alive,
            "state": self.state,
            "loop_lag_s": round(lag, 3),
            "reason": self.reason,
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        ready = self.state == "ready" and self.liveness()[0]
        return ready, {"ready": ready, "state": self.state, "reason": self.reason}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        health = self.server.health
        if path in ("/livez", "/healthz"):
            self._json(*health.liveness())
        elif path == "/readyz":
            self._json(*health.readiness())
        elif path == "/metrics":
            self._send(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._json(
                False,
                {"error": f"no such endpoint {path}; try /livez, /readyz, /metrics"},
                status=404,
            )

    def _json(self, ok: bool, body: dict[str, Any], status: int | None = None) -> None:
        code = status if status is not None else (200 if ok else 503)
        self._send(code, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes hit every few seconds: keep them out of the worker's log.
        log.debug("health: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], health: WorkerHealth) -> None:
        self.health = health
        super().__init__(address, _Handler)


class HealthServer:
    """``/livez`` ``/healthz`` ``/readyz`` ``/metrics`` on ``host:port``, in a daemon thread.

    Port 0 picks a free port (see :attr:`port`); that is what tests use.
    """

    def __init__(self, health: WorkerHealth, *, host: str = "0.0.0.0", port: int = 9090) -> None:
        self.health = health
        self.host = host
        self.requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the health server is not started")
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        try:
            self._server = _Server((self.host, self.requested_port), self.health)
        except OSError as exc:
            raise OSError(
                f"cannot serve worker health on {self.host}:{self.requested_port}: {exc}"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="testflow-health", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def run_worker(
    worker: RunnableWorker,
    health: WorkerHealth,
    *,
    signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``worker`` until it stops; a signal in ``signals`` (or ``stop`` set) drains it.

    Draining marks the worker not ready, then awaits ``worker.shutdown()``: polling stops,
    in-flight activities get the worker's graceful-shutdown timeout to finish and are then
    cancelled and retried elsewhere by Temporal. An error from the worker marks it failed
    (liveness turns false) and is re-raised.
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in signals:
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
            log.debug("cannot handle %s here; the caller must set `stop`", sig)
    beating = asyncio.create_task(health.keep_beating())
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    try:
        # Worker.run() polls from its first await on; one loop turn later it is serving.
        await asyncio.sleep(0)
        if not running.done():
            health.mark_ready()
        done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping in done and not running.done():
            health.mark_draining()
            log.info("draining the worker: in-flight activities finish or are handed back")
            await worker.shutdown()
        await running
        health.mark_stopped()
    except asyncio.CancelledError:
        health.mark_draining("cancelled")
        raise
    except Exception as exc:
        health.mark_failed(f"worker stopped with an error: {exc}")
        raise
    finally:
        stopping.cancel()
        beating.cancel()
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


DEFAULT_PORT = 9090


def port_from_env(environ: dict[str, str] | None = None) -> int:
    """The worker's probe/metrics port: ``TESTFLOW_METRICS_PORT`` (default 9090, 0 = any free)."""
    env = dict(os.environ) if environ is None else environ
    raw = env.get("TESTFLOW_METRICS_PORT", str(DEFAULT_PORT))
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"TESTFLOW_METRICS_PORT must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"TESTFLOW_METRICS_PORT must be between 0 and 65535, got {port}")
    return port


def probe_urls(argv: list[str], environ: dict[str, str]) -> list[str]:
    """What the container healthcheck probes, from the container's command line.

    ``worker`` -> the worker's ``/livez``; ``serve`` -> the API's ``/healthz``; anything else
    (a one-shot ``testflow run``) has no server to probe. ``TESTFLOW_HEALTHCHECK_URL`` wins.
    """
    if environ.get("TESTFLOW_HEALTHCHECK_URL"):
        return [environ["TESTFLOW_HEALTHCHECK_URL"]]
    if "worker" in argv:
        return [f"http://127.0.0.1:{port_from_env(environ)}/livez"]
    if "serve" in argv:
        return [f"http://127.0.0.1:{environ.get('TESTFLOW_API_PORT', '8420')}/healthz"]
    return []


def probe_main() -> int:
    """``python -m testflow.runtime.health``: the Dockerfile's HEALTHCHECK (exit 0 healthy)."""
    import urllib.error
    import urllib.request

    try:
        with open("/proc/1/cmdline", "rb") as fh:  # the container's main command
            argv = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        argv = sys.argv[1:]
    for url in probe_urls(argv, dict(os.environ)):
        try:
            with urllib.request.urlopen(url, timeout=4) as resp:
                if resp.status != 200:
                    print(f"unhealthy: {url} answered {resp.status}")
                    return 1
        except (urllib.error.URLError, OSError) as exc:
            print(f"unhealthy: {url}: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(probe_main())
