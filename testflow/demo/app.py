"""The demo partner service: a small orders API the example flows and tests run against.

Writes need ``Authorization: Bearer <token>`` when the service has a token (the ``token``
argument or ``DEMO_TOKEN``); tokens issued by ``POST /oauth/token`` are accepted as well.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from testflow.demo import graphql_api
from testflow.demo.store import OrderStore

DEFAULT_CLIENTS = {"demo-client": "demo-secret"}
OrderStatus = Literal["NEW", "PAYMENT_PENDING", "PAID", "SHIPPED", "CANCELLED"]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: str = Field(min_length=1, max_length=200)
    price: float = Field(gt=0)
    quantity: int = Field(1, ge=1, le=10_000)


class OrderPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: str | None = Field(None, min_length=1, max_length=200)
    price: float | None = Field(None, gt=0)
    quantity: int | None = Field(None, ge=1, le=10_000)
    status: OrderStatus | None = None


class GraphQLIn(BaseModel):
    query: str
    variables: dict[str, Any] | None = None
    operationName: str | None = None


class DemoState:
    """What the handlers share: the store, the static token and issued OAuth2 tokens."""

    def __init__(self, db_path: str, token: str | None, clients: dict[str, str], ttl: int) -> None:
        self.store = OrderStore(db_path)
        self.token = token
        self.clients = clients
        self.token_ttl = ttl
        self.issued: dict[str, float] = {}  # access token -> expiry (time.time())
        self.tokens_issued = 0

    def accepts(self, token: str) -> bool:
        if self.token is not None and secrets.compare_digest(token, self.token):
            return True
        return self.issued.get(token, 0) > time.time()


def create_app(
    db_path: str,
    token: str | None = None,
    clients: dict[str, str] | None = None,
    token_ttl: int = 3600,
) -> FastAPI:
    state = DemoState(db_path, token, dict(clients or DEFAULT_CLIENTS), token_ttl)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.store.open()
        try:
            yield
        finally:
            await state.store.close()

    app = FastAPI(title="testflow demo partner (orders)", version="1.0", lifespan=lifespan)
    app.state.demo = state
    store = state.store

    def require_token(request: Request) -> None:
        if state.token is None:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not state.accepts(value.strip()):
            raise HTTPException(
                401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )

    async def found(order: dict[str, Any] | None, order_id: str) -> dict[str, Any]:
        if order is None:
            raise HTTPException(404, f"order {order_id} not found")
        return order

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "auth_required": state.token is not None,
            "tokens_issued": state.tokens_issued,
        }

    @app.post("/orders", status_code=201, dependencies=[Depends(require_token)])
    async def create_order(body: OrderIn, response: Response) -> dict[str, Any]:
        order = await store.create(body.product, body.price, body.quantity)
        response.headers["Location"] = f"/orders/{order['id']}"
        return order

    @app.get("/orders")
    async def list_orders(status: OrderStatus | None = None) -> dict[str, Any]:
        items = await store.list(status)
        return {"items": items, "count": len(items)}

    @app.get("/orders/{order_id}")
    async def get_order(order_id: str) -> dict[str, Any]:
        return await found(await store.get(order_id), order_id)

    @app.patch("/orders/{order_id}", dependencies=[Depends(require_token)])
    async def patch_order(order_id: str, body: OrderPatch) -> dict[str, Any]:
        await found(await store.get(order_id), order_id)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        return await found(await store.update(order_id, changes), order_id)

    @app.delete("/orders/{order_id}", status_code=204, dependencies=[Depends(require_token)])
    async def delete_order(order_id: str) -> Response:
        if not await store.delete(order_id):
            raise HTTPException(404, f"order {order_id} not found")
        return Response(status_code=204)

    @app.post("/orders/{order_id}/pay", dependencies=[Depends(require_token)])
    async def pay_order(
        order_id: str,
        response: Response,
        after_ms: int = Query(0, ge=0, le=600_000, description="Delay before it is PAID."),
    ) -> dict[str, Any]:
        order = await found(await store.get(order_id), order_id)
        if order["status"] in ("PAID", "PAYMENT_PENDING", "CANCELLED"):
            raise HTTPException(409, f"order {order_id} is {order['status']}: cannot pay it")
        paid = await found(await store.pay(order_id, after_ms), order_id)
        response.status_code = 202 if paid["status"] == "PAYMENT_PENDING" else 200
        return paid

    @app.post("/oauth/token")
    async def oauth_token(request: Request) -> JSONResponse:
        form = await request.form()
        client_id, secret = _client_credentials(request, form)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type")
        expected = state.clients.get(client_id or "")
        if expected is None or not secrets.compare_digest(secret or "", expected):
            return _oauth_error(401, "invalid_client")
        access = secrets.token_urlsafe(24)
        state.issued[access] = time.time() + state.token_ttl
        state.tokens_issued += 1
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": state.token_ttl,
        }
        if form.get("scope"):
            body["scope"] = form.get("scope")
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/graphql")
    async def graphql_endpoint(body: GraphQLIn) -> dict[str, Any]:
        return await graphql_api.execute(store, body.query, body.variables, body.operationName)

    @app.post("/reset")
    async def reset() -> dict[str, int]:
        return {"deleted": await store.reset()}

    return app


def _client_credentials(request: Request, form: Any) -> tuple[str | None, str | None]:
    """Client id and secret from an HTTP Basic header or from the form body."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return user, password
    client_id, secret = form.get("client_id"), form.get("client_secret")
    return (str(client_id) if client_id else None, str(secret) if secret else None)


def _oauth_error(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)
