"""API tokens with roles, and encryption of environment secrets at rest.

Tokens are 32 random bytes (``tf_`` + urlsafe base64); only their SHA-256 is stored, which is
enough for secrets of that entropy (no slow KDF needed, unlike passwords). Roles are ordered:
viewer < runner < admin. Environment secrets are sealed with AES-GCM under the same keys as
Temporal payloads (:class:`testflow.runtime.codec.EncryptionKeys`), so key rotation works the
same way; the API stores ``key_id:base64(nonce+ciphertext)`` and never returns it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import ApiToken
from testflow.runtime.codec import EncryptionKeys

log = logging.getLogger("testflow.api.security")
Role = Literal["viewer", "runner", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "runner", "admin")
TOKEN_PREFIX = "tf_"


def role_allows(have: str, need: Role) -> bool:
    """Whether ``have`` is at least ``need`` (unknown roles allow nothing)."""
    if have not in ROLES:
        return False
    return ROLES.index(have) >= ROLES.index(need)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(session: AsyncSession, *, name: str, role: Role) -> tuple[ApiToken, str]:
    """Store a new token; returns the row and the token in clear (shown once, never again)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    token = new_token()
    row = ApiToken(id=uuid.uuid4().hex[:12], name=name, role=role, token_hash=hash_token(token))
    session.add(row)
    await session.commit()
    return row, token


async def find_token(session: AsyncSession, token: str) -> ApiToken | None:
    row = (
        await session.execute(
            select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked == 0)
        )
    ).scalar_one_or_none()
    return row


async def touch_token(session: AsyncSession, token_id: str) -> None:
    """Stamp ``last_used_at`` (the caller commits)."""
    stamp = update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=datetime.now(UTC))
    await session.execute(stamp)


Known = tuple[str, str, str]  # a verified token's (id, name, role)


class TokenCache:
    """Tokens verified in the last few seconds, by hash: a burst of requests with one token costs
    one lookup and one ``last_used_at`` write, not one each (on SQLite every such write took
    the database's single write lock; it now runs after the answer). Requests that miss together
    share one lookup. An entry used in its last ``refresh_before`` seconds is looked up again in
    the background while requests keep using it: when it simply expired in the middle of a
    burst, 100 requests waited on that one lookup (auth p95 up to 1.4 s, bench/api.py).

    Unknown tokens are never cached. A token revoked through this server is dropped at once
    (:meth:`clear`, which also discards lookups still in flight); one revoked elsewhere (the
    CLI, another replica) keeps working here for at most ``ttl`` seconds: an entry lives ``ttl``
    from the moment its lookup *started*, so a refresh never stretches that."""

    def __init__(
        self,
        ttl: float = 5.0,
        size: int = 1024,
        *,
        refresh_before: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        refresh_before = ttl / 5 if refresh_before is None else refresh_before  # 1 s of 5
        if not 0 <= refresh_before < ttl:
            raise ValueError("refresh_before must be at least 0 and less than ttl")
        self.ttl = ttl
        self.size = size
        self.refresh_before = refresh_before
        self.clock = clock
        self._items: dict[str, tuple[float, Known]] = {}
        self._lookups: dict[str, asyncio.Task[Known | None]] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._generation = 0  # bumped by clear(): lookups begun before it store nothing

    async def verify(
        self,
        token: str,
        lookup: Callable[[], Awaitable[ApiToken | None]],
        touch: Callable[[str], Awaitable[None]] | None = None,
    ) -> Known | None:
        """The token's (id, name, role), from the cache or from ``lookup``; None: unknown.
        ``touch(id)`` runs in the background after a lookup found it (the ``last_used_at``
        write: no request waits for it)."""
        key = hash_token(token)
        now = self.clock()
        hit = self._items.get(key)
        if hit is not None and now <= hit[0]:
            if now >= hit[0] - self.refresh_before and key not in self._lookups:
                self._keep(self._start(key, lookup, touch), self._refresh_failed)
            return hit[1]
        return await asyncio.shield(self._start(key, lookup, touch))

    def _start(
        self,
        key: str,
        lookup: Callable[[], Awaitable[ApiToken | None]],
        touch: Callable[[str], Awaitable[None]] | None,
    ) -> asyncio.Task[Known | None]:
        """The lookup in flight for ``key``, started if there is none (one at a time)."""
        pending = self._lookups.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(key, lookup, touch))
            self._lookups[key] = pending
        return pending

    async def _lookup(
        self,
        key: str,
        lookup: Callable[[], Awaitable[ApiToken | None]],
        touch: Callable[[str], Awaitable[None]] | None,
    ) -> Known | None:
        generation, began = self._generation, self.clock()
        try:
            row = await lookup()
            current = generation == self._generation
            if row is None:
                if current:
                    self._items.pop(key, None)  # revoked: a refresh ends the entry early
                return None
            if touch is not None:
                self._keep(asyncio.ensure_future(self._touch(touch, row.id)))
            known = (row.id, row.name, row.role)
            if current:  # not after a clear(): the row may predate a revoke through the API
                if len(self._items) >= self.size and key not in self._items:
                    self._items.clear()  # bounded; a refill costs one lookup per token
                self._items[key] = (began + self.ttl, known)
            return known
        finally:
            if self._lookups.get(key) is asyncio.current_task():
                del self._lookups[key]

    def _keep(
        self, task: asyncio.Future[Any], done: Callable[[asyncio.Future[Any]], None] | None = None
    ) -> None:
        self._background.add(task)  # referenced until done (else it may be collected)
        task.add_done_callback(self._background.discard)
        if done is not None:
            task.add_done_callback(done)

    @staticmethod
    def _refresh_failed(task: asyncio.Future[Any]) -> None:
        # The entry stays valid until it expires; the next lookup tries again.
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("could not refresh a cached API token: %s", exc)

    @staticmethod
    async def _touch(touch: Callable[[str], Awaitable[None]], token_id: str) -> None:
        try:
            await touch(token_id)
        except Exception as exc:  # a missed stamp is not worth a failed request
            log.warning("could not stamp the use of token %s: %s", token_id, exc)

    def clear(self) -> None:
        """Forget every entry and the lookups in flight (a token was revoked or created here)."""
        self._items.clear()
        self._lookups.clear()
        self._generation += 1


async def count_tokens(session: AsyncSession) -> int:
    stmt = select(func.count()).select_from(ApiToken).where(ApiToken.revoked == 0)
    return int((await session.execute(stmt)).scalar_one())


class SecretBox:
    """Seal and open environment secrets with the payload keys (first key seals)."""

    def __init__(self, keys: EncryptionKeys) -> None:
        self.keys = keys

    def seal(self, value: str) -> str:
        key_id, blob = self.keys.encrypt(value.encode())
        return f"{key_id}:{base64.b64encode(blob).decode()}"

    def open(self, sealed: str) -> str:
        key_id, sep, encoded = sealed.partition(":")
        if not sep:
            raise ValueError("a sealed secret looks like 'key_id:base64'")
        return self.keys.decrypt(key_id, base64.b64decode(encoded)).decode()
