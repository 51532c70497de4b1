"""The comparison rules behind assertions: equality, ordering, subset, types, schema, diffs.

Values come from many drivers (JSON bodies, SQL rows with ``Decimal``/``datetime``/``UUID``,
message headers) and expectations from YAML, so equality is JSON-minded rather than Python's:
``true`` is not ``1``, ``1`` equals ``1.0`` and ``Decimal('1.0')``, and a ``datetime``/``UUID``
equals its usual text form. Everything else is strict: ``"201"`` is not ``201`` (the message
says the types differ).
"""

from __future__ import annotations

import difflib
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

__all__ = [
    "MATCHERS",
    "TYPE_NAMES",
    "Check",
    "apply",
    "compile_regex",
    "is_matcher_mapping",
    "json_equal",
    "json_type",
    "jsonable",
    "schema_errors",
    "show",
    "subset_mismatch",
    "unified_diff",
]

MATCHERS = (
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "not_contains",
    "matches", "exists", "type", "len", "schema", "subset",
)  # fmt: skip

# JSON type names, plus the Python spellings people write by habit.
TYPE_NAMES: dict[str, str] = {
    "string": "string", "str": "string",
    "number": "number", "float": "number",
    "integer": "integer", "int": "integer",
    "boolean": "boolean", "bool": "boolean",
    "object": "object", "dict": "object", "map": "object",
    "array": "array", "list": "array",
    "null": "null", "none": "null",
}  # fmt: skip

PREVIEW_CHARS = 4096  # larger actual values travel as truncated text (payloads stay small)
DIFF_CHARS = 16384


@dataclass(frozen=True)
class Check:
    """One matcher's verdict: ``detail`` is the part of the message after the path."""

    passed: bool
    detail: str
    diff: str | None = None


def is_matcher_mapping(value: Any) -> bool:
    """``{gte: 10, lt: 100}``: a non-empty mapping whose keys are all matcher names."""
    return isinstance(value, Mapping) and bool(value) and all(k in MATCHERS for k in value)


# -- display -----------------------------------------------------------------------------------


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy for results (Decimal, datetime, UUID, bytes, sets made plain)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if type(value) is dict and depth <= 50:  # the common case, before the slower ABC checks
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if type(value) is list and depth <= 50:
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    if depth > 50:
        return "<nested too deep>"
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


# Built once: json.dumps with any option builds a new encoder per call, which showed up as
# the main cost of evaluating a handful of assertions.
_COMPACT = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_PRETTY = json.JSONEncoder(sort_keys=True, ensure_ascii=False, indent=2)
_PLAIN = json.JSONEncoder(ensure_ascii=False)


def _dumps(value: Any, indent: int | None = None) -> str:
    return (_PRETTY if indent else _COMPACT).encode(jsonable(value))


def show(value: Any, limit: int = 200) -> str:
    """Compact JSON text of a value for messages, cut at ``limit`` characters."""
    text = _dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview(value: Any) -> Any:
    """The value as stored in an outcome: JSON-safe, and a truncated text when it is large."""
    safe = jsonable(value)
    if safe is None or isinstance(safe, bool | int | float):
        return safe
    if isinstance(safe, str) and len(safe) <= PREVIEW_CHARS:
        return safe
    text = _PLAIN.encode(safe)
    if len(text) <= PREVIEW_CHARS:
        return safe
    return text[:PREVIEW_CHARS] + f"… ({len(text)} characters)"


def unified_diff(expected: Any, actual: Any) -> str | None:
    """A unified diff of pretty JSON, when either side is a structure (else None)."""
    structures = (Mapping, list, tuple)
    if not isinstance(expected, structures) and not isinstance(actual, structures):
        return None
    lines = difflib.unified_diff(
        _dumps(expected, indent=2).splitlines(),
        _dumps(actual, indent=2).splitlines(),
        fromfile="expected",
        tofile="actual",
        lineterm="",
    )
    text = "\n".join(lines)
    if len(text) > DIFF_CHARS:
        text = text[:DIFF_CHARS] + "\n… (diff truncated)"
    return text or None


# -- equality and types ------------------------------------------------------------------------


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _number_equal(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) != isinstance(b, Decimal):
        return float(a) == float(b)
    return bool(a == b)


