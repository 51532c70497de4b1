"""No artefact of any format contains a secret, even one the runner forgot to mask."""

from __future__ import annotations

from pathlib import Path

import pytest

from testflow.dsl.results import LogLine
from testflow.reporting.model import Report
from testflow.reporting.options import Masker, ReportOptions
from testflow.reporting.writer import write_reports
from tests.reporting.fixtures import SECRET


def _leaky(report: Report) -> Report:
    """The sample report with the secret in clear in a log, the context and a flow name."""
    run = report.runs[0]
    step = run.steps[1].model_copy(
        update={"logs": [LogLine(message=f"Authorization: Bearer {SECRET}")]}
    )
    run = run.model_copy(
        update={
            "steps": [run.steps[0], step, *run.steps[2:]],
            "context": {**run.context, "apiKey": SECRET, SECRET: "as a key"},
            "flow": f"flow {SECRET}",
        }
    )
    return report.model_copy(update={"runs": [run, *report.runs[1:]]})


def test_every_artefact_is_masked(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "gh-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    leaky = _leaky(report)
    formats = ["json", "junit", "html", "allure", "md"]
    out = tmp_path / "out"
    write_reports(leaky, out, formats, options=ReportOptions(secrets=(SECRET, "ab")))
    files = [p for p in out.rglob("*") if p.is_file()] + [summary]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert SECRET not in text, f"secret leaked into {path.relative_to(tmp_path)}"
    assert "Bearer ***" in (out / "run.json").read_text()
    # Sanity: without the secret list the raw value does reach run.json (so the check above can fail).
    write_reports(leaky, tmp_path / "raw", ["json"])
    assert SECRET in (tmp_path / "raw" / "run.json").read_text()


def test_masker_rules() -> None:
    m = Masker(["abc", "abcdef", "x", ""])
    assert m.text("abcdef abc x") == "*** *** x"  # longest first; one-letter values are not masked
    assert m.data({"abc": ["abcdef", 1, None]}) == {"***": ["***", 1, None]}
    assert not Masker([])
