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

DEFAULT_ALGORITHMS = ("RS256", "ES256", "PS256", "EdDSA")


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


def fit_problem(keys: list[Key], algorithms: list[str]) -> str | None:
    """Why no key can serve any of ``algorithms`` (an RSA key with only ES256), or None."""
    wanted = {KEY_TYPE_OF_ALG[a] for a in algorithms if a in KEY_TYPE_OF_ALG}
    if any(key.key_type in wanted for key in keys):
        return None
    have = sorted({key.key_type for key in keys})
    return f"no {'/'.join(have)} key serves the allowed algorithms {', '.join(algorithms)}"


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
