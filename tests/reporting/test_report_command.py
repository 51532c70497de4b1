"""``testflow report``: re-render and merge results directories through the real CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from testflow.cli import app
from testflow.reporting.model import Report, load_report
from testflow.reporting.writer import write_reports
from tests.reporting.fixtures import big_report

runner = CliRunner()


def test_rerender_and_merge_shards(report: Report, tmp_path: Path) -> None:
    write_reports(report, tmp_path / "shard1", ["json"])
    write_reports(big_report(3), tmp_path / "shard2", ["json"])
    out = tmp_path / "merged"
    result = runner.invoke(
        app,
        [
            "report",
            str(tmp_path / "shard1"),
            str(tmp_path / "shard2" / "run.json"),
            "--report",
            "json,junit,html,md,allure",
            "--report-dir",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 flow runs, 12 steps" in result.output
    merged = load_report(out)
    assert [r.flow for r in merged.runs] == [
        "Create order flow",
        'Health <check> & "ping"',
        "Big flow",
    ]
    suites = ET.parse(out / "junit.xml").getroot().findall("testsuite")
    assert len(suites) == 3
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "summary.md").read_text().count("| Big flow |") == 1
    assert len(list((out / "allure-results").glob("*-result.json"))) == 3


def test_single_dir_rerenders_in_place_and_exit_status(report: Report, tmp_path: Path) -> None:
    write_reports(report, tmp_path, ["json"])
    result = runner.invoke(
        app,
        ["report", str(tmp_path), "-r", "junit", "--junit-granularity", "flow", "--exit-status"],
    )
    assert result.exit_code == 1  # the run had failures and --exit-status was asked
    cases = list(ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"))
    assert len(cases) == 2


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no such report file" in result.output
    (tmp_path / "run.json").write_text(json.dumps({"hello": 1}))
    result = runner.invoke(app, ["report", str(tmp_path), "--report", "html,pptx"])
    assert result.exit_code == 2 and "unknown report format 'pptx'" in result.output
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a testflow run report" in result.output
