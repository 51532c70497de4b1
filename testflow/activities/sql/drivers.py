"""The three database drivers behind the SQL steps: asyncpg, asyncmy and aiosqlite.

Each driver runs a list of :class:`Statement` (atomically or not) on a pooled connection and
returns one :class:`Result` per statement. Everything driver-specific lives here: pools, JSON
decoding, how "rows affected" is read, which errors mean "the database is unreachable"
(an ``InfraError`` naming host and port) and which are the database's own answer (a
``StepFailed`` quoting the database's message and the query). Driver modules are imported
lazily so a worker without, say, asyncmy still runs PostgreSQL steps.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from testflow.activities import pools
from testflow.activities.base import StepContext, StepFailure
from testflow.activities.sql.statements import Statement, is_read
from testflow.dsl.kinds.sql import Dialect
from testflow.dsl.paths import inside


@dataclass
class Result:
    rows: list[dict[str, Any]]
    columns: list[str]
    rows_affected: int
    row_count: int
    """Rows the statement returned, before ``max_rows`` cut the list."""


class _Phase:
    """Where a step is (connecting or querying), to name what a timeout interrupted."""

    def __init__(self) -> None:
        self.value = "connect"


def _rows(
    columns: list[str], records: Sequence[Sequence[Any]], max_rows: int
) -> list[dict[str, Any]]:
    return [
        dict(zip(columns, (pools.jsonable(v) for v in rec), strict=False))
        for rec in records[:max_rows]
    ]


def _query_failure(label: str, message: str, sql: str, *, retryable: bool = True) -> StepFailure:
    return StepFailure(
        f"{label} error: {message}\nquery: {sql}",
        type="StepFailed",
        details={"query": sql},
        retryable=retryable,
    )


def _unreachable(label: str, address: str, exc: BaseException | str) -> StepFailure:
    reason = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    return StepFailure(
        f"cannot connect to {label} at {address}: {reason}",
        type="InfraError",
        details={"address": address},
    )


async def _bounded(
    label: str, address: str, ctx: StepContext, phase: _Phase, work: Any
) -> list[Result]:
    """Await ``work`` within the step's remaining time; name what the timeout interrupted."""
    budget = ctx.remaining()
    try:
        async with asyncio.timeout(budget):
            result: list[Result] = await work
            return result
    except TimeoutError:
        if phase.value == "connect":
            raise _unreachable(label, address, f"no connection within {budget:.1f}s") from None
        raise StepFailure(
            f"{label} query did not finish within the step's remaining time ({budget:.1f}s)",
            type="Timeout",
        ) from None


# ---------------------------------------------------------------- PostgreSQL (asyncpg)


async def _pg_pool(dsn: str) -> Any:
    import asyncpg

    def encode(value: Any) -> str:
        # A string is taken as JSON text already (as without a codec); anything else
        # (a mapping or list from YAML) is serialised.
        return value if isinstance(value, str) else json.dumps(value)

    async def init(conn: Any) -> None:
        # json/jsonb come back as Python values, so "$[0].payload.status" works.
        for name in ("json", "jsonb"):
            await conn.set_type_codec(name, encoder=encode, decoder=json.loads, schema="pg_catalog")

    scheme, rest = dsn.split("://", 1)
    plain = f"{scheme.split('+', 1)[0]}://{rest}"  # postgresql+asyncpg:// -> postgresql://
    return await asyncpg.create_pool(plain, min_size=0, max_size=10, init=init, timeout=10)


async def _pg_close(pool: Any) -> None:
    await pool.close()


_PG_COUNTED = {"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"}


async def _pg_one(
    conn: Any, st: Statement, max_rows: int, script: bool, current: list[str]
) -> Result:
    current[0] = st.sql
    if script and not st.args and not is_read(st.sql):
        # The simple protocol runs multi-statement scripts; prepared statements cannot.
        status = await conn.execute(st.sql)
        records: list[Any] = []
        columns: list[str] = []
    else:
        prepared = await conn.prepare(st.sql)
        records = await prepared.fetch(*st.args)
        status = prepared.get_statusmsg() or ""
        columns = [a.name for a in prepared.get_attributes()]
    words = status.split()
    affected = int(words[-1]) if words and words[0] in _PG_COUNTED and words[-1].isdigit() else 0
    return Result(
        _rows(columns, [tuple(r.values()) for r in records], max_rows),
        columns,
        affected,
        len(records),
    )


