"""Environments screen, API token dialog and form defaults in Chromium against a real
``testflow serve``: create an environment with a variable, a connection and a secret, reload,
see the secret as "set" and never its value; keep and forget a token; a log step's form shows
the model's default level without writing it into the YAML.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.browser.conftest import Server, shot
from tests.browser.test_ui import start_draft

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

SECRET = "s3cr3t-" + uuid.uuid4().hex


def test_environment_with_a_secret_shows_set_never_the_value(page: Any, server: Server) -> None:
    name = "browser-env-" + uuid.uuid4().hex[:6]
    page.goto("/builder")
    page.get_by_role("link", name="Environments").click()
    page.get_by_role("heading", name="Environments").wait_for()
    page.get_by_role("button", name="+ New environment").click()
    editor = page.get_by_role("form", name="New environment")
    editor.locator('input[name="env-name"]').fill(name)
    editor.locator('input[name="env-description"]').fill("made by the browser test")
    editor.get_by_role("button", name="+ Variable").click()
    editor.get_by_label("Variable name").fill("baseUrl")
    editor.get_by_label("Value of baseUrl").fill("https://staging.example")
    editor.get_by_role("button", name="+ Connection").click()
    editor.get_by_label("Connection name").fill("db")
    editor.get_by_label("DSN of db").fill("postgresql://db/app")
    editor.get_by_role("button", name="+ Secret").click()
    editor.get_by_label("Secret name").fill("API_KEY")
    editor.get_by_label("Value of secret API_KEY").fill(SECRET)
    assert editor.get_by_test_id("secret-state-API_KEY").inner_text() == "not set"
    editor.get_by_role("button", name="Create").click()
    page.get_by_text(f"Saved {name}.").wait_for()

    stored = server.api.get(f"/environments/{name}").json()
    assert stored["secrets"] == {"API_KEY": "***"}
    assert stored["variables"] == {"baseUrl": "https://staging.example"}
    assert stored["connections"] == {"db": {"dsn": "postgresql://db/app", "options": {}}}

    page.reload()
    page.get_by_role("button", name=name).click()
    editor = page.get_by_role("form", name=f"Environment {name}")
    state = editor.get_by_test_id("secret-state-API_KEY")
    state.wait_for()
    assert state.inner_text() == "set"
    assert editor.get_by_label("Replace secret API_KEY").input_value() == ""
    assert editor.get_by_label("Value of baseUrl").input_value() == "https://staging.example"
    html = page.content()
    assert SECRET not in html and "***" not in html
    shot(page, "11-environments")

    # Replace the secret and change a variable: the secret is still "set", never shown.
    editor.get_by_label("Replace secret API_KEY").fill(SECRET + "-2")
    editor.get_by_label("Value of baseUrl").fill("https://other.example")
    editor.get_by_role("button", name="Save").click()
    page.get_by_text(f"Saved {name}.").wait_for()
    assert server.api.get(f"/environments/{name}").json()["variables"] == {
        "baseUrl": "https://other.example"
    }
    editor = page.get_by_role("form", name=f"Environment {name}")
    assert editor.get_by_test_id("secret-state-API_KEY").inner_text() == "set"
    assert editor.get_by_label("Replace secret API_KEY").input_value() == ""
    assert SECRET not in page.content()

    # Delete (two steps).
    editor.get_by_role("button", name="Delete").click()
    editor.get_by_role("button", name=f"Really delete {name}").click()
    page.get_by_text(f"Deleted {name}.").wait_for()
    assert server.api.get(f"/environments/{name}").status_code == 404


def test_token_dialog_keeps_and_forgets_the_token(page: Any, server: Server) -> None:
    page.goto("/environments")
    page.get_by_role("button", name="API token").click()
    dialog = page.get_by_role("dialog", name="API token")
    dialog.locator('input[name="token"]').fill("tf_browser_0123456789")
    dialog.get_by_role("button", name="Save").click()
    # The token is sent: this server (auth off) still refuses a token it does not know.
    dialog.get_by_text("unknown or revoked API token").wait_for()
    assert page.evaluate("localStorage.getItem('testflow.token')") == "tf_browser_0123456789"
    assert dialog.get_by_test_id("token-state").inner_text() == "Stored: tf_b…6789"
    shot(page, "12-token-dialog")
    dialog.get_by_role("button", name="Forget token").click()
    assert page.evaluate("localStorage.getItem('testflow.token')") is None
    dialog.get_by_role("button", name="Check").click()
    dialog.get_by_text("The server answered without a token (auth is off).").wait_for()
    dialog.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="API token").wait_for()


def test_log_step_form_shows_the_default_level_without_writing_it(
    page: Any, server: Server
) -> None:
    text = "name: Log default\nsteps:\n  - id: note\n    type: log\n    message: hello\n"
    start_draft(page, text)
    page.locator('.react-flow__node[data-id="step:note"] .step-node').wait_for()
    page.locator('.react-flow__node[data-id="step:note"]').click()
    level = page.locator("select#root_level")
    level.wait_for()
    # rjsf's select holds option indexes; the text of the chosen option is the value shown.
    assert level.evaluate("s => s.options[s.selectedIndex].text") == "info"
    draft = json.loads(page.evaluate("localStorage.getItem('testflow.builder.draft')"))
    assert "level" not in draft["text"]
    level.select_option(label="warning")
    page.wait_for_function(
        "() => (JSON.parse(localStorage.getItem('testflow.builder.draft')) || {}).text"
        ".includes('level: warning')"
    )


def test_dependency_graph_of_a_stored_flow(page: Any, server: Server) -> None:
    text = (
        "name: DAG flow\nsteps:\n  - {id: login, type: log, message: a}\n"
        "  - {id: orders, type: log, message: b, depends_on: [login]}\n"
        "  - {id: invoices, type: log, message: c, depends_on: [login]}\n"
        "  - {id: reconcile, type: log, message: d, depends_on: [orders, invoices]}\n"
    )
    r = server.api.post("/flows", json={"text": text})
    assert r.status_code == 201, r.text
    flow_id = r.json()["id"]
    page.goto(f"/builder/{flow_id}")
    page.get_by_role("link", name="Dependencies").click()
    page.wait_for_url(f"**/flows/{flow_id}/graph")
    table = page.get_by_label("Dependencies").locator("table")
    row = table.locator("tr", has=page.locator("code", has_text="reconcile"))
    row.wait_for()
    assert "orders, invoices" in row.inner_text()
    assert page.locator(".react-flow__node[data-id='step:reconcile']").count() == 1
    assert page.locator(".react-flow__edge").count() >= 4
    shot(page, "13-dependency-graph")
