"""Attach to runs that outlived the ``testflow run`` process that started them.

A run is a Temporal workflow: when the CLI dies (SIGKILL, a closed laptop, a CI runner
timeout) the run goes on as soon as any worker polls its task queue. ``testflow runs attach
RUN_ID`` and ``testflow run --resume`` (wired by the CLI, see docs/durable.md) use this module
to follow such a run from its first event, print its progress and write the reports.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

import testflow
from testflow.dsl.results import RunEvent, RunResult
from testflow.reporting.model import Report, detect_git_sha, overall_status
from testflow.reporting.options import ReportOptions
from testflow.reporting.writer import write_reports
from testflow.runtime.engine import Engine

Printer = Callable[[RunEvent], Awaitable[None] | None]

# Runs in these states have a RunResult to show; the others ended without one.
_FOLLOWABLE = {
    WorkflowExecutionStatus.RUNNING,
    WorkflowExecutionStatus.COMPLETED,
    WorkflowExecutionStatus.CONTINUED_AS_NEW,
}


class AttachError(RuntimeError):
    """The run cannot be followed: unknown id, or it ended without a result (terminated...)."""


async def attach(engine: Engine, run_id: str, printer: Printer | None = None) -> RunResult:
    """Follow ``run_id`` from its first event to its end; returns its result.

    The engine needs a worker on the run's task queue (its own, or remote workers): without
    one the run does not progress, and this waits like the run does.
    """
    if engine.client is None:
        raise AttachError("the engine is not started")
    handle = engine.client.get_workflow_handle(run_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise AttachError(
                f"no run {run_id!r} on this Temporal (namespace {engine.settings.temporal_namespace}); "
                "check the id and --temporal"
            ) from exc
        raise
    status = description.status
    if status is not None and status not in _FOLLOWABLE:
        raise AttachError(
            f"run {run_id!r} ended as {status.name.lower()} without a result to report"
        )
    return await engine.follow(run_id, printer)


async def running_runs(engine: Engine, flow_names: Iterable[str]) -> list[str]:
    """Ids of the runs of these flows that are still running (for ``testflow run --resume``)."""
    if engine.client is None:
        raise AttachError("the engine is not started")
    names = sorted(set(flow_names))
    if not names:
        return []
    quoted = ", ".join("'" + n.replace("\\", "\\\\").replace("'", "\\'") + "'" for n in names)
    query = f"ExecutionStatus = 'Running' AND TestflowFlow IN ({quoted})"
    return [wf.id async for wf in engine.client.list_workflows(query)]


def write_attached_reports(
    results: Sequence[RunResult],
    report_dir: Path,
    formats: Sequence[str],
    *,
    secrets: Sequence[str] = (),
) -> dict[str, Path]:
    """The same reports ``testflow run`` writes, for runs followed after an attach."""
    started = min((r.started_at for r in results if r.started_at), default=datetime.now(UTC))
    report = Report(
        tool_version=testflow.__version__,
        started_at=started,
        finished_at=datetime.now(UTC),
        status=overall_status(r.status for r in results),
        environment=next((r.environment for r in results if r.environment), None),
        git_sha=detect_git_sha(),
        hostname=socket.gethostname(),
        runs=list(results),
    )
    return write_reports(report, report_dir, formats, options=ReportOptions(secrets=tuple(secrets)))
