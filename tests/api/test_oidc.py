"""OIDC sign-in against a real OpenID provider (panva's oidc-provider, tests/oidc): its access
tokens are accepted beside API tokens, groups map to roles, bad tokens get 401, a key rotation
at the provider is followed, and /auth/config tells the UI how to log in without a secret."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import OctKey
from pydantic import SecretStr
from temporalio.client import Client

from testflow.api.app import create_app
from testflow.api.errors import Forbidden, Unavailable
from testflow.api.oidc import OidcVerifier
from testflow.runtime.settings import Settings
from tests.api.flows import QUICK
from tests.api.serving import serve, served_api
from tests.oidc import (
    API_AUDIENCE,
    CLIENT_SECRET,
    CONFIDENTIAL_CLIENT,
    Provider,
    login,
    unavailable,
    write_keys,
)
from tests.procs import free_port

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

ROLE_MAP = {"tf-admins": "admin", "tf-runners": "runner", "tf-viewers": "viewer"}


@dataclass
class Setup:
    url: str
    provider: Provider
    keys: Path
    settings: Settings

    def client(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)

    async def get(self, path: str, token: str | None) -> httpx.Response:
        async with self.client(token) as c:
            return await c.get(path)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Path]]:
    workdir = tmp_path_factory.mktemp("oidc-provider")
    keys = workdir / "jwks.json"
    write_keys(keys, "one")
    op = Provider(workdir)
    op.start(keys)
    try:
        yield op, keys
    finally:
        op.stop()


@pytest.fixture(scope="module")
async def setup(
    provider: tuple[Provider, Path],
    settings: Settings,
    temporal_client: Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Setup]:
    op, keys = provider
    async with served_api(
        settings,
        temporal_client,
        tmp_path_factory.mktemp("api-oidc"),
        queue="api-oidc",
        oidc_issuer=op.issuer,
        # A confidential client: /auth/config must still not show its secret.
        oidc_client_id=CONFIDENTIAL_CLIENT,
        oidc_client_secret=SecretStr(CLIENT_SECRET),
        oidc_audience=API_AUDIENCE,
        oidc_role_map=ROLE_MAP,
        oidc_scopes="openid profile groups",
        oidc_leeway_s=0,
        oidc_jwks_refetch_s=0.0,
    ) as served:
        yield Setup(served.url, op, keys, served.settings)


def _parts(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, object]:
    payload = _parts(token)[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_auth_config_is_public_and_keeps_the_secret(setup: Setup) -> None:
    answer = await setup.get("/auth/config", None)
    assert answer.status_code == 200
    assert answer.json() == {
        "oidc": True,
        "issuer": setup.provider.issuer,
        "client_id": CONFIDENTIAL_CLIENT,
        "scopes": "openid profile groups",
        "token_endpoint": "/api/v1/auth/token",
    }
    assert CLIENT_SECRET not in answer.text
    # Configuring a provider means signing in is required, even before any API token exists.
    refused = await setup.get("/flows", None)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")


async def test_groups_map_to_roles(setup: Setup) -> None:
    viewer = (await login(setup.provider, "viewer-vera"))["access_token"]
    runner = (await login(setup.provider, "runner-rob"))["access_token"]
    admin = (await login(setup.provider, "admin-ada"))["access_token"]
    async with setup.client(viewer) as v, setup.client(runner) as r, setup.client(admin) as a:
        me = await v.get("/auth/me")
        assert me.json() == {"name": "viewer-vera", "role": "viewer", "via": "oidc"}
        assert (await v.get("/flows")).status_code == 200
        denied = await v.post("/runs", json={"text": QUICK})
        assert denied.status_code == 403
        assert "runner" in denied.json()["detail"]["message"]
        assert "viewer-vera" in denied.json()["detail"]["message"]
        assert (await r.post("/runs", json={"text": QUICK})).status_code == 202
        assert (await r.post("/tokens", json={"name": "x", "role": "viewer"})).status_code == 403
        made = await a.post("/tokens", json={"name": "ci", "role": "runner"})
        assert made.status_code == 201
    # API tokens keep working beside the provider's tokens.
    me = await setup.get("/auth/me", made.json()["token"])
    assert me.json() == {"name": "ci", "role": "runner", "via": "token"}


async def test_es256_tokens_are_accepted(setup: Setup) -> None:
    token = (await login(setup.provider, "runner-eve", resource="urn:testflow:api:es256"))[
        "access_token"
    ]
    assert json.loads(base64.urlsafe_b64decode(_parts(token)[0] + "=="))["alg"] == "ES256"
    assert (await setup.get("/auth/me", token)).json()["role"] == "runner"


async def test_a_group_without_a_role_is_403(setup: Setup) -> None:
    token = (await login(setup.provider, "staff-sam"))["access_token"]
    answer = await setup.get("/flows", token)
    assert answer.status_code == 403
    message = answer.json()["detail"]["message"]
    assert "staff-sam" in message and "'groups'" in message and "TESTFLOW_OIDC_ROLE_MAP" in message


async def test_bad_tokens_are_401(setup: Setup, tmp_path: Path) -> None:
    good = (await login(setup.provider, "admin-ann"))["access_token"]
    header, payload, signature = _parts(good)
    other_api = (await login(setup.provider, "admin-ann", resource="urn:other:api"))["access_token"]
    tampered = f"{header}.{_b64({**_claims(good), 'sub': 'someone-else'})}.{signature}"
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    # HS256 keyed with the provider's public key: the classic algorithm-confusion forgery.
    async with httpx.AsyncClient(base_url=setup.provider.issuer) as op:
        jwks_uri = (await op.get("/.well-known/openid-configuration")).json()["jwks_uri"]
        public = json.dumps((await op.get(jwks_uri)).json()["keys"][0]).encode()
    confused = jws.serialize_compact(
        {"alg": "HS256", "kid": json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]},
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)),
        OctKey.import_key(public),
        algorithms=["HS256"],
    )
    # Another issuer that signs with the very same keys: only the iss check stops it.
    impostor = Provider(tmp_path)
    impostor.start(setup.keys)
    try:
        foreign = (await login(impostor, "admin-ann"))["access_token"]
    finally:
        impostor.stop()
    cases = {
        "wrong audience": (other_api, "not this API"),
        "wrong issuer": (foreign, "issued by"),
        "tampered": (tampered, "signature"),
        "alg none": (unsigned, "'none'"),
        "HS256 with the public key": (confused, "'HS256'"),
        "not a JWT": ("a.b.c", "JWT"),
    }
    for case, (token, reason) in cases.items():
        answer = await setup.get("/flows", token)
        assert answer.status_code == 401, (case, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer"), case
        assert reason in answer.json()["detail"]["message"], (case, answer.text)
    assert (await setup.get("/flows", good)).status_code == 200


async def test_an_expired_token_is_401(setup: Setup) -> None:
    token = (await login(setup.provider, "short-runner-kim"))["access_token"]
    expires = int(str(_claims(token)["exp"]))
    # The provider gave it 2 seconds and leeway is 0 here: wait until it is past.
    await asyncio.sleep(max(0.0, expires + 1 - time.time()))
    answer = await setup.get("/flows", token)
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]["message"]


async def test_the_code_exchange_of_a_confidential_client_goes_through_the_api(
    setup: Setup,
) -> None:
    tokens = await login(
        setup.provider,
        "runner-cal",
        client_id=CONFIDENTIAL_CLIENT,
        token_url=f"{setup.url}/api/v1/auth/token",
    )
    assert (await setup.get("/auth/me", tokens["access_token"])).json()["name"] == "runner-cal"
    async with setup.client(None) as c:
        refused = await c.post("/auth/token", data={"grant_type": "password"})
    assert refused.status_code == 422 and "grant_type" in refused.text
    # Without a secret there is nothing for the API to add: the route is not there.
    plain = setup.settings.model_copy(update={"oidc_client_secret": None})
    async with (
        serve(create_app(plain, connect=False)) as base,
        httpx.AsyncClient(base_url=f"{base}/api/v1") as c,
    ):
        answer = await c.post("/auth/token", data={"grant_type": "refresh_token"})
        assert answer.status_code == 404
        assert (await c.get("/auth/config")).json()["token_endpoint"] is None


async def test_unknown_key_ids_refetch_at_most_once_per_interval(setup: Setup) -> None:
    token = (await login(setup.provider, "viewer-kai"))["access_token"]
    header, payload, signature = _parts(token)
    forged_kid = _b64({**json.loads(base64.urlsafe_b64decode(header + "==")), "kid": "nope"})
    forged = f"{forged_kid}.{payload}.{signature}"
    slow = OidcVerifier(setup.settings.model_copy(update={"oidc_jwks_refetch_s": 3600.0}))
    assert (await slow.authenticate(token)).role == "viewer"
    assert slow.jwks_fetches == 1
    for _ in range(3):
        with pytest.raises(Exception, match="nope"):
            await slow.verify(forged)
    assert slow.jwks_fetches == 1  # within the interval: the cached keys answer
    eager = OidcVerifier(setup.settings)  # refetch interval 0
    await eager.verify(token)
    with pytest.raises(Exception, match="nope"):
        await eager.verify(forged)
    assert eager.jwks_fetches == 2


async def test_a_key_rotation_at_the_provider_is_followed(setup: Setup) -> None:
    before = (await login(setup.provider, "runner-rhea"))["access_token"]
    assert (await setup.get("/flows", before)).status_code == 200
    new_kids = write_keys(setup.keys, "two")
    setup.provider.restart(setup.keys)  # the old keys are gone from its JWKS
    after = (await login(setup.provider, "runner-rhea"))["access_token"]
    assert json.loads(base64.urlsafe_b64decode(_parts(after)[0] + "=="))["kid"] in new_kids
    assert (await setup.get("/auth/me", after)).json()["role"] == "runner"
    gone = await setup.get("/flows", before)
    assert gone.status_code == 401 and "rsa-one" in gone.json()["detail"]["message"]


def test_settings_refuse_symmetric_algorithms_and_parse_role_maps() -> None:
    with pytest.raises(ValueError, match="HS256"):
        Settings(oidc_algorithms="RS256,HS256")
    with pytest.raises(ValueError, match="none"):
        Settings(oidc_algorithms=["none"])
    parsed = Settings(oidc_role_map="ops=admin, qa = runner")
    assert parsed.oidc_role_map == {"ops": "admin", "qa": "runner"}
    with pytest.raises(ValueError, match="claim-value=role"):
        Settings(oidc_role_map="ops")
    with pytest.raises(ValueError, match="CLIENT_ID"):
        OidcVerifier(Settings(oidc_issuer="http://127.0.0.1:1"))


def test_roles_claim_paths_and_the_default_mapping(tmp_path: Path) -> None:
    keycloak = Settings(
        home=tmp_path,
        oidc_issuer="http://x",
        oidc_client_id="c",
        oidc_roles_claim="realm_access.roles",
    )
    verifier = OidcVerifier(keycloak)
    who = verifier.identity(
        {"sub": "u1", "realm_access": {"roles": ["offline", "runner", "viewer"]}}
    )
    assert (who.name, who.role) == ("u1", "runner")  # no map: role names as they are, highest wins
    spaced = OidcVerifier(keycloak.model_copy(update={"oidc_roles_claim": "roles"}))
    assert spaced.identity({"sub": "u2", "roles": "viewer admin"}).role == "admin"
    # A claim of another type is no role: 403, not a TypeError (500).
    for odd in (5, True, {"admin": True}):
        with pytest.raises(Forbidden, match="maps to no testflow role"):
            spaced.identity({"sub": "u3", "roles": odd})


async def test_a_provider_that_is_down_is_asked_once_per_refetch_interval(tmp_path: Path) -> None:
    down = Settings(home=tmp_path, oidc_issuer=f"http://127.0.0.1:{free_port()}", oidc_client_id="c")
    verifier = OidcVerifier(down)
    for _ in range(3):  # every request meets a 503, but only the first one asks the provider
        with pytest.raises(Unavailable):
            await verifier.keys_for("k1")
    assert verifier.fetch_attempts == 1
    eager = OidcVerifier(down.model_copy(update={"oidc_jwks_refetch_s": 0}))
    for _ in range(3):
        with pytest.raises(Unavailable):
            await eager.keys_for("k1")
    assert eager.fetch_attempts == 3
