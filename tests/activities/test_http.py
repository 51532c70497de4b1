"""The ``http`` executor against real local servers: a Starlette test app and the demo service.

Servers run under uvicorn on background threads; TLS uses a CA generated here with
``cryptography``. Nothing is mocked: every request crosses a real socket.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.http import aclose_clients, execute
from testflow.activities.http_transport import client_for
from testflow.demo import serve_in_thread, start_demo_service
from testflow.dsl.kinds.http import HttpStepConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# --- the test server ------------------------------------------------------------------------


class Counters:
    token_requests = 0
    token_ttl = 3600
    valid_tokens: set[str] = set()


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    out: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "query": dict(request.query_params),
        "headers": {k: v for k, v in request.headers.items()},
        "cookies": dict(request.cookies),
        "raw": body.decode("utf-8", "replace"),
    }
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/", "application/x-www-form-urlencoded")):
        form = await request.form()
        out["form"] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                out["form"][key] = value
            else:
                content = await value.read()
                out["form"][key] = {
                    "filename": value.filename,
                    "content": content.decode(),
                    "content_type": value.content_type,
                }
    return JSONResponse(out)


async def set_cookie(request: Request) -> Response:
    resp = PlainTextResponse("set")
    resp.set_cookie(request.query_params["name"], request.query_params["value"])
    return resp


async def login(request: Request) -> Response:
    """A 302 that sets a cookie: the next hop of the redirect must carry it."""
    resp = RedirectResponse("/echo?after=login", status_code=302)
    resp.set_cookie("session", "from-redirect")
    return resp


async def redirect_chain(request: Request) -> Response:
    n = int(request.path_params["n"])
    return RedirectResponse(f"/redirect/{n - 1}" if n > 1 else "/echo", status_code=302)


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("s", "5")))
    return PlainTextResponse("late")


async def binary(request: Request) -> Response:
    return Response(bytes(range(256)), media_type="application/octet-stream")


async def bad_json(request: Request) -> Response:
    return Response(b"{not json", media_type="application/json")


async def token(request: Request) -> JSONResponse:
    Counters.token_requests += 1
    form = await request.form()
    auth = request.headers.get("authorization", "")
    if auth.startswith("Basic "):
        client, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
    else:
        client, secret = str(form.get("client_id")), str(form.get("client_secret"))
    if (client, secret) != ("c1", "s1") or form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    value = f"tok-{uuid.uuid4().hex}"
    Counters.valid_tokens.add(value)
    return JSONResponse(
        {"access_token": value, "expires_in": Counters.token_ttl, "scope": form.get("scope")}
    )


async def protected(request: Request) -> JSONResponse:
    value = request.headers.get("authorization", "").removeprefix("Bearer ")
    if value not in Counters.valid_tokens:
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    return JSONResponse({"ok": True, "token": value})


async def revoke(request: Request) -> Response:
    Counters.valid_tokens.clear()
    return Response(status_code=204)


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        Route("/cookies/set", set_cookie),
        Route("/login", login),
        Route("/redirect/{n:int}", redirect_chain),
        Route("/slow", slow),
        Route("/binary", binary),
        Route("/bad-json", bad_json),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/protected", protected),
        Route("/revoke", revoke, methods=["POST"]),
    ]
)


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[str]:
    port, stop = serve_in_thread(APP)
    yield f"http://127.0.0.1:{port}"
    await aclose_clients()  # idle keep-alive connections would hold up the server's shutdown
    stop()


@pytest.fixture(scope="module")
async def demo() -> AsyncIterator[str]:
    url, stop = start_demo_service()
    yield url
    await aclose_clients()
    stop()


def ctx(run_id: str = "run-1", timeout: float = 10.0) -> StepContext:
    return StepContext(
        run_id=run_id,
        flow_name="test",
        step_id="s",
        step_key="steps.s",
        variables={},
        step_outputs={},
        connections={},
        deadline=time.monotonic() + timeout,
    )


async def run(request: dict[str, Any], context: StepContext | None = None) -> Output:
    config = HttpStepConfig.model_validate({"request": request})
    return await execute(config, context or ctx())


# --- methods, bodies, responses -------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_methods_params_and_headers(server: str, method: str) -> None:
    out = await run(
        {
            "method": method,
            "url": f"{server}/echo",
            "params": {"a": 1, "b": "x y"},
            "headers": {"X-Trace": "t-1"},
        }
    )
    assert out.fields["status"] == 200
    assert out.document["method"] == method
    assert out.document["query"] == {"a": "1", "b": "x y"}
    assert out.document["headers"]["x-trace"] == "t-1"
    assert out.summary.startswith(f"{method} /echo -> 200 (")
    assert out.request["method"] == method and out.request["headers"]["x-trace"] == "t-1"
    assert out.response["status"] == 200
    assert out.fields["headers"]["content-type"] == "application/json"


async def test_head_has_no_body(server: str) -> None:
    out = await run({"method": "HEAD", "url": f"{server}/binary"})
    assert out.fields["status"] == 200 and out.document is None


async def test_json_body(server: str) -> None:
    out = await run({"method": "POST", "url": f"{server}/echo", "json": {"n": 1, "l": [1, 2]}})
    assert out.document["headers"]["content-type"] == "application/json"
    assert out.document["raw"].replace(" ", "") == '{"n":1,"l":[1,2]}'
    assert out.request["body"] == {"n": 1, "l": [1, 2]}


async def test_body_object_is_json_and_string_is_raw(server: str) -> None:
    out = await run({"method": "POST", "url": f"{server}/echo", "body": [1, "two"]})
    assert out.document["headers"]["content-type"] == "application/json"
    raw = "<order id='1'/>"
    out = await run(
        {
            "method": "POST",
            "url": f"{server}/echo",
            "body": raw,
            "headers": {"Content-Type": "application/xml"},
        }
    )
    assert out.document["raw"] == raw
    assert out.document["headers"]["content-type"] == "application/xml"


async def test_form_body(server: str) -> None:
    out = await run(
        {"method": "POST", "url": f"{server}/echo", "form": {"a": "1", "b": 2, "ok": True}}
    )
    assert out.document["form"] == {"a": "1", "b": "2", "ok": "true"}


async def test_multipart_from_path_and_inline(server: str, tmp_path: Path) -> None:
    file = tmp_path / "invoice.csv"
    file.write_text("id,total\n1,10\n")
    out = await run(
        {
            "method": "POST",
            "url": f"{server}/echo",
            "multipart": {
                "note": "hello",
                "invoice": {"path": str(file), "content_type": "text/csv"},
                "inline": {"content": "inline data", "filename": "x.txt"},
            },
        }
    )
    form = out.document["form"]
    assert form["note"] == "hello"
    assert form["invoice"] == {
        "filename": "invoice.csv",
        "content": "id,total\n1,10\n",
        "content_type": "text/csv",
    }
    assert form["inline"]["filename"] == "x.txt" and form["inline"]["content"] == "inline data"
    assert out.request["body"]["invoice"]["size"] == len("id,total\n1,10\n")


async def test_multipart_missing_file_is_a_clear_config_error(server: str) -> None:
    with pytest.raises(StepFailure) as err:
        await run(
            {"method": "POST", "url": f"{server}/echo", "multipart": {"f": {"path": "/nope/x"}}}
        )
    assert err.value.type == "InvalidConfig" and "/nope/x" in err.value.message


async def test_binary_response_is_base64_with_a_note(server: str) -> None:
    out = await run({"url": f"{server}/binary"})
    assert base64.b64decode(out.document) == bytes(range(256))
    assert any("base64" in line.message for line in out.logs)


async def test_invalid_json_falls_back_to_text(server: str) -> None:
    out = await run({"url": f"{server}/bad-json"})
    assert out.document == "{not json"


# --- GraphQL (the demo service runs graphql-core) ---------------------------------------------


async def test_graphql_query_and_errors(demo: str) -> None:
    created = await run(
        {"method": "POST", "url": f"{demo}/orders", "json": {"product": "gq", "price": 3}}
    )
    order_id = created.document["id"]
    query = "query Get($id: ID!) { order(id: $id) { id status } }"
    out = await run(
        {
            "url": f"{demo}/graphql",
            "graphql": {"query": query, "variables": {"id": order_id}, "operationName": "Get"},
        }
    )
    assert out.request["method"] == "POST"  # GraphQL is POSTed unless GET is asked for
    assert out.document == {"data": {"order": {"id": order_id, "status": "NEW"}}}
    assert out.fields["errors"] is None
    bad = await run({"url": f"{demo}/graphql", "graphql": {"query": "{ order(id: 1) { nope } }"}})
    assert bad.fields["status"] == 200
    assert "nope" in bad.fields["errors"][0]["message"]
    assert "GraphQL error" in bad.summary


async def test_graphql_as_get_when_asked(server: str) -> None:
    out = await run(
        {
            "method": "GET",
            "url": f"{server}/echo",
            "graphql": {"query": "{ a }", "variables": {"n": 1}, "operationName": "Q"},
        }
    )
    assert out.document["method"] == "GET"
    assert out.document["query"] == {
        "query": "{ a }",
        "variables": '{"n": 1}',
        "operationName": "Q",
    }


# --- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "basic", [["ann", "pw:1"], {"username": "ann", "password": "pw:1"}], ids=["list", "dict"]
)
async def test_basic_auth(server: str, basic: Any) -> None:
    context = ctx()
    out = await run({"url": f"{server}/echo", "auth": {"basic": basic}}, context)
    sent = out.document["headers"]["authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")).decode() == "ann:pw:1"
    assert sent.removeprefix("Basic ") in context.secret_values  # masked in reports


async def test_bearer_and_api_key(server: str) -> None:
    out = await run({"url": f"{server}/echo", "auth": {"bearer": "abc"}})
    assert out.document["headers"]["authorization"] == "Bearer abc"
    out = await run(
        {"url": f"{server}/echo", "auth": {"api_key": {"name": "X-API-Key", "value": "k1"}}}
    )
    assert out.document["headers"]["x-api-key"] == "k1"
    out = await run(
        {
            "url": f"{server}/echo",
            "params": {"q": "1"},
            "auth": {"api_key": {"name": "api_key", "value": "k2", "in": "query"}},
        }
    )
    assert out.document["query"] == {"q": "1", "api_key": "k2"}


def oauth(server: str, scope: str, client_auth: str = "basic") -> dict[str, Any]:
    return {
        "oauth2": {
            "token_url": f"{server}/oauth/token",
            "client_id": "c1",
            "client_secret": "s1",
            "scope": scope,
            "client_auth": client_auth,
        }
    }


async def test_oauth2_token_is_cached_per_key(server: str) -> None:
    before = Counters.token_requests
    scope = f"orders-{uuid.uuid4().hex[:6]}"
    outs = [
        await run({"url": f"{server}/protected", "auth": oauth(server, scope)}) for _ in range(3)
    ]
    assert [o.fields["status"] for o in outs] == [200, 200, 200]
    assert len({o.document["token"] for o in outs}) == 1
    assert Counters.token_requests == before + 1
    context = ctx()
    await run({"url": f"{server}/protected", "auth": oauth(server, scope)}, context)
    assert outs[0].document["token"] in context.secret_values  # the runner masks it
    # Many steps at once still fetch one token.
    other = oauth(server, scope + "-b", client_auth="body")
    results = await asyncio.gather(
        *(run({"url": f"{server}/protected", "auth": other}) for _ in range(10))
    )
    assert all(r.fields["status"] == 200 for r in results)
    assert Counters.token_requests == before + 2


async def test_oauth2_token_refetched_after_expiry_and_after_401(server: str) -> None:
    scope = f"short-{uuid.uuid4().hex[:6]}"
    Counters.token_ttl = 1
    try:
        before = Counters.token_requests
        await run({"url": f"{server}/protected", "auth": oauth(server, scope)})
        await asyncio.sleep(1.0)  # the token's lifetime (minus the refresh margin) has passed
        out = await run({"url": f"{server}/protected", "auth": oauth(server, scope)})
        assert out.fields["status"] == 200
        assert Counters.token_requests == before + 2
    finally:
        Counters.token_ttl = 3600
    scope = f"revoked-{uuid.uuid4().hex[:6]}"
    await run({"url": f"{server}/protected", "auth": oauth(server, scope)})
    before = Counters.token_requests
    await run({"method": "POST", "url": f"{server}/revoke"})
    out = await run({"url": f"{server}/protected", "auth": oauth(server, scope)})
    assert out.fields["status"] == 200
    assert Counters.token_requests == before + 1


async def test_oauth2_bad_credentials_fail_clearly(server: str) -> None:
    auth = oauth(server, "x")
    auth["oauth2"]["client_secret"] = "wrong"
    with pytest.raises(StepFailure) as err:
        await run({"url": f"{server}/protected", "auth": auth})
    assert "OAuth2 token request" in err.value.message and "401" in err.value.message
    assert "wrong" not in err.value.message


async def test_oauth2_against_the_demo_service(demo: str) -> None:
    out = await run(
        {
            "method": "POST",
            "url": f"{demo}/orders",
            "json": {"product": "o", "price": 1},
            "auth": {
                "oauth2": {
                    "token_url": f"{demo}/oauth/token",
                    "client_id": "demo-client",
                    "client_secret": "demo-secret",
                }
            },
        }
    )
    assert out.fields["status"] == 201


async def test_auth_plugin_without_plugin_host(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "testflow.plugins.auth", None)  # as if not installed
    with pytest.raises(StepFailure) as err:
        await run({"url": f"{server}/echo", "auth": {"plugin": "vault-auth"}})
    assert "plugin host" in err.value.message and "vault-auth" in err.value.message


async def test_auth_plugin_through_the_plugin_host(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example demo-sso plugin runs as a real process and signs the request's token."""
    from testflow.plugins.host import get_host

    root = tmp_path / "plugins"
    shutil.copytree(EXAMPLES / "plugins" / "demo-sso", root / "demo-sso")
    monkeypatch.setenv("PLUGINS_DIR", str(root))
    monkeypatch.setenv("TESTFLOW_USER_PLUGINS_DIR", str(tmp_path / "user-plugins"))
    config = {"client_id": f"acme-{uuid.uuid4().hex[:6]}", "client_secret": "sso-secret"}
    try:
        out = await run(
            {"url": f"{server}/echo", "auth": {"plugin": "demo-sso", "config": config}},
            ctx(timeout=30),
        )
    finally:
        get_host(root).kill_all()
    sent = out.document["headers"]
    assert sent["x-client-id"] == config["client_id"]
    assert sent["authorization"].startswith("Bearer ") and "." in sent["authorization"]


