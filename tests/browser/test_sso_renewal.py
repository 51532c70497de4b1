"""Silent renewal of a single sign-on token in Chromium, against the real provider (tests/oidc)
whose "short-" accounts get access tokens of OP_SHORT_TTL_S seconds, and a server with no
leeway on ``exp`` (an expired token is refused at once).

Both ways oidc-client-ts renews are run: with a refresh token (OP_REFRESH_TOKENS=session, what
Keycloak and Entra give a browser app) and, when the provider gives none, with the hidden
iframe (prompt=none) that comes back to /auth/silent. The user signs in on the provider's own
login page, waits past the first token's expiry, and an API-backed screen still loads, with a
new token. When renewal cannot go on (the provider restarted and forgot the session, or is
down until the token expires), the screen says the session expired, the dead token is gone,
and "Sign in again" goes to the provider's login page."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import shot
from tests.browser.test_sso import provider_login, sso_setup
from tests.oidc import CLIENT_SECRET, CONFIDENTIAL_CLIENT, Provider, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

TTL_S = 7  # renewed 3 s (renewalLead) before expiry: room for a renewal under load
USER = "short-runner-rue"


@dataclass
class Renewal:
    mode: str  # "refresh token" or "iframe"
    url: str
    op: Provider


@contextlib.contextmanager
def _served(home: Path, mode: str) -> Iterator[Renewal]:
    provider_env = {"OP_SHORT_TTL_S": str(TTL_S)}
    server_env = {"TESTFLOW_OIDC_LEEWAY_S": "0"}
    if mode != "iframe":
        provider_env["OP_REFRESH_TOKENS"] = "session"
    if mode == "confidential client":  # the refresh grant goes through POST /api/v1/auth/token
        server_env |= {
            "TESTFLOW_OIDC_CLIENT_ID": CONFIDENTIAL_CLIENT,
            "TESTFLOW_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        }
    with sso_setup(home, provider_env, server_env) as (url, op):
        yield Renewal(mode, url, op)


@pytest.fixture(scope="module", params=["refresh token", "iframe"])
def renewal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Renewal]:
    with _served(tmp_path_factory.mktemp("sso-renewal"), str(request.param)) as served:
        yield served


@dataclass
class Traffic:
    """What the page sent: the bearer tokens of API calls, and renewals at the provider."""

    issuer: str
    api: list[tuple[str, str, int]] = field(default_factory=list)  # (path, token, status)
    refreshes: int = 0  # token endpoint, grant_type=refresh_token
    iframes: int = 0  # authorization endpoint with prompt=none
    renewed_at: list[float] = field(default_factory=list)  # time.time() of each of them

    def on_request(self, req: Any) -> None:
        if not req.url.startswith(self.issuer) and "/api/v1/auth/token" not in req.url:
            return
        if req.method == "POST" and "grant_type=refresh_token" in (req.post_data or ""):
            self.refreshes += 1
        elif req.method == "GET" and "prompt=none" in req.url:
            self.iframes += 1
        else:
            return
        self.renewed_at.append(time.time())

    def on_response(self, res: Any) -> None:
        if "/api/v1/" in res.url:
            auth = res.request.headers.get("authorization", "")
            self.api.append(
                (res.url.split("/api/v1", 1)[1], auth.removeprefix("Bearer "), res.status)
            )


@contextlib.contextmanager
def _watched_page(browser: Any, renewal: Renewal) -> Iterator[tuple[Any, Traffic]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=renewal.url)
    context.route("https://**/*", lambda route: route.abort())  # the provider's web font
    page = context.new_page()
    traffic = Traffic(renewal.op.issuer)
    page.on("request", traffic.on_request)
    page.on("response", traffic.on_response)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(30_000)
    try:
        yield page, traffic
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def renewal_page(browser: Any, renewal: Renewal) -> Iterator[tuple[Any, Traffic]]:
    with _watched_page(browser, renewal) as watched:
        yield watched


def _exp(token: str) -> int:
    return int(_claims(token)["exp"])


def _signed_in(page: Any, renewal: Renewal) -> str:
    """Sign USER in from the runs page; the access token the sign-in gave."""
    page.goto("/runs")
    page.get_by_role("button", name="API token").click()
    page.get_by_role("dialog", name="API token").get_by_role(
        "button", name="Sign in with SSO"
    ).click()
    provider_login(page, renewal.op, USER)
    page.wait_for_url(f"{renewal.url}/runs")
    page.get_by_role("button", name="API token").get_by_text(USER).wait_for()
    return str(page.evaluate("localStorage.getItem('testflow.token')"))


def _wait_past(page: Any, exp: int) -> None:
    """Until the browser's clock is past ``exp`` (a condition, not a sleep)."""
    page.wait_for_function("exp => Date.now() / 1000 > exp + 1", arg=exp, timeout=60_000)


