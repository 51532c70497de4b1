"""Prometheus metrics of one API process (its own registry, so several apps can coexist)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "testflow_api_request_seconds",
            "API request duration by route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.runs_started = Counter(
            "testflow_runs_started_total",
            "Runs started through this API.",
            ["trigger"],
            registry=self.registry,
        )
        self.runs_finished = Counter(
            "testflow_runs_finished_total",
            "Runs seen finishing, by status.",
            ["status"],
            registry=self.registry,
        )
        self.runs_active = Gauge(
            "testflow_runs_active", "Runs this API is following.", registry=self.registry
        )
        self.start_seconds = Histogram(
            "testflow_run_start_seconds",
            "Time to validate a flow and start its workflow.",
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5),
        )
        self.progress_queries = Counter(
            "testflow_progress_queries_total",
            "Progress queries the live event streams sent to Temporal (each costs the worker and "
            "Temporal about what a start costs).",
            registry=self.registry,
        )
        self.sse_streams = Gauge(
            "testflow_sse_streams", "Open run event streams.", registry=self.registry
        )
