"""The embedded dev server: adopted when started early, reported when it fails, never orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testflow.runtime import devserver
from testflow.runtime.devserver import TemporalUnavailable, prestart, start_dev_server
from testflow.runtime.engine import data_converter
from testflow.runtime.settings import Settings
from tests.procs import alive, children_of

pytestmark = pytest.mark.workflow


def test_search_attribute_args_match_the_workflow_keys() -> None:
    from testflow.workflows.search import SEARCH_ATTRIBUTES

    expected = tuple((key.name, key._metadata_type) for key in SEARCH_ATTRIBUTES)
    assert expected == devserver.SEARCH_ATTRIBUTE_ARGS


async def test_a_prestarted_server_is_adopted_and_stopped(settings: Settings) -> None:
    prestart()
    early = devserver._prestarted
    assert early is not None
    env = await start_dev_server(data_converter=data_converter(settings))
    try:
        assert env.server is early  # type: ignore[attr-defined]
        assert devserver._prestarted is None
        assert (await env.client.workflow_service.get_system_info(_system_info())) is not None
    finally:
        await env.shutdown()
    assert early.process.poll() is not None


async def test_a_prestarted_server_with_other_options_is_replaced(
    settings: Settings, tmp_path: Path
) -> None:
    prestart(ui=False)
    early = devserver._prestarted
    assert early is not None
    env = await start_dev_server(data_converter=data_converter(settings), db_file=tmp_path / "t.db")
    try:
        assert env.server is not early  # type: ignore[attr-defined]
        assert early.process.poll() is not None  # the unused one was stopped
    finally:
        await env.shutdown()


async def test_a_server_that_cannot_start_is_reported_with_its_error(settings: Settings) -> None:
    with pytest.raises(TemporalUnavailable, match="no-such-flag"):
        await start_dev_server(
            data_converter=data_converter(settings), extra_args=["--no-such-flag"]
        )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_killed_testflow_run_leaves_no_dev_server(tmp_path: Path) -> None:
    flow = tmp_path / "wait.yaml"
    flow.write_text("name: wait\nsteps:\n  - id: nap\n    type: delay\n    duration: 60s\n")
    env = {**os.environ, "TESTFLOW_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env.pop("TESTFLOW_TEMPORAL_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "testflow", "run", str(flow), "--report-dir", str(tmp_path / "r")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    children: list[int] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the run is under way once its start is printed
            if "wait" in line and "run-" in line:
                break
        else:
            pytest.fail(f"testflow run ended early (exit {proc.wait()})")
        children = children_of(proc.pid, b"start-dev")
        assert len(children) == 1, children
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(children[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(children[0]), "the dev server outlived its killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _system_info() -> object:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()
