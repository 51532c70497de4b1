"""The verified-token cache refreshes an entry shortly before it expires: requests around the
expiry keep using the still-valid entry while one lookup runs, and a token revoked in the
database (as `testflow tokens revoke` does) still stops working within ``ttl`` of the revoke.
A real SQLite index; the cache's clock is set by the test, and lookups are counted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import update

from testflow.api.db.models import ApiToken
from testflow.api.db.session import Database
from testflow.api.security import Known, TokenCache, create_token, find_token

TTL, EARLY = 5.0, 1.0


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Lookups:
    """Real lookups in the index, counted; while ``gate`` is clear each waits at it."""

    db: Database
    token: str
    count: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    fail: bool = False

    def __post_init__(self) -> None:
        self.gate.set()

    async def __call__(self) -> ApiToken | None:
        self.count += 1
        await self.gate.wait()
        if self.fail:
            raise ConnectionError("the index is unreachable")
        async with self.db.session() as session:
            return await find_token(session, self.token)


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[tuple[Database, str, Known]]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}")
    await db.migrate()
    try:
        async with db.session() as session:
            row, token = await create_token(session, name="burst", role="runner")
        yield db, token, (row.id, "burst", "runner")
    finally:
        await db.dispose()


async def burst(cache: TokenCache, lookups: Lookups, n: int = 50) -> list[Known | None]:
    return list(await asyncio.gather(*(cache.verify(lookups.token, lookups) for _ in range(n))))


async def settle(cache: TokenCache) -> None:
    """Wait for the lookups in flight (a background refresh) to end."""
    await asyncio.gather(*cache._lookups.values(), return_exceptions=True)


async def let_run() -> None:
    """Let the tasks just started (a refresh) reach their lookup."""
    for _ in range(5):
        await asyncio.sleep(0)


async def revoke(db: Database, token_id: str) -> None:
    """What `testflow tokens revoke` does: the row only, the server's cache is not told."""
    async with db.session() as session:
        await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked=1))
        await session.commit()


async def test_a_burst_at_expiry_uses_the_entry_while_one_refresh_runs(
    index: tuple[Database, str, Known],
) -> None:
    db, token, known = index
    clock, lookups = Clock(), Lookups(db, token)
    cache = TokenCache(ttl=TTL, refresh_before=EARLY, clock=clock)
    assert await burst(cache, lookups) == [known] * 50
    assert lookups.count == 1
    clock.now += TTL - EARLY - 0.1  # before the refresh window: answered from the cache
    assert await burst(cache, lookups) == [known] * 50
    assert lookups.count == 1

    clock.now += 0.2  # in the last second: every request answered while the lookup is held
    began = clock.now
    lookups.gate.clear()
    assert await burst(cache, lookups, 100) == [known] * 100
    await let_run()
    assert lookups.count == 2  # one refresh for the whole burst
    clock.now += EARLY  # past the old expiry, the refresh still held: requests join it
    joined = asyncio.gather(*(cache.verify(token, lookups) for _ in range(20)))
    await asyncio.sleep(0.05)
    assert not joined.done() and lookups.count == 2
    lookups.gate.set()
    assert await joined == [known] * 20
    assert lookups.count == 2
    # The refreshed entry lives TTL from when its lookup began: no lookup before its own
    # refresh window, and the request after its end waits on a new lookup.
    clock.now = began + TTL - EARLY - 0.05
    assert await burst(cache, lookups) == [known] * 50
    await let_run()
    assert lookups.count == 2
    clock.now = began + TTL + 0.05
    assert await burst(cache, lookups) == [known] * 50
    assert lookups.count == 3


async def test_a_token_revoked_in_the_database_stops_within_ttl_of_the_revoke(
    index: tuple[Database, str, Known],
) -> None:
    db, token, known = index
    clock, lookups = Clock(), Lookups(db, token)
    cache = TokenCache(ttl=TTL, refresh_before=EARLY, clock=clock)
    assert await cache.verify(token, lookups) == known
    clock.now += TTL - 0.5  # refreshed in the window, the lookup beginning now
    refreshed_at = clock.now
    assert await cache.verify(token, lookups) == known
    await settle(cache)
    assert lookups.count == 2
    clock.now += 0.1
    await revoke(db, known[0])
    revoked_at = clock.now
    # Still cached until TTL after the refresh began (before TTL after the revoke)...
    clock.now = refreshed_at + TTL - EARLY - 0.1
    assert await cache.verify(token, lookups) == known
    assert lookups.count == 2
    # ...whose refresh window finds it revoked and ends the entry early.
    clock.now = refreshed_at + TTL - EARLY + 0.1
    assert await cache.verify(token, lookups) == known
    await settle(cache)
    assert lookups.count == 3
    assert await cache.verify(token, lookups) is None
    assert clock.now < revoked_at + TTL

    # Without a request in the window the entry simply expires: a lookup, not cached.
    plain = TokenCache(ttl=TTL, refresh_before=EARLY, clock=clock)
    other = Lookups(db, token)
    async with db.session() as session:
        await session.execute(update(ApiToken).values(revoked=0))
        await session.commit()
    assert await plain.verify(token, other) == known
    await revoke(db, known[0])
    clock.now += TTL + 0.01
    assert await burst(plain, other) == [None] * 50
    assert other.count == 2


async def test_clear_discards_a_refresh_in_flight(index: tuple[Database, str, Known]) -> None:
    """A revoke through the API clears the cache: a refresh that read the row before it must
    not put the token back."""
    db, token, known = index
    clock, lookups = Clock(), Lookups(db, token)
    cache = TokenCache(ttl=TTL, refresh_before=EARLY, clock=clock)
    assert await cache.verify(token, lookups) == known
    clock.now += TTL - 0.5
    lookups.gate.clear()
    assert await cache.verify(token, lookups) == known  # the refresh waits at the gate
    await let_run()
    assert lookups.count == 2
    cache.clear()
    await revoke(db, known[0])
    lookups.gate.set()
    await asyncio.sleep(0.05)
    assert await cache.verify(token, lookups) is None  # looked up anew, not the stale refresh
    assert lookups.count == 3


async def test_a_failed_refresh_keeps_the_entry_until_it_expires(
    index: tuple[Database, str, Known], caplog: pytest.LogCaptureFixture
) -> None:
    db, token, known = index
    clock, lookups = Clock(), Lookups(db, token)
    cache = TokenCache(ttl=TTL, refresh_before=EARLY, clock=clock)
    assert await cache.verify(token, lookups) == known
    clock.now += TTL - 0.5
    lookups.fail = True
    with caplog.at_level(logging.WARNING, "testflow.api.security"):
        assert await burst(cache, lookups) == [known] * 50
        await settle(cache)
        await asyncio.sleep(0)
    assert lookups.count == 2
    assert "could not refresh a cached API token" in caplog.text
    clock.now += 0.6  # expired: requests now wait on a lookup, and see its error
    with pytest.raises(ConnectionError):
        await cache.verify(token, lookups)


def test_refresh_window_must_be_shorter_than_ttl() -> None:
    with pytest.raises(ValueError, match="refresh_before"):
        TokenCache(ttl=1.0, refresh_before=1.0)
