"""SQL step kinds: ``postgresql.*``, ``mysql.*`` (MariaDB/MySQL) and ``sqlite.*``.

Every dialect has the same eight verbs (query, insert, update, delete, execute, transaction,
tables, columns), so one set of verb models is combined with one connection model per dialect:
the connection model checks the DSN's shape for that dialect, so a ``mysql://`` DSN on a
``postgresql.query`` step is reported by the loader with file:line:col, before anything runs.
Values are always bound parameters; the executors never format values into SQL text.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from testflow.dsl.models import FrozenModel, RetrySpec
from testflow.dsl.registry import StepKind

Dialect = Literal["postgresql", "mysql", "sqlite"]
DIALECTS: tuple[Dialect, ...] = ("postgresql", "mysql", "sqlite")
SQL_VERBS = ("query", "insert", "update", "delete", "execute", "transaction", "tables", "columns")

_SCHEMES: dict[Dialect, tuple[str, ...]] = {
    "postgresql": ("postgresql", "postgres"),
    "mysql": ("mysql", "mariadb"),
    "sqlite": ("sqlite",),
}
_DSN_EXAMPLES: dict[Dialect, str] = {
    "postgresql": "postgresql://user:password@host:5432/dbname",
    "mysql": "mysql://user:password@host:3306/dbname",
    "sqlite": "sqlite:///relative.db, sqlite:////absolute/path.db or sqlite:///:memory:",
}


def check_dsn(dialect: Dialect, dsn: str) -> str:
    """Raise ValueError unless ``dsn`` has the shape this dialect's driver accepts.

    ``postgresql+asyncpg://`` (SQLAlchemy style) is accepted: the driver suffix is ignored.
    The message never repeats the DSN, which may hold a password.
    """
    example = _DSN_EXAMPLES[dialect]
    scheme, sep, _rest = dsn.partition("://")
    if not sep:
        raise ValueError(f"not a {dialect} DSN (expected {example})")
    base = scheme.split("+", 1)[0].lower()
    if base not in _SCHEMES[dialect]:
        raise ValueError(
            f"a {dialect} step needs a {dialect} DSN, got scheme {scheme!r} (expected {example})"
        )
    if dialect == "sqlite":
        if not dsn.startswith(f"{scheme}:///") or len(dsn) <= len(scheme) + 4:
            raise ValueError(f"a SQLite DSN needs a path after ':///' (expected {example})")
        return dsn
    try:
        parts = urlsplit(dsn)
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ValueError(f"malformed {dialect} DSN: {exc} (expected {example})") from None
    if dialect == "mysql" and not parts.hostname:
        raise ValueError(f"a MySQL DSN needs a host (expected {example})")
    return dsn


def is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


class _Connection(FrozenModel):
    """Where the database is: a DSN, or the name of a connection in the environment file."""

    dialect: ClassVar[Dialect]

    dsn: str | None = Field(None, description="The database DSN (templates allowed).")
    connection: str | None = Field(
        None, description="Name of a connection of the environment file (instead of dsn)."
    )

    @field_validator("dsn")
    @classmethod
    def _dsn_shape(cls, value: str | None) -> str | None:
        if value is None or is_template(value):
            return value
        return check_dsn(cls.dialect, value)

    @model_validator(mode="after")
    def _has_target(self) -> _Connection:
        if not self.dsn and not self.connection:
            raise ValueError("give a 'dsn' or a 'connection' (a name from the environment file)")
        return self


class PostgresqlConnection(_Connection):
    dialect: ClassVar[Dialect] = "postgresql"


class MysqlConnection(_Connection):
    dialect: ClassVar[Dialect] = "mysql"


class SqliteConnection(_Connection):
    dialect: ClassVar[Dialect] = "sqlite"


SqlParams = list[Any] | dict[str, Any] | None
PARAMS_DESCRIPTION = (
    "Bound parameters: a list for the driver's positional placeholders ($1 for PostgreSQL, "
    "%s for MySQL, ? for SQLite) or a mapping for :name placeholders (any dialect)."
)
WHERE_DESCRIPTION = (
    "column: value conditions joined with AND; null means IS NULL, a list means IN (...)."
)


class SqlStatement(FrozenModel):
    """One statement of a transaction."""

    sql: str = Field(min_length=1)
    params: SqlParams = Field(None, description=PARAMS_DESCRIPTION)

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"sql": data} if isinstance(data, str) else data


class QueryFields(FrozenModel):
    """Run a statement that returns rows (SELECT, or DML with RETURNING)."""

    sql: str = Field(min_length=1, description="The SQL text; values go in params.")
    params: SqlParams = Field(None, description=PARAMS_DESCRIPTION)
    max_rows: int = Field(
        10_000, ge=1, description="Rows kept in the result (row_count counts all)."
    )


class ExecuteFields(QueryFields):
    """Run any statement (DDL, DML, a procedure call); rows are returned when there are any."""


class InsertFields(FrozenModel):
    """Insert one row (a mapping) or several (a list of mappings with the same columns)."""

    table: str = Field(min_length=1, description="Table name, optionally schema.table.")
    values: dict[str, Any] | list[dict[str, Any]] = Field(description="column: value, or a list.")
    returning: list[str] | None = Field(
        None, description="Columns to return (PostgreSQL, SQLite, MariaDB); ['*'] for all."
    )

    @field_validator("values")
    @classmethod
    def _not_empty(cls, value: dict[str, Any] | list[dict[str, Any]]) -> Any:
        rows = value if isinstance(value, list) else [value]
        if not rows or any(not isinstance(r, dict) or not r for r in rows):
            raise ValueError("give at least one row with at least one column")
        if len({tuple(sorted(r)) for r in rows}) > 1:
            raise ValueError("every row of 'values' must have the same columns")
        return value


class _Filtered(FrozenModel):
    table: str = Field(min_length=1, description="Table name, optionally schema.table.")
    where: dict[str, Any] = Field(default_factory=dict, description=WHERE_DESCRIPTION)
    all_rows: bool = Field(False, description="Allow an empty 'where' (touch every row).")
    returning: list[str] | None = Field(None, description="Columns to return; ['*'] for all.")

    @model_validator(mode="after")
    def _guarded(self) -> _Filtered:
        if not self.where and not self.all_rows:
            raise ValueError(
                "without 'where' every row is touched: give 'where' or set all_rows: true"
            )
        return self


class UpdateFields(_Filtered):
    """Update the rows matching ``where`` with ``set``."""

    set: dict[str, Any] = Field(min_length=1, description="column: new value.")


class DeleteFields(_Filtered):
    """Delete the rows matching ``where``."""


class TransactionFields(FrozenModel):
    """Run statements atomically: all commit, or none does."""

    statements: list[SqlStatement] = Field(min_length=1)
    max_rows: int = Field(10_000, ge=1)


class TablesFields(FrozenModel):
    """List the tables and views of a schema."""

    schema_: str | None = Field(
        None, alias="schema", description="Schema (database for MySQL); the current one by default."
    )


class ColumnsFields(FrozenModel):
    """List the columns of a table."""

    table: str = Field(min_length=1, description="Table name, optionally schema.table.")
    schema_: str | None = Field(
        None, alias="schema", description="Schema; the current one by default."
    )


_VERB_FIELDS: dict[str, type[FrozenModel]] = {
    "query": QueryFields,
    "insert": InsertFields,
    "update": UpdateFields,
    "delete": DeleteFields,
    "execute": ExecuteFields,
    "transaction": TransactionFields,
    "tables": TablesFields,
    "columns": ColumnsFields,
}
_CONNECTIONS: dict[Dialect, type[_Connection]] = {
    "postgresql": PostgresqlConnection,
    "mysql": MysqlConnection,
    "sqlite": SqliteConnection,
}
_LABELS: dict[Dialect, str] = {
    "postgresql": "PostgreSQL",
    "mysql": "MariaDB/MySQL",
    "sqlite": "SQLite",
}
_ICONS: dict[Dialect, str] = {
    "postgresql": "database",
    "mysql": "database",
    "sqlite": "file-database",
}
_DEFAULT_DSN: dict[Dialect, str] = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
    "sqlite": "sqlite:///app.db",
}
RESULT_FIELDS = ("rows", "row_count", "rows_affected", "columns", "duration_ms")


def _model(dialect: Dialect, verb: str) -> type[FrozenModel]:
    """The input model of ``<dialect>.<verb>``: the verb's fields plus the dialect's DSN check."""
    fields = _VERB_FIELDS[verb]
    name = f"{dialect.capitalize()}{verb.capitalize()}Config"
    model: type[FrozenModel] = type(
        name, (_CONNECTIONS[dialect], fields), {"__module__": __name__, "__doc__": fields.__doc__}
    )
    return model


def _example(dialect: Dialect, verb: str) -> dict[str, Any]:
    step: dict[str, Any] = {
        "id": f"{verb}Orders",
        "type": f"{dialect}.{verb}",
        "dsn": _DEFAULT_DSN[dialect],
    }
    named = {
        "query": {
            "sql": "SELECT status FROM orders WHERE id = :id",
            "params": {"id": "{{ orderId }}"},
        }
    }
    extra: dict[str, dict[str, Any]] = {
        **named,
        "insert": {"table": "orders", "values": {"id": "{{ orderId }}", "status": "NEW"}},
        "update": {"table": "orders", "set": {"status": "PAID"}, "where": {"id": "{{ orderId }}"}},
        "delete": {"table": "orders", "where": {"id": "{{ orderId }}"}},
        "execute": {"sql": "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, status TEXT)"},
        "transaction": {
            "statements": [
                {
                    "sql": "UPDATE stock SET qty = qty - 1 WHERE sku = :sku",
                    "params": {"sku": "B-1"},
                },
                {"sql": "INSERT INTO reservations (sku) VALUES (:sku)", "params": {"sku": "B-1"}},
            ]
        },
        "tables": {},
        "columns": {"table": "orders"},
    }
    step.update(extra[verb])
    if verb == "query":
        step["assert"] = {"row_count": 1, "$[0].status": "PAID"}
    return step


def _kinds(dialect: Dialect) -> list[StepKind]:
    label = _LABELS[dialect]
    descriptions = {
        "query": f"Run a {label} query; assert on the rows.",
        "insert": f"Insert rows into a {label} table (values are bound parameters).",
        "update": f"Update {label} rows matching a where mapping.",
        "delete": f"Delete {label} rows matching a where mapping.",
        "execute": f"Run any {label} statement (DDL, DML, procedures).",
        "transaction": f"Run several {label} statements atomically.",
        "tables": f"List the tables of a {label} schema.",
        "columns": f"List the columns of a {label} table.",
    }
    return [
        StepKind(
            name=f"{dialect}.{verb}",
            description=descriptions[verb],
            input_model=_model(dialect, verb),
            executor=f"testflow.activities.sql:{dialect}_{verb}",
            mode="quick",
            default_timeout=timedelta(seconds=30),
            default_retry=RetrySpec(attempts=1),
            primary="the row list (a list of column: value mappings)",
            result_fields=(*RESULT_FIELDS, "results") if verb == "transaction" else RESULT_FIELDS,
            category="database",
            icon=_ICONS[dialect],
            example=_example(dialect, verb),
        )
        for verb in SQL_VERBS
    ]


SQL_KINDS: list[StepKind] = [kind for dialect in DIALECTS for kind in _kinds(dialect)]
