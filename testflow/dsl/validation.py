"""Turn pydantic validation errors into readable, positioned problems.

Pydantic's error locations follow the model, not the document: a discriminated union adds its
tag (``('steps', 0, 'action', 'request')``) and a plain union adds the member's name
(``('for_each', 'str')``). :func:`pydantic_problems` walks the location alongside the raw data
so every problem gets the document path the positions are recorded under, merges the
per-member errors of a union into one message and adds "did you mean" for unknown keys and
enum values, taking the candidates from the model at that place.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from testflow.dsl.diagnostics import hint_for
from testflow.dsl.positions import join_path

Anchor = Literal["key", "value", "parent"]
"""Where a problem points: the key (unknown keys), the value, or the parent (missing keys)."""


@dataclass(frozen=True)
class Problem:
    path: str
    anchor: Anchor
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"


def describe_value(value: Any) -> str:
    """``an integer (5)``, ``a string ('abc')``, ``a mapping``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        short = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({short!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}


def _strip_loc(
    loc: tuple[str | int, ...], data: Any, err_type: str
) -> tuple[list[str | int], bool]:
    """Document location of a pydantic loc, and whether union-member parts were dropped."""
    out: list[str | int] = []
    dropped = False
    node = data
    tagged: set[int] = set()
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str):
            tag = _step_tag(node)
            if tag == part and id(node) not in tagged:
                tagged.add(id(node))  # the discriminated-union tag: not in the document
            elif part in node:
                out.append(part)
                node = node[part]
            elif last and err_type == "missing":
                out.append(part)
            else:
                dropped = True
        else:
            dropped = True
    return out, dropped


def _step_tag(node: dict[str, Any]) -> str:
    kind = node.get("type")
    return kind if kind in ("parallel", "group", "call", "poll") else "action"


def _message(err: ErrorDetails, key: str | int | None) -> tuple[str, list[str]]:
    """A readable message and the allowed values (for literal errors)."""
    kind, value = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"unknown key {key!r}", []
    if kind == "missing":
        return f"missing required key {key!r}", []
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {describe_value(value)}", []
    if kind in ("literal_error", "enum"):
        allowed = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", "")))
        return f"expected one of {', '.join(allowed)}; got {describe_value(value)}", allowed
    if kind == "string_pattern_mismatch" and key in ("id", "as"):
        return (
            f"{value!r} is not a valid identifier: start with a letter or '_', then letters, "
            "digits, '_' or '-'",
            [],
        )
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match the pattern {ctx.get('pattern')}", []
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg[:1].lower() + msg[1:], []


def pydantic_problems(
    exc: ValidationError,
    data: Any,
    *,
    base: str = "",
    root: type[BaseModel] | None = None,
    extra_candidates: Iterable[str] = (),
) -> list[Problem]:
    """Problems of ``data`` (validated against ``root``), paths prefixed with ``base``."""
    grouped: dict[str, list[tuple[ErrorDetails, bool, list[str | int]]]] = {}
    for err in exc.errors():
        loc, dropped = _strip_loc(tuple(err["loc"]), data, err["type"])
        path = base
        for part in loc:
            path = join_path(path, part)
        grouped.setdefault(path + "\0" + err["type"] * (not dropped), []).append(
            (err, dropped, loc)
        )
    problems: list[Problem] = []
    extras = list(extra_candidates)
    for key, errs in grouped.items():
        path = key.split("\0", 1)[0]
        err, dropped, loc = errs[0]
        last = loc[-1] if loc else None
        if dropped and len(errs) > 1:
            words = [_TYPE_WORDS.get(e["type"]) for e, _, _ in errs]
            if all(words):
                expected = " or ".join(dict.fromkeys(w for w in words if w))
                problems.append(
                    Problem(
                        path,
                        "value",
                        f"expected {expected}, got {describe_value(err.get('input'))}",
                    )
                )
                continue
        message, allowed = _message(err, last)
        hint = None
        if err["type"] == "extra_forbidden" and isinstance(last, str):
            candidates = set(extras if len(loc) == 1 else ())
            if root is not None:
                candidates |= set(fields_at(root, tuple(err["loc"])[:-1]))
            hint = hint_for(last, candidates)
        elif allowed and isinstance(err.get("input"), str):
            hint = hint_for(str(err.get("input")), allowed)
        problems.append(Problem(path, _anchor(err), message, hint))
    return drop_explained_missing(problems)


def _anchor(err: ErrorDetails) -> Anchor:
    if err["type"] == "extra_forbidden":
        return "key"
    if err["type"] == "missing":
        return "parent"
    if isinstance(err.get("input"), dict | list) and err["type"] in (
        "value_error",
        "assertion_error",
    ):
        return "key"  # a rule about a whole mapping (one body only...): point at its key
    return "value"


def drop_explained_missing(problems: list[Problem]) -> list[Problem]:
    """Drop "missing key K" when a sibling unknown key is a misspelling of K (one error, not two)."""
    suggested = {
        (p.path.rsplit(".", 1)[0] if "." in p.path else "", p.hint)
        for p in problems
        if p.anchor == "key" and p.hint
    }
    out = []
    for p in problems:
        if p.anchor == "parent" and p.message.startswith("missing required key "):
            parent, _, key = p.path.rpartition(".")
            if (parent, f"did you mean {key!r}?") in suggested:
                continue
        out.append(p)
    return out


# --- which keys a model accepts at a pydantic location ------------------------------------


def field_names(model: type[BaseModel]) -> list[str]:
    """Keys a model accepts (aliases where set: ``assert``, ``as``, ``json``)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def _members(annotation: Any) -> list[tuple[Any, str | None]]:
    """Concrete members of an annotation, with their discriminator tag if any."""
    out: list[tuple[Any, str | None]] = []
    tag: str | None = None
    while typing.get_origin(annotation) is typing.Annotated:
        for meta in getattr(annotation, "__metadata__", ()):
            if type(meta).__name__ == "Tag":
                tag = str(getattr(meta, "tag", "")) or None
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            out.extend(_members(arg))
        return out
    out.append((annotation, tag))
    return out


def fields_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Keys of the model(s) reached by following a pydantic ``loc`` from ``root``."""
    current: list[Any] = [root]
    for part in loc:
        members = [m for a in current for m in _members(a)]
        tagged = [m for m, tag in members if tag == part]
        if tagged:
            current = tagged
            continue
        nxt: list[Any] = []
        for member, _ in members:
            origin = typing.get_origin(member)
            if inspect.isclass(member) and issubclass(member, BaseModel) and isinstance(part, str):
                for name, info in member.model_fields.items():
                    if part in (name, info.alias):
                        nxt.append(info.annotation)
            elif origin in (list, tuple, set, frozenset) and isinstance(part, int):
                nxt.extend(a for a in typing.get_args(member)[:1] if a is not Ellipsis)
            elif origin is dict:
                nxt.extend(typing.get_args(member)[1:2])
        if nxt:
            current = nxt
    names: list[str] = []
    for annotation in current:
        for member, _ in _members(annotation):
            if inspect.isclass(member) and issubclass(member, BaseModel):
                names.extend(field_names(member))
    return names