async def run_postgresql(
    dsn: str,
    statements: list[Statement],
    *,
    atomic: bool,
    max_rows: int,
    script: bool,
    ctx: StepContext,
) -> list[Result]:
    import asyncpg

    dsn = ctx.resolve_url_files(dsn, "PostgreSQL DSN")  # sslrootcert=, sslkey=, passfile=
    address = pools.host_port(dsn, 5432)
    phase = _Phase()
    current = [statements[0].sql]

    async def work() -> list[Result]:
        pool = await pools.get_or_create("postgresql", dsn, lambda: _pg_pool(dsn), _pg_close)
        async with pool.acquire() as conn:
            phase.value = "query"
            if not atomic:
                return [await _pg_one(conn, st, max_rows, script, current) for st in statements]
            async with conn.transaction():
                return [await _pg_one(conn, st, max_rows, False, current) for st in statements]

    try:
        return await _bounded("PostgreSQL", address, ctx, phase, work())
    except asyncpg.PostgresError as exc:
        if phase.value == "connect":
            raise StepFailure(f"PostgreSQL at {address} refused the connection: {exc}") from None
        sqlstate = getattr(exc, "sqlstate", "") or ""
        parts = [f"{sqlstate}: {exc}"]
        parts += [f"{k}: {v}" for k in ("detail", "hint") if (v := getattr(exc, k, None))]
        raise _query_failure(
            "PostgreSQL", "\n".join(parts), current[0], retryable=sqlstate != "42601"
        ) from None
    except (OSError, asyncpg.InterfaceError) as exc:
        if phase.value == "connect":
            raise _unreachable("PostgreSQL", address, exc) from None
        raise StepFailure(
            f"PostgreSQL at {address}: connection lost: {exc}", type="InfraError"
        ) from None


# ---------------------------------------------------------------- MariaDB/MySQL (asyncmy)

_MYSQL_JSON = 245
_MYSQL_CONNECT_ERRORS = {2002, 2003, 2005, 2006, 2013}


async def _my_pool(dsn: str) -> Any:
    import asyncmy

    parts = urlsplit(dsn)
    options = dict(parse_qsl(parts.query))
    return await asyncmy.create_pool(
        host=parts.hostname,
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        db=unquote(parts.path.lstrip("/")) or None,
        charset=options.get("charset", "utf8mb4"),
        autocommit=True,  # a statement commits unless it runs in a `transaction` step
        connect_timeout=10,
        minsize=0,
        maxsize=10,
    )


async def _my_close(pool: Any) -> None:
    pool.close()
    await pool.wait_closed()


async def _my_one(cur: Any, st: Statement, max_rows: int) -> Result:
    await cur.execute(st.sql, st.args or None)
    description = cur.description or ()
    columns = [d[0] for d in description]
    records = list(await cur.fetchall()) if description else []
    json_cols = {i for i, d in enumerate(description) if d[1] == _MYSQL_JSON}
    if json_cols:
        records = [
            tuple(
                json.loads(v) if i in json_cols and isinstance(v, str) else v
                for i, v in enumerate(r)
            )
            for r in records
        ]
    affected = 0 if is_read(st.sql) else max(cur.rowcount or 0, 0)
    return Result(_rows(columns, records, max_rows), columns, affected, len(records))


async def run_mysql(
    dsn: str,
    statements: list[Statement],
    *,
    atomic: bool,
    max_rows: int,
    script: bool,
    ctx: StepContext,
) -> list[Result]:
    from asyncmy.errors import MySQLError

    address = pools.host_port(dsn, 3306)
    phase = _Phase()
    current = [statements[0].sql]

    async def work() -> list[Result]:
        pool = await pools.get_or_create("mysql", dsn, lambda: _my_pool(dsn), _my_close)
        async with pool.acquire() as conn:
            phase.value = "query"
            async with conn.cursor() as cur:
                if atomic:
                    await conn.begin()
                results = []
                try:
                    for st in statements:
                        current[0] = st.sql
                        results.append(await _my_one(cur, st, max_rows))
                except BaseException:
                    if atomic:
                        await conn.rollback()
                    raise
                if atomic:
                    await conn.commit()
                return results

    try:
        return await _bounded("MySQL", address, ctx, phase, work())
    except MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        message = exc.args[1] if len(exc.args) > 1 else str(exc)
        if code in _MYSQL_CONNECT_ERRORS or (phase.value == "connect" and not code):
            raise _unreachable("MySQL", address, message) from None
        if phase.value == "connect":
            raise StepFailure(
                f"MySQL at {address} refused the connection: ({code}) {message}"
            ) from None
        raise _query_failure(
            "MySQL", f"({code}) {message}", current[0], retryable=code != 1064
        ) from None
    except OSError as exc:
        raise _unreachable("MySQL", address, exc) from None


