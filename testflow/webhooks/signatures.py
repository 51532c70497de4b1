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

A ``jwks_url`` (https, or http to a loopback host) is fetched with httpx (5 s timeout, no
redirects, at most 64 KiB) and kept for 5 minutes; a ``kid`` the cached set does not know
refetches it (the partner rotated keys), at most once per 30 s per URL, so forged key ids cannot
make the receiver hammer the partner. When a refresh fails the last keys stay in use for at most
:data:`STALE_KEYS_S` more, then the keys are unavailable (503). Reasons and logs show the URL
without its query, which may carry a token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import Key

from testflow.dsl.jws_keys import (
    DEFAULT_ALGORITHMS,
    KEY_TYPE_OF_ALG,
    KeyProblem,
    jwks_url_problem,
    key_fits,
    load_key,
    load_key_set,
)

log = logging.getLogger(__name__)

DEFAULT_HEADER = "X-JWS-Signature"

STALE_KEYS_S = 3600.0
"""How long past its 5 minutes a JWKS that cannot be refreshed is still used: long enough to
ride out a partner's outage, bounded so that a key the partner revoked stops verifying."""

MAX_JWKS_BYTES = 64 * 1024
"""A JWKS holds a handful of public keys; a bigger answer is not one (nor read into memory)."""


class KeysUnavailable(Exception):
    """The partner's JWKS could not be fetched: the call is neither proven good nor bad."""


class JwksCache:
    """JWKS documents by URL, each fetched when missing, stale or missing a ``kid``."""

    def __init__(
        self,
        *,
        max_age_s: float = 300.0,
        refetch_s: float = 30.0,
        timeout_s: float = 5.0,
        stale_s: float = STALE_KEYS_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self.refetch_s = refetch_s
        self.timeout_s = timeout_s
        self.stale_s = stale_s
        self._clock = clock  # tests move it instead of waiting
        # url -> (clock time of the last successful fetch, its keys)
        self._sets: dict[str, tuple[float, list[Key]]] = {}
        self._attempted: dict[str, float] = {}
        self._failed: dict[str, str] = {}  # url -> why its last refresh failed
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # successful fetches, observable by tests

    async def keys(self, url: str, kid: str | None) -> list[Key]:
        async with self._locks.setdefault(url, asyncio.Lock()):  # one fetch per URL at a time
            now = self._clock()
            cached = self._sets.get(url)
            stale = cached is None or now - cached[0] > self.max_age_s
            unknown = cached is not None and kid is not None and kid not in _kids(cached[1])
            may_fetch = now - self._attempted.get(url, -1e18) >= self.refetch_s
            if (stale or unknown) and (may_fetch or cached is None):
                self._attempted[url] = now
                try:
                    self._sets[url] = (now, await self._fetch(url))
                    self._failed.pop(url, None)
                except KeysUnavailable as exc:
                    if cached is None:
                        raise
                    # A partner whose JWKS endpoint is down keeps its last keys for a while.
                    self._failed[url] = str(exc)
                    log.warning("%s; keeping the cached keys for now", exc)
            fetched_at, keys = self._sets[url]
            limit = self.max_age_s + self.stale_s
            if now - fetched_at > limit:
                # Past this, a key the partner revoked during its outage would still verify.
                last = self._failed.get(url, "no refresh attempted")
                raise KeysUnavailable(
                    f"the JWKS at {shown_url(url)} could not be refreshed and its cached keys "
                    f"are older than {limit:.0f} s (last error: {last})"
                )
            return keys

    async def _fetch(self, url: str) -> list[Key]:
        import httpx  # only with a jwks_url configured

        shown = shown_url(url)
        try:
            # No redirects: the configured URL is the partner's; a redirect could lead anywhere.
            async with (
                httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client,
                client.stream(
                    "GET",
                    url,
                    # identity: no compressed chunk can expand far past the cap in one step
                    headers={"Accept": "application/json", "Accept-Encoding": "identity"},
                ) as answer,
            ):
                if answer.status_code != 200:
                    moved = " (redirects are not followed)" if answer.is_redirect else ""
                    raise KeysUnavailable(
                        f"the JWKS at {shown} answered {answer.status_code}{moved}"
                    )
                body = bytearray()
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise KeysUnavailable(
                            f"the JWKS at {shown} is larger than {MAX_JWKS_BYTES // 1024} KiB"
                        )
        except httpx.HTTPError as exc:
            # httpx messages can name the full URL: only the exception type is kept.
            raise KeysUnavailable(
                f"the JWKS at {shown} is not reachable ({type(exc).__name__})"
            ) from None
        try:
            keys = load_key_set(body.decode("utf-8")).keys
        except UnicodeDecodeError:
            raise KeysUnavailable(f"the JWKS at {shown} is not UTF-8 JSON") from None
        except KeyProblem as exc:
            raise KeysUnavailable(f"the JWKS at {shown} is unusable: {exc}") from None
        self.fetches += 1
        return list(keys)


def shown_url(url: str) -> str:
    """``url`` fit for reasons and logs: no user info, query or fragment (they may be tokens)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


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
    candidates = [k for k in keys if key_fits(k, alg) and (kid is None or k.kid in (None, kid))]
    if not candidates:
        named = f" with kid {kid!r}" if kid is not None else ""
        return f"no configured key{named} fits JWS algorithm {alg}"
    invalid: str | None = None
    mismatched = False
    for key in candidates:
        try:
            jws.deserialize_compact(value, key, algorithms=[alg], payload=body)
        except BadSignatureError:
            mismatched = True
        except JoseError as exc:
            # Either about this key (a JWK whose own "alg" is another one) or about the JWS
            # (an unsupported critical header): the next key may verify, so keep going.
            if invalid is None:
                invalid = f"invalid JWS in header {header}: {exc.error} {exc.description or ''}"
        else:
            return None
    # A signature some key checked and found wrong says more than another key's refusal.
    if invalid is not None and not mismatched:
        return invalid.strip()
    return f"bad JWS signature in header {header}: it does not verify the body ({alg})"


async def _configured_keys(spec: Mapping[str, Any], kid: str | None, jwks: JwksCache) -> list[Key]:
    if spec.get("jwks_url"):
        url = str(spec["jwks_url"])
        problem = jwks_url_problem(url)  # checked at load unless it came from a template
        if problem is not None:
            raise KeyProblem(problem)
        return await jwks.keys(url, kid)
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