# --- redirects, cookies ---------------------------------------------------------------------


async def test_redirects_followed_or_not(server: str) -> None:
    out = await run({"url": f"{server}/redirect/3"})
    assert out.fields["status"] == 200 and out.document["path"] == "/echo"
    assert len(out.fields["redirects"]) == 3
    assert out.fields["url"].endswith("/echo")
    out = await run({"url": f"{server}/redirect/3", "follow_redirects": False})
    assert out.fields["status"] == 302 and out.fields["headers"]["location"] == "/redirect/2"


async def test_cookies_persist_within_a_run_and_are_isolated_between_runs(server: str) -> None:
    run_a, run_b = ctx(f"a-{uuid.uuid4()}"), ctx(f"b-{uuid.uuid4()}")
    await run({"url": f"{server}/cookies/set", "params": {"name": "sid", "value": "A"}}, run_a)
    await run({"url": f"{server}/cookies/set", "params": {"name": "sid", "value": "B"}}, run_b)
    seen_a = await run(
        {"url": f"{server}/echo", "cookies": {"extra": "1"}, "headers": {"Cookie": "h=2"}}, run_a
    )
    seen_b = await run({"url": f"{server}/echo"}, run_b)
    fresh = await run({"url": f"{server}/echo"}, ctx(f"c-{uuid.uuid4()}"))
    assert seen_a.document["cookies"] == {"sid": "A", "extra": "1", "h": "2"}
    assert seen_b.document["cookies"] == {"sid": "B"}
    assert fresh.document["cookies"] == {}
    assert len(client_for(None).cookies) == 0  # the shared client keeps no run's cookies


