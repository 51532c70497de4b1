"""SQL steps against the real PostgreSQL, MariaDB and a SQLite file: every verb, errors, pools."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from testflow.activities import pools, sql
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.sql import SQL_KINDS
from tests.activities.conftest_services_sql import MYSQL_DSN, PG_DSN, MakeCtx

pytestmark = pytest.mark.service

KINDS = {k.name: k for k in SQL_KINDS}
DIALECTS = ["postgresql", "mysql", "sqlite"]
DDL = {
    "postgresql": "CREATE TABLE {t} (id INT PRIMARY KEY, status TEXT, amount NUMERIC(10,2), note TEXT)",
    "mysql": "CREATE TABLE {t} (id INT PRIMARY KEY, status VARCHAR(20), amount DECIMAL(10,2), note TEXT)",
    "sqlite": "CREATE TABLE {t} (id INT PRIMARY KEY NOT NULL, status TEXT, amount NUMERIC, note TEXT)",
}


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    """Validate ``config`` with the kind's model (as the runner does) and run the executor."""
    parsed = KINDS[kind].parse_config(config)
    executor = getattr(sql, KINDS[kind].executor.split(":")[1])  # type: ignore[union-attr]
    return await executor(parsed, ctx)


@pytest.fixture(params=DIALECTS)
async def db(
    request: pytest.FixtureRequest, unique: str, tmp_path: Path, make_ctx: MakeCtx
) -> AsyncIterator[tuple[str, str, str]]:
    """(dialect, dsn, table): a fresh table in each database, dropped afterwards."""
    dialect: str = request.param
    dsn = {"postgresql": PG_DSN, "mysql": MYSQL_DSN, "sqlite": f"sqlite:///{tmp_path}/t.db"}[
        dialect
    ]
    await step(f"{dialect}.execute", {"dsn": dsn, "sql": DDL[dialect].format(t=unique)}, make_ctx())
    yield dialect, dsn, unique
    await step(f"{dialect}.execute", {"dsn": dsn, "sql": f"DROP TABLE {unique}"}, make_ctx())


async def seed(db: tuple[str, str, str], ctx: StepContext) -> None:
    dialect, dsn, table = db
    rows = [
        {"id": 1, "status": "NEW", "amount": 10.5, "note": None},
        {"id": 2, "status": "PAID", "amount": 20, "note": "50% off"},
        {"id": 3, "status": "NEW", "amount": 7.25, "note": "it's"},
    ]
    out = await step(f"{dialect}.insert", {"dsn": dsn, "table": table, "values": rows}, ctx)
    assert out.fields["rows_affected"] == 3


async def test_insert_and_query_named_and_positional(
    db: tuple[str, str, str], make_ctx: MakeCtx
) -> None:
    dialect, dsn, table = db
    await seed(db, make_ctx())
    out = await step(
        f"{dialect}.query",
        {
            "dsn": dsn,
            "sql": f"SELECT id, status, amount FROM {table} WHERE status = :s ORDER BY id",
            "params": {"s": "NEW"},
        },
        make_ctx(),
    )
    assert out.document == [
        {"id": 1, "status": "NEW", "amount": 10.5},
        {"id": 3, "status": "NEW", "amount": 7.25},
    ]
    assert out.fields["row_count"] == 2
    assert out.fields["rows_affected"] == 0
    assert out.fields["columns"] == ["id", "status", "amount"]
    assert out.fields["rows"] == out.document
    mark = {"postgresql": "$1", "mysql": "%s", "sqlite": "?"}[dialect]
    out = await step(
        f"{dialect}.query",
        {"dsn": dsn, "sql": f"SELECT note FROM {table} WHERE id = {mark}", "params": [2]},
        make_ctx(),
    )
    assert out.document == [{"note": "50% off"}]


async def test_literal_colons_and_percent_are_not_parameters(
    db: tuple[str, str, str], make_ctx: MakeCtx
) -> None:
    dialect, dsn, table = db
    await seed(db, make_ctx())
    out = await step(
        f"{dialect}.query",
        {
            "dsn": dsn,
            "sql": f"SELECT id, 'a:b' AS lit FROM {table} WHERE note LIKE '%off' AND id = :id",
            "params": {"id": 2},
        },
        make_ctx(),
    )
    assert out.document == [{"id": 2, "lit": "a:b"}]


async def test_update_and_delete_with_where(db: tuple[str, str, str], make_ctx: MakeCtx) -> None:
    dialect, dsn, table = db
    await seed(db, make_ctx())
    out = await step(
        f"{dialect}.update",
        {"dsn": dsn, "table": table, "set": {"status": "PAID"}, "where": {"id": [1, 3]}},
        make_ctx(),
    )
    assert out.fields["rows_affected"] == 2
    out = await step(
        f"{dialect}.delete", {"dsn": dsn, "table": table, "where": {"note": None}}, make_ctx()
    )
    assert out.fields["rows_affected"] == 1
    out = await step(
        f"{dialect}.query",
        {"dsn": dsn, "sql": f"SELECT id, status FROM {table} ORDER BY id"},
        make_ctx(),
    )
    assert out.document == [{"id": 2, "status": "PAID"}, {"id": 3, "status": "PAID"}]


