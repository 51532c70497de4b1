"""Prometheus metrics of a testflow process: testflow's own step metrics plus the Temporal SDK's.

Two sources end up on one scrape endpoint (``/metrics`` of :mod:`testflow.runtime.health`):

* testflow's own, kept with ``prometheus_client`` in a dedicated registry: steps by kind and
  status (``testflow_steps_total``), step durations (``testflow_step_duration_seconds``) and
  the worker's identity (``testflow_worker_info``: build id, task queue, version);
* the Temporal SDK's (``temporal_*``: task slots, poll latencies, schedule-to-start...),
  produced by the SDK core's own Prometheus exporter. The core only serves them on an address
  of its own, so :func:`install_sdk_metrics` binds it to loopback and the health server
  appends that page to testflow's: operators scrape one port per pod.

The activity runner calls :func:`record_step` once per finished step; it is cheap, never
raises, and works whether or not a metrics endpoint is served.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

import testflow

REGISTRY = CollectorRegistry(auto_describe=True)

# Buckets span a local transform (~ms) to a long durable wait (tens of minutes).
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    1800,
    3600,
)

STEPS = Counter(
    "testflow_steps",
    "Steps finished by this process, by step kind and final status.",
    ("kind", "status"),
    registry=REGISTRY,
)
STEP_DURATION = Histogram(
    "testflow_step_duration_seconds",
    "Wall time of a step attempt as the activity runner measured it.",
    ("kind", "status"),
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
WORKER_INFO = Gauge(
    "testflow_worker_info",
    "Always 1; the labels say which build of testflow serves which task queue.",
    ("version", "build_id", "task_queue"),
    registry=REGISTRY,
)

_sdk_metrics_address: str | None = None


def record_step(kind: str, status: str, duration_ms: float) -> None:
    """Count one finished step attempt of ``kind`` with ``status`` that took ``duration_ms``.

    Called by the activity runner for every step; a negative or NaN duration (clock skew,
    a bug upstream) is recorded as zero rather than breaking the step.
    """
    seconds = duration_ms / 1000.0 if duration_ms == duration_ms and duration_ms > 0 else 0.0
    STEPS.labels(kind=kind, status=status).inc()
    STEP_DURATION.labels(kind=kind, status=status).observe(seconds)


def set_worker_info(*, build_id: str | None, task_queue: str) -> None:
    """Publish which build serves which task queue (``testflow_worker_info``)."""
    WORKER_INFO.labels(
        version=testflow.__version__, build_id=build_id or "", task_queue=task_queue
    ).set(1)


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the SDK core needs a fixed address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def install_sdk_metrics(bind_address: str | None = None) -> str:
    """Make the default Temporal runtime export SDK metrics in Prometheus format.

    Must run before the first ``Client.connect`` of the process: clients and workers use the
    default runtime, and the SDK allows setting it only once. Returns the address the SDK
    serves its page on (``127.0.0.1:<free port>`` unless given).
    """
    global _sdk_metrics_address
    if _sdk_metrics_address is not None:
        return _sdk_metrics_address
    address = bind_address or f"127.0.0.1:{free_loopback_port()}"
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    try:
        Runtime.set_default(runtime, error_if_already_set=True)
    except RuntimeError as exc:
        raise RuntimeError(
            "Temporal SDK metrics must be installed before the first Temporal client is "
            f"created in this process: {exc}"
        ) from exc
    _sdk_metrics_address = address
    return address


def sdk_metrics_address() -> str | None:
    """Where the SDK's Prometheus page is served, if :func:`install_sdk_metrics` ran."""
    return _sdk_metrics_address


def render(*, timeout_s: float = 2.0) -> bytes:
    """The Prometheus text page: testflow's metrics, then the SDK's when installed.

    A failure to read the SDK page is reported as a comment and a gauge-like line, not an
    error: the scrape still returns testflow's own metrics.
    """
    page = generate_latest(REGISTRY)
    if _sdk_metrics_address is None:
        return page
    try:
        with urllib.request.urlopen(
            f"http://{_sdk_metrics_address}/metrics", timeout=timeout_s
        ) as response:
            sdk_page: bytes = response.read()
    except (urllib.error.URLError, OSError) as exc:
        note = f"# testflow: Temporal SDK metrics unavailable at {_sdk_metrics_address}: {exc}\n"
        return page + note.encode() + b"testflow_sdk_metrics_up 0\n"
    return page + sdk_page + b"testflow_sdk_metrics_up 1\n"
