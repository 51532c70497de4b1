"""`testflow run` end to end: a real subprocess, the embedded dev server, the demo service."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testflow.demo import start_demo_service
from tests.conftest import SHARED_DATA

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]

SECRET = "tf-secret-9f8e7d6c5b"

PASSING = """
name: Secret order
tags: [smoke]
context:
  base: "{{ env.ORDERS_URL }}"
  token: "{{ secret('PARTNER_TOKEN') }}"
steps:
  - id: create
    type: http
    request:
      method: POST
      url: "{{ base }}/orders"
      headers: {X-Partner-Token: "{{ token }}"}
      json: {product: "book for {{ token }}", price: 12}
    extract: {orderId: "$.id"}
    assert: {status: 201}
  - id: note
    type: log
    message: "created {{ orderId }} with {{ token }}"
"""

FAILING = """
name: Failing order
tags: [smoke]
steps:
  - id: create
    type: http
    request: {method: POST, url: "{{ env.ORDERS_URL }}/orders", json: {product: x, price: 1}}
    assert: {status: 418}
"""


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    url, stop = start_demo_service(0)
    yield url
    stop()


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testflow", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_pass_fail_reports_and_no_secret_anywhere(tmp_path: Path, demo_url: str) -> None:
    (tmp_path / "ok.yaml").write_text(PASSING)
    (tmp_path / "bad.yaml").write_text(FAILING)
    env = {"ORDERS_URL": demo_url, "PARTNER_TOKEN": SECRET}
    done = run_cli(tmp_path, "run", "ok.yaml", "bad.yaml", "--report", "json,junit,html,md", env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "✓ create" in out and "✗ create" in out  # live progress, one line per step
    assert "Secret order: passed" in out and "Failing order: failed" in out
    results = tmp_path / "results"
    for name in ("run.json", "junit.xml", "report.html"):
        assert (results / name).is_file(), name
    files = [p for p in results.rglob("*") if p.is_file()]
    leaked = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaked, f"secret found in {leaked}"
    assert SECRET not in out
    xsd = SHARED_DATA / "junit-10.xsd"
    if not xsd.exists():
        pytest.skip(f"{xsd} is absent (present in CI): JUnit not validated")
    import xmlschema

    xmlschema.XMLSchema(str(xsd)).validate(str(results / "junit.xml"))


def test_only_passing_flows_exit_zero_and_tags_filter(tmp_path: Path, demo_url: str) -> None:
    (tmp_path / "ok.yaml").write_text(PASSING.replace("tags: [smoke]", "tags: [fast]"))
    (tmp_path / "bad.yaml").write_text(FAILING)
    env = {"ORDERS_URL": demo_url, "PARTNER_TOKEN": SECRET}
    done = run_cli(tmp_path, "run", ".", "--tags", "fast", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Failing order" not in done.stdout


def test_invalid_flow_exits_2_with_position(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\nsteps:\n  - id: a\n    type: htp\n")
    done = run_cli(tmp_path, "run", "broken.yaml")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "broken.yaml:4:11" in done.stdout and "http" in done.stdout


def test_missing_secret_exits_2(tmp_path: Path, demo_url: str) -> None:
    (tmp_path / "ok.yaml").write_text(PASSING)
    env = {k: v for k, v in os.environ.items() if k != "PARTNER_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "testflow", "run", "ok.yaml"],
        cwd=tmp_path, env={**env, "ORDERS_URL": demo_url}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "PARTNER_TOKEN" in done.stdout


def test_unreachable_temporal_exits_3(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("name: one\nsteps:\n  - {id: a, type: log, message: hi}\n")
    done = run_cli(tmp_path, "run", "one.yaml", "--temporal", "127.0.0.1:9")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "127.0.0.1:9" in done.stdout
