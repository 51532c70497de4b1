"""Fixtures for the reporting tests: a realistic report with details on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions
from tests.reporting.fixtures import SECRET, sample_report

REPO = Path(__file__).resolve().parents[2]
XSD = REPO / ".." / "shared" / "data" / "junit-10.xsd"


@pytest.fixture
def report(tmp_path: Path) -> Report:
    return sample_report(tmp_path / "artifacts")


@pytest.fixture
def options() -> ReportOptions:
    return ReportOptions(secrets=(SECRET,))
