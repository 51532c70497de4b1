"""The Report: what ``run.json`` holds, the canonical result of one ``testflow run``.

Every reporter (JUnit, HTML, Allure, Markdown, PDF) is a pure consumer of a :class:`Report`,
so ``testflow report RESULTS_DIR...`` can re-render or merge runs long after they finished.
``schemas/run.schema.json`` is generated from this model (see :func:`report_json_schema`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import testflow
from testflow.dsl.positions import first_problem
from testflow.dsl.results import RunResult, RunStatus, StepRecord

REPORT_FORMAT_VERSION = 1
RUN_JSON = "run.json"
STATUS_KEYS = ("passed", "failed", "error", "skipped", "cancelled")


class ReportError(Exception):
    """A report could not be read, merged or written; the message says why."""


class Report(BaseModel):
    """The canonical, schema-described result of one ``testflow run`` (one or more flows)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"title": "testflow run report"})

    format_version: int = Field(
        REPORT_FORMAT_VERSION,
        description="Version of this file's layout; bumped on breaking change.",
    )
    tool_version: str = Field(description="testflow version that produced the runs.")
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus
    environment: str | None = None
    git_sha: str | None = None
    hostname: str | None = None
    runs: list[RunResult] = Field(default_factory=list, description="One per flow run.")

    @property
    def duration_ms(self) -> float:
        """Wall-clock time from the first start to the last finish (not the sum of runs)."""
        if self.finished_at is None:
            return sum(run.duration_ms for run in self.runs)
        return max(0.0, (self.finished_at - self.started_at).total_seconds() * 1000.0)

    @property
    def step_counts(self) -> dict[str, int]:
        """Steps per status over every run."""
        out = dict.fromkeys(STATUS_KEYS, 0)
        for run in self.runs:
            for key, value in run.counts.items():
                out[key] += value
        return out

    @property
    def run_counts(self) -> dict[str, int]:
        """Flow runs per status (``running`` included for partial reports)."""
        out = dict.fromkeys((*STATUS_KEYS, "running"), 0)
        for run in self.runs:
            out[run.status] += 1
        return out

    @property
    def total_steps(self) -> int:
        return sum(len(run.steps) for run in self.runs)

    def all_steps(self) -> Iterable[tuple[RunResult, StepRecord]]:
        for run in self.runs:
            for step in run.steps:
                yield run, step

    @classmethod
    def from_runs(
        cls,
        runs: Sequence[RunResult],
        *,
        environment: str | None = None,
        git_sha: str | None = None,
        hostname: str | None = None,
        tool_version: str | None = None,
        detect: bool = True,
    ) -> Report:
        """Build a report from finished runs; ``detect`` fills git sha and hostname when unset."""
        if detect:
            git_sha = git_sha or detect_git_sha()
            hostname = hostname or socket.gethostname()
        starts = [run.started_at for run in runs]
        finishes = [run.finished_at for run in runs if run.finished_at is not None]
        now = datetime.now(UTC)
        envs = {run.environment for run in runs if run.environment}
        return cls(
            tool_version=tool_version or testflow.__version__,
            started_at=min(starts) if starts else now,
            finished_at=max(finishes) if finishes else (None if runs else now),
            status=overall_status(run.status for run in runs),
            environment=environment or (envs.pop() if len(envs) == 1 else None),
            git_sha=git_sha,
            hostname=hostname,
            runs=list(runs),
        )


def overall_status(statuses: Iterable[RunStatus]) -> RunStatus:
    """The worst status wins: error > failed > cancelled > running > passed."""
    order: tuple[RunStatus, ...] = ("error", "failed", "cancelled", "running")
    seen = set(statuses)
    for status in order:
        if status in seen:
            return status
    return "passed"


def detect_git_sha(cwd: Path | None = None) -> str | None:
    """The current commit, from CI variables or ``git rev-parse``; None outside a repository."""
    for var in ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "BUILD_VCS_NUMBER"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and sha else None


def load_report(path: str | Path) -> Report:
    """Read a ``run.json`` (or a results directory that holds one)."""
    file = Path(path)
    if file.is_dir():
        file = file / RUN_JSON
    if not file.is_file():
        raise ReportError(f"{file}: no such report file (expected a run.json or its directory)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{file}: not a readable JSON report: {exc}") from exc
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise ReportError(
            f"{file}: not a testflow run report ({exc.error_count()} problems; "
            f"first at {where or '<root>'}: {message})"
        ) from exc


def merge_reports(reports: Sequence[Report]) -> Report:
    """One report from several runs or shards.

    Runs are kept in order of appearance; a run id seen twice (the same results directory
    given twice) keeps its last copy, so merging is idempotent.
    """
    if not reports:
        raise ReportError("nothing to merge: no reports given")
    if len(reports) == 1:
        return reports[0]
    by_id: dict[str, RunResult] = {}
    for report in reports:
        for run in report.runs:
            by_id.pop(run.run_id, None)
            by_id[run.run_id] = run
    runs = list(by_id.values())
    envs = {r.environment for r in reports if r.environment}
    shas = {r.git_sha for r in reports if r.git_sha}
    hosts = {r.hostname for r in reports if r.hostname}
    finishes = [r.finished_at for r in reports if r.finished_at is not None]
    return Report(
        tool_version=reports[-1].tool_version,
        started_at=min(r.started_at for r in reports),
        finished_at=max(finishes) if len(finishes) == len(reports) else None,
        status=overall_status(run.status for run in runs),
        environment=envs.pop() if len(envs) == 1 else None,
        git_sha=shas.pop() if len(shas) == 1 else None,
        hostname=hosts.pop() if len(hosts) == 1 else ("+".join(sorted(hosts)) or None),
        runs=runs,
    )


def report_json_schema() -> dict[str, Any]:
    """JSON Schema of run.json (committed as ``schemas/run.schema.json``)."""
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://testflow.dev/schemas/run.schema.json"
    return schema
