"""Single sign-on in Chromium: a ``testflow serve`` with a real OpenID provider (panva's
oidc-provider, tests/oidc); the user clicks "Sign in with SSO", signs in on the provider's own
login and consent pages, lands back on the runs page signed in with the role of their group,
and signs out (here and at the provider)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import free_port, shot, stop, wait_http
from tests.oidc import API_AUDIENCE, UI_CLIENT, Provider, unavailable, write_keys

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@contextlib.contextmanager
def sso_setup(
    home: Path, provider_env: dict[str, str], server_env: dict[str, str]
) -> Iterator[tuple[str, Provider]]:
    """A provider (its OP_* settings: ``provider_env``) and a ``testflow serve`` signing in
    with it; the provider knows the app's sign-in and silent-renewal return pages."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    keys = home / "jwks.json"
    write_keys(keys, "sso")
    redirects = (f"{url}/auth/callback", f"{url}/auth/silent")
    op = Provider(home, redirect_uris=redirects, env=provider_env)
    op.start(keys)
    env = {
        **os.environ,
        "TESTFLOW_HOME": str(home),
        "TESTFLOW_PLUGINS_DIR": str(home / "plugins"),
        "TESTFLOW_AUTH": "auto",  # with OIDC on: required
        "TESTFLOW_OIDC_ISSUER": op.issuer,
        "TESTFLOW_OIDC_CLIENT_ID": UI_CLIENT,
        "TESTFLOW_OIDC_AUDIENCE": API_AUDIENCE,
        "TESTFLOW_OIDC_SCOPES": "openid profile groups",
        "TESTFLOW_OIDC_ROLE_MAP": "tf-admins=admin,tf-runners=runner,tf-viewers=viewer",
        "NO_COLOR": "1",
        **server_env,
    }
    env.pop("TESTFLOW_DATABASE_URL", None)
    log = home / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "testflow", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home,
        )
    try:
        wait_http(f"{url}/readyz", serve, log)
        yield url, op
    finally:
        stop(serve)
        op.stop()


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Provider]]:
    with sso_setup(tmp_path_factory.mktemp("sso-home"), {}, {}) as served:
        yield served


@pytest.fixture
def sso_page(browser: Any, sso_server: tuple[str, Provider]) -> Iterator[Any]:
    url, _ = sso_server
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=url)
    # The provider's pages import a web font; this machine has no way out, so say no at once.
    context.route("https://**/*", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def provider_login(page: Any, op: Provider, login: str, screenshot: str | None = None) -> None:
    """On the provider's own login and consent pages: sign ``login`` in (any password)."""
    page.wait_for_url(f"{op.issuer}/**")
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any password")
    if screenshot:
        shot(page, screenshot)
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_sign_in_with_sso_and_out_again(sso_page: Any, sso_server: tuple[str, Provider]) -> None:
    url, op = sso_server
    page = sso_page
    page.goto("/runs")
    # Nobody is signed in: the API refuses, and the header offers to sign in.
    page.get_by_role("button", name="API token").get_by_text("Sign in").wait_for()
    page.get_by_role("button", name="API token").click()
    dialog = page.get_by_role("dialog", name="API token")
    dialog.get_by_text(op.issuer).wait_for()
    shot(page, "30-sso-sign-in")
    dialog.get_by_role("button", name="Sign in with SSO").click()

    # The provider's own login and consent pages.
    provider_login(page, op, "runner-rita", screenshot="31-sso-provider-login")

    # Back on testflow, on the page the user started from, signed in.
    page.wait_for_url(f"{url}/runs")
    page.get_by_role("button", name="API token").get_by_text("runner-rita").wait_for()
    stored = page.evaluate("localStorage.getItem('testflow.token')")
    claims = json.loads(base64.urlsafe_b64decode(stored.split(".")[1] + "=="))
    assert claims["iss"] == op.issuer and claims["aud"] == API_AUDIENCE
    assert page.get_by_text("sign in or send an API token").count() == 0
    page.get_by_role("heading", name="Runs").first.wait_for()
    shot(page, "32-sso-signed-in-runs")

    page.get_by_role("button", name="API token").click()
    dialog = page.get_by_role("dialog", name="API token")
    assert "Signed in as runner-rita (runner)" in dialog.get_by_test_id("signed-in").inner_text()
    dialog.get_by_role("button", name="Sign out").click()
    # The provider asks before ending its session, then sends the browser home.
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{url}/**")
    page.get_by_role("button", name="API token").get_by_text("Sign in").wait_for()
    assert page.evaluate("localStorage.getItem('testflow.token')") is None
