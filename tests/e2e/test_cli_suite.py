"""`testflow run` with several flows runs one SuiteWorkflow: ``-c`` bounds the flows in flight,
``--fail-fast`` starts no more after a failure; reports keep one testsuite per flow.

A real subprocess on the embedded dev server; a small partner on loopback counts the requests
in flight (tests/partners.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli_run import run_cli
from tests.partners import CountingPartner

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]


def flow(name: str, url: str, status: int = 200) -> str:
    return f"""\
name: {name}
steps:
  - id: call
    type: http
    request: {{url: "{url}/wait/{name}"}}
    assert: {{status: {status}}}
"""


def test_several_flows_run_within_the_concurrency(tmp_path: Path, partner: CountingPartner) -> None:
    partner.hold = 3  # one more than -c allows: held until the 3 s limit if the bound holds
    for i in range(4):
        (tmp_path / f"f{i}.yaml").write_text(flow(f"f{i}", partner.url))
    done = run_cli(tmp_path, "run", ".", "-c", "2", "--report", "json,junit")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert partner.max_in_flight == 2
    assert sorted(partner.paths) == [f"/wait/f{i}" for i in range(4)]
    for i in range(4):
        assert f"f{i}: passed" in out and "✓ call" in out
    junit = (tmp_path / "results" / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 4
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert [r["flow"] for r in report["runs"]] == [f"f{i}" for i in range(4)]


def test_fail_fast_starts_no_more_flows(tmp_path: Path, partner: CountingPartner) -> None:
    (tmp_path / "a.yaml").write_text(flow("a", partner.url, status=418))
    (tmp_path / "b.yaml").write_text(flow("b", partner.url))
    done = run_cli(
        tmp_path, "run", "a.yaml", "b.yaml", "-c", "1", "--fail-fast", "--report", "json"
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "a: failed" in out and "b:" not in out
    assert list(partner.paths) == ["/wait/a"]
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert [r["flow"] for r in report["runs"]] == ["a"]
