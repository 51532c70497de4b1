"""OpenID Connect access tokens: discovery, a cached JWKS with key rotation, verification and
the claim -> role mapping (docs/api.md, "Authentication").

The provider is found through ``<issuer>/.well-known/openid-configuration`` when the first JWT
arrives (not at start-up: the API starts while the provider is down). Its JWKS is kept for
``oidc_jwks_max_age_s``; a token signed with a key id the cache does not know refetches it
(a provider rotated its keys), at most once per ``oidc_jwks_refetch_s`` so a stream of forged
key ids cannot make the API hammer the provider. joserfc does the JOSE work; the algorithms
accepted are asymmetric only (``none`` and HS* are refused before any key is looked at).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from testflow.api.errors import Forbidden, Unauthorized, Unavailable
from testflow.api.security import ROLES, Role
from testflow.runtime.settings import Settings

log = logging.getLogger("testflow.api.oidc")


def looks_like_jwt(token: str) -> bool:
    """A compact JWS (three base64url parts); API tokens (``tf_...``) never are."""
    return token.count(".") == 2 and not token.startswith("tf_")


@dataclass(frozen=True)
class Identity:
    name: str
    role: Role
    subject: str


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dotted path (``realm_access.roles``), None when absent. A claim whose
    own name has dots (``https://example.com/roles``) is looked up whole first."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class OidcVerifier:
    """Verifies access tokens of one issuer for one audience (one per app)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer:
            raise ValueError("OIDC needs TESTFLOW_OIDC_ISSUER")
        if not settings.oidc_client_id:
            raise ValueError("TESTFLOW_OIDC_ISSUER is set: TESTFLOW_OIDC_CLIENT_ID is needed too")
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.audience = settings.oidc_audience or settings.oidc_client_id
        self.algorithms = list(settings.oidc_algorithms)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._kids: set[str] = set()
        self._fetched_at = -1e18  # monotonic time of the last JWKS fetch
        self._lock = asyncio.Lock()
        self.jwks_fetches = 0  # observable by tests and /metrics-minded readers
        # The last fetch attempt, failed ones too: a provider that is down is asked at most once
        # per refetch interval, not once per request (each attempt may wait its 10 s timeout).
        self._attempted_at = -1e18
        self.fetch_attempts = 0

    # -- provider metadata and keys ---------------------------------------------------------
    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        import httpx  # only with OIDC on: the API process loads no HTTP client otherwise

        try:
            async with httpx.AsyncClient(timeout=10, follow_redirects=True) as client:
                answer = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the OpenID provider is not reachable ({what} {url}: {exc})"
            ) from exc
        if answer.status_code != 200:
            raise Unavailable(f"the OpenID provider answered {answer.status_code} to {what} {url}")
        try:
            data = answer.json()
        except json.JSONDecodeError as exc:
            raise Unavailable(f"the OpenID provider's {what} at {url} is not JSON") from exc
        if not isinstance(data, dict):
            raise Unavailable(f"the OpenID provider's {what} at {url} is not a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once; again after a failure)."""
        if self._metadata is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            data = await self._get_json(url, "discovery")
            # OpenID Connect Discovery 4.3: the document must name the issuer it was asked for.
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                raise Unavailable(
                    f"the discovery document at {url} names the issuer {data.get('issuer')!r}, "
                    f"not {self.issuer!r} (TESTFLOW_OIDC_ISSUER must match it exactly)"
                )
            if not isinstance(data.get("jwks_uri"), str):
                raise Unavailable(f"the discovery document at {url} has no jwks_uri")
            self._metadata = data
        return self._metadata

    async def _fetch_keys(self) -> None:
        meta = await self.metadata()
        data = await self._get_json(meta["jwks_uri"], "JWKS")
        usable = [
            k for k in data.get("keys", []) if isinstance(k, dict) and k.get("use", "sig") == "sig"
        ]
        self._keys = KeySet.import_key_set({"keys": usable})
        self._kids = {str(k["kid"]) for k in usable if "kid" in k}
        self._fetched_at = time.monotonic()
        self.jwks_fetches += 1
        log.info("fetched the JWKS of %s: key ids %s", self.issuer, sorted(self._kids))

    async def keys_for(self, kid: str | None) -> KeySet:
        """The key set, fetched when missing or stale, and again when ``kid`` is unknown (the
        provider rotated keys) unless the last fetch is more recent than the refetch interval."""
        async with self._lock:  # concurrent requests with a new kid share one fetch
            now = time.monotonic()
            stale = now - self._fetched_at > self.settings.oidc_jwks_max_age_s
            unknown = kid is not None and kid not in self._kids
            may_fetch = now - self._attempted_at >= self.settings.oidc_jwks_refetch_s
            if (self._keys is None or stale or unknown) and may_fetch:
                self._attempted_at = now
                self.fetch_attempts += 1
                try:
                    await self._fetch_keys()
                except Unavailable:
                    if self._keys is None:
                        raise
                    log.warning("could not refresh the JWKS of %s: kept the last keys", self.issuer)
            if self._keys is None:
                raise Unavailable(
                    f"the OpenID provider {self.issuer} could not be reached; it is asked again "
                    f"at most every {self.settings.oidc_jwks_refetch_s:g} s"
                )
            if kid is not None and kid not in self._kids:
                raise Unauthorized(
                    f"the token is signed with a key ({kid}) the provider does not publish"
                )
            return self._keys

    # -- tokens -------------------------------------------------------------------------------
    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token; Unauthorized (401) with the reason otherwise."""
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"the bearer token is not a well-formed JWT ({exc})") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise Unauthorized(
                f"the token's algorithm {alg!r} is not accepted (TESTFLOW_OIDC_ALGORITHMS: "
                f"{', '.join(self.algorithms)})"
            )
        kid = header.get("kid")
        keys = await self.keys_for(str(kid) if kid is not None else None)
        try:
            decoded = jwt.decode(token, keys, algorithms=self.algorithms)
        except BadSignatureError as exc:
            raise Unauthorized("the token's signature is not valid") from exc
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"the token cannot be verified: {exc}") from exc
        registry = jwt.JWTClaimsRegistry(
            leeway=self.settings.oidc_leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        claims = dict(decoded.claims)
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise Unauthorized("the token has expired; sign in again") from exc
        except MissingClaimError as exc:
            raise Unauthorized(f"the token lacks a required claim: {exc.description}") from exc
        except InvalidClaimError as exc:
            raise Unauthorized(self._claim_problem(exc, claims)) from exc
        return claims

    def _claim_problem(self, exc: InvalidClaimError, claims: dict[str, Any]) -> str:
        text = exc.description or str(exc)
        if "'iss'" in text:
            return f"the token was issued by {claims.get('iss')!r}, not {self.issuer!r}"
        if "'aud'" in text:
            return f"the token is for {claims.get('aud')!r}, not this API ({self.audience!r})"
        return f"the token has an invalid claim: {text}"

    def identity(self, claims: dict[str, Any]) -> Identity:
        """Name and role of verified claims; Forbidden (403) when no claim value maps to a
        role (the caller is who they say, but testflow was not told what they may do)."""
        subject = str(claims.get("sub"))
        name = claims.get(self.settings.oidc_username_claim) or claims.get("email") or subject
        raw = claim_at(claims, self.settings.oidc_roles_claim)
        if isinstance(raw, str):
            values = [raw]
        elif isinstance(raw, list):
            values = [str(v) for v in raw if v is not None]
        else:  # absent, or a number/bool/object: no role (403), not a TypeError (500)
            values = []
        if isinstance(raw, str) and " " in raw:
            values = raw.split()  # a space-separated string, like the "scope" claim
        mapping = self.settings.oidc_role_map or {role: role for role in ROLES}
        roles = [mapping[v] for v in values if v in mapping]
        if not roles:
            shown = ", ".join(values) if values else "nothing"
            raise Forbidden(
                f"signed in as {name!r}, but the token's {self.settings.oidc_roles_claim!r} claim "
                f"({shown}) maps to no testflow role; an admin maps groups to roles with "
                "TESTFLOW_OIDC_ROLE_MAP"
            )
        role: Role = max(roles, key=ROLES.index)
        return Identity(name=str(name), role=role, subject=subject)

    async def authenticate(self, token: str) -> Identity:
        return self.identity(await self.verify(token))
