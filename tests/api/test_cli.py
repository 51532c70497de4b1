"""`testflow serve` end to end as a user starts it, then the CLI against it: tokens, runs
submitted and streamed (`run_flows`), `runs list|show|logs|cancel`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from testflow.api.client import ApiClient, ServerFlow, run_flows
from tests.api.flows import QUICK, SLOW
from tests.procs import free_port, wait_http_ok

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path_factory.mktemp("serve-home")
    port = free_port()
    env = {**os.environ, "TESTFLOW_HOME": str(home), "TESTFLOW_AUTH": "required"}
    env.pop("TESTFLOW_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "testflow.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(
            f"{url}/readyz", proc, output=lambda: proc.stdout.read() if proc.stdout else ""
        )
        yield url, env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert (home / "testflow.db").exists() and (home / "temporal.db").exists()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testflow.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def submit(url: str, flow: ServerFlow, token: str, echo: Callable[[str], object]) -> int:
    """Start one flow on the server as `testflow run --server` does; the exit code."""
    async with ApiClient(url, token) as client:
        done = await run_flows(client, [flow], echo=echo)
    return done.code


async def test_serve_tokens_and_cli_against_the_server(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = server
    async with httpx.AsyncClient(base_url=url) as anonymous:
        assert (await anonymous.get("/api/v1/flows")).status_code == 401
    made = cli(env, "tokens", "create", "--role", "runner", "--name", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[0]
    assert token.startswith("tf_")
    env = {**env, "TESTFLOW_TOKEN": token, "TESTFLOW_SERVER": url}

    lines: list[str] = []
    code = await submit(url, ServerFlow(QUICK, "quick.yaml"), token, lines.append)
    assert code == 0, lines
    run_id = lines[-1].split(":")[0]
    assert lines[-1].endswith("passed")

    listed = cli(env, "runs", "list", "--tag", "quick")
    assert listed.returncode == 0 and run_id in listed.stdout
    shown = cli(env, "runs", "show", run_id)
    assert shown.returncode == 0 and '"status": "passed"' in shown.stdout
    logs = cli(env, "runs", "logs", run_id)
    assert logs.returncode == 0, logs.stdout + logs.stderr

    broken = ServerFlow("name: x\nsteps:\n  - {id: a, type: nope}\n", "broken.yaml")
    refused: list[str] = []
    assert await submit(url, broken, token, refused.append) == 2
    assert any(":3:" in line and "nope" in line for line in refused), refused

    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        started = (await client.post("/api/v1/runs", json={"text": SLOW})).json()
    cancelled = cli(env, "runs", "cancel", started["run_id"])
    assert cancelled.returncode == 0, cancelled.stderr
    logs = cli(env, "runs", "logs", started["run_id"])
    assert logs.returncode == 1  # cancelled is not passed
    viewer_only = cli({**env, "TESTFLOW_TOKEN": "tf_not_a_token"}, "runs", "list")
    assert viewer_only.returncode == 2 and "unknown or revoked" in viewer_only.stderr
