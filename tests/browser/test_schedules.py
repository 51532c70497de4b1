"""The Schedules screen in Chromium against a real ``testflow serve``: schedule a stored suite
from the form, run it now, see its suite run under the schedule, pause and resume it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.browser.conftest import Server, shot

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]


def make_flow(server: Server, name: str) -> str:
    text = f"name: {name}\nsteps:\n  - {{id: a, type: log, message: hi}}\n"
    made = server.api.post("/flows", json={"text": text})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def first_run(server: Server, schedule_id: str, limit_s: float = 60) -> str:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        recent = server.api.get(f"/schedules/{schedule_id}").json()["recent_runs"]
        if recent:
            return str(recent[0])
        time.sleep(0.3)
    raise AssertionError("the schedule never started a run")


def test_schedule_a_suite_from_the_form(page: Any, server: Server) -> None:
    tag = uuid.uuid4().hex[:6]
    names = [f"Sched {i} {tag}" for i in range(2)]
    ids = [make_flow(server, n) for n in names]
    suite = server.api.post("/suites", json={"name": f"Suite {tag}", "flow_ids": ids})
    assert suite.status_code == 201, suite.text

    page.goto("/schedules")
    form = page.get_by_role("form", name="New schedule")
    form.get_by_label("Name", exact=True).fill(f"Yearly {tag}")
    form.get_by_label("a suite", exact=False).check()
    form.get_by_label("Suite", exact=True).select_option(label=f"Suite {tag}")
    form.get_by_label("Cron expressions, one a line").fill("0 3 1 1 *")
    form.get_by_role("button", name="Create schedule").click()
    page.get_by_role("status").filter(has_text=f"Created schedule Yearly {tag}").wait_for()

    card = page.get_by_role("listitem", name=f"Schedule Yearly {tag}")
    card.get_by_text(f"suite Suite {tag}").wait_for()
    stored = [s for s in server.api.get("/schedules").json() if s["name"] == f"Yearly {tag}"]
    assert len(stored) == 1 and stored[0]["suite_id"] == suite.json()["id"]
    assert stored[0]["flow_id"] is None
    schedule_id = stored[0]["id"]

    card.get_by_role("button", name="Run now").click()
    run_id = first_run(server, schedule_id)
    assert server.wait_run(run_id)["status"] == "passed"
    children = server.api.get("/runs", params={"parent": run_id}).json()["items"]
    assert sorted(c["run_id"] for c in children) == [f"{run_id}.0", f"{run_id}.1"]
    page.reload()
    card.get_by_role("link", name=run_id).wait_for()
    shot(page, "40-schedules")

    card.get_by_role("button", name="Pause").click()
    card.get_by_text("paused", exact=True).wait_for()
    assert server.api.get(f"/schedules/{schedule_id}").json()["paused"] is True
    card.get_by_role("button", name="Resume").click()
    card.get_by_text("active", exact=True).wait_for()
    assert server.api.get(f"/schedules/{schedule_id}").json()["paused"] is False
