"""History: summaries per report, trends, flaky detection and failure clusters."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from testflow.dsl.results import StepError
from testflow.reporting.history import analyse, failure_signature, load_history
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions
from testflow.reporting.writer import write_reports
from tests.reporting.fixtures import health_run, step


def _health(i: int, passed: bool, order: int) -> Report:
    run = health_run()
    shift = timedelta(hours=i)
    s = step("steps.ping", "passed" if passed else "error", 400, 5)
    if not passed:
        s = s.model_copy(
            update={
                "error": StepError(
                    type="Timeout", message=f"no answer from 10.0.0.{order} within {order}s"
                )
            }
        )
    run = run.model_copy(
        update={
            "run_id": f"run-health-{i}",
            "status": "passed" if passed else "error",
            "started_at": run.started_at + shift,
            "steps": [s],
        }
    )
    return Report.from_runs([run], detect=False)


def test_history_written_and_shown(tmp_path: Path) -> None:
    for i, ok in enumerate([True, False, True, False]):
        write_reports(_health(i, ok, order=i + 7), tmp_path, ["json", "html"])
    entries = load_history(tmp_path / "history")
    assert [e["status"] for e in entries] == ["passed", "error", "passed", "error"]
    html = (tmp_path / "report.html").read_text()
    data = json.loads(re.search(r'id="tf-data">(.*?)</script>', html, re.S).group(1))
    hist = data["history"]
    assert hist["runs"] == 3
    (flow,) = hist["flows"]
    assert flow["outcomes"] == ["passed", "error", "passed", "error"]
    assert flow["flaky"] and "changed 3 times" in flow["flaky_reason"]
    (cluster,) = hist["clusters"]
    assert (
        cluster["count"] == 2
        and cluster["signature"] == "Timeout: no answer from <addr> within <n>"
    )
    # Re-rendering the same report does not add a history entry.
    write_reports(_health(3, False, order=10), tmp_path, ["json"])
    assert len(load_history(tmp_path / "history")) == 4


def test_passed_on_retry_is_flaky(report: Report, tmp_path: Path) -> None:
    write_reports(
        report, tmp_path / "a", ["json"], options=ReportOptions(history_dir=tmp_path / "h")
    )
    view = analyse(load_history(tmp_path / "h"))
    flows = {f["flow"]: f for f in view["flows"]}
    assert flows["Create order flow"]["flaky_reason"] == "passed on retry: steps.createOrder"
    assert not flows['Health <check> & "ping"']["flaky"]
    assert {c["signature"] for c in view["clusters"]} == {
        "Timeout: no message matched within <n>",
        "AssertionFailed: <n> of <n> assertions failed",
    }


def test_history_off_and_unreadable_files(report: Report, tmp_path: Path) -> None:
    write_reports(report, tmp_path, ["json"], options=ReportOptions(history=False))
    assert not (tmp_path / "history").exists()
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "bad.json").write_text("{")
    assert load_history(tmp_path / "history") == []


def test_signature_of_assertion_failure(report: Report) -> None:
    s = report.runs[0].steps[3].model_copy(update={"error": None})
    assert failure_signature(s) == "AssertionFailed: $ subset; $.status eq"