def _renews(page: Any, traffic: Traffic, renewal: Renewal) -> None:
    """Signed in, past the first token's expiry an API screen loads with a newer token."""
    first = _signed_in(page, renewal)
    assert _claims(first)["exp"] - _claims(first)["iat"] == TTL_S
    _wait_past(page, _exp(first))
    # The server refuses the first token now: without a renewal the screen below would fail.
    refused = httpx.get(
        f"{renewal.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {first}"}
    )
    assert refused.status_code == 401 and "expired" in refused.text

    seen = len(traffic.api)
    with page.expect_response(lambda r: "/api/v1/environments" in r.url):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Environments").click()
    page.get_by_role("heading", name="Environments").first.wait_for()
    calls = [c for c in traffic.api[seen:] if c[0].startswith("/environments")]
    assert calls, traffic.api[seen:]
    for path, sent, status in calls:
        assert status == 200, (path, status)
        assert sent != first and _exp(sent) > _exp(first), path
    assert page.get_by_role("alert", name="Session expired").count() == 0
    page.get_by_role("button", name="API token").get_by_text(USER).wait_for()
    shot(page, f"33-sso-renewed-{renewal.mode.replace(' ', '-')}")

    # Renewed before the first token expired (no call was refused for an expired token), not
    # only once it had: screens never meet the 401.
    assert any(s != first and _claims(s)["iat"] < _exp(first) for _, s, _ in traffic.api if s)
    assert all(status != 401 for _, sent, status in traffic.api if sent), traffic.api
    # The way oidc-client-ts renewed is the one this provider allows, and only that one.
    if renewal.mode != "iframe":
        assert traffic.refreshes >= 1 and traffic.iframes == 0, traffic
    else:
        assert traffic.iframes >= 1 and traffic.refreshes == 0, traffic
    stored = page.evaluate("localStorage.getItem('testflow.token')")
    assert _exp(stored) >= _exp(sent)


def test_the_token_is_renewed_before_it_expires(
    renewal: Renewal, renewal_page: tuple[Any, Traffic]
) -> None:
    _renews(*renewal_page, renewal)