async def test_cookie_set_by_a_redirect_reaches_the_next_hop(server: str) -> None:
    out = await run({"url": f"{server}/login"}, ctx(f"r-{uuid.uuid4()}"))
    assert out.document["query"] == {"after": "login"}
    assert out.document["cookies"] == {"session": "from-redirect"}


# --- failures -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_names_host_port_and_request() -> None:
    port = free_port()
    with pytest.raises(StepFailure) as err:
        await run({"method": "POST", "url": f"http://127.0.0.1:{port}/orders"})
    assert err.value.message == (
        f"connection refused to 127.0.0.1:{port} (POST http://127.0.0.1:{port}/orders)"
    )
    assert err.value.type == "StepFailed"


async def test_timeout_uses_the_steps_remaining_time(server: str) -> None:
    with pytest.raises(StepFailure) as err:
        await run({"url": f"{server}/slow", "params": {"s": 1.5}}, ctx(timeout=0.3))
    assert err.value.type == "Timeout"
    assert "/slow" in err.value.message


async def test_invalid_url_is_a_config_error() -> None:
    with pytest.raises(StepFailure) as err:
        await run({"url": "ftp://example.invalid/x"})
    assert err.value.type == "InvalidConfig"


# --- TLS ------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        assert issuer is not None
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
            critical=False,
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    root = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("testflow test CA", ca_key, None, ca=True)
    _write(root / "ca", ca, None)
    for name, is_server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(root / name, _cert(name, key, (ca, ca_key), server=is_server), key)
    return root


