"""Executors of the SQL step kinds: ``postgresql.*``, ``mysql.*`` and ``sqlite.*``.

Each verb turns its config into parameterised statements (:mod:`.statements`), runs them on
a pooled connection of the dialect's driver (:mod:`.drivers`) and returns the rows as the
step's document (``$`` is the row list) with the fields ``rows``, ``row_count``,
``rows_affected``, ``columns`` and ``duration_ms`` (plus ``results`` for ``transaction``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.sql.drivers import Result, runner
from testflow.activities.sql.statements import (
    Statement,
    bind,
    build_delete,
    build_insert,
    build_update,
    invalid,
    placeholder,
)
from testflow.dsl.kinds.sql import Dialect, check_dsn


def _split_table(table: str, schema: str | None) -> tuple[str | None, str]:
    if schema is None and "." in table:
        schema, table = table.split(".", 1)
    return schema, table


def _tables(dialect: Dialect, schema: str | None) -> Statement:
    cols = "table_schema AS table_schema, table_name AS table_name, table_type AS table_type"
    if dialect == "sqlite":
        sql = (
            "SELECT 'main' AS table_schema, name AS table_name, "
            "CASE type WHEN 'table' THEN 'BASE TABLE' ELSE 'VIEW' END AS table_type "
            "FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return Statement(sql, [])
    if dialect == "postgresql":
        where = "table_schema = COALESCE($1, current_schema())"
    else:
        where = "table_schema = COALESCE(%s, DATABASE())"
    sql = f"SELECT {cols} FROM information_schema.tables WHERE {where} ORDER BY table_name"
    return Statement(sql, [schema])


def _columns(dialect: Dialect, table: str, schema: str | None) -> Statement:
    schema, table = _split_table(table, schema)
    if dialect == "sqlite":
        source = "pragma_table_info(?)" if schema is None else "pragma_table_info(?, ?)"
        sql = (
            "SELECT name AS column_name, type AS data_type, "
            "CASE WHEN \"notnull\" THEN 'NO' ELSE 'YES' END AS is_nullable, "
            f"dflt_value AS column_default, cid + 1 AS ordinal_position FROM {source} ORDER BY cid"
        )
        return Statement(sql, [table] if schema is None else [table, schema])
    current = "current_schema()" if dialect == "postgresql" else "DATABASE()"
    p1, p2 = placeholder(dialect, 1), placeholder(dialect, 2)
    sql = (
        "SELECT column_name AS column_name, data_type AS data_type, is_nullable AS is_nullable, "
        "column_default AS column_default, ordinal_position AS ordinal_position "
        "FROM information_schema.columns "
        f"WHERE table_name = {p1} AND table_schema = COALESCE({p2}, {current}) "
        "ORDER BY ordinal_position"
    )
    return Statement(sql, [table, schema])


def _plan(dialect: Dialect, verb: str, config: Any) -> list[Statement]:
    """The statements a verb runs, every value a bound parameter."""
    if verb in ("query", "execute"):
        return [bind(dialect, config.sql, config.params)]
    if verb == "transaction":
        return [bind(dialect, s.sql, s.params) for s in config.statements]
    if verb == "insert":
        return [build_insert(dialect, config.table, config.values, config.returning)]
    if verb == "update":
        return [build_update(dialect, config.table, config.set, config.where, config.returning)]
    if verb == "delete":
        return [build_delete(dialect, config.table, config.where, config.returning)]
    if verb == "tables":
        return [_tables(dialect, config.schema_)]
    if verb == "columns":
        return [_columns(dialect, config.table, config.schema_)]
    raise invalid(f"unknown SQL verb {verb!r}")


def _result_fields(result: Result) -> dict[str, Any]:
    return {
        "rows": result.rows,
        "row_count": result.row_count,
        "rows_affected": result.rows_affected,
        "columns": result.columns,
    }


def _summary(dialect: Dialect, verb: str, result: Result, affected: int) -> str:
    if verb in ("insert", "update", "delete") or (
        verb in ("execute", "transaction") and not result.columns
    ):
        return f"{dialect}.{verb}: {affected} row(s) affected"
    return f"{dialect}.{verb}: {result.row_count} row(s)"


async def run_sql(dialect: Dialect, verb: str, config: Any, ctx: StepContext) -> Output:
    """Run one SQL step and shape its output."""
    dsn = ctx.resolve_dsn(config.dsn, config.connection)
    try:
        check_dsn(dialect, dsn)  # the rendered template, or the environment's DSN
    except ValueError as exc:
        raise invalid(str(exc)) from None
    statements = _plan(dialect, verb, config)
    started = time.perf_counter()
    results = await runner(dialect)(
        dsn,
        statements,
        atomic=verb == "transaction",
        max_rows=getattr(config, "max_rows", 10_000),
        script=verb == "execute",
        ctx=ctx,
    )
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    last = results[-1]
    if verb == "columns":
        if not last.rows:
            raise StepFailure(f"table {config.table!r} not found (or it has no columns)")
        for row in last.rows:
            row["is_nullable"] = str(row["is_nullable"]).upper() in ("YES", "1", "TRUE")
    affected = sum(r.rows_affected for r in results)
    if last.row_count > len(last.rows):
        ctx.log(f"kept the first {len(last.rows)} of {last.row_count} rows (max_rows)", "warning")
    fields: dict[str, Any] = {
        **_result_fields(last),
        "rows_affected": affected,
        "duration_ms": duration_ms,
    }
    if verb == "transaction":
        fields["results"] = [_result_fields(r) for r in results]
    request = {
        "dsn": pools.redact_dsn(dsn),
        "statements": [{"sql": s.sql, "params": pools.jsonable(s.args)} for s in statements],
    }
    response = {k: v for k, v in fields.items() if k != "duration_ms"}
    return Output(
        document=last.rows,
        fields=fields,
        summary=_summary(dialect, verb, last, affected),
        request=request,
        response=response,
    )


def _executor(dialect: Dialect, verb: str) -> Callable[[Any, StepContext], Awaitable[Output]]:
    async def execute(config: Any, ctx: StepContext) -> Output:
        return await run_sql(dialect, verb, config, ctx)

    execute.__name__ = execute.__qualname__ = f"{dialect}_{verb}"
    execute.__doc__ = f"Executor of ``{dialect}.{verb}``."
    return execute


postgresql_query = _executor("postgresql", "query")
postgresql_insert = _executor("postgresql", "insert")
postgresql_update = _executor("postgresql", "update")
postgresql_delete = _executor("postgresql", "delete")
postgresql_execute = _executor("postgresql", "execute")
postgresql_transaction = _executor("postgresql", "transaction")
postgresql_tables = _executor("postgresql", "tables")
postgresql_columns = _executor("postgresql", "columns")

mysql_query = _executor("mysql", "query")
mysql_insert = _executor("mysql", "insert")
mysql_update = _executor("mysql", "update")
mysql_delete = _executor("mysql", "delete")
mysql_execute = _executor("mysql", "execute")
mysql_transaction = _executor("mysql", "transaction")
mysql_tables = _executor("mysql", "tables")
mysql_columns = _executor("mysql", "columns")

sqlite_query = _executor("sqlite", "query")
sqlite_insert = _executor("sqlite", "insert")
sqlite_update = _executor("sqlite", "update")
sqlite_delete = _executor("sqlite", "delete")
sqlite_execute = _executor("sqlite", "execute")
sqlite_transaction = _executor("sqlite", "transaction")
sqlite_tables = _executor("sqlite", "tables")
sqlite_columns = _executor("sqlite", "columns")
