"""Authentication of ``http`` steps: basic, bearer, API key, OAuth2 client credentials, plugins.

OAuth2 tokens are cached per worker process by (token URL, client id, scope, audience, secret
digest) until shortly before they expire, with one fetch per key even when many steps start at
once; the executor drops a token that a server refuses (:func:`forget_token`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib
import inspect
import time
import weakref
from dataclasses import dataclass
from typing import Any

import httpx

from testflow.activities.base import StepContext, StepFailure
from testflow.activities.http_transport import (
    client_for,
    describe_cause,
    remaining,
    tls_files,
)
from testflow.dsl.kinds.http import HttpRequest, OAuth2ClientCredentials, TlsOptions

TOKEN_REFRESH_MARGIN = 30.0
"""Seconds before expiry at which a cached OAuth2 token is fetched again."""


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic() after which the token is not used any more


_tokens: dict[tuple[str, str, str | None, str | None, str], _Token] = {}
_token_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def auth_parts(req: HttpRequest, ctx: StepContext) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and query parameters the request's auth scheme adds."""
    auth, tls = req.auth, req.tls
    if auth is None:
        return {}, {}
    if auth.basic is not None:
        if isinstance(auth.basic, dict):
            user, password = auth.basic.get("username", ""), auth.basic.get("password", "")
        else:
            user, password = auth.basic
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        _add_secrets(ctx, raw, password)
        return {"Authorization": f"Basic {raw}"}, {}
    if auth.bearer is not None:
        return {"Authorization": f"Bearer {auth.bearer}"}, {}
    if auth.api_key is not None:
        if auth.api_key.location == "query":
            return {}, {auth.api_key.name: auth.api_key.value}
        return {auth.api_key.name: auth.api_key.value}, {}
    if auth.oauth2 is not None:
        token = await _oauth2_token(auth.oauth2, tls, ctx)
        _add_secrets(ctx, token, auth.oauth2.client_secret)
        return {"Authorization": f"Bearer {token}"}, {}
    assert auth.plugin is not None
    return await _plugin_parts(
        auth.plugin, auth.config, ctx, {"method": req.method, "url": req.url}
    )


def _add_secrets(ctx: StepContext, *values: str) -> None:
    """Credentials made here (a Basic header, a fetched token) are masked like secret()s."""
    ctx.secret_values = (*ctx.secret_values, *(v for v in values if v))


def _token_key(cfg: OAuth2ClientCredentials) -> tuple[str, str, str | None, str | None, str]:
    # The secret's digest is part of the key so that a rotated secret never reuses a token.
    digest = hashlib.sha256(cfg.client_secret.encode()).hexdigest()
    return (cfg.token_url, cfg.client_id, cfg.scope, cfg.audience, digest)


def forget_token(cfg: OAuth2ClientCredentials) -> None:
    _tokens.pop(_token_key(cfg), None)


async def _oauth2_token(
    cfg: OAuth2ClientCredentials, tls: TlsOptions | None, ctx: StepContext
) -> str:
    """A client-credentials token, cached per worker until shortly before it expires."""
    key = _token_key(cfg)
    cached = _tokens.get(key)
    if cached is not None and cached.expires_at > time.monotonic():
        return cached.value
    locks = _token_locks.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(key, asyncio.Lock()):  # one fetch when many steps start at once
        cached = _tokens.get(key)
        if cached is not None and cached.expires_at > time.monotonic():
            return cached.value
        token = await _fetch_token(cfg, tls, ctx)
        _tokens[key] = token
        return token.value


async def _fetch_token(
    cfg: OAuth2ClientCredentials, tls: TlsOptions | None, ctx: StepContext
) -> _Token:
    form = {"grant_type": "client_credentials"}
    if cfg.scope:
        form["scope"] = cfg.scope
    if cfg.audience:
        form["audience"] = cfg.audience
    headers = {"Accept": "application/json"}
    if cfg.client_auth == "basic":
        raw = f"{cfg.client_id}:{cfg.client_secret}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(raw).decode()}"
    else:
        form |= {"client_id": cfg.client_id, "client_secret": cfg.client_secret}
    where = f"OAuth2 token request to {cfg.token_url}"
    try:
        async with asyncio.timeout(remaining(ctx)):
            resp = await client_for(tls_files(tls, ctx)).post(
                cfg.token_url, data=form, headers=headers, timeout=remaining(ctx)
            )
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise StepFailure(f"{where} timed out", type="Timeout") from exc
    except httpx.TransportError as exc:
        raise StepFailure(f"{where} failed: {describe_cause(exc, cfg.token_url)}") from exc
    if resp.status_code != 200:
        raise StepFailure(
            f"{where} returned {resp.status_code}: {resp.text[:300]}",
            details={"status": resp.status_code},
        )
    try:
        data = resp.json()
        value = str(data["access_token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StepFailure(f"{where}: the response has no access_token") from exc
    lifetime = float(data.get("expires_in") or 300)
    margin = min(TOKEN_REFRESH_MARGIN, lifetime / 10)
    ctx.log(f"fetched an OAuth2 token from {cfg.token_url} (expires in {lifetime:.0f} s)")
    return _Token(value=value, expires_at=time.monotonic() + lifetime - margin)


async def _plugin_parts(
    plugin_id: str, config: dict[str, Any], ctx: StepContext, request: dict[str, Any]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers (and query parameters, when the plugin gives some) from an auth plugin."""
    try:
        module = importlib.import_module("testflow.plugins.auth")
    except ModuleNotFoundError as exc:
        if exc.name not in ("testflow.plugins.auth", "testflow.plugins"):
            raise
        raise StepFailure(
            f"auth plugin {plugin_id!r}: auth plugins need the plugin host "
            "(testflow.plugins.auth), which is not installed in this worker",
            type="InvalidConfig",
            retryable=False,
        ) from exc
    if hasattr(module, "auth_credentials"):  # the whole answer: headers and optional query
        output = await module.auth_credentials(plugin_id, config, ctx, request=request)
    else:
        result = module.auth_headers(plugin_id, config, ctx)
        output = {"headers": await result if inspect.isawaitable(result) else result}
    headers = {str(k): str(v) for k, v in dict(output.get("headers") or {}).items()}
    return headers, dict(output.get("query") or {})