def test_a_confidential_client_renews_through_the_api(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with (
        _served(tmp_path_factory.mktemp("sso-confidential"), "confidential client") as renewal,
        _watched_page(browser, renewal) as (page, traffic),
    ):
        asked: list[str] = []
        page.on(
            "request",
            lambda r: asked.append(r.url) if "grant_type=refresh" in (r.post_data or "") else None,
        )
        _renews(page, traffic, renewal)
        # The browser never holds the secret: every refresh went through the API.
        assert asked and all(u == f"{renewal.url}/api/v1/auth/token" for u in asked), asked


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _ends_with_sign_in_again(
    page: Any, renewal: Renewal, traffic: Traffic, reason: str, case: str
) -> None:
    """The session-expired state: a banner with the reason, the dead token gone, no renewals
    and no token sent any more; "Sign in again" goes to the provider's login page."""
    banner = page.get_by_role("alert", name="Session expired")
    banner.wait_for(timeout=60_000)
    text = banner.inner_text()
    assert "Your session has expired: sign in again." in text and reason in text, text
    assert page.evaluate("localStorage.getItem('testflow.token')") is None
    page.get_by_role("button", name="API token").get_by_text("Sign in").wait_for()
    shot(page, f"34-sso-{case}-{renewal.mode.replace(' ', '-')}")
    calls, asked = len(traffic.api), (traffic.refreshes, traffic.iframes)
    with page.expect_response(lambda r: "/api/v1/environments" in r.url):
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Environments").click()
    later = traffic.api[calls:]
    assert later and all(sent == "" and status == 401 for _, sent, status in later), later
    assert (traffic.refreshes, traffic.iframes) == asked  # no renewal loop behind the banner

    page.get_by_role("button", name="Sign in again").click()
    provider_login(page, renewal.op, USER)  # its login page: the provider has no session
    page.wait_for_url(f"{renewal.url}/environments")  # back where the user was
    page.get_by_role("button", name="API token").get_by_text(USER).wait_for()
    assert page.get_by_role("alert", name="Session expired").count() == 0


def test_a_provider_that_forgot_the_session_asks_to_sign_in_again(
    renewal: Renewal, renewal_page: tuple[Any, Traffic]
) -> None:
    page, traffic = renewal_page
    _signed_in(page, renewal)
    # A restart of this provider forgets its sessions, grants and refresh tokens (memory).
    renewal.op.restart(renewal.op.workdir / "jwks.json")
    reason = "invalid_grant" if renewal.mode == "refresh token" else "login_required"
    # The provider said no: the session ends at once, not when the token expires.
    _ends_with_sign_in_again(
        page, renewal, traffic, f"the provider ended the session ({reason}", "session-gone"
    )


def test_a_provider_that_is_down_until_expiry_asks_to_sign_in_again(
    renewal: Renewal, renewal_page: tuple[Any, Traffic]
) -> None:
    page, traffic = renewal_page
    first = _signed_in(page, renewal)
    renewal.op.stop()
    reason = "could not be reached" if renewal.mode == "refresh token" else "did not answer"
    try:
        page.get_by_role("alert", name="Session expired").wait_for(timeout=60_000)
        # A network error or timeout may pass: the token was used until it expired.
        assert page.evaluate("Date.now() / 1000") > _exp(first)
    finally:
        renewal.op.start(renewal.op.workdir / "jwks.json")
    _ends_with_sign_in_again(page, renewal, traffic, reason, "provider-down")


def test_two_tabs_share_the_renewals(renewal: Renewal, renewal_page: tuple[Any, Traffic]) -> None:
    """Tabs share the refresh token and the stored token, and this provider rotates refresh
    tokens (revoking the grant when a used one comes back): both tabs stay signed in across
    several renewals. Two tabs renewing at the very same moment is not forced here; the lock
    that keeps them apart is unit-tested (web/src/api/sso.test.ts)."""
    page, traffic = renewal_page
    first = _signed_in(page, renewal)
    other = page.context.new_page()
    other.on("request", traffic.on_request)
    other.on("response", traffic.on_response)
    other.goto("/environments")
    other.get_by_role("button", name="API token").get_by_text(USER).wait_for()
    _wait_past(page, _exp(first) + 2 * TTL_S)  # three lifetimes of the first token
    for tab, there, back in ((page, "Environments", "Runs"), (other, "Runs", "Environments")):
        nav = tab.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name=there).click()
        path = f"/api/v1/{back.lower()}"
        with tab.expect_response(lambda r, path=path: path in r.url) as answer:
            nav.get_by_role("link", name=back).click()
        sent = answer.value.request.headers["authorization"].removeprefix("Bearer ")
        assert answer.value.status == 200 and _exp(sent) > _exp(first) + 2 * TTL_S
        assert tab.get_by_role("alert", name="Session expired").count() == 0
    if renewal.mode == "refresh token":
        assert traffic.refreshes >= 3
    # A token is renewed at about two thirds of its life, by one tab at a time: not once a
    # second per tab, as oidc-client-ts does for tokens shorter than its one-minute lead.
    lifetimes = (time.time() - _claims(first)["iat"]) / TTL_S
    assert traffic.refreshes + traffic.iframes <= 2 * lifetimes + 1, (lifetimes, traffic)


def test_a_token_saved_by_hand_is_not_replaced(
    renewal: Renewal, renewal_page: tuple[Any, Traffic]
) -> None:
    """Renewal replaces only the token the sign-in put there, never an API token saved since;
    the provider's tokens (refresh and ID token, oidc.user:* in localStorage) go with it."""
    page, traffic = renewal_page
    first = _signed_in(page, renewal)
    assert page.evaluate(_OIDC_USERS) == 1
    page.get_by_role("button", name="API token").click()
    dialog = page.get_by_role("dialog", name="API token")
    dialog.locator('input[name="token"]').fill("tf_saved_by_hand")
    dialog.get_by_role("button", name="Save").click()
    dialog.get_by_role("button", name="Close").click()
    page.wait_for_function(f"{_OIDC_USERS} === 0")
    renewed = traffic.refreshes + traffic.iframes
    _wait_past(page, _exp(first))
    assert page.evaluate("localStorage.getItem('testflow.token')") == "tf_saved_by_hand"
    assert page.evaluate(_OIDC_USERS) == 0
    assert traffic.refreshes + traffic.iframes == renewed  # no renewal once it was saved
    assert page.get_by_role("alert", name="Session expired").count() == 0


# How many users oidc-client-ts keeps in localStorage (its keys are "oidc.user:<issuer>:<client>").
_OIDC_USERS = "Object.keys(localStorage).filter(k => k.startsWith('oidc.user:')).length"
