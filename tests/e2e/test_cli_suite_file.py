"""`testflow run suite.yaml` applies the suite file's concurrency, fail_fast, environment and
vars; an option given on the command line wins; suite files that disagree are an input error.

A real subprocess on the embedded dev server; the partner of tests/partners.py (loopback,
counts the requests in flight, holds each until ``hold`` are in flight or 3 s).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e.test_cli_run import run_cli
from tests.e2e.test_cli_suite import flow
from tests.partners import CountingPartner

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]


def test_the_suite_files_concurrency_bounds_the_flows_in_flight(
    tmp_path: Path,
    partner: CountingPartner,
) -> None:
    partner.hold = 2  # two requests would meet if the suite let two flows run at once
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(flow(name, partner.url))
    (tmp_path / "suite.yaml").write_text(
        "suite: one-at-a-time\nconcurrency: 1\nflows: [a.yaml, b.yaml]\n"
    )
    done = run_cli(tmp_path, "run", "suite.yaml", "--report", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(partner.paths) == ["/wait/a", "/wait/b"]
    assert partner.max_in_flight == 1


def test_minus_c_wins_over_the_suite_file(tmp_path: Path, partner: CountingPartner) -> None:
    partner.hold = 2
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(flow(name, partner.url))
    (tmp_path / "suite.yaml").write_text("suite: s\nconcurrency: 1\nflows: [a.yaml, b.yaml]\n")
    done = run_cli(tmp_path, "run", "suite.yaml", "-c", "2", "--report", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert partner.max_in_flight == 2


def test_the_suite_files_fail_fast_and_no_fail_fast(
    tmp_path: Path, partner: CountingPartner
) -> None:
    partner.hold = 1  # nothing held
    (tmp_path / "a.yaml").write_text(flow("a", partner.url, status=418))
    (tmp_path / "b.yaml").write_text(flow("b", partner.url))
    (tmp_path / "suite.yaml").write_text(
        "suite: s\nconcurrency: 1\nfail_fast: true\nflows: [a.yaml, b.yaml]\n"
    )
    done = run_cli(tmp_path, "run", "suite.yaml", "--report", "json")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "a: failed" in out and "b:" not in out
    assert list(partner.paths) == ["/wait/a"]
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert [r["flow"] for r in report["runs"]] == ["a"]

    done = run_cli(tmp_path, "run", "suite.yaml", "--no-fail-fast", "--report", "json")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "a: failed" in out and "b: passed" in out
    assert partner.paths == {"/wait/a": 2, "/wait/b": 1}


def test_the_suite_files_environment_and_vars_reach_the_flows(
    tmp_path: Path,
    partner: CountingPartner,
) -> None:
    partner.hold = 1
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "partner.yaml").write_text(
        f"variables: {{base: '{partner.url}', who: env}}\n"
    )
    call = """\
name: {name}
steps:
  - id: call
    type: http
    request: {{url: "{{{{ base }}}}/{name}/{{{{ who }}}}/{{{{ day }}}}"}}
    assert: {{status: 200}}
"""
    (tmp_path / "flows").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "flows" / f"{name}.yaml").write_text(call.format(name=name))
    (tmp_path / "suite.yaml").write_text(
        "suite: s\nenvironment: partner\nvars: {who: suite, day: mon}\n"
        "flows:\n  - flows/a.yaml\n  - {path: flows/b.yaml, vars: {who: entry}}\n"
    )
    done = run_cli(tmp_path, "run", "suite.yaml", "--report", "json")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert sorted(partner.paths) == ["/a/suite/mon", "/b/entry/mon"]
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert report["environment"] == "partner"

    # --var wins over the suite's vars; a plain flow beside the suite gets none of them.
    partner.paths.clear()
    done = run_cli(
        tmp_path, "run", "suite.yaml", "flows/c.yaml", "--var", "day=tue", "--report", "json"
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert sorted(partner.paths) == ["/a/suite/tue", "/b/entry/tue", "/c/env/tue"]


def test_suite_files_that_disagree_need_the_command_line(
    tmp_path: Path,
    partner: CountingPartner,
) -> None:
    partner.hold = 1
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(flow(name, partner.url))
    (tmp_path / "one.yaml").write_text("suite: one\nconcurrency: 1\nflows: [a.yaml]\n")
    (tmp_path / "two.yaml").write_text("suite: two\nconcurrency: 2\nflows: [b.yaml]\n")
    done = run_cli(tmp_path, "run", "one.yaml", "two.yaml")
    assert done.returncode == 2
    assert "different concurrency" in done.stdout and "-c" in done.stdout
    assert not partner.paths

    done = run_cli(tmp_path, "run", "one.yaml", "two.yaml", "-c", "2", "--report", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(partner.paths) == ["/wait/a", "/wait/b"]


async def test_the_suite_files_tags_label_the_suite_run(
    tmp_path: Path,
    partner: CountingPartner,
    temporal_client: Client,
) -> None:
    partner.hold = 1
    label = f"label-{uuid.uuid4().hex[:8]}"
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(flow(name, partner.url))
    (tmp_path / "suite.yaml").write_text(f"suite: s\ntags: [{label}]\nflows: [a.yaml, b.yaml]\n")
    address = temporal_client.service_client.config.target_host
    done = run_cli(
        tmp_path,
        "run",
        "suite.yaml",
        "--temporal",
        address,
        "--report",
        "json",
        env={"TESTFLOW_TASK_QUEUE": f"suite-tags-{label}", "TESTFLOW_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The tags select nothing (both flows ran) and label the suite run only.
    assert sorted(partner.paths) == ["/wait/a", "/wait/b"]
    for _ in range(50):  # the visibility store is eventually consistent
        found = [wf.id async for wf in temporal_client.list_workflows(f"TestflowTags = '{label}'")]
        if found:
            break
        await asyncio.sleep(0.2)
    assert len(found) == 1 and found[0].startswith("suite-"), found
