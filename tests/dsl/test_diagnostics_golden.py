"""Golden tests: each broken flow under golden/ gives exactly the diagnostics in its .expected file.

The .expected files hold the full text output (``file:line:col: path: message`` + snippet) of
every diagnostic. Regenerate them after an intended change with
``TESTFLOW_UPDATE_GOLDEN=1 pytest tests/dsl/test_diagnostics_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from testflow.dsl.diagnostics import Diagnostic, FlowValidationError
from testflow.dsl.loader import load_flow

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.suffix in (".yaml", ".json"))
UPDATE = os.environ.get("TESTFLOW_UPDATE_GOLDEN") == "1"
HEADLINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+): ")


def _diagnostics(case: Path) -> list[Diagnostic]:
    try:
        loaded = load_flow(case.name)
    except FlowValidationError as exc:
        return exc.diagnostics
    return loaded.warnings


def _render(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(d.format(color=False) for d in diagnostics) + "\n"


def test_enough_golden_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)  # file names in the output are relative: golden output is portable
    diagnostics = _diagnostics(case)
    assert diagnostics, f"{case.name} is meant to be broken but loaded without a diagnostic"
    actual = _render(diagnostics)
    expected_file = case.with_suffix(case.suffix + ".expected")
    if UPDATE:
        expected_file.write_text(actual, encoding="utf-8")
    assert expected_file.is_file(), f"no {expected_file.name}; run with TESTFLOW_UPDATE_GOLDEN=1"
    expected = expected_file.read_text(encoding="utf-8")
    assert actual == expected
    # The positions point at real text: the caret column exists on the quoted line.
    lines = case.read_text(encoding="utf-8").split("\n")
    for diag in diagnostics:
        if diag.file != case.name:
            continue  # a diagnostic of a called sub-flow
        assert 1 <= diag.line <= max(len(lines), 1)
        assert 1 <= diag.col <= len(lines[diag.line - 1]) + 1
        assert HEADLINE.match(diag.format())
