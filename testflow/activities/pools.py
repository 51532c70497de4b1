"""Per-worker caches of connection pools and clients, plus helpers shared by the
connection-oriented executors (SQL, Redis, S3): DSN redaction, host/port naming, and turning
driver values into JSON-friendly ones.

One pool (asyncpg, asyncmy), connection (aiosqlite) or client (redis, S3) exists per key (the
DSN, or the endpoint and credentials) per event loop per worker process. It is created lazily
by the first step that needs it and reused by every later step: opening a database connection
costs more than most queries. The cache is guarded by an asyncio.Lock because the runner may
call executors concurrently on one event loop; the key includes the loop because pools are
bound to the loop that made them (tests and embedded workers may run several loops in turn).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import decimal
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

Closer = Callable[[Any], Awaitable[None]]


@dataclass
class _Entry:
    value: Any
    close: Closer


_entries: dict[tuple[int, str, str], _Entry] = {}
_locks: dict[int, asyncio.Lock] = {}


def _loop_id() -> int:
    return id(asyncio.get_running_loop())


async def get_or_create(
    kind: str, key: str, factory: Callable[[], Awaitable[Any]], close: Closer
) -> Any:
    """The cached object for ``(kind, key)`` on this loop, made by ``factory`` on first use.

    A factory that raises caches nothing, so the next step tries again (the database may be
    up by then).
    """
    loop = _loop_id()
    cache_key = (loop, kind, key)
    entry = _entries.get(cache_key)
    if entry is not None:
        return entry.value
    lock = _locks.setdefault(loop, asyncio.Lock())
    async with lock:
        entry = _entries.get(cache_key)
        if entry is None:
            entry = _Entry(await factory(), close)
            _entries[cache_key] = entry
    return entry.value


async def discard(kind: str, key: str) -> None:
    """Close and forget one cached object (after it turned out broken)."""
    entry = _entries.pop((_loop_id(), kind, key), None)
    if entry is not None:
        await _close_quietly(entry)


async def close_all() -> None:
    """Close every pool and client of the running loop (worker shutdown, test teardown)."""
    loop = _loop_id()
    for cache_key in [k for k in _entries if k[0] == loop]:
        await _close_quietly(_entries.pop(cache_key))


async def _close_quietly(entry: _Entry) -> None:
    # Closing a broken pool must not hide the error that broke it.
    with contextlib.suppress(Exception):
        await entry.close(entry.value)


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<malformed DSN>"
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def host_port(url: str, default_port: int | None) -> str:
    """``host:port`` of a DSN or URL, for "cannot connect to host:port" messages."""
    try:
        parts = urlsplit(url)
        port = parts.port or default_port
    except ValueError:
        return "<malformed address>"
    host = parts.hostname or "localhost"
    return f"{host}:{port}" if port else host


def jsonable(value: Any) -> Any:
    """A driver value as something JSON can carry and assertions can compare.

    Decimals become int or float (YAML numbers compare equal), dates and times ISO strings,
    UUIDs strings, bytes UTF-8 text when they are text and base64 otherwise.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)