# ---------------------------------------------------------------- SQLite (aiosqlite)


def sqlite_path(dsn: str) -> str:
    """The file of ``sqlite:///relative.db``, ``sqlite:////abs.db`` or ``sqlite:///:memory:``."""
    path = dsn.split(":///", 1)[1]
    return unquote(path.split("?", 1)[0])


IN_MEMORY = ("", ":memory:")


@dataclass
class _SqliteHandle:
    conn: Any
    lock: asyncio.Lock
    """One connection per file, one step at a time: a transaction never interleaves."""
    refused: list[str] = field(default_factory=list)
    """Files the current step tried to ATTACH outside the run's file root."""


def _attach_guard(root: str, refused: list[str]) -> Callable[..., int]:
    """An SQLite authorizer that refuses ATTACH (and VACUUM INTO, which attaches) of a file
    outside ``root``: with a file root, the database file is checked, but a statement could
    still open the server's own database by name."""
    import sqlite3

    base = Path(root)

    def authorize(action: int, name: str | None, *_: Any) -> int:
        if action != sqlite3.SQLITE_ATTACH or name is None or name in IN_MEMORY:
            return sqlite3.SQLITE_OK
        # SQLite opens a relative name from the worker's directory and honours file: URIs,
        # so only an absolute path inside the root can be checked, and is allowed.
        if os.path.isabs(name) and inside(base, name, base) is not None:
            return sqlite3.SQLITE_OK
        refused.append(name)
        return sqlite3.SQLITE_DENY

    return authorize


async def _sqlite_open(address: str, root: str | None) -> _SqliteHandle:
    import aiosqlite

    conn = await aiosqlite.connect(address, isolation_level=None)
    handle = _SqliteHandle(conn, asyncio.Lock())
    if root is not None:
        await conn.set_authorizer(_attach_guard(root, handle.refused))
    return handle


async def _sqlite_close(handle: _SqliteHandle) -> None:
    await handle.conn.close()


async def _sqlite_one(conn: Any, st: Statement, max_rows: int, script: bool) -> Result:
    if script and not st.args and not is_read(st.sql):
        before = conn.total_changes
        await conn.executescript(st.sql)
        return Result([], [], conn.total_changes - before, 0)
    cur = await conn.execute(st.sql, st.args)
    try:
        records = list(await cur.fetchall())
        columns = [d[0] for d in cur.description or ()]
        affected = 0 if is_read(st.sql) else max(cur.rowcount, len(records), 0)
    finally:
        await cur.close()
    return Result(_rows(columns, records, max_rows), columns, affected, len(records))


async def run_sqlite(
    dsn: str,
    statements: list[Statement],
    *,
    atomic: bool,
    max_rows: int,
    script: bool,
    ctx: StepContext,
) -> list[Result]:
    import sqlite3

    address = sqlite_path(dsn)
    root = ctx.file_root
    key = dsn
    if root is not None:
        # The file the run may open: resolved inside the root (an absolute path is never read
        # as a file: URI). A connection opened under a root is never shared with one without.
        if address not in IN_MEMORY:
            address = ctx.resolve_file(address, "SQLite database")
        key = f"{address}\0{root}"
    phase = _Phase()
    current = [statements[0].sql]

    async def work() -> list[Result]:
        handle = await pools.get_or_create(
            "sqlite", key, lambda: _sqlite_open(address, root), _sqlite_close
        )
        phase.value = "query"
        async with handle.lock:
            handle.refused.clear()
            conn = handle.conn
            if atomic:
                await conn.execute("BEGIN")
            results = []
            try:
                for st in statements:
                    current[0] = st.sql
                    results.append(await _sqlite_one(conn, st, max_rows, script and not atomic))
            except BaseException as exc:
                if atomic:
                    await conn.execute("ROLLBACK")
                if handle.refused and isinstance(exc, sqlite3.Error):
                    raise ctx.file_not_allowed(
                        handle.refused[0], "SQLite ATTACH", "an absolute path inside it"
                    ) from None
                raise
            if atomic:
                await conn.execute("COMMIT")
            return results

    try:
        return await _bounded("SQLite", address, ctx, phase, work())
    except sqlite3.Error as exc:
        if phase.value == "connect":
            raise StepFailure(
                f"cannot open SQLite database {address}: {exc}", type="InfraError"
            ) from None
        raise _query_failure("SQLite", str(exc), current[0]) from None


RUNNERS = {"postgresql": run_postgresql, "mysql": run_mysql, "sqlite": run_sqlite}


def runner(dialect: Dialect) -> Any:
    return RUNNERS[dialect]
