"""Request dependencies: the app state, a database session, the caller and role checks."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from testflow.api.db.models import ApiToken
from testflow.api.db.session import Database
from testflow.api.errors import Forbidden, Unauthorized, Unavailable
from testflow.api.flowcache import FlowCache
from testflow.api.oidc import OidcVerifier, looks_like_jwt
from testflow.api.security import (
    Role,
    SecretBox,
    TokenCache,
    count_tokens,
    find_token,
    role_allows,
    touch_token,
)
from testflow.dsl.registry import StepRegistry
from testflow.runtime.settings import Settings

if TYPE_CHECKING:
    from testflow.api.metrics import Metrics
    from testflow.api.runstate import RunFeeds
    from testflow.api.tracker import RunTracker
    from testflow.runtime.engine import Engine


# Where the time of a request goes (auth, parse, temporal, index...): the RequestMetrics
# middleware opens a dict per request and sends it back as a Server-Timing header, which
# bench/api.py aggregates; browsers' dev tools show it too.
_spans: ContextVar[dict[str, float] | None] = ContextVar("testflow_spans", default=None)


@contextlib.contextmanager
def span(name: str) -> Iterator[None]:
    """Time a part of the current request (summed when a name repeats)."""
    spans = _spans.get()
    began = time.perf_counter()
    try:
        yield
    finally:
        if spans is not None:
            spans[name] = spans.get(name, 0.0) + time.perf_counter() - began


def open_spans() -> dict[str, float]:
    spans: dict[str, float] = {}
    _spans.set(spans)
    return spans


def server_timing(spans: dict[str, float]) -> str:
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in spans.items())


@dataclass
class AppState:
    """Everything the routers share; one per app (``app.state.tf``)."""

    settings: Settings
    db: Database
    box: SecretBox
    registry: StepRegistry
    metrics: Metrics
    engine: Engine | None = None
    tracker: RunTracker | None = None
    feeds: RunFeeds | None = None
    flows: FlowCache = field(default_factory=FlowCache)
    webhook_base: str | None = None
    tokens: TokenCache = field(default_factory=TokenCache)
    oidc: OidcVerifier | None = None  # set when TESTFLOW_OIDC_ISSUER is
    _token_count: tuple[float, int] = field(default=(0.0, -1))

    @property
    def library_dir(self) -> Path:
        """Where relative paths of stored flows point (``call`` targets, schema files)."""
        return self.settings.home / "library"

    @property
    def client(self) -> Client:
        if self.engine is None or self.engine.client is None:
            raise Unavailable("Temporal is not connected (the server is still starting?)")
        return self.engine.client

    def forget_token_count(self) -> None:
        """Tokens changed (created or revoked here): count again, verify again."""
        self._token_count = (0.0, -1)
        self.tokens.clear()

    async def auth_required(self, session: AsyncSession) -> bool:
        mode = self.settings.auth
        if mode != "auto":
            return mode == "required"
        if self.oidc is not None:
            return True  # configuring a provider means callers must sign in
        stamp, count = self._token_count
        if count < 0 or time.monotonic() - stamp > 2.0:
            count = await count_tokens(session)
            self._token_count = (time.monotonic(), count)
        return count > 0


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    token_id: str | None = None
    via: str = "token"  # "token" (API token), "oidc" (provider's JWT), "local" (auth off)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.tf
    return state


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with app_state(request).db.session() as session:
        yield session


bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`testflow tokens create`) or, with OIDC on, an access token "
    "(JWT) from the configured OpenID provider.",
)


async def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Principal:
    state = app_state(request)
    with span("auth"):
        token = credentials.credentials if credentials is not None else ""
        if token and state.oidc is not None and looks_like_jwt(token):
            who = await state.oidc.authenticate(token)
            return Principal(name=who.name, role=who.role, via="oidc")
        if token:

            async def lookup() -> ApiToken | None:
                async with state.db.session() as session:
                    return await find_token(session, token)

            async def touch(token_id: str) -> None:
                await state.db.write(lambda session: touch_token(session, token_id))

            known = await state.tokens.verify(token, lookup, touch)
            if known is None:
                raise Unauthorized("unknown or revoked API token")
            token_id, name, role = known
            return Principal(name=name, role=role, token_id=token_id)
        async with state.db.session() as session:
            if await state.auth_required(session):
                raise Unauthorized(
                    "sign in or send an API token: Authorization: Bearer <token>"
                    if state.oidc is not None
                    else "an API token is required: Authorization: Bearer <token>"
                )
    return Principal(name="local", role="admin", via="local")


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets callers with at least ``role`` through (403 otherwise)."""

    async def check(who: Principal = Depends(principal)) -> Principal:
        if not role_allows(who.role, role):
            caller = f"{who.name!r} (signed in)" if who.via == "oidc" else f"the token {who.name!r}"
            raise Forbidden(f"this needs the {role} role; {caller} is {who.role}")
        return who

    return check


Viewer = Depends(require("viewer"))
Runner = Depends(require("runner"))
Admin = Depends(require("admin"))
