"""``summary.md``: a Markdown summary for a GitHub step summary or a pull-request comment.

When ``GITHUB_STEP_SUMMARY`` is set (inside GitHub Actions) the summary is appended to that
file too. The text is capped below GitHub's 65,536-character comment limit.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

from testflow.dsl.results import RunResult, StepRecord
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions, earlier_attempts, strip_ansi, was_retried

SUMMARY_MD = "summary.md"
MAX_CHARS = 60_000
MAX_FAILURES = 30
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
ICONS = {
    "passed": "✅",
    "failed": "❌",
    "error": "💥",
    "skipped": "⏭️",
    "cancelled": "🚫",
    "running": "⏳",
}


def _cell(text: Any) -> str:
    """A value safe inside a table cell: one line, pipes escaped."""
    clean = _CONTROL.sub("", strip_ansi(str(text))).replace("\r", " ").replace("\n", " ")
    return html.escape(clean, quote=False).replace("|", "\\|")


def _duration(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{int(ms // 60_000)} m {round(ms % 60_000 / 1000)} s"


def _short(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "…"


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks inside the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def _failure(run: RunResult, step: StepRecord) -> str:
    head = f"<details><summary>{ICONS[step.status]} <b>{_cell(run.flow)}</b> &rsaquo; <code>{_cell(step.key)}</code>"
    if step.error is not None:
        head += f" — {_cell(step.error.type)}: {_cell(_short(step.error.message, 200))}"
    lines = [head + "</summary>", ""]
    if step.summary:
        lines.append(f"`{_cell(step.summary)}`\n")
    for a in step.assertions:
        if a.passed:
            continue
        lines.append(f"- `{_cell(a.path)}` {_cell(a.matcher)}: {_cell(a.message)}")
        body = a.diff or f"expected: {_short(a.expected)}\nactual:   {_short(a.actual)}"
        lines.append("")
        lines.append(_fence(strip_ansi(body)))
    if earlier_attempts(step):
        tries = "; ".join(f"#{a.attempt}: {_cell(a.error)}" for a in earlier_attempts(step))
        lines.append(f"\nRetries: {tries}")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def render_markdown(report: Report, options: ReportOptions) -> str:
    c = report.step_counts
    icon = ICONS.get(report.status, "")
    out = [
        f"## {icon} {_cell(options.title)}: {report.status}",
        "",
        f"**{len(report.runs)}** flows, **{report.total_steps}** steps: "
        f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped'] + c['cancelled']} skipped — {_duration(report.duration_ms)}",
        "",
        "| Flow | Status | Passed | Failed | Errors | Skipped | Duration |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in report.runs:
        rc = run.counts
        out.append(
            f"| {_cell(run.flow)} | {ICONS.get(run.status, '')} {run.status} | {rc['passed']} | "
            f"{rc['failed']} | {rc['error']} | {rc['skipped'] + rc['cancelled']} | {_duration(run.duration_ms)} |"
        )
    failures = [
        (r, s)
        for r, s in report.all_steps()
        if s.status in ("failed", "error") and (s.error or s.assertions)
    ]
    run_errors = [r for r in report.runs if r.error is not None]
    if failures or run_errors:
        out += ["", "### Failures", ""]
        for run in run_errors:
            assert run.error is not None
            out.append(
                f"- **{_cell(run.flow)}**: {_cell(run.error.type)}: {_cell(run.error.message)}"
            )
        for run, step in failures[:MAX_FAILURES]:
            out.append(_failure(run, step))
        if len(failures) > MAX_FAILURES:
            out.append(f"_…and {len(failures) - MAX_FAILURES} more failures; see the HTML report._")
    flaky = [(r, s) for r, s in report.all_steps() if was_retried(s)]
    if flaky:
        out += ["", "### Passed on retry", ""]
        out += [
            f"- {_cell(r.flow)} &rsaquo; `{_cell(s.key)}` ({s.attempts} attempts)"
            for r, s in flaky[:MAX_FAILURES]
        ]
    meta = [f"testflow {report.tool_version}"]
    if report.environment:
        meta.append(f"environment `{_cell(report.environment)}`")
    if report.git_sha:
        meta.append(f"commit `{report.git_sha[:12]}`")
    if report.hostname:
        meta.append(f"host `{_cell(report.hostname)}`")
    out += ["", "<sub>" + " · ".join(meta) + "</sub>", ""]
    text = options.masker.text("\n".join(out))
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "\n\n_(summary truncated; see the HTML report)_\n"
    return text


def write_markdown(report: Report, out_dir: Path, options: ReportOptions) -> Path:
    text = render_markdown(report, options)
    path = out_dir / SUMMARY_MD
    path.write_text(text, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return path
