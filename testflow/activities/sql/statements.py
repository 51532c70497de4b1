"""Building parameterised SQL: quoted identifiers, placeholders per dialect, :name parameters.

Values never enter the SQL text: every builder returns ``(sql, args)`` with one placeholder per
value in the dialect's style (``$1`` asyncpg, ``%s`` asyncmy, ``?`` sqlite3). Named
parameters (``:name``) are rewritten to that style by a small scanner that skips string
literals, quoted identifiers, comments, PostgreSQL dollar quotes and ``::`` casts, so a ``:``
inside a literal is never taken for a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testflow.activities.base import StepFailure
from testflow.dsl.kinds.sql import Dialect


@dataclass(frozen=True)
class Statement:
    """One SQL text and its positional arguments, ready for the driver."""

    sql: str
    args: list[Any]


def invalid(message: str) -> StepFailure:
    return StepFailure(message, type="InvalidConfig", retryable=False)


def placeholder(dialect: Dialect, index: int) -> str:
    """The ``index``-th (1-based) positional placeholder of a dialect."""
    if dialect == "postgresql":
        return f"${index}"
    return "%s" if dialect == "mysql" else "?"


def quote_ident(dialect: Dialect, name: str) -> str:
    """Quote an identifier (``schema.table`` quotes each part) so any name is safe."""
    if not name or "\x00" in name:
        raise invalid(f"invalid identifier {name!r}")
    parts = name.split(".")
    if any(not p for p in parts):
        raise invalid(f"invalid identifier {name!r}")
    q = "`" if dialect == "mysql" else '"'
    return ".".join(q + p.replace(q, q + q) + q for p in parts)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _skip_quoted(sql: str, i: int, quote: str, backslash: bool) -> int:
    """Index just past the literal/identifier opened at ``i`` (doubled quotes escape).

    ``backslash``: MySQL also escapes with a backslash inside string literals; PostgreSQL
    and SQLite take a backslash literally.
    """
    j = i + 1
    while j < len(sql):
        if backslash and sql[j] == "\\" and quote != "`" and j + 1 < len(sql):
            j += 2
            continue
        if sql[j] == quote:
            if j + 1 < len(sql) and sql[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return j


def bind_named(dialect: Dialect, sql: str, params: Mapping[str, Any]) -> Statement:
    """Rewrite ``:name`` placeholders to the dialect's positional ones and order the values."""
    out: list[str] = []
    args: list[Any] = []
    seen: dict[str, int] = {}
    used: set[str] = set()
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        nxt = sql[i + 1] if i + 1 < n else ""
        if c in "'\"`":
            j = _skip_quoted(sql, i, c, dialect == "mysql")
        elif c == "-" and nxt == "-":
            j = sql.find("\n", i)
            j = n if j < 0 else j
        elif c == "/" and nxt == "*":
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c == "$" and dialect == "postgresql" and (m := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(m.group(0), m.end())
            j = n if end < 0 else end + len(m.group(0))
        elif c == ":" and nxt == ":":
            j = i + 2
        elif c == ":" and (m := _NAME.match(sql, i + 1)):
            name = m.group(0)
            if name not in params:
                given = ", ".join(sorted(params)) or "none"
                raise invalid(f"the SQL uses :{name} but params has no {name!r} (given: {given})")
            used.add(name)
            if dialect == "postgresql" and name in seen:
                out.append(placeholder(dialect, seen[name]))
            else:
                args.append(params[name])
                seen[name] = len(args)
                out.append(placeholder(dialect, len(args)))
            i = m.end()
            continue
        else:
            j = i + 1
        chunk = sql[i:j]
        # asyncmy %-formats the whole text when args are given: keep literal % signs.
        out.append(chunk.replace("%", "%%") if dialect == "mysql" else chunk)
        i = j
    unused = sorted(set(params) - used)
    if unused:
        raise invalid(
            f"params {', '.join(unused)} are not used by the SQL (placeholders are :name)"
        )
    return Statement("".join(out), args)


def bind(dialect: Dialect, sql: str, params: Sequence[Any] | Mapping[str, Any] | None) -> Statement:
    """A statement from SQL text and its ``params`` (positional list, :name mapping or none)."""
    if params is None:
        return Statement(sql, [])
    if isinstance(params, Mapping):
        return bind_named(dialect, sql, params)
    return Statement(sql, list(params))


def _where(dialect: Dialect, where: Mapping[str, Any], args: list[Any]) -> str:
    """``WHERE`` clause of a mapping: equality, IS NULL for null, IN (...) for a list."""
    if not where:
        return ""
    terms = []
    for column, value in where.items():
        col = quote_ident(dialect, column)
        if value is None:
            terms.append(f"{col} IS NULL")
        elif isinstance(value, list | tuple):
            if not value:
                terms.append("1 = 0")  # IN () matches nothing, and is not valid SQL
                continue
            marks = []
            for item in value:
                args.append(item)
                marks.append(placeholder(dialect, len(args)))
            terms.append(f"{col} IN ({', '.join(marks)})")
        else:
            args.append(value)
            terms.append(f"{col} = {placeholder(dialect, len(args))}")
    return " WHERE " + " AND ".join(terms)


def _returning(dialect: Dialect, columns: Sequence[str] | None) -> str:
    if not columns:
        return ""
    if list(columns) == ["*"]:
        return " RETURNING *"
    return " RETURNING " + ", ".join(quote_ident(dialect, c) for c in columns)


def build_insert(
    dialect: Dialect,
    table: str,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    returning: Sequence[str] | None,
) -> Statement:
    rows = [values] if isinstance(values, Mapping) else list(values)
    columns = list(rows[0])
    args: list[Any] = []
    groups = []
    for row in rows:
        marks = []
        for column in columns:
            args.append(row[column])
            marks.append(placeholder(dialect, len(args)))
        groups.append(f"({', '.join(marks)})")
    cols = ", ".join(quote_ident(dialect, c) for c in columns)
    sql = f"INSERT INTO {quote_ident(dialect, table)} ({cols}) VALUES {', '.join(groups)}"
    return Statement(sql + _returning(dialect, returning), args)


def build_update(
    dialect: Dialect,
    table: str,
    values: Mapping[str, Any],
    where: Mapping[str, Any],
    returning: Sequence[str] | None,
) -> Statement:
    args: list[Any] = []
    sets = []
    for column, value in values.items():
        args.append(value)
        sets.append(f"{quote_ident(dialect, column)} = {placeholder(dialect, len(args))}")
    sql = f"UPDATE {quote_ident(dialect, table)} SET {', '.join(sets)}"
    sql += _where(dialect, where, args)
    return Statement(sql + _returning(dialect, returning), args)


def build_delete(
    dialect: Dialect, table: str, where: Mapping[str, Any], returning: Sequence[str] | None
) -> Statement:
    args: list[Any] = []
    sql = f"DELETE FROM {quote_ident(dialect, table)}" + _where(dialect, where, args)
    return Statement(sql + _returning(dialect, returning), args)


_READ_KEYWORDS = {
    "select",
    "with",
    "show",
    "values",
    "explain",
    "pragma",
    "describe",
    "desc",
    "table",
}


def is_read(sql: str) -> bool:
    """Whether a statement reads only (so its driver row count is not "rows affected")."""
    text = re.sub(r"^(\s+|--[^\n]*\n?|/\*.*?\*/)+", "", sql, flags=re.S)
    word = re.match(r"[A-Za-z]+", text)
    return word is not None and word.group(0).lower() in _READ_KEYWORDS
