"""GitHub Actions annotations: ``::error file=...,line=...::message`` lines on stdout.

Emitted by :func:`testflow.reporting.writer.write_reports` when ``GITHUB_ACTIONS=true``, so a
failing step shows up on the flow file's line in the pull request diff. Escaping follows the
Actions toolkit (``%``, CR, LF in data; also ``:`` and ``,`` in properties).
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from testflow.dsl.results import RunResult, StepRecord
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions, earlier_attempts, strip_ansi, was_retried

MAX_ANNOTATIONS = 50
"""GitHub shows at most 10 errors per step and 50 per run; more is noise."""


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _message(step: StepRecord) -> str:
    parts = []
    if step.error is not None:
        parts.append(f"{step.error.type}: {step.error.message}")
    for a in step.assertions:
        if not a.passed:
            parts.append(f"{a.path} {a.matcher}: expected {a.expected!r}, got {a.actual!r}")
    return "\n".join(parts) or f"step {step.status}"


def _line(
    level: str,
    run: RunResult,
    step: StepRecord | None,
    title: str,
    message: str,
    options: ReportOptions,
) -> str:
    props = []
    if run.flow_file:
        props.append(f"file={_prop(run.flow_file)}")
        if step is not None:
            line = options.line_of(run.run_id, step.key, step.step_id)
            if line:
                props.append(f"line={line}")
    props.append(f"title={_prop(title)}")
    text = options.masker.text(strip_ansi(message))
    return f"::{level} {','.join(props)}::{_data(text)}"


def annotation_lines(report: Report, options: ReportOptions) -> list[str]:
    """One annotation per failed/errored step (and per run error), warnings for flaky steps."""
    out: list[str] = []
    for run in report.runs:
        if run.error is not None:
            out.append(
                _line(
                    "error",
                    run,
                    None,
                    f"{run.flow}: run {run.status}",
                    f"{run.error.type}: {run.error.message}",
                    options,
                )
            )
        for step in run.steps:
            if step.status in ("failed", "error") and (step.error or step.assertions):
                out.append(
                    _line(
                        "error",
                        run,
                        step,
                        f"{run.flow}: {step.key} {step.status}",
                        _message(step),
                        options,
                    )
                )
            elif was_retried(step):
                errors = "; ".join(
                    f"attempt {a.attempt}: {a.error}" for a in earlier_attempts(step)
                )
                out.append(
                    _line(
                        "warning",
                        run,
                        step,
                        f"{run.flow}: {step.key} flaky",
                        f"passed after {step.attempts} attempts ({errors})",
                        options,
                    )
                )
    if len(out) > MAX_ANNOTATIONS:
        dropped = len(out) - MAX_ANNOTATIONS
        out = [
            *out[:MAX_ANNOTATIONS],
            f"::notice title=testflow::{dropped} more annotations left out; see the report",
        ]
    return [options.masker.text(line) for line in out]


def emit_annotations(report: Report, options: ReportOptions, stream: TextIO | None = None) -> int:
    """Print the annotations; returns how many lines were printed."""
    lines = annotation_lines(report, options)
    target = stream or sys.stdout
    for line in lines:
        print(line, file=target)
    target.flush()
    return len(lines)
