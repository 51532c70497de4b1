"""Public keys and algorithms of JWS-signed webhooks (``signature: {type: jws}``).

Shared by flow validation (a malformed PEM or an algorithm the key cannot serve is a flow
error with its position) and by the receiver, which verifies deliveries with the same keys.
joserfc does the JOSE work; it is imported when a JWS signature is actually configured, so
flows without one never load it. Only asymmetric algorithms exist here: the keys are public,
and a public key must never be usable as an HMAC secret (the classic RS256 -> HS256 confusion).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from joserfc.jwk import Key, KeySet

KEY_TYPE_OF_ALG: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "ES256K": "EC",
    "EdDSA": "OKP",
    "Ed25519": "OKP",
}
"""The algorithms a webhook JWS may use, and the JWK key type (``kty``) each needs."""

CURVE_OF_ALG: dict[str, str] = {
    "ES256": "P-256",
    "ES384": "P-384",
    "ES512": "P-521",
    "ES256K": "secp256k1",
    "Ed25519": "Ed25519",
}
"""The curve (``crv``) an algorithm is defined on: an ES256 JWS is never verified by a P-384 key."""

DEFAULT_ALGORITHMS = ("RS256", "ES256", "PS256", "EdDSA")

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
"""Hosts a ``jwks_url`` may reach over plain http: nothing on the way can swap the keys."""


class KeyProblem(ValueError):
    """Key material that cannot be used; the message never contains the key itself."""


def algorithm_problem(alg: str) -> str | None:
    """Why ``alg`` may not be configured for a webhook JWS, or None when it may."""
    if alg in KEY_TYPE_OF_ALG:
        return None
    if alg.lower() == "none":
        return "algorithm 'none' is refused: an unsigned JWS proves nothing"
    if alg.upper().startswith("HS"):
        return (
            f"algorithm {alg!r} is refused: it is a shared-secret MAC, which a public key "
            "cannot verify (use `type: hmac` for shared secrets)"
        )
    return f"unknown JWS algorithm {alg!r} (allowed: {', '.join(KEY_TYPE_OF_ALG)})"


def load_key(value: str | dict[str, Any]) -> Key:
    """A public key from a PEM text, a JWK JSON text or a JWK mapping."""
    from joserfc.errors import JoseError
    from joserfc.jwk import JWKRegistry

    if isinstance(value, str) and not value.lstrip().startswith("{"):
        if "-----BEGIN" not in value:
            raise KeyProblem("the key is neither a PEM text nor a JWK")
        for kty in ("RSA", "EC", "OKP"):
            try:
                key = JWKRegistry.import_key(value.strip().encode(), kty)
            except (JoseError, ValueError, TypeError):
                continue
            return _public_only(key)
        raise KeyProblem("the key is a malformed PEM or not an RSA, EC or OKP public key")
    jwk = _json_object(value, "the JWK")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise KeyProblem(f"the JWK cannot be imported ({type(exc).__name__})") from None
    return _public_only(key)


def load_key_set(value: str | dict[str, Any]) -> KeySet:
    """A key set from a JWKS (``{"keys": [...]}``) text or mapping."""
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    data = _json_object(value, "the JWKS")
    keys = data.get("keys")
    if not isinstance(keys, list) or not keys:
        raise KeyProblem('the JWKS has no keys (expected {"keys": [...]})')
    # Keys published for encryption only are not signing keys (RFC 7517 4.2).
    usable = [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    if not usable:
        raise KeyProblem("the JWKS has no signing key")
    try:
        key_set = KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise KeyProblem(f"the JWKS cannot be imported ({type(exc).__name__})") from None
    for key in key_set.keys:
        _public_only(key)
    return key_set


def key_fits(key: Key, alg: str) -> bool:
    """Whether ``key`` can verify ``alg``: its type, and its curve where the algorithm fixes one."""
    if key.key_type != KEY_TYPE_OF_ALG.get(alg):
        return False
    curve = CURVE_OF_ALG.get(alg)
    return curve is None or key.get("crv") == curve


def fit_problem(keys: list[Key], algorithms: list[str]) -> str | None:
    """Why no key can serve any of ``algorithms`` (an RSA key with only ES256), or None."""
    if any(key_fits(key, alg) for key in keys for alg in algorithms):
        return None
    have = sorted({_kind(key) for key in keys})
    return f"no {'/'.join(have)} key serves the allowed algorithms {', '.join(algorithms)}"


def jwks_url_problem(url: str) -> str | None:
    """Why ``url`` may not be fetched for keys, or None. The message never shows the URL (its
    query may carry a token), only its host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "jwks_url is not a valid URL"
    if not host or parts.scheme not in ("https", "http"):
        return "jwks_url must be an https:// URL with a host"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        # Keys fetched over plain http can be replaced on the way: anyone could then sign.
        return (
            f"jwks_url must use https: plain http (to {host}) is only allowed for a loopback "
            f"host ({', '.join(LOOPBACK_HOSTS)})"
        )
    return None


def _kind(key: Key) -> str:
    curve = key.get("crv")
    return f"{key.key_type} {curve}" if isinstance(curve, str) else key.key_type


def _public_only(key: Key) -> Key:
    if key.key_type not in ("RSA", "EC", "OKP"):
        # An "oct" JWK is a shared secret: asymmetric algorithms cannot use it.
        raise KeyProblem(f"the key's type is {key.key_type!r}: it cannot verify an asymmetric JWS")
    # A private key in a flow file is a leak waiting to happen, and never needed to verify.
    if key.is_private:
        raise KeyProblem("this is a private key: give the partner's public key")
    return key


def _json_object(value: str | dict[str, Any], what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        data = json.loads(value)
    except ValueError:
        raise KeyProblem(f"{what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise KeyProblem(f"{what} is not a JSON object")
    return data
