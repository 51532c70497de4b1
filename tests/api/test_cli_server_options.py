"""``testflow run --server URL``: the real CLI against a real server honours the options of a
local run (directories, --tags/--skip-tags, -c, --fail-fast, reports, Ctrl-C) or refuses them
(exit 2, nothing started). A small partner on loopback counts the flows' requests in flight
(tests/partners.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from testflow.api.client import ApiClient, ServerFlow, run_flows
from testflow.commands import EXIT_TEST_FAILURES
from tests.api.conftest import Api
from tests.api.serving import serve
from tests.api.test_cli_server_suite import cli, runs_named
from tests.api.test_suite_runs import until
from tests.partners import CountingPartner
from tests.procs import free_port

pytestmark = [pytest.mark.e2e]


FAILING_STEP = "{id: check, type: assert, value: {n: 1}, assert: {$.n: 2}}"


def flow_text(name: str, *, tags: tuple[str, ...] = (), step: str = "") -> str:
    step = step or "{id: say, type: log, message: hello}"
    return f"name: {name}\ntags: [{', '.join(tags)}]\nsteps:\n  - {step}\n"


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


async def test_a_directory_runs_its_flows_and_tags_filter_them(api: Api, tmp_path: Path) -> None:
    smoke, slow, plain = unique("cli smoke"), unique("cli slow"), unique("cli plain")
    folder = tmp_path / "flows"
    (folder / "nested").mkdir(parents=True)
    (folder / "smoke.yaml").write_text(flow_text(smoke, tags=("smoke",)))
    (folder / "nested" / "slow.yaml").write_text(flow_text(slow, tags=("slow",)))
    (folder / "plain.yaml").write_text(flow_text(plain))
    (folder / "notes.yaml").write_text("just: some other yaml\n")  # not a flow: ignored
    home = tmp_path / "home"

    code, out, err = await cli(api, home, "run", "--server", api.url, str(folder))
    assert code == 0, out + err
    assert [len(await runs_named(api, n)) for n in (smoke, slow, plain)] == [1, 1, 1]

    code, out, err = await cli(
        api, home, "run", "--server", api.url, "--tags", "smoke", str(folder)
    )
    assert code == 0, out + err
    assert [len(await runs_named(api, n)) for n in (smoke, slow, plain)] == [2, 1, 1]

    code, out, err = await cli(
        api, home, "run", "--server", api.url, "--skip-tags", "smoke,slow", str(folder)
    )
    assert code == 0, out + err
    assert [len(await runs_named(api, n)) for n in (smoke, slow, plain)] == [2, 1, 2]

    # Nothing selected: the local run's message and exit code, and nothing started.
    code, out, err = await cli(api, home, "run", "--server", api.url, "--tags", "none", str(folder))
    assert code == 2, out + err
    assert "no flow matched: nothing to run" in out + err
    assert [len(await runs_named(api, n)) for n in (smoke, slow, plain)] == [2, 1, 2]

    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = await cli(api, home, "run", "--server", api.url, str(empty))
    assert code == 2 and "no flow matched: nothing to run" in out + err, out + err


async def test_concurrency_bounds_the_runs_in_flight(
    api: Api, tmp_path: Path, partner: CountingPartner
) -> None:
    """Four flows of one request the partner holds until three are in flight, with -c 2: never
    more than two at once (unbounded, three or four would be), and two were."""
    partner.hold = 3  # one more than -c allows: held until the 3 s limit if the bound holds
    names = [unique(f"cli c{i}") for i in range(4)]
    folder = tmp_path / "flows"
    folder.mkdir()
    for i, name in enumerate(names):
        step = f'{{id: call, type: http, request: {{url: "{partner.url}/wait/f{i}"}}}}'
        (folder / f"f{i}.yaml").write_text(flow_text(name, step=step))
    code, out, err = await cli(
        api, tmp_path / "home", "run", "--server", api.url, "-c", "2", str(folder)
    )
    assert code == 0, out + err
    assert partner.max_in_flight == 2
    assert sorted(partner.paths) == [f"/wait/f{i}" for i in range(4)]
    for name in names:
        (run_id,) = await runs_named(api, name)
        assert (await api.client.get(f"/api/v1/runs/{run_id}")).json()["status"] == "passed"


async def test_fail_fast_starts_no_more_after_a_failure(api: Api, tmp_path: Path) -> None:
    failing, later = unique("cli fails"), unique("cli later")
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "a.yaml").write_text(flow_text(failing, step=FAILING_STEP))
    (folder / "b.yaml").write_text(flow_text(later))
    home = tmp_path / "home"
    args = ("run", "--server", api.url, "-c", "1", "--report", "json", str(folder))
    code, out, err = await cli(api, home, *args, "--fail-fast")
    assert code == 1, out + err
    assert len(await runs_named(api, failing)) == 1
    assert await runs_named(api, later) == []

    code, out, err = await cli(api, home, *args, "--no-fail-fast")
    assert code == 1, out + err
    assert len(await runs_named(api, failing)) == 2
    assert len(await runs_named(api, later)) == 1


async def test_reports_are_written_from_the_server_results(api: Api, tmp_path: Path) -> None:
    good, bad = unique("cli good"), unique("cli bad")
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "good.yaml").write_text(flow_text(good))
    (folder / "bad.yaml").write_text(flow_text(bad, step=FAILING_STEP))
    reports = tmp_path / "out"
    code, out, err = await cli(
        api,
        tmp_path / "home",
        "run",
        "--server",
        api.url,
        "--report",
        "json,junit",
        "--report-dir",
        str(reports),
        str(folder),
    )
    assert code == 1, out + err
    (good_id,) = await runs_named(api, good)
    (bad_id,) = await runs_named(api, bad)

    report = json.loads((reports / "run.json").read_text())
    assert report["status"] == "failed"
    runs = {r["run_id"]: r for r in report["runs"]}
    assert set(runs) == {good_id, bad_id}
    for run_id in (good_id, bad_id):
        server = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
        assert runs[run_id]["status"] == server["status"]
        assert [s["key"] for s in runs[run_id]["steps"]] == [s["key"] for s in server["steps"]]
    assert runs[good_id]["status"] == "passed" and runs[bad_id]["status"] == "failed"
    assert runs[bad_id]["flow_file"].endswith("bad.yaml")

    (junit,) = reports.glob("*.xml")
    root = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {good, bad}
    assert suites[good].get("failures") == "0"
    assert suites[bad].get("failures") == "1"
    assert [c.get("name") for c in suites[bad].iter("testcase")] == ["check"]


async def test_ctrl_c_cancels_the_runs_on_the_server(api: Api, tmp_path: Path) -> None:
    """Ctrl-C as for a local run: the running run is cancelled on the server (its teardown
    runs), no other starts, the cancelled run is reported, exit 1."""
    slow, later = unique("cli sigint"), unique("cli not started")
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "a.yaml").write_text(
        f"name: {slow}\nsteps:\n  - {{id: wait, type: delay, duration: 5m}}\n"
        "teardown:\n  - {id: cleanup, type: log, message: bye}\n"
    )
    (folder / "b.yaml").write_text(flow_text(later))
    home = tmp_path / "home"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testflow.cli",
        *("run", "--server", api.url, "-c", "1", "--report", "json", str(folder)),
        env={**os.environ, "TESTFLOW_HOME": str(home), "TESTFLOW_TOKEN": api.admin_token},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def running() -> list[str]:
            listed = await api.client.get("/api/v1/runs", params={"flow": slow})
            return [r["run_id"] for r in listed.json()["items"] if r["status"] == "running"]

        (run_id,) = await until(running, f"{slow} running on the server")
        proc.send_signal(signal.SIGINT)
        out, err = (b.decode() for b in await asyncio.wait_for(proc.communicate(), 60))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 1, out + err
    assert "cancelling the runs" in out and f"{run_id}: cancelled" in out, out + err
    result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
    assert result["status"] == "cancelled"
    steps = {s["step_id"]: s["status"] for s in result["steps"]}
    assert steps == {"wait": "cancelled", "cleanup": "passed"}
    assert await runs_named(api, later) == []
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert [(r["run_id"], r["status"]) for r in report["runs"]] == [(run_id, "cancelled")]


def garbling_proxy(api: Api, filename: str) -> Starlette:
    """The real server behind a proxy that answers the event stream of the runs started from
    ``filename`` with an event this CLI cannot read (a server of another version)."""
    garbled: set[str] = set()

    async def forward(request: Request) -> Response:
        path = request.url.path
        if path.endswith("/events") and path.split("/")[-2] in garbled:
            return Response('data: {"seq": "one"}\n\n', media_type="text/event-stream")
        body = await request.body()
        keep = {k: v for k, v in request.headers.items() if k in ("authorization", "content-type")}
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as upstream:
            answer = await upstream.request(
                request.method, path, params=request.query_params, content=body, headers=keep
            )
        started = path == "/api/v1/runs" and request.method == "POST" and answer.is_success
        if started and json.loads(body).get("filename") == filename:
            garbled.add(answer.json()["run_id"])
        return Response(
            answer.content, answer.status_code, media_type=answer.headers.get("content-type")
        )

    methods = ["GET", "POST"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


async def test_a_run_that_cannot_be_followed_is_reported_as_an_error(
    api: Api, tmp_path: Path
) -> None:
    """An unreadable event (pydantic refuses it) is an infrastructure error, exit 3, no
    traceback; the run is in the printout and the reports (status error, the reason), and
    the other run's report is kept."""
    good, garbled = unique("cli followed"), unique("cli garbled")
    (tmp_path / "good.yaml").write_text(flow_text(good))
    (tmp_path / "garbled.yaml").write_text(flow_text(garbled))
    async with serve(garbling_proxy(api, "garbled.yaml")) as proxy:
        code, out, err = await cli(
            api,
            tmp_path / "home",
            *("run", "--server", proxy, "-c", "1", "--report", "json"),
            *(str(tmp_path / "good.yaml"), str(tmp_path / "garbled.yaml")),
        )
    assert code == 3, out + err
    assert "Traceback" not in err, err
    (good_id,) = await runs_named(api, good)
    (garbled_id,) = await runs_named(api, garbled)  # it ran, though it could not be followed
    assert f"{good_id}: passed" in out, out
    assert f"{garbled_id}: error (the server sent a RunEvent this CLI cannot read (seq:" in out
    report = json.loads((tmp_path / "results" / "run.json").read_text())
    assert report["status"] == "error"
    runs = {r["run_id"]: r for r in report["runs"]}
    assert runs[good_id]["status"] == "passed" and runs[good_id]["steps"]
    assert runs[garbled_id]["status"] == "error"
    assert runs[garbled_id]["flow"] == garbled
    assert "cannot read" in runs[garbled_id]["error"]["message"]


