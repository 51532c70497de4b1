"""The demo partner service over real HTTP: orders CRUD, auth, OAuth2, payment delay, GraphQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testflow.demo import start_demo_service

TOKEN = "demo-s3cret"


@pytest.fixture(scope="module")
def open_url() -> Iterator[str]:
    url, stop = start_demo_service()
    yield url
    stop()


@pytest.fixture(scope="module")
def locked_url() -> Iterator[str]:
    url, stop = start_demo_service(token=TOKEN, token_ttl=60)
    yield url
    stop()


def test_order_lifecycle(open_url: str) -> None:
    with httpx.Client(base_url=open_url) as http:
        created = http.post("/orders", json={"product": "book", "price": 12.5, "quantity": 2})
        assert created.status_code == 201
        order = created.json()
        assert order["status"] == "NEW" and order["price"] == 12.5 and order["quantity"] == 2
        assert set(order) >= {"id", "product", "price", "quantity", "status", "created_at"}
        assert created.headers["location"] == f"/orders/{order['id']}"
        assert http.get(f"/orders/{order['id']}").json() == order
        patched = http.patch(f"/orders/{order['id']}", json={"quantity": 3, "status": "SHIPPED"})
        assert patched.status_code == 200
        assert patched.json()["quantity"] == 3 and patched.json()["status"] == "SHIPPED"
        shipped = http.get("/orders", params={"status": "SHIPPED"}).json()
        assert order["id"] in [o["id"] for o in shipped["items"]]
        assert shipped["count"] == len(shipped["items"])
        assert http.delete(f"/orders/{order['id']}").status_code == 204
        assert http.get(f"/orders/{order['id']}").status_code == 404
        assert http.delete(f"/orders/{order['id']}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"product": "", "price": 1},
        {"product": "x", "price": 0},
        {"product": "x", "price": 1, "qty": 1},
    ],
)
def test_bad_input_is_422(open_url: str, body: dict[str, object]) -> None:
    assert httpx.post(f"{open_url}/orders", json=body).status_code == 422


def test_unknown_status_filter_is_422(open_url: str) -> None:
    assert httpx.get(f"{open_url}/orders", params={"status": "LOST"}).status_code == 422


def test_payment_completes_after_the_delay(open_url: str) -> None:
    with httpx.Client(base_url=open_url) as http:
        order_id = http.post("/orders", json={"product": "p", "price": 1}).json()["id"]
        paying = http.post(f"/orders/{order_id}/pay", params={"after_ms": 300})
        assert paying.status_code == 202 and paying.json()["status"] == "PAYMENT_PENDING"
        assert http.post(f"/orders/{order_id}/pay").status_code == 409
        statuses = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            statuses.append(http.get(f"/orders/{order_id}").json()["status"])
            if statuses[-1] == "PAID":
                break
            time.sleep(0.05)
        assert statuses[0] == "PAYMENT_PENDING" and statuses[-1] == "PAID"
        other = http.post("/orders", json={"product": "q", "price": 1}).json()["id"]
        now = http.post(f"/orders/{other}/pay")
        assert now.status_code == 200 and now.json()["status"] == "PAID"


def test_writes_need_the_token_when_one_is_set(locked_url: str) -> None:
    order = {"product": "book", "price": 3}
    assert httpx.post(f"{locked_url}/orders", json=order).status_code == 401
    wrong = httpx.post(f"{locked_url}/orders", json=order, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    ok = httpx.post(
        f"{locked_url}/orders", json=order, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert ok.status_code == 201
    assert httpx.get(f"{locked_url}/orders/{ok.json()['id']}").status_code == 200  # reads open
    assert httpx.get(f"{locked_url}/health").json()["auth_required"] is True


def test_oauth2_client_credentials(locked_url: str) -> None:
    with httpx.Client(base_url=locked_url) as http:
        grant = {"grant_type": "client_credentials", "scope": "orders"}
        via_basic = http.post("/oauth/token", data=grant, auth=("demo-client", "demo-secret"))
        assert via_basic.status_code == 200
        body = via_basic.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 60
        assert body["scope"] == "orders"
        via_form = http.post(
            "/oauth/token",
            data={**grant, "client_id": "demo-client", "client_secret": "demo-secret"},
        )
        assert via_form.status_code == 200
        assert via_form.json()["access_token"] != body["access_token"]
        bad = http.post("/oauth/token", data=grant, auth=("demo-client", "nope"))
        assert bad.status_code == 401 and bad.json() == {"error": "invalid_client"}
        wrong_grant = http.post(
            "/oauth/token", data={"grant_type": "password"}, auth=("demo-client", "demo-secret")
        )
        assert wrong_grant.status_code == 400
        created = http.post(
            "/orders",
            json={"product": "x", "price": 1},
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
        assert created.status_code == 201


def test_graphql(open_url: str) -> None:
    with httpx.Client(base_url=open_url) as http:
        mutation = (
            "mutation($p: String!) { createOrder(product: $p, price: 4) { id status quantity } }"
        )
        made = http.post("/graphql", json={"query": mutation, "variables": {"p": "gql"}}).json()
        order = made["data"]["createOrder"]
        assert order["status"] == "NEW" and order["quantity"] == 1
        query = 'query { order(id: "ID") { product price } }'.replace("ID", order["id"])
        got = http.post("/graphql", json={"query": query}).json()
        assert got == {"data": {"order": {"product": "gql", "price": 4.0}}}
        missing = http.post("/graphql", json={"query": '{ order(id: "none") { id } }'}).json()
        assert missing == {"data": {"order": None}}
        invalid = http.post("/graphql", json={"query": "{ order { id } }"})
        assert (
            invalid.status_code == 200 and "argument 'id'" in invalid.json()["errors"][0]["message"]
        )


def test_reset_and_persistence(tmp_path: Path) -> None:
    db = str(tmp_path / "orders.sqlite3")
    url, stop = start_demo_service(db_path=db)
    try:
        order_id = httpx.post(f"{url}/orders", json={"product": "kept", "price": 1}).json()["id"]
    finally:
        stop()
    url, stop = start_demo_service(db_path=db)
    try:
        assert httpx.get(f"{url}/orders/{order_id}").json()["product"] == "kept"
        assert httpx.post(f"{url}/reset").json() == {"deleted": 1}
        assert httpx.get(f"{url}/orders").json() == {"items": [], "count": 0}
    finally:
        stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_runs_as_a_module(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DEMO_TOKEN": "from-env"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "testflow.demo",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "d.db"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "python -m testflow.demo did not start"
                time.sleep(0.1)
        assert health.json()["auth_required"] is True
        denied = httpx.post(f"http://127.0.0.1:{port}/orders", json={"product": "a", "price": 1})
        assert denied.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
