"""``summary.pdf``: a one-page executive summary printed with Chromium's print-to-PDF.

The page is a small static HTML (no script) printed by ``chromium --headless
--print-to-pdf``; lists are cut so it stays on one page. Without Chromium the format fails
with a message saying how to get it (other formats are unaffected when written first).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from testflow.reporting.markdown import _duration
from testflow.reporting.model import Report, ReportError
from testflow.reporting.options import ReportOptions, strip_ansi

SUMMARY_PDF = "summary.pdf"
MAX_RUNS = 18
MAX_FAILURES = 8
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_COLORS = {
    "passed": "#1a7f37",
    "failed": "#cf222e",
    "error": "#9a3412",
    "skipped": "#8c959f",
    "cancelled": "#6e56cf",
}


def find_chromium() -> str | None:
    """``$TESTFLOW_CHROMIUM`` or the first Chromium/Chrome on PATH."""
    explicit = os.environ.get("TESTFLOW_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else shutil.which(explicit)
    return next((path for name in _BROWSERS if (path := shutil.which(name))), None)


def render_summary_html(report: Report, options: ReportOptions) -> str:
    c = report.step_counts
    total = max(report.total_steps, 1)
    failures: list[dict[str, Any]] = []
    for run, step in report.all_steps():
        if step.status in ("failed", "error") and (step.error or step.assertions):
            bad = [a for a in step.assertions if not a.passed]
            message = step.error.message if step.error else f"{bad[0].path}: {bad[0].message}"
            failures.append(
                {"flow": run.flow, "key": step.key, "message": strip_ansi(message)[:240]}
            )
    runs = [
        {
            "flow": r.flow,
            "status": r.status,
            "steps": r.steps,
            "counts": r.counts,
            "duration": _duration(r.duration_ms),
        }
        for r in report.runs
    ]
    passed_runs = sum(1 for r in report.runs if r.status == "passed")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(
        (resources.files("testflow.reporting") / "templates" / "summary.html.j2").read_text(
            encoding="utf-8"
        )
    )
    html = template.render(
        title=options.title,
        r=report,
        c=c,
        started=report.started_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
        duration=_duration(report.duration_ms),
        pass_rate=round(100 * passed_runs / len(report.runs)) if report.runs else 100,
        bar=[(round(100 * c[k] / total, 2), color) for k, color in _COLORS.items() if c[k]],
        runs=runs[:MAX_RUNS],
        more_runs=max(0, len(runs) - MAX_RUNS),
        failures=failures[:MAX_FAILURES],
        more_failures=max(0, len(failures) - MAX_FAILURES),
    )
    return options.masker.text(html)


def write_pdf(report: Report, out_dir: Path, options: ReportOptions) -> Path:
    browser = find_chromium()
    if browser is None:
        raise ReportError(
            "the pdf report needs Chromium: install it (Debian/Ubuntu: `apt-get install chromium`) "
            "or set TESTFLOW_CHROMIUM to its path; the other formats do not need it"
        )
    target = out_dir / SUMMARY_PDF
    with tempfile.TemporaryDirectory(prefix="testflow-pdf-") as tmp:
        page = Path(tmp) / "summary.html"
        page.write_text(render_summary_html(report, options), encoding="utf-8")
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target.resolve()}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"Chromium could not print the PDF summary: {exc}") from exc
    if done.returncode != 0 or not target.is_file():
        raise ReportError(
            f"Chromium could not print the PDF summary (exit {done.returncode}): {done.stderr[-400:]}"
        )
    return target