async def test_text_from_the_server_is_printed_as_it_is(api: Api, tmp_path: Path) -> None:
    """Not as rich markup: ``[bold]`` in an error about the server stays in the message."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(flow_text(unique("cli markup")))
    nowhere = f"http://127.0.0.1:{free_port()}/[bold]x[/bold]"
    for env in ((), ("-e", "staging")):  # the first start, the environment's look-up
        code, out, err = await cli(
            api, tmp_path / "home", "run", "--server", nowhere, *env, str(flow)
        )
        assert code == 3, out + err
        assert f"cannot reach the testflow API at {nowhere}: " in out, out + err


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--resume"], "--resume cannot be used with --server"),
        (["--ui"], "--ui cannot be used with --server"),
        (["--temporal", "127.0.0.1:7233"], "--temporal cannot be used with --server"),
        (["--webhook-port", "8123"], "--webhook-port cannot be used with --server"),
        (["--public-url", "https://tunnel.example"], "--public-url cannot be used with --server"),
    ],
)
async def test_options_a_server_cannot_honour_are_refused(
    api: Api, tmp_path: Path, option: list[str], words: str
) -> None:
    name = unique("cli refused")
    flow = tmp_path / "flow.yaml"
    flow.write_text(flow_text(name))
    code, out, err = await cli(
        api, tmp_path / "home", "run", "--server", api.url, *option, str(flow)
    )
    assert code == 2, out + err
    assert words in err and "nothing was started" in err
    assert len(err.strip().splitlines()) == 1
    assert await runs_named(api, name) == []
    assert not (tmp_path / "results").exists()


async def test_a_server_environment_defines_the_variables_its_flows_read(
    api: Api, tmp_path: Path
) -> None:
    """The flows are checked here before they start: the server environment's variables count
    as defined (the local run reads its environment file for them); an unknown one is refused."""
    env_name = f"cli-env-{uuid.uuid4().hex[:6]}"
    made = await api.client.post(
        "/api/v1/environments", json={"name": env_name, "variables": {"greeting": "hi"}}
    )
    assert made.status_code == 201, made.text
    name = unique("cli env")
    flow = tmp_path / "flow.yaml"
    flow.write_text(flow_text(name, step="{id: say, type: log, message: '{{ greeting }}'}"))
    home = tmp_path / "home"

    code, out, err = await cli(api, home, "run", "--server", api.url, str(flow))
    assert code == 2 and "undefined variable 'greeting'" in out + err, out + err
    code, out, err = await cli(api, home, "run", "--server", api.url, "-e", "nowhere", str(flow))
    assert code == 2 and "environment 'nowhere' does not exist" in out + err, out + err
    assert await runs_named(api, name) == []

    code, out, err = await cli(api, home, "run", "--server", api.url, "-e", env_name, str(flow))
    assert code == 0, out + err
    (run_id,) = await runs_named(api, name)
    result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
    assert result["environment"] == env_name


async def test_ctrl_c_before_any_run_started_is_not_a_pass() -> None:
    """Ctrl-C between runs (or before the first) skips the rest: exit 1, never 0. Nothing is
    sent: the address answers nothing, and a start would be an infrastructure error (3)."""
    interrupt = asyncio.Event()
    interrupt.set()
    flows = [ServerFlow("name: never\nsteps: [{id: s, type: log, message: x}]\n", "never.yaml")]
    async with ApiClient(f"http://127.0.0.1:{free_port()}") as client:
        done = await run_flows(client, flows, interrupt=interrupt, echo=lambda *_: None)
    assert done.started == []
    assert done.code == EXIT_TEST_FAILURES
