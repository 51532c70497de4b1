"""The output of `testflow run` and `testflow demo` carries no Temporal SDK core log lines.

Without testflow.runtime.cli_logging, each flow of a run gave one core ``WARN`` ("Query not found
when attempting to respond to it": the CLI stops waiting for a progress query when the run's
result comes first): three flows printed three of them in every try.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]

CORE_MARKERS = ("temporalio_sdk_core", " WARN ")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "TESTFLOW_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env.pop("TESTFLOW_TEMPORAL_ADDRESS", None)  # the embedded dev server, as a user gets it
    return env


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testflow", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )


def _core_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if any(marker in line for marker in CORE_MARKERS)
    ]


def test_testflow_run_output_has_no_core_warnings(tmp_path: Path) -> None:
    steps = "\n".join(
        f"  - id: s{i}\n    type: transform\n    set: {{v{i}: {i}}}" for i in range(20)
    )
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(f"name: quiet {name}\nsteps:\n{steps}\n")
    done = _cli(tmp_path, "run", ".", "--report", "json", "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    assert _core_lines(done) == []


def test_testflow_demo_output_has_no_core_warnings(tmp_path: Path) -> None:
    done = _cli(tmp_path, "demo", "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _core_lines(done) == []
