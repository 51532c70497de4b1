"""``testflow run --server URL``: the real CLI against a real server honours the options of a
local run (directories, --tags/--skip-tags, -c, --fail-fast, reports) or refuses them (exit 2,
nothing started)."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from tests.api.conftest import Api
from tests.api.test_cli_server_suite import cli, runs_named

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


async def test_concurrency_bounds_the_runs_in_flight(api: Api, tmp_path: Path) -> None:
    """Four flows of one 1 s delay with -c 2: the server's recorded run intervals never have
    more than two runs at once (unbounded, all four would overlap), and two did overlap."""
    names = [unique(f"cli c{i}") for i in range(4)]
    folder = tmp_path / "flows"
    folder.mkdir()
    for i, name in enumerate(names):
        (folder / f"f{i}.yaml").write_text(
            flow_text(name, step="{id: nap, type: delay, duration: 1s}")
        )
    code, out, err = await cli(
        api, tmp_path / "home", "run", "--server", api.url, "-c", "2", str(folder)
    )
    assert code == 0, out + err
    intervals: list[tuple[datetime, datetime]] = []
    for name in names:
        (run_id,) = await runs_named(api, name)
        result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
        assert result["status"] == "passed"
        intervals.append(
            (
                datetime.fromisoformat(result["started_at"]),
                datetime.fromisoformat(result["finished_at"]),
            )
        )
    in_flight = [sum(1 for s, f in intervals if s <= start < f) for start, _ in intervals]
    assert max(in_flight) == 2, intervals


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