def _text_form_equal(value: Any, text: str) -> bool:
    """A driver's datetime/UUID against the text a flow file writes for it."""
    if isinstance(value, datetime | date | time):
        return value.isoformat() == text or str(value) == text
    if isinstance(value, uuid.UUID):
        return str(value) == text.lower()
    return False


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return _number_equal(a, b)
    if isinstance(a, str) and not isinstance(b, str):
        return _text_form_equal(b, a)
    if isinstance(b, str) and not isinstance(a, str):
        return _text_form_equal(a, b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except Exception:  # exotic objects with a failing __eq__
        return False


def subset_mismatch(expected: Any, actual: Any, where: str = "$") -> str | None:
    """None when ``expected`` is contained in ``actual``, else where and why it is not.

    Objects: every expected key is present with a contained value (extra keys are fine).
    Arrays: every expected element is contained in a distinct actual element, in any order.
    Scalars: :func:`json_equal`.
    """
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"at {where}: expected an object, got {json_type(actual)} {show(actual, 80)}"
        for key, value in expected.items():
            if key not in actual:
                return f"at {where}: missing key {key!r}"
            reason = subset_mismatch(value, actual[key], f"{where}.{key}")
            if reason:
                return reason
        return None
    if isinstance(expected, list | tuple):
        if not isinstance(actual, list | tuple):
            return f"at {where}: expected an array, got {json_type(actual)} {show(actual, 80)}"
        return _list_subset(expected, actual, where)
    if not json_equal(expected, actual):
        return f"at {where}: expected {show(expected, 80)}, got {show(actual, 80)}"
    return None


def _list_subset(expected: Sequence[Any], actual: Sequence[Any], where: str) -> str | None:
    """Match expected elements to distinct actual ones (augmenting paths: order-free)."""
    fits = [
        [j for j, item in enumerate(actual) if subset_mismatch(want, item, where) is None]
        for want in expected
    ]
    owner: dict[int, int] = {}  # actual index -> expected index

    def assign(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or assign(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i, want in enumerate(expected):
        if not fits[i]:
            # Explain with the same-position element when there is one: usually the intended one.
            if i < len(actual):
                reason = subset_mismatch(want, actual[i], f"{where}[{i}]")
                return f"no element of {where} matches expected[{i}] ({reason})"
            return f"no element of {where} matches expected[{i}] = {show(want, 80)}"
        if not assign(i, set()):
            return f"at {where}: not enough distinct elements to match expected[{i}]"
    return None


def project(expected: Any, actual: Any) -> Any:
    """``actual`` cut down to the keys ``expected`` names, so a subset diff shows no noise."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return {k: project(expected[k], actual[k]) for k in expected if k in actual}
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        return [project(expected[i], a) if i < len(expected) else a for i, a in enumerate(actual)]
    return actual


# -- schema and regex ----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    from jsonschema import Draft202012Validator  # lazy: heavy, and only assertions need it

    schema = json.loads(schema_text)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problem(schema: Any) -> str | None:
    """None when ``schema`` is a valid Draft 2020-12 schema, else why not."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, Mapping | bool):
        return f"a schema is an object, not {json_type(schema)}"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return f"invalid JSON Schema: {error.message}"
    return None


def schema_errors(schema: Mapping[str, Any] | bool, instance: Any, limit: int = 10) -> list[str]:
    """Validation errors of ``instance``, one line each with its JSONPath, at most ``limit``."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(jsonable(instance)), key=lambda e: list(e.path))
    lines = [f"{e.json_path}: {e.message}" for e in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return lines


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- matchers --------------------------------------------------------------------------------------


def _ordered(op: str, actual: Any, expected: Any) -> Check:
    symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    a, b = actual, expected
    if _is_number(a) and _is_number(b):
        if isinstance(a, Decimal) != isinstance(b, Decimal):
            a, b = float(a), float(b)
    elif isinstance(a, datetime) and isinstance(b, str):
        try:
            b = datetime.fromisoformat(b)
        except ValueError:
            return Check(False, f"expected {symbol} {show(b)}, which is not an ISO date-time")
    elif not (
        (isinstance(a, str) and isinstance(b, str)) or (isinstance(a, date) and isinstance(b, date))
    ):
        return Check(
            False, f"cannot compare {json_type(a)} {show(a)} with {json_type(b)} {show(b)}"
        )
    try:
        passed = {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    except TypeError as error:
        return Check(False, f"cannot compare {show(a)} with {show(b)}: {error}")
    return Check(bool(passed), f"expected {symbol} {show(expected)}, got {show(actual)}")


def _contains(container: Any, item: Any) -> bool | None:
    """True/False, or None when the containment test means nothing for these types."""
    if isinstance(container, str):
        return item in container if isinstance(item, str) else None
    if isinstance(container, Mapping):
        if isinstance(item, str):
            return item in container
        if isinstance(item, Mapping):
            return subset_mismatch(item, container) is None
        return None
    if isinstance(container, list | tuple):
        if any(json_equal(element, item) for element in container):
            return True
        if isinstance(item, Mapping):
            return any(subset_mismatch(item, element) is None for element in container)
        if isinstance(item, list | tuple):
            return all(_contains(container, element) for element in item)
        return False
    return None


def _type_check(actual: Any, expected: Any) -> Check:
    wanted = expected if isinstance(expected, list | tuple) else [expected]
    names = [TYPE_NAMES.get(str(w).lower()) for w in wanted]
    if None in names:
        return Check(
            False, f"unknown type {show(expected)} (use one of {sorted(set(TYPE_NAMES.values()))})"
        )
    got = json_type(actual)
    passed = got in names or (got == "integer" and "number" in names)
    return Check(passed, f"expected type {' or '.join(n for n in names if n)}, got {got}")


def _len_check(actual: Any, expected: Any) -> Check:
    if not isinstance(actual, str | Mapping | list | tuple):
        return Check(False, f"len: {json_type(actual)} {show(actual)} has no length")
    size = len(actual)
    if is_matcher_mapping(expected):
        checks = [apply(op, size, operand) for op, operand in expected.items()]
        failed = [c for c in checks if not c.passed]
        detail = "; ".join(c.detail for c in failed) if failed else f"length {size}"
        return Check(not failed, f"length {size}: {detail}" if failed else detail)
    return Check(json_equal(size, expected), f"expected length {show(expected)}, got {size}")


def apply(matcher: str, actual: Any, expected: Any) -> Check:
    """Run one matcher on a found value (``exists`` is decided by the caller)."""
    handler = _HANDLERS.get(matcher)
    if handler is None:
        return Check(False, f"unknown matcher {matcher!r}")
    return handler(actual, expected)


def _eq(actual: Any, expected: Any) -> Check:
    if json_equal(actual, expected):
        return Check(True, f"equals {show(expected)}")
    detail = f"expected {show(expected)}, got {show(actual)}"
    if json_type(actual) != json_type(expected) and not (
        _is_number(actual) and _is_number(expected)
    ):
        detail += f" (types differ: expected {json_type(expected)}, got {json_type(actual)})"
    return Check(False, detail, unified_diff(expected, actual))


def _ne(actual: Any, expected: Any) -> Check:
    return Check(
        not json_equal(actual, expected),
        f"expected anything but {show(expected)}, got {show(actual)}",
    )


def _in(actual: Any, expected: Any, negate: bool = False) -> Check:
    found = _contains(expected, actual)
    if found is None:
        return Check(
            False, f"cannot look for {json_type(actual)} in {json_type(expected)} {show(expected)}"
        )
    word = "not one of" if negate else "one of"
    return Check(found != negate, f"expected {word} {show(expected)}, got {show(actual)}")


def _contains_check(actual: Any, expected: Any, negate: bool = False) -> Check:
    found = _contains(actual, expected)
    if found is None:
        return Check(
            False, f"cannot look for {json_type(expected)} in {json_type(actual)} {show(actual)}"
        )
    word = "not to contain" if negate else "to contain"
    return Check(found != negate, f"expected {word} {show(expected)}, got {show(actual)}")


def _matches(actual: Any, expected: Any) -> Check:
    if not isinstance(expected, str):
        return Check(False, f"matches needs a regular expression, not {json_type(expected)}")
    if isinstance(actual, bool) or not isinstance(actual, str | int | float | Decimal):
        return Check(False, f"matches needs text, got {json_type(actual)} {show(actual)}")
    try:
        found = compile_regex(expected).search(str(actual)) is not None
    except re.error as error:
        return Check(False, f"invalid regular expression {expected!r}: {error}")
    return Check(found, f"expected to match /{expected}/, got {show(actual)}")


def _schema(actual: Any, expected: Any) -> Check:
    if isinstance(expected, str):
        return Check(
            False, f"schema {expected!r} was not loaded (schema files are inlined by the loader)"
        )
    problem = schema_problem(expected)
    if problem:
        return Check(False, problem)
    errors = schema_errors(expected, actual)
    if not errors:
        return Check(True, "matches the JSON Schema")
    return Check(False, "does not match the JSON Schema:\n  " + "\n  ".join(errors))


def _subset(actual: Any, expected: Any) -> Check:
    reason = subset_mismatch(expected, actual)
    if reason is None:
        return Check(True, f"contains {show(expected)}")
    return Check(
        False,
        f"expected to contain {show(expected)}: {reason}",
        unified_diff(expected, project(expected, actual)),
    )


def _exists(actual: Any, expected: Any) -> Check:
    return Check(bool(expected), "exists" if expected else "expected not to exist, but it does")


_HANDLERS: dict[str, Callable[[Any, Any], Check]] = {
    "eq": _eq,
    "ne": _ne,
    "gt": lambda a, e: _ordered("gt", a, e),
    "gte": lambda a, e: _ordered("gte", a, e),
    "lt": lambda a, e: _ordered("lt", a, e),
    "lte": lambda a, e: _ordered("lte", a, e),
    "in": _in,
    "not_in": lambda a, e: _in(a, e, negate=True),
    "contains": _contains_check,
    "not_contains": lambda a, e: _contains_check(a, e, negate=True),
    "matches": _matches,
    "exists": _exists,
    "type": _type_check,
    "len": _len_check,
    "schema": _schema,
    "subset": _subset,
}
