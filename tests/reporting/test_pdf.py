"""summary.pdf: one page printed by Debian's Chromium; a clear error without it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testflow.reporting.model import Report, ReportError
from testflow.reporting.options import ReportOptions
from testflow.reporting.pdf import render_summary_html
from testflow.reporting.writer import write_reports
from tests.reporting.conftest import REPO
from tests.reporting.fixtures import SECRET, big_report


@pytest.mark.browser
@pytest.mark.slow
def test_one_page_pdf(report: Report, tmp_path: Path) -> None:
    if shutil.which("chromium") is None or shutil.which("pdfinfo") is None:
        pytest.skip("needs chromium and poppler-utils (apt-get install chromium poppler-utils)")
    pdf = write_reports(report, tmp_path, ["pdf"], options=ReportOptions(secrets=(SECRET,)))["pdf"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           1" in info
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert (
        "Create order flow" in text
        and "steps.fanout.b0.checkOrder" in text
        and "ERROR" in text.upper()
    )
    assert SECRET not in text
    shots = REPO / "test-artifacts" / "reporting"
    shots.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(shots / "summary-pdf")],
        check=True,
    )
    big = write_reports(big_report(2000), tmp_path / "big", ["pdf"])["pdf"]
    info = subprocess.run(["pdfinfo", str(big)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           1" in info  # lists are cut to stay on one page


def test_summary_html_lists_are_cut(options: ReportOptions) -> None:
    html = render_summary_html(big_report(2000), options)
    assert "… and 13 more" in html  # 21 failures, 8 shown


def test_clear_error_without_chromium(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTFLOW_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(ReportError, match="the pdf report needs Chromium"):
        write_reports(report, tmp_path, ["json", "pdf"])
    assert (tmp_path / "run.json").is_file()  # written first, still there
