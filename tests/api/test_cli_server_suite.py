"""``testflow run --server URL suite.yaml``: the server's inline run takes one flow and no
suite settings, so a suite file is refused (exit 2, the reason on stderr) before anything
starts; flow files given with it are not started either, and flow files alone still run."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest

from tests.api.conftest import Api

pytestmark = [pytest.mark.e2e]


async def cli(api: Api, home: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "TESTFLOW_HOME": str(home), "TESTFLOW_TOKEN": api.admin_token}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testflow.cli",
        *args,
        env=env,
        cwd=home.parent,  # the default report directory (results/) goes there, not in the repo
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def runs_named(api: Api, name: str) -> list[str]:
    listed = await api.client.get("/api/v1/runs", params={"flow": name, "page_size": 100})
    assert listed.status_code == 200, listed.text
    return [r["run_id"] for r in listed.json()["items"]]


async def test_a_suite_file_is_refused_before_anything_starts(api: Api, tmp_path: Path) -> None:
    name = f"cli suite flow {uuid.uuid4().hex[:6]}"
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        f"name: {name}\ncontext: {{greeting: hi}}\n"
        "steps:\n  - {id: say, type: log, message: '{{ greeting }}'}\n"
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "suite: nightly\nflows: [flow.yaml]\nconcurrency: 1\nfail_fast: true\n"
        "vars: {greeting: from the suite}\n"
    )
    home = tmp_path / "home"
    code, out, err = await cli(api, home, "run", "--server", api.url, str(flow), str(suite))
    assert code == 2, out + err
    assert f"{suite} is a suite file" in err and "concurrency, fail_fast" in err
    assert "nothing was started" in err
    assert await runs_named(api, name) == []

    code, out, err = await cli(api, home, "run", "--server", api.url, str(flow))
    assert code == 0, out + err
    assert len(await runs_named(api, name)) == 1
