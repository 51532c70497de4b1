"""summary.md, GITHUB_STEP_SUMMARY and GitHub Actions annotations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from testflow.reporting.github import annotation_lines, emit_annotations
from testflow.reporting.markdown import render_markdown
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions
from testflow.reporting.writer import write_reports
from tests.reporting.fixtures import SECRET, big_report


def test_summary_content(report: Report, options: ReportOptions) -> None:
    md = render_markdown(report, options)
    assert md.startswith("## 💥 testflow report: error")
    assert "| Create order flow | 💥 error | 3 | 2 | 1 | 2 | 374 ms |" in md
    assert 'Health &lt;check&gt; &amp; "ping"' in md  # markup in names is shown, not interpreted
    assert "<code>steps.fanout.b0.checkOrder</code>" in md
    assert "+PENDING" in md and "Retries: #1: broker not ready" in md
    assert "steps.createOrder` (3 attempts)" in md
    assert "\x07" not in md and SECRET not in md


def test_summary_is_capped(options: ReportOptions) -> None:
    md = render_markdown(big_report(4000), options)
    assert len(md) < 65_536
    assert "more failures; see the HTML report" in md


def test_step_summary_file_and_annotations(
    report: Report,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    opts = ReportOptions(
        secrets=(SECRET,), flow_files={"run-create-order-1a2b3c": {"checkOrder": 31}}
    )
    write_reports(report, tmp_path / "out", ["md"], options=opts)
    text = summary.read_text()
    assert text.startswith("earlier step\n## 💥")
    assert (tmp_path / "out" / "summary.md").read_text() in text
    printed = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith(
            "::error file=examples/orders/create-order.yaml,line=31,title=Create order flow%3A steps.fanout.b0.checkOrder failed::"
        )
        for line in printed
    )


def test_annotations_escape_and_classify(report: Report) -> None:
    lines = annotation_lines(report, ReportOptions(secrets=(SECRET,)))
    errors = [x for x in lines if x.startswith("::error")]
    warnings = [x for x in lines if x.startswith("::warning")]
    assert len(errors) == 2 and len(warnings) == 1
    assert all("\n" not in x for x in lines)
    assert "%0A" in errors[0]  # multi-line message kept as escaped newlines
    stream = io.StringIO()
    assert emit_annotations(report, ReportOptions(), stream) == 3


def test_annotations_are_capped() -> None:
    lines = annotation_lines(big_report(10_000), ReportOptions())
    assert len(lines) == 51 and lines[-1].startswith("::notice")


def test_no_annotations_outside_actions(
    report: Report,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_reports(report, tmp_path, ["md"])
    assert "::error" not in capsys.readouterr().out
