"""JWS-signed webhooks (``signature: {type: jws}``): the verifier, flow validation, a JWKS served
over real HTTP, and real runs receiving signed deliveries through the listener."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse
from joserfc import jws
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.jws_keys import KeyProblem, load_key
from testflow.dsl.loader import load_flow
from testflow.runtime.engine import Engine
from testflow.webhooks.signatures import (
    MAX_JWKS_BYTES,
    STALE_KEYS_S,
    JwksCache,
    KeysUnavailable,
    jws_problem,
)
from tests.api.serving import serve
from tests.durable.test_webhooks import _flow, _url_of, engine, listener  # noqa: F401 (fixtures)

BODY = json.dumps({"event": "payment.settled", "id": "PAY-1", "amount": 42}).encode()
EC = ECKey.generate_key("P-256", private=True)
RSA = RSAKey.generate_key(2048, private=True)
ED = OKPKey.generate_key("Ed25519", private=True)
OTHER_EC = ECKey.generate_key("P-256", private=True)
EC384 = ECKey.generate_key("P-384", private=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _detached(key: Key, body: bytes, alg: str, **header: Any) -> str:
    """What a partner puts in the header: ``<protected>..<signature>`` over ``body``."""
    compact = jws.serialize_compact({"alg": alg, **header}, body, key, algorithms=[alg])
    protected, _, signature = compact.split(".")
    return f"{protected}..{signature}"


def _pem(key: Key) -> str:
    return key.as_pem(private=False).decode()


def _public_jwk(key: Key, kid: str | None = None) -> dict[str, Any]:
    jwk = dict(key.as_dict(private=False))
    if kid is not None:
        jwk["kid"] = kid
    return jwk


async def _check(value: str | None, body: bytes = BODY, **spec: Any) -> str | None:
    headers = {} if value is None else {"x-jws-signature": value}
    spec = {"type": "jws", "key": _pem(EC), **spec}
    return await jws_problem(spec, headers, body, JwksCache())


# -- the verifier ------------------------------------------------------------------------------


async def test_a_detached_jws_over_the_body_verifies() -> None:
    assert await _check(_detached(EC, BODY, "ES256")) is None
    # A JWK mapping, an RSA-PSS signature, an Ed25519 key in an inline JWKS with key ids.
    assert await _check(_detached(RSA, BODY, "PS256"), key=_public_jwk(RSA)) is None
    jwks = {"keys": [_public_jwk(OTHER_EC, "k1"), _public_jwk(ED, "k2")]}
    signed = _detached(ED, BODY, "EdDSA", kid="k2")
    assert await _check(signed, key=None, jwks=jwks) is None


async def test_rfc7797_unencoded_payload_verifies_and_detects_tampering() -> None:
    signed = _detached(EC, BODY, "ES256", b64=False, crit=["b64"])
    assert await _check(signed) is None
    assert "bad JWS signature" in str(await _check(signed, body=BODY.replace(b"42", b"43")))
    # b64: false only counts when the header marks it critical (RFC 7797 section 6).
    protected = _b64(json.dumps({"alg": "ES256", "b64": False}).encode())
    assert "without" in str(await _check(f"{protected}..{signed.split('.')[2]}"))


async def test_a_tampered_body_or_another_key_is_a_bad_signature() -> None:
    signed = _detached(EC, BODY, "ES256")
    tampered = await _check(signed, body=BODY.replace(b"42", b"4200"))
    wrong_key = await _check(_detached(OTHER_EC, BODY, "ES256"))
    for reason in (tampered, wrong_key):
        assert reason == (
            "bad JWS signature in header X-JWS-Signature: it does not verify the body (ES256)"
        )
    # The reason names the problem, never the key.
    assert _pem(EC).splitlines()[1] not in str(wrong_key)


async def test_alg_none_and_hs256_keyed_with_the_public_key_are_refused() -> None:
    none = _b64(json.dumps({"alg": "none"}).encode()) + ".."
    assert await _check(none) == (
        "JWS algorithm 'none' is not allowed (allowed: RS256, ES256, PS256, EdDSA)"
    )
    # The classic confusion attack: an HMAC keyed with the (public) PEM text of the key.
    protected = _b64(json.dumps({"alg": "HS256"}).encode())
    signing_input = f"{protected}.{_b64(BODY)}".encode()
    mac = _b64(hmac.new(_pem(EC).encode(), signing_input, hashlib.sha256).digest())
    assert "JWS algorithm 'HS256' is not allowed" in str(await _check(f"{protected}..{mac}"))
    # An asymmetric algorithm the step does not list is refused the same way.
    assert "'ES256' is not allowed (allowed: RS256)" in str(
        await _check(_detached(EC, BODY, "ES256"), algorithms=["RS256"])
    )


async def test_missing_malformed_attached_or_unknown_kid() -> None:
    assert await _check(None) == "missing JWS signature header X-JWS-Signature"
    assert "malformed JWS" in str(await _check("not-a-jws"))
    attached = jws.serialize_compact({"alg": "ES256"}, b"abc", EC)
    assert "not detached" in str(await _check(attached))
    jwks = {"keys": [_public_jwk(EC, "k1")]}
    signed = _detached(EC, BODY, "ES256", kid="k9")
    assert await _check(signed, key=None, jwks=jwks) == (
        "no configured key with kid 'k9' fits JWS algorithm ES256"
    )
    # A templated key is checked once rendered: an unusable one rejects, saying why.
    assert await _check(_detached(EC, BODY, "ES256"), key="not a key") == (
        "the step's JWS key is unusable: the key is neither a PEM text nor a JWK"
    )
    with pytest.raises(KeyProblem, match="private key"):
        load_key(EC.as_pem(private=True).decode())
    # A critical header parameter the verifier does not understand must fail (RFC 7515 4.1.11).
    protected = _b64(json.dumps({"alg": "ES256", "crit": ["exp"], "exp": 1}).encode())
    signature = jws.JWSRegistry.algorithms["ES256"].sign(f"{protected}.{_b64(BODY)}".encode(), EC)
    assert await _check(f"{protected}..{_b64(signature)}") == (
        "invalid JWS in header X-JWS-Signature: unsupported_header Unsupported ['exp'] in header"
    )


async def test_without_kid_every_key_that_fits_is_tried_in_turn() -> None:
    signed = _detached(EC, BODY, "ES256")
    # A P-384 key cannot verify ES256: skipped, whichever comes first in the set.
    for order in ([EC384, EC], [EC, EC384]):
        jwks = {"keys": [_public_jwk(k) for k in order]}
        assert await _check(signed, key=None, jwks=jwks) is None
    only_384 = {"keys": [_public_jwk(EC384)]}
    assert await _check(signed, key=None, jwks=only_384) == (
        "no configured key fits JWS algorithm ES256"
    )
    # A key that refuses the JWS (its JWK is for RS512 only) does not stop the next one.
    rs512 = {**_public_jwk(RSA), "alg": "RS512"}
    jwks = {"keys": [rs512, _public_jwk(RSA)]}
    assert await _check(_detached(RSA, BODY, "RS256"), key=None, jwks=jwks) is None
    # When none verifies: a signature that another key made is a bad signature...
    forged = _detached(RSAKey.generate_key(2048, private=True), BODY, "RS256")
    assert "bad JWS signature" in str(await _check(forged, key=None, jwks=jwks))
    # ...and a JWS every key refuses says why.
    assert await _check(_detached(RSA, BODY, "RS256"), key=None, jwks={"keys": [rs512]}) == (
        "invalid JWS in header X-JWS-Signature: unsupported_key_alg "
        "This key is designed for algorithm 'RS512'"
    )


# -- a JWKS fetched over HTTP -------------------------------------------------------------------


@pytest.fixture
async def jwks_server() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A partner's JWKS endpoint on a real port; ``state`` sets what it serves and counts hits."""
    state: dict[str, Any] = {"keys": [_public_jwk(EC, "k1")], "status": 200, "hits": 0, "pad": 0}
    app = FastAPI()

    @app.get("/jwks.json")
    async def keys() -> Response:
        state["hits"] += 1
        document = {"keys": state["keys"], "padding": "x" * state["pad"]}
        return Response(json.dumps(document), state["status"])

    @app.get("/moved")
    async def moved() -> Response:
        return RedirectResponse("/jwks.json", 302)

    async with serve(app) as base:
        yield f"{base}/jwks.json", state


