"""`testflow run --ui`: the dev server and its web UI stay up after the run until Ctrl-C, which
then ends the command like any run (reports, exit code 0 for a passing flow) and stops the dev
server. A real subprocess and the embedded dev server; deadlines only bound the waits."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.procs import alive, children_of, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]

FLOW = "name: tiny ui\nsteps:\n  - {id: one, type: transform, set: {x: 1}}\n"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_ui_stays_up_until_ctrl_c_then_everything_stops(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(FLOW)
    env = {**os.environ, "TESTFLOW_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env.pop("TESTFLOW_TEMPORAL_ADDRESS", None)
    args = ["run", "tiny.yaml", "--ui", "--report", "json", "--report-dir", "r"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "testflow", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    servers: list[int] = []
    try:
        wait_until(
            "the run to end with the UI kept up",
            lambda: proc.poll() is not None or any("still up at" in line for line in lines),
            limit_s=120,
        )
        assert proc.poll() is None, "".join(lines)
        match = re.search(r"still up at (http://\S+?);", "".join(lines))
        assert match is not None, "".join(lines)
        ui = match.group(1)
        assert "✓ tiny ui: passed" in "".join(lines)
        servers = children_of(proc.pid, b"start-dev")
        assert len(servers) == 1, servers
        assert _answers(ui)  # the Temporal web UI, while the command waits
        assert proc.poll() is None

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, "".join(lines)  # the flow passed
        reader.join(timeout=10)
        output = "".join(lines)
        assert "Traceback" not in output, output
        assert "1 passed" in output
        report = json.loads((tmp_path / "r" / "run.json").read_text())
        assert report["status"] == "passed"
        wait_until("the dev server to stop", lambda: not alive(servers[0]), limit_s=30)
        assert not _answers(ui)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in servers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
