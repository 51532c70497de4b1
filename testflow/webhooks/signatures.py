"""JWS-signed webhooks: the receiver's check of ``signature: {type: jws}`` (docs/durable.md).

Payment and open-banking partners sign a webhook with a *detached* compact JWS in a header,
``<protected header>..<signature>``, whose payload is the raw request body: base64url-encoded
in the signing input (RFC 7515 appendix F), or as is when the JWS header says
``"b64": false, "crit": ["b64"]`` (RFC 7797). The verifier

- takes the algorithm from the JWS header and refuses any not in the step's ``algorithms``
  (``none`` and HS* can never be configured: see :mod:`testflow.dsl.jws_keys`), before any key
  is looked at, so a public key is never used as an HMAC secret;
- verifies with the step's key, or with the JWKS key named by the header's ``kid`` (all keys
  of the right type when there is no ``kid``);
- answers a reason that names the problem, never the key.

A ``jwks_url`` is fetched with httpx (5 s timeout) and kept for 5 minutes; a ``kid`` the cached
set does not know refetches it (the partner rotated keys), at most once per 30 s per URL, so
forged key ids cannot make the receiver hammer the partner.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import Key

from testflow.dsl.jws_keys import (
    DEFAULT_ALGORITHMS,
    KEY_TYPE_OF_ALG,
    KeyProblem,
    load_key,
    load_key_set,
)

log = logging.getLogger(__name__)

DEFAULT_HEADER = "X-JWS-Signature"


class KeysUnavailable(Exception):
    """The partner's JWKS could not be fetched: the call is neither proven good nor bad."""


class JwksCache:
    """JWKS documents by URL, each fetched when missing, stale or missing a ``kid``."""

    def __init__(
        self, *, max_age_s: float = 300.0, refetch_s: float = 30.0, timeout_s: float = 5.0
    ) -> None:
        self.max_age_s = max_age_s
        self.refetch_s = refetch_s
        self.timeout_s = timeout_s
        # url -> (monotonic time of the last successful fetch, its keys)
        self._sets: dict[str, tuple[float, list[Key]]] = {}
        self._attempted: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # successful fetches, observable by tests

    async def keys(self, url: str, kid: str | None) -> list[Key]:
        async with self._locks.setdefault(url, asyncio.Lock()):  # one fetch per URL at a time
            now = time.monotonic()
            cached = self._sets.get(url)
            stale = cached is None or now - cached[0] > self.max_age_s
            unknown = cached is not None and kid is not None and kid not in _kids(cached[1])
            may_fetch = now - self._attempted.get(url, -1e18) >= self.refetch_s
            if (stale or unknown) and (may_fetch or cached is None):
                self._attempted[url] = now
                try:
                    self._sets[url] = (now, await self._fetch(url))
                except KeysUnavailable:
                    if cached is None:
                        raise
                    # A partner whose JWKS endpoint is down keeps its last known keys.
                    log.warning("JWKS %s not refreshed; keeping the cached keys", url)
            return self._sets[url][1]

    async def _fetch(self, url: str) -> list[Key]:
        import httpx  # only with a jwks_url configured

        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=True) as client:
                answer = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise KeysUnavailable(
                f"the JWKS at {url} is not reachable ({type(exc).__name__})"
            ) from exc
        if answer.status_code != 200:
            raise KeysUnavailable(f"the JWKS at {url} answered {answer.status_code}")
        try:
            keys = load_key_set(answer.text).keys
        except KeyProblem as exc:
            raise KeysUnavailable(f"the JWKS at {url} is unusable: {exc}") from None
        self.fetches += 1
        return list(keys)


async def jws_problem(
    spec: Mapping[str, Any], headers: Mapping[str, str], body: bytes, jwks: JwksCache
) -> str | None:
    """Why the detached JWS over ``body`` does not verify, or None when it does.

    Raises :class:`KeysUnavailable` when the keys are at a URL that cannot be fetched.
    """
    header = str(spec.get("header") or DEFAULT_HEADER)
    lowered = {k.lower(): v for k, v in headers.items()}
    given = lowered.get(header.lower())
    if given is None:
        return f"missing JWS signature header {header}"
    value = given.strip()
    parts = value.split(".")
    if len(parts) != 3:
        return f"malformed JWS in header {header} (expected <header>..<signature>)"
    if parts[1]:
        return f"the JWS in header {header} is not detached (expected <header>..<signature>)"
    protected = _protected_header(parts[0])
    if protected is None:
        return f"malformed JWS header in header {header} (not base64url JSON)"
    alg = protected.get("alg")
    allowed = [str(a) for a in spec.get("algorithms") or DEFAULT_ALGORITHMS]
    if not isinstance(alg, str) or alg not in allowed or alg not in KEY_TYPE_OF_ALG:
        return f"JWS algorithm {alg!r} is not allowed (allowed: {', '.join(allowed)})"
    if protected.get("b64") is False and "b64" not in (protected.get("crit") or []):
        return 'JWS header has "b64": false without "crit": ["b64"] (RFC 7797 section 6)'
    kid = protected.get("kid")
    kid = kid if isinstance(kid, str) else None
    try:
        keys = await _configured_keys(spec, kid, jwks)
    except KeyProblem as exc:
        # The step's key rendered from a template and turned out unusable (flow validation
        # checks literal keys): a configuration problem, reported as such.
        return f"the step's JWS key is unusable: {exc}"
    candidates = [
        k
        for k in keys
        if k.key_type == KEY_TYPE_OF_ALG[alg] and (kid is None or k.kid in (None, kid))
    ]
    if not candidates:
        named = f" with kid {kid!r}" if kid is not None else ""
        return f"no configured key{named} fits JWS algorithm {alg}"
    for key in candidates:
        try:
            jws.deserialize_compact(value, key, algorithms=[alg], payload=body)
        except BadSignatureError:
            continue
        except JoseError as exc:
            # Unsupported critical header parameters, a malformed signature segment...
            return f"invalid JWS in header {header}: {exc.error} {exc.description or ''}".strip()
        return None
    return f"bad JWS signature in header {header}: it does not verify the body ({alg})"


async def _configured_keys(spec: Mapping[str, Any], kid: str | None, jwks: JwksCache) -> list[Key]:
    if spec.get("jwks_url"):
        return await jwks.keys(str(spec["jwks_url"]), kid)
    if spec.get("jwks") is not None:
        return _inline_set(_stable(spec["jwks"]))
    if spec.get("key") is not None:
        return [_inline_key(_stable(spec["key"]))]
    raise KeyProblem("no key, jwks or jwks_url")


def _stable(value: Any) -> str:
    """A hashable form of inline key material, so parsed keys are cached per text."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@lru_cache(maxsize=256)
def _inline_key(text: str) -> Key:
    return load_key(text)


@lru_cache(maxsize=256)
def _inline_set(text: str) -> list[Key]:
    return list(load_key_set(text).keys)


def _kids(keys: list[Key]) -> set[str]:
    return {k.kid for k in keys if k.kid is not None}


def _protected_header(segment: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None
