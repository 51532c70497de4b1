"""allure-results/: file layout, and a real report generated from it with the Allure CLI.

The CLI is the npm package ``allure-commandline`` (Allure 2, runs on the machine's Java 17),
pinned with a lockfile in tests/reporting/allure/ and installed there with ``npm ci`` on first
use. The test skips loudly if it cannot be installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions
from testflow.reporting.writer import write_reports
from tests.reporting.fixtures import SECRET

ALLURE_PKG = Path(__file__).parent / "allure"
ALLURE_BIN = ALLURE_PKG / "node_modules" / ".bin" / "allure"


def _results(report: Report, tmp_path: Path) -> Path:
    return write_reports(report, tmp_path, ["allure"], options=ReportOptions(secrets=(SECRET,)))[
        "allure"
    ]


def _load(root: Path, suffix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.glob(f"*-{suffix}.json"))]


def test_results_layout(report: Report, tmp_path: Path) -> None:
    root = _results(report, tmp_path)
    results = {r["name"]: r for r in _load(root, "result")}
    assert set(results) == {"Create order flow", 'Health <check> & "ping"'}
    order = results["Create order flow"]
    assert order["status"] == "broken" and order["statusDetails"]["flaky"] is True
    assert order["statusDetails"]["message"].startswith("Timeout: ")
    names = [s["name"] for s in order["steps"]]
    assert names[0] == "createOrder (http) — POST /orders -> 201"
    fanout = order["steps"][1]
    assert [s["status"] for s in fanout["steps"]] == [
        "failed",
        "broken",
    ]  # the parallel branches nest
    create = order["steps"][0]
    assert {a["name"] for a in create["attachments"]} >= {"request", "response", "logs"}
    for att in create["attachments"]:
        assert (root / att["source"]).is_file()
    params = {p["name"]: p for p in order["parameters"]}
    assert params["token"] == {"name": "token", "value": "***", "mode": "masked"}
    labels = {(x["name"], x["value"]) for x in order["labels"]}
    assert {("suite", "Create order flow"), ("tag", "orders"), ("host", "ci-runner-1")} <= labels
    (container,) = _load(root, "container")
    assert container["children"] == [order["uuid"]]
    assert [s["name"] for s in container["befores"]] == ["seed (postgresql.query) — INSERT 1"]
    assert [s["name"] for s in container["afters"]] == ["cleanup (postgresql.query)"]
    assert "environment=staging" in (root / "environment.properties").read_text()
    assert json.loads((root / "categories.json").read_text())[0]["name"] == "Assertion failures"
    assert json.loads((root / "executor.json").read_text())["name"]
    # Stable identity: the same report written again produces the same files and ids.
    before = sorted(p.name for p in root.iterdir())
    _results(report, tmp_path)
    assert sorted(p.name for p in root.iterdir()) == before
    for path in root.iterdir():
        assert SECRET not in path.read_text(), path.name


def _allure() -> Path:
    if ALLURE_BIN.exists():
        return ALLURE_BIN
    npm = shutil.which("npm")
    if npm is None or shutil.which("java") is None:
        pytest.skip("SKIPPED LOUDLY: npm or java missing, cannot install the Allure command line")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=ALLURE_PKG,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not ALLURE_BIN.exists():
        pytest.skip(f"SKIPPED LOUDLY: `npm ci` of allure-commandline failed: {done.stderr[-500:]}")
    return ALLURE_BIN


@pytest.mark.slow
def test_allure_cli_generates_a_report(report: Report, tmp_path: Path) -> None:
    root = _results(report, tmp_path)
    out = tmp_path / "allure-report"
    done = subprocess.run(
        [str(_allure()), "generate", str(root), "-o", str(out), "--clean"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "widgets" / "summary.json").read_text())
    assert summary["statistic"] == {
        "failed": 0,
        "broken": 1,
        "skipped": 0,
        "passed": 1,
        "unknown": 0,
        "total": 2,
    }
    cases = [json.loads(p.read_text()) for p in (out / "data" / "test-cases").glob("*.json")]
    order = next(c for c in cases if c["name"] == "Create order flow")
    assert order["flaky"] is True
    assert len(order["beforeStages"]) == 1 and len(order["afterStages"]) == 1
    categories = json.loads((out / "widgets" / "categories.json").read_text())
    assert [c["name"] for c in categories["items"]] == ["Timeouts"]
    env = json.loads((out / "widgets" / "environment.json").read_text())
    assert {"name": "environment", "values": ["staging"]} in env
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".html"):
            assert SECRET not in path.read_text(errors="replace"), path


def test_history_ids_stable_across_runs(report: Report, tmp_path: Path) -> None:
    first = {r["name"]: r for r in _load(_results(report, tmp_path / "a"), "result")}
    again = report.model_copy(
        update={"runs": [r.model_copy(update={"run_id": r.run_id + "-2"}) for r in report.runs]}
    )
    second = {r["name"]: r for r in _load(_results(again, tmp_path / "b"), "result")}
    for name, result in first.items():
        assert second[name]["historyId"] == result["historyId"]
        assert second[name]["testCaseId"] == result["testCaseId"]
        assert second[name]["uuid"] != result["uuid"]
    assert len({r["historyId"] for r in first.values()}) == 2
