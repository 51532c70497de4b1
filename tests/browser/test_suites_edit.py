"""Editing a saved suite in the Test Suite Manager, in Chromium against a real ``testflow
serve``: rename it, change its description, tags, environment and concurrency, add flows (from
the list and from the library's selection), reorder them (buttons and drag and drop), remove
one, save, and read what the API stored; a save the API refuses (a flow and the environment
deleted behind the screen's back) shows the suite as edited while the PUT is in flight, then
rolls back and shows each error beside its field.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.browser.conftest import Server, shot

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]


def make_flow(server: Server, name: str, folder: str) -> str:
    text = f"name: {name}\ntags: [suite-edit]\nsteps:\n  - {{id: a, type: log, message: hi}}\n"
    made = server.api.post("/flows", json={"text": text, "folder": folder})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def make_suite(server: Server, name: str, flow_ids: list[str], **extra: Any) -> dict[str, Any]:
    made = server.api.post("/suites", json={"name": name, "flow_ids": flow_ids, **extra})
    assert made.status_code == 201, made.text
    return dict(made.json())


def order(form: Any) -> list[str]:
    return [li.get_attribute("data-flow-id") for li in form.locator(".suite-flows > li").all()]


def test_edit_a_suite_rename_reorder_add_and_remove_flows(page: Any, server: Server) -> None:
    tag = uuid.uuid4().hex[:6]
    names = {x: f"Edit {x} {tag}" for x in ("alpha", "beta", "gamma", "delta")}
    ids = {x: make_flow(server, n, f"edit-{tag}") for x, n in names.items()}
    env = f"edit-env-{tag}"
    assert server.api.post("/environments", json={"name": env}).status_code == 201
    suite = make_suite(server, f"Suite {tag}", [ids["alpha"], ids["beta"]])

    page.goto("/suites")
    card = page.locator(f'.suite-card[data-suite-id="{suite["id"]}"]')
    card.get_by_role("button", name="Edit").click()
    form = card.get_by_role("form", name=f"Edit suite Suite {tag}")
    assert order(form) == [ids["alpha"], ids["beta"]]

    form.get_by_label("Name", exact=True).fill(f"Nightly {tag}")
    form.get_by_label("Description").fill("Orders first, then the rest.")
    form.get_by_label("Tags (comma-separated)").fill("nightly, #orders")
    form.get_by_label("Environment").select_option(env)
    form.get_by_label("Concurrency").fill("2")
    form.get_by_label("Fail fast: start no more flows after one does not pass").check()

    # Add gamma from the list, and delta from the library's selection.
    form.get_by_label("Flow to add").select_option(ids["gamma"])
    form.get_by_role("button", name="Add", exact=True).click()
    page.get_by_label("Search flows").fill(names["delta"])
    page.get_by_label(f"Select {names['delta']}").check()
    form.get_by_role("button", name="Add selected (1)").click()
    assert order(form) == [ids["alpha"], ids["beta"], ids["gamma"], ids["delta"]]

    # Reorder with the buttons: gamma to the top.
    form.get_by_role("button", name=f"Move {names['gamma']} up").click()
    form.get_by_role("button", name=f"Move {names['gamma']} up").click()
    assert order(form) == [ids["gamma"], ids["alpha"], ids["beta"], ids["delta"]]
    assert form.get_by_role("button", name=f"Move {names['gamma']} up").is_disabled()
    # ... and by dragging: delta onto alpha's place.
    form.locator(f'li[data-flow-id="{ids["delta"]}"]').drag_to(
        form.locator(f'li[data-flow-id="{ids["alpha"]}"]')
    )
    assert order(form) == [ids["gamma"], ids["delta"], ids["alpha"], ids["beta"]]
    form.get_by_role("button", name=f"Remove {names['beta']} from the suite").click()
    assert order(form) == [ids["gamma"], ids["delta"], ids["alpha"]]
    shot(page, "14-suite-editor")

    form.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text=f"Suite Nightly {tag} saved.").wait_for()
    stored = server.api.get(f"/suites/{suite['id']}").json()
    assert stored == {
        "id": suite["id"],
        "name": f"Nightly {tag}",
        "description": "Orders first, then the rest.",
        "flow_ids": [ids["gamma"], ids["delta"], ids["alpha"]],
        "tags": ["nightly", "orders"],
        "environment": env,
        "concurrency": 2,
        "fail_fast": True,
    }
    # The card shows what was stored, in the suite's order.
    card.locator(".suite-card-name", has_text=f"Nightly {tag}").wait_for()
    assert card.get_by_text("Orders first, then the rest.").is_visible()
    assert card.get_by_test_id("suite-flows").inner_text() == ", ".join(
        names[x] for x in ("gamma", "delta", "alpha")
    )
    assert "#nightly #orders" in card.inner_text() and env in card.inner_text()
    shot(page, "15-suite-edited")

    # Cancel leaves the stored suite alone.
    card.get_by_role("button", name="Edit").click()
    form = card.get_by_role("form", name=f"Edit suite Nightly {tag}")
    form.get_by_label("Name", exact=True).fill("not kept")
    form.get_by_role("button", name="Cancel").click()
    assert form.count() == 0
    assert server.api.get(f"/suites/{suite['id']}").json()["name"] == f"Nightly {tag}"


def test_a_refused_save_rolls_back_and_shows_errors_beside_their_fields(
    page: Any, server: Server
) -> None:
    tag = uuid.uuid4().hex[:6]
    keep, doomed = (
        make_flow(server, f"Keep {tag}", "refused"),
        make_flow(server, f"Doomed {tag}", "refused"),
    )
    env = f"doomed-env-{tag}"
    assert server.api.post("/environments", json={"name": env}).status_code == 201
    suite = make_suite(server, f"Before {tag}", [keep, doomed], environment=env)

    page.goto("/suites")
    card = page.locator(f'.suite-card[data-suite-id="{suite["id"]}"]')
    card.get_by_role("button", name="Edit").click()
    form = card.get_by_role("form", name=f"Edit suite Before {tag}")

    # What the screen can see itself blocks the save, beside the field.
    name = form.get_by_label("Name", exact=True)
    name.fill("   ")
    form.get_by_text("the suite needs a name").wait_for()
    assert name.get_attribute("aria-invalid") == "true"
    assert form.get_by_role("button", name="Save").is_disabled()
    name.fill(f"After {tag}")

    # Meanwhile someone deletes a flow of the suite and its environment.
    assert server.api.delete(f"/flows/{doomed}").status_code == 204
    assert server.api.delete(f"/environments/{env}").status_code == 204

    # Hold the PUT: while it is in flight the card already shows the edit.
    held: list[Any] = []
    page.route(
        re.compile(r".*/api/v1/suites/[^/]+$"),
        lambda route: held.append(route) if route.request.method == "PUT" else route.continue_(),
    )
    form.get_by_role("button", name="Save").click()
    card.get_by_text("saving…").wait_for()
    assert card.locator(".suite-card-name").inner_text() == f"After {tag}"
    for _ in range(200):  # Playwright runs the route handler while the page is waited on
        if held:
            break
        page.wait_for_timeout(25)
    assert len(held) == 1
    held[0].continue_()

    # The API refused it: the card is the stored suite again, the editor is back with the draft.
    form = card.get_by_role("form", name=f"Edit suite Before {tag}")
    form.wait_for()
    assert card.locator(".suite-card-name").inner_text() == f"Before {tag}"
    assert card.get_by_text("saving…").count() == 0
    assert form.get_by_label("Name", exact=True).input_value() == f"After {tag}"
    row = form.locator(f'li[data-flow-id="{doomed}"]')
    assert "does not exist" in row.locator(".field-error").inner_text()
    env_error = form.locator("#suite-environment-error")
    assert f"environment '{env}' does not exist" in env_error.inner_text()
    assert form.get_by_label("Environment").get_attribute("aria-invalid") == "true"
    assert "Not saved" in form.inner_text()
    assert server.api.get(f"/suites/{suite['id']}").json() == suite
    shot(page, "16-suite-refused")

    # Fix both: the errors go with the fields that had them; the save goes through.
    page.unroute(re.compile(r".*/api/v1/suites/[^/]+$"))
    form.get_by_role("button", name=f"Remove Doomed {tag} from the suite").click()
    assert row.count() == 0
    form.get_by_label("Environment").select_option("")
    assert env_error.count() == 0
    form.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text=f"Suite After {tag} saved.").wait_for()
    stored = server.api.get(f"/suites/{suite['id']}").json()
    assert (stored["name"], stored["flow_ids"], stored["environment"]) == (
        f"After {tag}",
        [keep],
        None,
    )
