"""Golden files for every text format on the fixed sample report.

Timestamps and run ids are fixed by the fixture; what still varies (the temporary artefact
directory, the testflow and Python versions) is normalised. Regenerate after an intended
change with ``TESTFLOW_UPDATE_GOLDEN=1 pytest tests/reporting/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

import pytest

import testflow
from testflow.reporting.html import report_data
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions
from testflow.reporting.writer import write_reports
from tests.reporting.fixtures import SECRET

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TESTFLOW_UPDATE_GOLDEN") == "1"


def _normalise(text: str, tmp_path: Path) -> str:
    text = text.replace(tmp_path.as_uri(), "file://<TMP>").replace(str(tmp_path), "<TMP>")
    text = re.sub(
        r'("tool_version": |"tool":|tool_version" value=|testflow\.version=|testflow )"?'
        + re.escape(testflow.__version__),
        lambda m: m.group(0).replace(testflow.__version__, "<VERSION>"),
        text,
    )
    return text.replace(f"python={platform.python_version()}", "python=<PYTHON>")


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"golden file {path} missing: run with TESTFLOW_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.fixture
def written(report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    for var in (
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_SERVER_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
    ):
        monkeypatch.delenv(var, raising=False)
    return write_reports(
        report,
        tmp_path / "out",
        ["json", "junit", "md", "allure"],
        options=ReportOptions(secrets=(SECRET,)),
    )


@pytest.mark.parametrize(
    ("fmt", "golden"), [("json", "run.json"), ("junit", "junit.xml"), ("md", "summary.md")]
)
def test_single_file_formats(
    written: dict[str, Path], tmp_path: Path, fmt: str, golden: str
) -> None:
    _check(golden, _normalise(written[fmt].read_text(encoding="utf-8"), tmp_path))


def test_allure_results(written: dict[str, Path], tmp_path: Path) -> None:
    root = written["allure"]
    combined = []
    for path in sorted(root.iterdir()):
        combined.append(
            f"=== {path.name}\n{_normalise(path.read_text(encoding='utf-8'), tmp_path)}"
        )
    _check("allure-results.txt", "\n".join(combined) + "\n")


def test_html_data(report: Report, tmp_path: Path) -> None:
    data = report_data(report, ReportOptions(secrets=(SECRET,)))
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    _check("report-data.json", _normalise(text, tmp_path))
