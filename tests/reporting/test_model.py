"""The Report model: status, counts, load/merge, and the committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from testflow.reporting.json_report import SCHEMA_PATH, schema_text
from testflow.reporting.model import Report, ReportError, load_report, merge_reports, overall_status
from testflow.reporting.options import ReportOptions
from testflow.reporting.writer import write_reports
from tests.reporting.fixtures import big_report


def test_counts_and_status(report: Report) -> None:
    assert report.status == "error"
    assert report.step_counts == {
        "passed": 4,
        "failed": 2,
        "error": 1,
        "skipped": 1,
        "cancelled": 1,
    }
    assert report.run_counts["passed"] == 1 and report.run_counts["error"] == 1
    assert report.total_steps == 9
    assert report.duration_ms == pytest.approx(405.0)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["passed", "passed"], "passed"),
        (["passed", "failed"], "failed"),
        (["failed", "error"], "error"),
        (["cancelled", "passed"], "cancelled"),
        ([], "passed"),
    ],
)
def test_overall_status(statuses: list, expected: str) -> None:
    assert overall_status(statuses) == expected


def test_round_trip_and_schema(report: Report, tmp_path: Path) -> None:
    paths = write_reports(report, tmp_path / "out", ["json"], options=ReportOptions())
    loaded = load_report(tmp_path / "out")
    assert loaded == report
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(paths["json"].read_text()))


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.is_file(), "run `python -m testflow.reporting.json_report`"
    assert SCHEMA_PATH.read_text() == schema_text(), (
        "schemas/run.schema.json is stale: run `python -m testflow.reporting.json_report`"
    )


def test_merge_is_idempotent_and_combines(report: Report) -> None:
    other = big_report(5)
    merged = merge_reports([report, other, report])
    assert [r.run_id for r in merged.runs] == [
        "run-big-000001",
        "run-create-order-1a2b3c",
        "run-health-9f8e7d",
    ]
    assert merged.status == "error"
    assert merged.started_at == min(report.started_at, other.started_at)
    assert merged.git_sha is None  # two different commits: no single sha to claim
    assert merge_reports([report, report]).runs == report.runs


def test_load_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such report file"):
        load_report(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ReportError, match="not a readable JSON report"):
        load_report(tmp_path)
    (tmp_path / "run.json").write_text('{"runs": 3}')
    with pytest.raises(ReportError, match="not a testflow run report"):
        load_report(tmp_path)
    with pytest.raises(ReportError, match="nothing to merge"):
        merge_reports([])
