"""The example flows: they load without problems, and they pass against the demo service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testflow.demo import start_demo_service
from testflow.dsl.loader import load_environment, load_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOWS = sorted(p for p in EXAMPLES.rglob("*.yaml") if "environments" not in p.parts)
EXPECTED = {
    "create-and-read.yaml",
    "dag-parallel.yaml",
    "poll-until-paid.yaml",
    "expected-failure.yaml",
    "setup-teardown.yaml",
    "environments-and-secrets.yaml",
    "oauth2-client-credentials.yaml",
    "sub-flow.yaml",
    "create-order.yaml",
    "graphql.yaml",
}


def test_every_example_is_there_and_documented() -> None:
    assert {p.name for p in FLOWS} >= EXPECTED
    readme = (EXAMPLES / "README.md").read_text()
    for name in EXPECTED - {"create-order.yaml"}:
        assert f"`{name}`" in readme, f"{name} is not described in examples/README.md"


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_loads(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=") and first.endswith(
        "schemas/flow.schema.json"
    )
    loaded = load_flow(path)
    assert loaded.flow.name


def test_demo_environment_loads() -> None:
    env = load_environment(EXAMPLES / "environments" / "demo.yaml")
    assert env.secrets["DEMO_TOKEN"].env == "DEMO_TOKEN"


def test_expected_failure_is_tagged() -> None:
    flow = load_flow(EXAMPLES / "expected-failure.yaml").flow
    assert "expected-failure" in flow.tags


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    url, stop = start_demo_service()
    yield url
    stop()


def _run(tmp_path: Path, url: str, *args: str) -> tuple[int, dict[str, str], str]:
    env = {**os.environ, "ORDERS_URL": url, "DEMO_TOKEN": "not-enforced-here"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from testflow.cli import main; main()",
            "run",
            *args,
            "--report-dir",
            str(tmp_path),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = proc.stdout + proc.stderr
    assert (tmp_path / "run.json").is_file(), output[-3000:]
    report = json.loads((tmp_path / "run.json").read_text())
    statuses = {run["flow"]: run["status"] for run in report["runs"]}
    (tmp_path / "runs.json").write_text(json.dumps(report["runs"]))
    return proc.returncode, statuses, output


@pytest.mark.e2e
@pytest.mark.workflow
@pytest.mark.slow
def test_examples_pass_against_the_demo_service(tmp_path: Path, demo_url: str) -> None:
    code, statuses, output = _run(
        tmp_path, demo_url, str(EXAMPLES), "--skip-tags", "expected-failure", "--env", "demo"
    )
    failed = {flow: status for flow, status in statuses.items() if status != "passed"}
    assert not failed, output[-3000:]
    assert len(statuses) >= len(EXPECTED) - 2  # all but expected-failure and the sub-flow file
    assert code == 0


@pytest.mark.e2e
@pytest.mark.workflow
@pytest.mark.slow
def test_expected_failure_fails_on_its_documented_assertion(tmp_path: Path, demo_url: str) -> None:
    code, statuses, output = _run(tmp_path, demo_url, str(EXAMPLES / "expected-failure.yaml"))
    assert code != 0 and list(statuses.values()) == ["failed"], output[-3000:]
    (run,) = json.loads((tmp_path / "runs.json").read_text())
    step = next(s for s in run["steps"] if s["step_id"] == "expectShipped")
    failed = [a for a in step["assertions"] if not a["passed"]]
    assert [(a["path"], a["expected"], a["actual"]) for a in failed] == [
        ("$.status", "SHIPPED", "NEW")
    ]
