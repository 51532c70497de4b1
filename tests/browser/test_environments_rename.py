"""Renaming an environment on the Environments screen, in Chromium against a real ``testflow
serve``: type a new name, save, and read what the API stored (the secret still set and never
shown, a suite that ran in it following the new name, an earlier run keeping the old one); a
taken name shows the API's 409 beside the Name field, a name the rules refuse blocks the save.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.browser.conftest import Server, shot

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

FLOW = "name: Rename env flow\nsteps:\n  - {id: a, type: log, message: hello}\n"


def test_rename_an_environment(page: Any, server: Server) -> None:
    tag = uuid.uuid4().hex[:6]
    old, new, taken = f"stage-{tag}", f"staging-eu-{tag}", f"taken-{tag}"
    secret = "s3cr3t-" + uuid.uuid4().hex
    made = server.api.post(
        "/environments",
        json={"name": old, "variables": {"greeting": "hi"}, "secrets": {"API_KEY": secret}},
    )
    assert made.status_code == 201, made.text
    assert server.api.post("/environments", json={"name": taken}).status_code == 201
    stored_flow = server.api.post("/flows", json={"text": FLOW})
    assert stored_flow.status_code == 201, stored_flow.text
    flow = stored_flow.json()
    suite = server.api.post(
        "/suites", json={"name": f"In {old}", "flow_ids": [flow["id"]], "environment": old}
    ).json()
    earlier = server.api.post("/runs", json={"flow_id": flow["id"], "environment": old})
    assert earlier.status_code == 202, earlier.text
    run_id = earlier.json()["run_id"]
    assert server.wait_run(run_id)["status"] == "passed"

    page.goto("/environments")
    page.get_by_role("button", name=old).click()
    editor = page.get_by_role("form", name=f"Environment {old}")
    name = editor.locator('input[name="env-name"]')
    assert name.input_value() == old

    # A name the rules refuse: said beside the field, and the save is blocked.
    name.fill("has space")
    editor.get_by_text("the name is letters, digits").wait_for()
    assert name.get_attribute("aria-invalid") == "true"
    assert editor.get_by_role("button", name="Save and rename to has space").is_disabled()

    # A taken name: the API's 409 beside the field; nothing changes.
    name.fill(taken)
    editor.get_by_role("button", name=f"Save and rename to {taken}").click()
    refusal = editor.locator("#env-name-error")
    refusal.wait_for()
    assert f"environment '{taken}' exists" in refusal.inner_text()
    assert name.get_attribute("aria-invalid") == "true"
    assert server.api.get(f"/environments/{old}").status_code == 200
    assert server.api.get(f"/environments/{taken}").json()["variables"] == {}
    shot(page, "17-environment-rename-taken")

    # A free name: renamed; the note says what follows and what does not.
    name.fill(new)
    assert refusal.count() == 0
    note = editor.locator("#env-name-note")
    assert f"Saving renames {old} to {new}" in note.inner_text()
    assert "Past runs keep the name they ran with" in note.inner_text()
    shot(page, "18-environment-rename")
    editor.get_by_role("button", name=f"Save and rename to {new}").click()
    page.get_by_role("status").filter(has_text=f"Renamed {old} to {new}.").wait_for()
    editor = page.get_by_role("form", name=f"Environment {new}")
    editor.wait_for()
    assert editor.get_by_test_id("secret-state-API_KEY").inner_text() == "set"
    assert editor.get_by_label("Value of greeting").input_value() == "hi"
    nav = page.get_by_role("navigation", name="Environments")
    nav.get_by_role("button", name=new).wait_for()
    assert nav.get_by_role("button", name=old).count() == 0
    assert secret not in page.content()
    shot(page, "19-environment-renamed")

    assert server.api.get(f"/environments/{old}").status_code == 404
    stored = server.api.get(f"/environments/{new}").json()
    assert (stored["variables"], stored["secrets"]) == ({"greeting": "hi"}, {"API_KEY": "***"})
    assert server.api.get(f"/suites/{suite['id']}").json()["environment"] == new
    assert server.api.get(f"/runs/{run_id}/source").json()["environment"] == old
    # The secret moved sealed and still works: a run in the renamed environment reads it.
    check = "name: Secret check\ncontext:\n  key: \"{{ secret('API_KEY') }}\"\nsteps:\n"
    check += "  - {id: a, type: transform, set: {n: 1}, assert: {that: ['{{ key == want }}']}}\n"
    started = server.api.post(
        "/runs", json={"text": check, "environment": new, "vars": {"want": secret}}
    )
    assert started.status_code == 202, started.text
    assert server.wait_run(started.json()["run_id"])["status"] == "passed"