@pytest.fixture(scope="module")
async def tls_servers(pki: Path) -> AsyncIterator[tuple[str, str]]:
    """(https URL without client auth, https URL that requires a client certificate)."""
    common = {"ssl_certfile": str(pki / "server.crt"), "ssl_keyfile": str(pki / "server.key")}
    port, stop = serve_in_thread(APP, **common)
    mport, mstop = serve_in_thread(
        APP, ssl_ca_certs=str(pki / "ca.crt"), ssl_cert_reqs=ssl.CERT_REQUIRED, **common
    )
    yield f"https://127.0.0.1:{port}", f"https://127.0.0.1:{mport}"
    await aclose_clients()
    stop()
    mstop()


async def test_tls_verified_against_a_ca_bundle(pki: Path, tls_servers: tuple[str, str]) -> None:
    url, _ = tls_servers
    out = await run({"url": f"{url}/echo", "tls": {"ca_bundle": str(pki / "ca.crt")}})
    assert out.fields["status"] == 200
    with pytest.raises(StepFailure) as err:  # the system CAs do not know the test CA
        await run({"url": f"{url}/echo"})
    assert "TLS handshake with 127.0.0.1:" in err.value.message
    out = await run({"url": f"{url}/echo", "tls": {"verify": False}})
    assert out.fields["status"] == 200


async def test_mutual_tls(pki: Path, tls_servers: tuple[str, str]) -> None:
    _, murl = tls_servers
    ca = str(pki / "ca.crt")
    tls = {"ca_bundle": ca, "cert": str(pki / "client.crt"), "key": str(pki / "client.key")}
    out = await run({"url": f"{murl}/echo", "tls": tls})
    assert out.fields["status"] == 200
    with pytest.raises(StepFailure) as err:
        await run({"url": f"{murl}/echo", "tls": {"ca_bundle": ca}})
    assert "127.0.0.1:" in err.value.message


async def test_unreadable_tls_files_are_a_config_error() -> None:
    with pytest.raises(StepFailure) as err:
        await run({"url": "https://127.0.0.1:1/x", "tls": {"ca_bundle": "/nope/ca.pem"}})
    assert err.value.type == "InvalidConfig" and "/nope/ca.pem" in err.value.message