async def test_jwks_url_is_fetched_once_and_again_for_a_rotated_kid(
    jwks_server: tuple[str, dict[str, Any]],
) -> None:
    url, state = jwks_server
    cache = JwksCache(refetch_s=0.0)
    spec = {"type": "jws", "jwks_url": url}
    for _ in range(3):
        signed = {"X-JWS-Signature": _detached(EC, BODY, "ES256", kid="k1")}
        assert await jws_problem(spec, signed, BODY, cache) is None
    assert state["hits"] == 1 and cache.fetches == 1
    # The partner rotates to a new key: an unknown kid refetches the set.
    state["keys"] = [_public_jwk(EC, "k1"), _public_jwk(RSA, "k2")]
    rotated = {"X-JWS-Signature": _detached(RSA, BODY, "RS256", kid="k2")}
    assert await jws_problem(spec, rotated, BODY, cache) is None
    assert state["hits"] == 2
    # Forged kids refetch at most once per refetch interval (here: an hour).
    slow = JwksCache(refetch_s=3600.0)
    forged = {"X-JWS-Signature": _detached(EC, BODY, "ES256", kid="forged")}
    for _ in range(3):
        assert "no configured key with kid 'forged'" in str(
            await jws_problem(spec, forged, BODY, slow)
        )
    assert slow.fetches == 1