async def test_returning(db: tuple[str, str, str], make_ctx: MakeCtx) -> None:
    dialect, dsn, table = db
    out = await step(
        f"{dialect}.insert",
        {
            "dsn": dsn,
            "table": table,
            "values": {"id": 9, "status": "NEW"},
            "returning": ["id", "status"],
        },
        make_ctx(),
    )
    assert out.document == [{"id": 9, "status": "NEW"}]
    assert out.fields["rows_affected"] == 1
    out = await step(
        f"{dialect}.delete",
        {"dsn": dsn, "table": table, "where": {"id": 9}, "returning": ["*"]},
        make_ctx(),
    )
    assert out.document[0]["id"] == 9


async def test_transaction_commits_all_or_nothing(
    db: tuple[str, str, str], make_ctx: MakeCtx
) -> None:
    dialect, dsn, table = db
    ok = await step(
        f"{dialect}.transaction",
        {
            "dsn": dsn,
            "statements": [
                {
                    "sql": f"INSERT INTO {table} (id, status) VALUES (:id, :s)",
                    "params": {"id": 1, "s": "NEW"},
                },
                {
                    "sql": f"UPDATE {table} SET status = :s WHERE id = :id",
                    "params": {"id": 1, "s": "PAID"},
                },
                f"SELECT status FROM {table}",
            ],
        },
        make_ctx(),
    )
    assert ok.document == [{"status": "PAID"}]
    assert [r["rows_affected"] for r in ok.fields["results"]] == [1, 1, 0]
    with pytest.raises(StepFailure) as info:
        await step(
            f"{dialect}.transaction",
            {
                "dsn": dsn,
                "statements": [
                    {
                        "sql": f"INSERT INTO {table} (id, status) VALUES (:id, 'X')",
                        "params": {"id": 2},
                    },
                    {
                        "sql": f"INSERT INTO {table} (id, status) VALUES (:id, 'dup')",
                        "params": {"id": 1},
                    },
                ],
            },
            make_ctx(),
        )
    assert "dup" in info.value.message  # the failing statement is quoted
    out = await step(
        f"{dialect}.query", {"dsn": dsn, "sql": f"SELECT id FROM {table} ORDER BY id"}, make_ctx()
    )
    assert out.document == [{"id": 1}]  # row 2 was rolled back


async def test_tables_and_columns(db: tuple[str, str, str], make_ctx: MakeCtx) -> None:
    dialect, dsn, table = db
    out = await step(f"{dialect}.tables", {"dsn": dsn}, make_ctx())
    assert {"table_name": table, "table_type": "BASE TABLE"}.items() <= next(
        r for r in out.document if r["table_name"] == table
    ).items()
    out = await step(f"{dialect}.columns", {"dsn": dsn, "table": table}, make_ctx())
    assert [r["column_name"] for r in out.document] == ["id", "status", "amount", "note"]
    assert [r["ordinal_position"] for r in out.document] == [1, 2, 3, 4]
    assert out.document[0]["is_nullable"] is False
    assert out.document[1]["is_nullable"] is True
    with pytest.raises(StepFailure, match="not found"):
        await step(f"{dialect}.columns", {"dsn": dsn, "table": f"{table}_missing"}, make_ctx())


async def test_syntax_error_shows_database_message_and_query(
    db: tuple[str, str, str], make_ctx: MakeCtx
) -> None:
    dialect, dsn, _ = db
    with pytest.raises(StepFailure) as info:
        await step(f"{dialect}.query", {"dsn": dsn, "sql": "SELEC 1"}, make_ctx())
    assert info.value.type == "StepFailed"
    assert "syntax" in info.value.message.lower()
    assert "query: SELEC 1" in info.value.message


async def test_max_rows_keeps_row_count(db: tuple[str, str, str], make_ctx: MakeCtx) -> None:
    dialect, dsn, table = db
    await seed(db, make_ctx())
    ctx = make_ctx()
    out = await step(
        f"{dialect}.query", {"dsn": dsn, "sql": f"SELECT id FROM {table}", "max_rows": 2}, ctx
    )
    assert len(out.document) == 2
    assert out.fields["row_count"] == 3
    assert any("max_rows" in line.message for line in ctx.logs)


@pytest.mark.parametrize(("dialect", "port"), [("postgresql", 5), ("mysql", 7)])
async def test_unreachable_database_is_an_infra_error_naming_host_and_port(
    dialect: str, port: int, make_ctx: MakeCtx
) -> None:
    dsn = f"{dialect}://root:s3cret@127.0.0.1:{port}/test"
    with pytest.raises(StepFailure) as info:
        await step(f"{dialect}.query", {"dsn": dsn, "sql": "SELECT 1"}, make_ctx(timeout=5))
    assert info.value.type == "InfraError"
    assert f"127.0.0.1:{port}" in info.value.message
    assert "s3cret" not in info.value.message


