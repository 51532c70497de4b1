"""A real OpenID provider for the OIDC tests: panva's oidc-provider (tests/oidc/provider.mjs,
installed by ``npm ci`` in this folder, which .ci/run does) run with node on a loopback port,
its keys written by the test (a restart with new keys is a key rotation), and a user's
authorization code + PKCE login driven through its development login screens with httpx."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from joserfc.jwk import ECKey, RSAKey

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")
UI_CLIENT = "testflow-ui"
CONFIDENTIAL_CLIENT = "testflow-confidential"
CLIENT_SECRET = "s3cret-" + secrets.token_hex(8)  # the confidential client's, per test session
API_AUDIENCE = "urn:testflow:api"


def unavailable() -> str | None:
    """Why the provider cannot run here (None: it can)."""
    if NODE is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed (cd tests/oidc && npm ci; .ci/run does it)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_keys(path: Path, tag: str) -> list[str]:
    """A fresh RSA and EC signing key (key ids ``rsa-TAG``, ``ec-TAG``) as the provider's JWKS."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": f"rsa-{tag}", "use": "sig"})
    ec = ECKey.generate_key("P-256", parameters={"kid": f"ec-{tag}", "use": "sig"})
    keys = [k.as_dict(private=True) for k in (rsa, ec)]
    path.write_text(json.dumps({"keys": keys}))
    return [f"rsa-{tag}", f"ec-{tag}"]


@dataclass
class Provider:
    """One oidc-provider process; ``restart(keys)`` starts it again on the same port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    issuer: str = ""
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1:9/callback",)
    # More OP_* settings of provider.mjs (OP_SHORT_TTL_S, OP_REFRESH_TOKENS).
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.issuer = self.issuer or f"http://127.0.0.1:{self.port}"

    def start(self, keys: Path) -> None:
        env = {
            **os.environ,
            "OP_PORT": str(self.port),
            "OP_ISSUER": self.issuer,
            "OP_JWKS": str(keys),
            "OP_REDIRECT_URIS": ",".join(self.redirect_uris),
            "OP_CLIENT_SECRET": CLIENT_SECRET,
            **self.env,
        }
        log = self.workdir / f"provider-{self.port}.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(NODE), str(HERE / "provider.mjs")], cwd=HERE, env=env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                url = f"{self.issuer}/.well-known/openid-configuration"
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"oidc-provider did not answer:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def restart(self, keys: Path) -> None:
        self.stop()
        self.start(keys)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def login(
    provider: Provider,
    user: str,
    *,
    resource: str | None = None,
    scope: str = "openid profile groups",
    token_url: str | None = None,
    client_id: str = UI_CLIENT,
) -> dict[str, Any]:
    """Sign ``user`` in as a browser would (authorization code + PKCE through the provider's
    login and consent screens); returns the token endpoint's answer (access_token, id_token...).
    ``token_url``: exchange the code there instead of at the provider (testflow's proxy)."""
    redirect_uri = provider.redirect_uris[0]
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if resource:
        params["resource"] = resource
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=15) as browser:
        answer = await browser.get("/auth", params=params)
        for _ in range(10):
            if answer.is_redirect:
                location = urljoin(str(answer.url), answer.headers["location"])
                if location.startswith(redirect_uri):
                    query = parse_qs(urlsplit(location).query)
                    assert query.get("state") == [state], query
                    if "code" not in query:
                        raise AssertionError(f"the provider refused the login: {query}")
                    code = query["code"][0]
                    break
                answer = await browser.get(location)
                continue
            assert answer.status_code == 200, answer.text
            action = unescape(re.search(r'<form[^>]*action="([^"]+)"', answer.text)[1])  # type: ignore[index]
            prompt = re.search(r'name="prompt" value="(\w+)"', answer.text)[1]  # type: ignore[index]
            form = {"prompt": prompt}
            if prompt == "login":
                form |= {"login": user, "password": "any"}
            answer = await browser.post(urljoin(str(answer.url), action), data=form)
        else:
            raise AssertionError("the login did not come back to the redirect URI")
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
        }
        if resource:
            exchange["resource"] = resource
        url = (
            token_url
            or (await browser.get("/.well-known/openid-configuration")).json()["token_endpoint"]
        )
        tokens = await browser.post(url, data=exchange)
        assert tokens.status_code == 200, tokens.text
        return dict(tokens.json())
