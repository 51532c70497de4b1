"""`testflow runs rerun RUN_ID [--from-step ID] [--var K=V] [--follow]` against a real server."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.api.conftest import Api
from tests.api.test_rerun import NESTED, finished, steps_of

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


async def cli(api: Api, *args: str) -> tuple[int, str, str]:
    """The real CLI in a subprocess (the server answers it from this event loop meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testflow.cli",
        "runs",
        *args,
        "--server",
        api.url,
        "--token",
        api.admin_token,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_reruns_from_a_failed_step_with_a_changed_variable(api: Api) -> None:
    run_id = (await api.client.post("/api/v1/runs", json={"text": NESTED})).json()["run_id"]
    assert (await finished(api, run_id))["status"] == "failed"

    code, out, err = await cli(api, "rerun", run_id, "--from-step", "inner")
    assert code == 2, out + err
    assert "nested inside the group step 'grp'" in err and "re-run from 'grp'" in err

    code, out, err = await cli(
        api, "rerun", run_id, "--from-step", "grp", "--var", "n=2", "--follow"
    )
    assert code == 0, out + err
    new_id = out.splitlines()[0].strip()
    result = await finished(api, new_id)
    assert result["status"] == "passed"
    steps = steps_of(result)
    assert steps["first"]["skip_reason"] == f"reused from run {run_id}"
    assert steps["inner"]["status"] == "passed"
    source = (await api.client.get(f"/api/v1/runs/{new_id}/source")).json()
    assert source["parent_run_id"] == run_id and source["trigger"] == "rerun"
    assert source["variables"] == {"n": 2}

    code, out, err = await cli(api, "rerun", new_id)  # the whole flow again
    assert code == 0, out + err
    again = await finished(api, out.strip())
    assert steps_of(again)["first"]["status"] == "passed"