@pytest.mark.parametrize(
    ("dialect", "dsn", "sleep"),
    [("postgresql", PG_DSN, "SELECT pg_sleep(5)"), ("mysql", MYSQL_DSN, "SELECT SLEEP(5)")],
)
async def test_slow_query_stops_at_the_step_deadline(
    dialect: str, dsn: str, sleep: str, make_ctx: MakeCtx
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StepFailure) as info:
        await step(f"{dialect}.query", {"dsn": dsn, "sql": sleep}, make_ctx(timeout=0.5))
    assert info.value.type == "Timeout"
    assert loop.time() - started < 4  # well before the 5 s sleep: the deadline cut it
    # The pool is still usable: the interrupted connection was not handed out again broken.
    for _ in range(3):
        out = await step(f"{dialect}.query", {"dsn": dsn, "sql": "SELECT 7 AS n"}, make_ctx())
        assert out.document == [{"n": 7}]


async def test_postgresql_json_values_and_named_connection(unique: str, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(connections={"orders": {"dsn": PG_DSN}})
    out = await step(
        "postgresql.query",
        {
            "connection": "orders",
            "sql": "SELECT CAST(:doc AS jsonb) AS doc, CAST(:n AS int) + 1 AS n",
            "params": {"doc": '{"status": "PAID"}', "n": 41},
        },
        ctx,
    )
    assert out.document == [{"doc": {"status": "PAID"}, "n": 42}]
    out = await step(
        "postgresql.query",
        {
            "connection": "orders",
            "sql": "SELECT CAST(:doc AS jsonb) -> 'items' AS items",
            "params": {"doc": {"items": [1, 2]}},
        },
        ctx,
    )
    assert out.document == [{"items": [1, 2]}]
    with pytest.raises(StepFailure, match="unknown connection 'nope'"):
        await step("postgresql.query", {"connection": "nope", "sql": "SELECT 1"}, ctx)


async def test_postgresql_execute_runs_a_script(unique: str, make_ctx: MakeCtx) -> None:
    script = f"CREATE TABLE {unique} (id INT); INSERT INTO {unique} VALUES (1), (2); DROP TABLE {unique};"
    out = await step("postgresql.execute", {"dsn": PG_DSN, "sql": script}, make_ctx())
    assert out.document == []


async def test_one_pool_per_dsn_under_concurrent_steps(make_ctx: MakeCtx) -> None:
    dsn = PG_DSN + "?application_name=testflow_pool_test"
    await pools.discard("postgresql", dsn)
    results = await asyncio.gather(
        *(
            step(
                "postgresql.query",
                {"dsn": dsn, "sql": "SELECT $1::int AS i", "params": [i]},
                make_ctx(),
            )
            for i in range(8)
        )
    )
    assert sorted(r.document[0]["i"] for r in results) == list(range(8))
    loop = id(asyncio.get_running_loop())
    assert [k for k in pools._entries if k[:2] == (loop, "postgresql") and k[2] == dsn] == [
        (loop, "postgresql", dsn)
    ]


def test_malformed_dsn_is_a_validation_error() -> None:
    kind = KINDS["postgresql.query"]
    problems = kind.config_problems({"dsn": "mysql://h/db", "sql": "SELECT 1"})
    assert problems and problems[0][0] == ("dsn",) and "postgresql DSN" in problems[0][1]
    assert kind.config_problems({"dsn": "postgresql://h:notaport/db", "sql": "SELECT 1"})
    assert kind.config_problems({"dsn": "{{ env.DB }}", "sql": "SELECT 1"}) == []
    assert KINDS["sqlite.query"].config_problems({"dsn": "sqlite://", "sql": "SELECT 1"})
    assert KINDS["mysql.update"].config_problems(
        {"dsn": "mysql://h/db", "table": "t", "set": {"a": 1}}
    )  # no where
    assert KINDS["sqlite.query"].config_problems({"sql": "SELECT 1"})  # neither dsn nor connection


async def test_rendered_malformed_dsn_fails_as_invalid_config(make_ctx: MakeCtx) -> None:
    with pytest.raises(StepFailure) as info:
        await step(
            "mysql.query",
            {"connection": "db", "sql": "SELECT 1"},
            make_ctx(connections={"db": {"dsn": "postgresql://x/y"}}),
        )
    assert info.value.type == "InvalidConfig"


async def test_unknown_named_parameter(make_ctx: MakeCtx, tmp_path: Path) -> None:
    with pytest.raises(StepFailure, match=r"uses :b but params has no 'b'"):
        await step(
            "sqlite.query",
            {"dsn": f"sqlite:///{tmp_path}/x.db", "sql": "SELECT :b", "params": {"a": 1}},
            make_ctx(),
        )
