"""`testflow run` with several flows runs one SuiteWorkflow: ``-c`` bounds the flows in flight,
``--fail-fast`` starts no more after a failure; reports keep one testsuite per flow.

A real subprocess on the embedded dev server; a small partner on loopback counts the requests
in flight (each held until one more than the bound is in flight, or 3 s).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.test_cli_run import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]


@dataclass
class Partner:
    url: str = ""
    hold: int = 3
    in_flight: int = 0
    max_in_flight: int = 0
    paths: Counter[str] = field(default_factory=Counter)
    lock: threading.Condition = field(default_factory=threading.Condition)


@pytest.fixture
def partner() -> Iterator[Partner]:
    state = Partner()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            with state.lock:
                state.paths[self.path] += 1
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                state.lock.notify_all()
                state.lock.wait_for(lambda: state.in_flight >= state.hold, timeout=3)
                state.in_flight -= 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def flow(name: str, url: str, status: int = 200) -> str:
    return f"""\
name: {name}
steps:
  - id: call
    type: http
    request: {{url: "{url}/{name}"}}
    assert: {{status: {status}}}
"""


def test_several_flows_run_within_the_concurrency(tmp_path: Path, partner: Partner) -> None:
    for i in range(4):
        (tmp_path / f"f{i}.yaml").write_text(flow(f"f{i}", partner.url))
    done = run_cli(tmp_path, "run", ".", "-c", "2", "--report", "json,junit")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert partner.max_in_flight == 2
    assert sorted(partner.paths) == [f"/f{i}" for i in range(4)]
    for i in range(4):
        assert f"f{i}: passed" in out and "✓ call" in out
    junit = (tmp_path / "results" / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 4
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert [r["flow"] for r in report["runs"]] == [f"f{i}" for i in range(4)]


def test_fail_fast_starts_no_more_flows(tmp_path: Path, partner: Partner) -> None:
    partner.hold = 1  # nothing held
    (tmp_path / "a.yaml").write_text(flow("a", partner.url, status=418))
    (tmp_path / "b.yaml").write_text(flow("b", partner.url))
    done = run_cli(tmp_path, "run", "a.yaml", "b.yaml", "-c", "1", "--fail-fast", "--report", "json")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "a: failed" in out and "b:" not in out
    assert list(partner.paths) == ["/a"]
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert [r["flow"] for r in report["runs"]] == ["a"]