async def test_an_unreachable_jwks_is_keys_unavailable(
    jwks_server: tuple[str, dict[str, Any]],
) -> None:
    url, state = jwks_server
    state["status"] = 500
    signed = {"X-JWS-Signature": _detached(EC, BODY, "ES256")}
    with pytest.raises(KeysUnavailable, match="answered 500"):
        await jws_problem({"type": "jws", "jwks_url": url}, signed, BODY, JwksCache())


async def test_stale_keys_are_kept_for_a_bounded_time_when_the_jwks_cannot_be_refreshed(
    jwks_server: tuple[str, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    url, state = jwks_server
    now = [0.0]
    cache = JwksCache(clock=lambda: now[0])
    spec = {"type": "jws", "jwks_url": f"{url}?token=s3cret"}
    signed = {"X-JWS-Signature": _detached(EC, BODY, "ES256", kid="k1")}
    assert await jws_problem(spec, signed, BODY, cache) is None
    state["status"] = 500  # the partner's JWKS endpoint goes down
    for at in (cache.max_age_s + 1, cache.max_age_s + STALE_KEYS_S):
        now[0] = at
        assert await jws_problem(spec, signed, BODY, cache) is None
    assert f"the JWKS at {url} answered 500; keeping the cached keys" in caplog.text
    # Past the bound, a key the partner may have revoked meanwhile no longer verifies: 503.
    now[0] = cache.max_age_s + STALE_KEYS_S + 1
    with pytest.raises(KeysUnavailable) as unavailable:
        await jws_problem(spec, signed, BODY, cache)
    assert str(unavailable.value) == (
        f"the JWKS at {url} could not be refreshed and its cached keys are older than "
        f"{cache.max_age_s + STALE_KEYS_S:.0f} s (last error: the JWKS at {url} answered 500)"
    )
    # The URL's query (a token) is in neither the reasons nor the logs.
    assert "s3cret" not in caplog.text
    state["status"] = 200  # back up: fetched again, verifying again
    now[0] += cache.refetch_s
    assert await jws_problem(spec, signed, BODY, cache) is None


async def test_a_jwks_is_not_fetched_through_redirects_over_64_kib_or_over_plain_http(
    jwks_server: tuple[str, dict[str, Any]],
) -> None:
    url, state = jwks_server
    signed = {"X-JWS-Signature": _detached(EC, BODY, "ES256")}
    base = url.removesuffix("/jwks.json")
    with pytest.raises(KeysUnavailable) as moved:
        await jws_problem(
            {"type": "jws", "jwks_url": f"{base}/moved?t=s3cret"}, signed, BODY, JwksCache()
        )
    assert str(moved.value) == f"the JWKS at {base}/moved answered 302 (redirects are not followed)"
    state["pad"] = MAX_JWKS_BYTES
    with pytest.raises(KeysUnavailable, match="is larger than 64 KiB"):
        await jws_problem({"type": "jws", "jwks_url": url}, signed, BODY, JwksCache())
    # A templated URL is checked once rendered: keys over plain http could be swapped on the way.
    plain = {"type": "jws", "jwks_url": "http://psp.example/jwks?t=s3cret"}
    assert await jws_problem(plain, signed, BODY, JwksCache()) == (
        "the step's JWS key is unusable: jwks_url must use https: plain http (to psp.example) "
        "is only allowed for a loopback host (127.0.0.1, ::1, localhost)"
    )


# -- flow validation ----------------------------------------------------------------------------


def test_bad_jws_configuration_is_a_flow_error_with_its_position(tmp_path: Path) -> None:
    flow = tmp_path / "jws.yaml"
    flow.write_text(
        "name: jws\n"
        "steps:\n"
        "  - id: a\n"
        "    type: webhook.wait\n"
        "    name: a\n"
        "    signature: {type: jws}\n"
        "  - id: b\n"
        "    type: webhook.wait\n"
        "    name: b\n"
        "    signature: {type: jws, key: '-----BEGIN PUBLIC KEY-----\\nAAAA\\n', algorithms: [ES256]}\n"
        "  - id: c\n"
        "    type: webhook.wait\n"
        "    name: c\n"
        "    signature: {type: jws, jwks_url: 'https://p.example/jwks', algorithms: [HS256]}\n"
        "  - id: d\n"
        "    type: webhook.wait\n"
        "    name: d\n"
        f"    signature: {{type: jws, key: {json.dumps(_public_jwk(RSA))}, algorithms: [ES256]}}\n"
        "  - id: e\n"
        "    type: webhook.wait\n"
        "    name: e\n"
        "    signature: {type: rsa, secret: x}\n"
        "  - id: ok\n"  # templates are checked once rendered, by the receiver
        "    type: webhook.wait\n"
        "    name: ok\n"
        "    signature: {type: jws, key: \"{{ secret('PARTNER_KEY') }}\"}\n"
        "  - id: f\n"
        "    type: webhook.wait\n"
        "    name: f\n"
        "    signature: {type: jws, jwks_url: 'http://psp.example/jwks?t=s3cret'}\n"
        "  - id: g\n"
        "    type: webhook.wait\n"
        "    name: g\n"
        f"    signature: {{type: jws, jwks: {{keys: [{json.dumps(_public_jwk(EC384))}]}}, "
        "algorithms: [ES256]}\n"
        "  - id: loopback\n"
        "    type: webhook.wait\n"
        "    name: loopback\n"
        "    signature: {type: jws, jwks_url: 'http://127.0.0.1:8080/jwks'}\n"
        "  - id: hmac\n"  # no type: HMAC, as before
        "    type: webhook.wait\n"
        "    name: hmac\n"
        "    signature: {secret: s3cret}\n"
    )
    with pytest.raises(FlowValidationError) as err:
        load_flow(flow)
    found = {(d.line, d.col): d.message for d in err.value.diagnostics}
    assert found == {
        (6, 5): "a JWS signature needs exactly one of `key`, `jwks` or `jwks_url`",
        (10, 33): "the key is a malformed PEM or not an RSA, EC or OKP public key",
        (14, 77): "algorithm 'HS256' is refused: it is a shared-secret MAC, which a public key "
        "cannot verify (use `type: hmac` for shared secrets)",
        (18, 5): "no RSA key serves the allowed algorithms ES256",
        (22, 16): "signature `type` must be 'hmac' (the default) or 'jws'",
        (30, 38): "jwks_url must use https: plain http (to psp.example) is only allowed for a "
        "loopback host (127.0.0.1, ::1, localhost)",
        (34, 5): "no EC P-384 key serves the allowed algorithms ES256",
    }
    assert "s3cret" not in str(err.value)  # the URL's query may be a token


# -- real runs ----------------------------------------------------------------------------------


@pytest.mark.workflow
@pytest.mark.parametrize(
    "keys",
    [
        {"key": "{{ secret('PARTNER_KEY') }}"},  # rendered by the run (and by the starter)
        # literal: validated when the flow is loaded; the workflow skips the check (_checkable)
        {"jwks": {"keys": [_public_jwk(EC, "k1")]}},
    ],
    ids=["secret-pem", "inline-jwks"],
)
async def test_a_run_accepts_a_signed_delivery_and_records_a_rejected_one(
    engine: Engine,  # noqa: F811
    listener: str,  # noqa: F811
    keys: dict[str, Any],
) -> None:
    flow = _flow(
        signature={"type": "jws", "header": "X-Sig", **keys},
        match={"$.id": "PAY-1"},
        extract={"amount": "$.amount", "deliveries": "deliveries"},
        **{"assert": {"count": 1, "rejected": 1}},
    )
    handle = await engine.start(
        flow, environ={"PARTNER_KEY": _pem(EC), "HOOK_SECRET": "-"}, webhook_base=listener
    )
    path = await _url_of(engine, handle.id)
    async with httpx.AsyncClient(base_url=listener) as http:
        forged = await http.post(
            path, content=BODY, headers={"X-Sig": _detached(OTHER_EC, BODY, "ES256")}
        )
        good = await http.post(
            path,
            content=BODY,
            headers={
                "X-Sig": _detached(EC, BODY, "ES256", b64=False, crit=["b64"]),
                "Content-Type": "application/json",
            },
        )
    assert forged.status_code == 401
    assert forged.json() == {
        "error": "bad JWS signature in header X-Sig: it does not verify the body (ES256)"
    }
    assert good.status_code == 200
    result = await engine.follow(handle.id)
    assert result.status == "passed", [s.error for s in result.steps]
    assert result.context["amount"] == 42
    deliveries = result.context["deliveries"]
    assert [(d["status"], d["accepted"]) for d in deliveries] == [(401, False), (200, True)]
    assert "bad JWS signature" in deliveries[0]["reason"]
