"""One assertion and extraction engine for every step kind.

A step's result is a ``document`` (what ``$`` addresses: a response body, a row list, the
matched messages) plus named ``fields`` (``status``, ``headers``, ``row_count``,
``duration_ms``...). An ``assert`` mapping reads them like this:

=====================  ==========================================================================
key                    checks
=====================  ==========================================================================
``status``             a result field; ``headers.Content-Type`` reads into one (case-insensitive)
``$.items[0].id``      a JSONPath on the document (first match; ``len`` counts the matches of a
                       path with wildcards/filters; ``exists: false`` passes when nothing matches)
``schema``             the document against an inline JSON Schema (Draft 2020-12)
``body`` / ``subset``  the document contains the expected object/list (recursively)
``that``               expressions that must be truthy; they see the context and ``result``
=====================  ==========================================================================

A value that is a mapping of matcher names applies those matchers (``{gte: 10, lt: 100}``);
any other value is ``eq`` (``subset`` for ``body``/``subset``). The matchers themselves live in
:mod:`testflow.dsl.matchers`.

Extraction (``extract: {name: expression}``) takes a ``$`` JSONPath (first match), a field or
dotted field (``status``, ``headers.Location``), or a ``{{ template }}``; later entries see the
earlier ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testflow.dsl import jsonpath, matchers
from testflow.dsl.matchers import MATCHERS, is_matcher_mapping
from testflow.dsl.results import AssertionOutcome
from testflow.dsl.templating import (
    Renderer,
    TemplateError,
    TemplateRuntime,
    expression_syntax_error,
    is_template,
    syntax_error,
)

__all__ = ["MATCHERS", "SPECIAL_KEYS", "ExtractionError", "check_spec", "evaluate", "extract"]

SPECIAL_KEYS = ("that", "schema", "body", "subset")

Location = tuple[str | int, ...]


class ExtractionError(Exception):
    """An ``extract`` entry that found nothing or could not be computed."""

    def __init__(self, name: str, expression: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.expression = expression
        self.message = message


# -- reading the result --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    found: bool
    value: Any = None
    matches: list[Any] | None = None  # all matches of a non-singular JSONPath
    missing: str = ""  # why nothing was found


def _child(container: Any, name: str) -> tuple[bool, Any]:
    """``container[name]``: exact key, then case-insensitive key (headers), then list index."""
    if isinstance(container, Mapping):
        if name in container:
            return True, container[name]
        lowered = name.lower()
        for key, value in container.items():
            if isinstance(key, str) and key.lower() == lowered:
                return True, value
        return False, None
    if isinstance(container, list | tuple) and name.lstrip("-").isdigit():
        index = int(name)
        if -len(container) <= index < len(container):
            return True, container[index]
    return False, None


def _read_field(fields: Mapping[str, Any], key: str) -> _Target:
    """Resolve ``status`` or ``headers.Content-Type`` (header names may contain dots)."""
    head, _, rest = key.partition(".")
    if head not in fields:
        return _Target(False, missing=f"the result has no field {head!r}")
    value: Any = fields[head]
    while rest:
        found, child = _child(value, rest)  # the whole remainder first: "X.Trace.Id" headers
        if found:
            return _Target(True, child)
        part, _, rest = rest.partition(".")
        found, value = _child(value, part)
        if not found:
            return _Target(False, missing=f"{key!r}: no {part!r} in {head!r}")
    return _Target(True, value)


def _read_path(document: Any, path: str) -> _Target:
    found = jsonpath.find_all(document, path)
    matches = None if jsonpath.is_singular(path) else found
    if not found:
        return _Target(False, matches=matches, missing=f"JSONPath {path} matched nothing")
    return _Target(True, found[0], matches)


def _result_scope(
    context: Mapping[str, Any], document: Any, fields: Mapping[str, Any]
) -> dict[str, Any]:
    return {**context, "result": {"document": document, **fields}}


_default_renderer: Renderer | None = None


def _expression_renderer(renderer: Renderer | None) -> Renderer:
    """``that`` and ``{{ }}`` extractions always need a renderer; this one knows no secrets."""
    global _default_renderer
    if renderer is not None:
        return renderer
    if _default_renderer is None:
        _default_renderer = Renderer(TemplateRuntime.default())
    return _default_renderer


# -- evaluate ------------------------------------------------------------------------------------


def _outcome(
    path: str, matcher: str, expected: Any, actual: Any, check: matchers.Check
) -> AssertionOutcome:
    return AssertionOutcome(
        path=path,
        matcher=matcher,
        expected=matchers.preview(expected),
        actual=matchers.preview(actual),
        passed=check.passed,
        message=f"{path}: {check.detail}",
        diff=None if check.passed else check.diff,
    )


def _failed(path: str, matcher: str, expected: Any, message: str) -> AssertionOutcome:
    return AssertionOutcome(
        path=path,
        matcher=matcher,
        expected=matchers.preview(expected),
        actual=None,
        passed=False,
        message=f"{path}: {message}",
    )


def _apply_all(
    path: str, expectations: Sequence[tuple[str, Any]], target: _Target
) -> list[AssertionOutcome]:
    outcomes = []
    for matcher, operand in expectations:
        if matcher == "exists":
            wanted = bool(operand)
            passed = target.found == wanted
            detail = (
                ("exists" if target.found else "does not exist")
                if passed
                else ("expected to exist: " + target.missing if wanted else "expected not to exist")
            )
            outcomes.append(
                _outcome(path, matcher, operand, target.value, matchers.Check(passed, detail))
            )
        elif matcher == "len" and target.matches is not None:
            outcomes.append(
                _outcome(
                    path,
                    matcher,
                    operand,
                    target.matches,
                    matchers.apply("len", target.matches, operand),
                )
            )
        elif not target.found:
            outcomes.append(_failed(path, matcher, operand, target.missing))
        else:
            check = matchers.apply(matcher, target.value, operand)
            outcomes.append(_outcome(path, matcher, operand, target.value, check))
    return outcomes


def _expectations(value: Any, default: str) -> list[tuple[str, Any]]:
    if is_matcher_mapping(value):
        return list(value.items())
    return [(default, value)]


def _evaluate_that(
    expressions: Any, scope: Mapping[str, Any], renderer: Renderer
) -> list[AssertionOutcome]:
    items = [expressions] if isinstance(expressions, str) else list(expressions or [])
    outcomes = []
    for index, expression in enumerate(items):
        path = f"that[{index}]"
        if not isinstance(expression, str):
            outcomes.append(_failed(path, "expression", expression, "an expression must be text"))
            continue
        try:
            value = renderer.evaluate(expression, scope)
        except TemplateError as error:
            outcomes.append(_failed(path, "expression", expression, f"could not evaluate: {error}"))
            continue
        truthy = _truthy(value)
        detail = f"{expression} is {'true' if truthy else 'false'}"
        if not isinstance(value, bool):
            detail += f" (value {matchers.show(value)})"
        outcomes.append(
            _outcome(path, "expression", expression, value, matchers.Check(truthy, detail))
        )
    return outcomes


def _truthy(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:
        return False


def evaluate(
    spec: Mapping[str, Any],
    *,
    document: Any,
    fields: Mapping[str, Any],
    renderer: Renderer | None = None,
    context: Mapping[str, Any] = {},
) -> list[AssertionOutcome]:
    """Check every assertion of ``spec``; one outcome per (key, matcher), in spec order.

    Templates in expected values are rendered with ``renderer`` (context plus ``result``) when
    one is given; the workflow normally rendered them already. Nothing raises: a broken
    assertion is a failed outcome that says why.
    """
    scope = _result_scope(context, document, fields)
    outcomes: list[AssertionOutcome] = []
    for key, raw in spec.items():
        path = str(key)
        if path == "that":
            outcomes.extend(_evaluate_that(raw, scope, _expression_renderer(renderer)))
            continue
        try:
            expected = renderer.render(raw, scope) if renderer is not None else raw
        except TemplateError as error:
            outcomes.append(
                _failed(path, "eq", raw, f"could not render the expected value: {error}")
            )
            continue
        if path == "schema":
            target = _Target(True, document)
            expectations = [("schema", expected)]
        elif path in ("body", "subset"):
            target = _Target(True, document)
            expectations = _expectations(expected, "subset")
        elif path.startswith("$"):
            try:
                target = _read_path(document, path)
            except jsonpath.JSONPathError as error:
                outcomes.append(_failed(path, "jsonpath", expected, error.message))
                continue
            expectations = _expectations(expected, "eq")
        else:
            target = _read_field(fields, path)
            expectations = _expectations(expected, "eq")
        outcomes.extend(_apply_all(path, expectations, target))
    return outcomes


# -- extract -------------------------------------------------------------------------------------


def extract(
    spec: Mapping[str, str],
    *,
    document: Any,
    fields: Mapping[str, Any],
    renderer: Renderer | None = None,
    context: Mapping[str, Any] = {},
) -> dict[str, Any]:
    """Compute every ``name: expression`` of ``spec``; raise :class:`ExtractionError` on the first
    that fails. Later expressions see earlier names (``{{ id | string }}``)."""
    out: dict[str, Any] = {}
    for name, expression in spec.items():
        if not isinstance(expression, str):
            raise ExtractionError(name, str(expression), "an extraction is a text expression")
        if expression.startswith("$"):
            try:
                out[name] = jsonpath.find_one(document, expression)
            except jsonpath.JSONPathError as error:
                raise ExtractionError(name, expression, error.message) from None
        elif is_template(expression):
            scope = {**_result_scope(context, document, fields), **out}
            try:
                out[name] = _expression_renderer(renderer).render(expression, scope)
            except TemplateError as error:
                raise ExtractionError(name, expression, str(error)) from None
        else:
            target = _read_field(fields, expression.strip())
            if not target.found:
                known = ", ".join(sorted(fields)) or "none"
                raise ExtractionError(
                    name,
                    expression,
                    f"{target.missing} (fields: {known}; '$...' reads the document)",
                )
            out[name] = target.value
    return out


# -- static checks -------------------------------------------------------------------------------


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _template_problem(value: Any) -> tuple[bool, str | None]:
    """(is a template, its syntax error): templates skip type checks but must compile."""
    if isinstance(value, str) and is_template(value):
        return True, syntax_error(value)
    return False, None


def _operand_problem(matcher: str, operand: Any) -> str | None:
    is_tpl, problem = _template_problem(operand)
    if is_tpl:
        return problem
    if matcher in ("gt", "gte", "lt", "lte"):
        if isinstance(operand, bool) or not isinstance(operand, int | float | str):
            return f"{matcher} needs a number, a text or a date, not {matchers.json_type(operand)}"
    elif matcher in ("in", "not_in"):
        if not isinstance(operand, list | tuple | str | Mapping):
            return f"{matcher} needs a list, not {matchers.json_type(operand)}"
    elif matcher == "matches":
        if not isinstance(operand, str):
            return f"matches needs a regular expression, not {matchers.json_type(operand)}"
        try:
            matchers.compile_regex(operand)
        except Exception as error:
            return f"invalid regular expression {operand!r}: {error}"
    elif matcher == "exists":
        if not isinstance(operand, bool):
            return f"exists needs true or false, not {matchers.show(operand)}"
    elif matcher == "type":
        names = operand if isinstance(operand, list | tuple) else [operand]
        for name in names:
            if str(name).lower() not in matchers.TYPE_NAMES:
                choices = sorted(set(matchers.TYPE_NAMES.values()))
                return f"unknown type {name!r}{_did_you_mean(str(name), choices)}; use one of {', '.join(choices)}"
    elif matcher == "len":
        if is_matcher_mapping(operand):
            return None  # nested matchers are checked by the caller
        if isinstance(operand, bool) or not isinstance(operand, int) or operand < 0:
            return f"len needs a non-negative integer or matchers, not {matchers.show(operand)}"
    elif matcher == "schema":
        if isinstance(operand, str):
            return None  # a schema file: the loader inlines it
        return matchers.schema_problem(operand)
    return None


def _check_value(key: str, value: Any, loc: Location) -> list[tuple[Location, str]]:
    problems: list[tuple[Location, str]] = []
    is_tpl, problem = _template_problem(value)
    if is_tpl:
        return [(loc, problem)] if problem else []
    if key == "schema":
        problem = _operand_problem("schema", value)
        return [(loc, problem)] if problem else []
    if isinstance(value, Mapping) and value:
        unknown = [k for k in value if k not in MATCHERS]
        typos = [
            k for k in unknown if difflib.get_close_matches(str(k), MATCHERS, n=1, cutoff=0.75)
        ]
        # Unknown keys that all look like misspelt matchers are typos ({gtee: 1}, {gte: 1,
        # ltt: 5}); one that does not ({name: x, type: y}) makes the mapping an object to
        # compare with. A body/subset object needs a real matcher beside the typo.
        mixed = len(unknown) < len(value)
        if unknown and len(typos) == len(unknown) and (mixed or key not in ("body", "subset")):
            hint = "" if mixed else " (to compare with an object, write {eq: {...}})"
            for name in typos:
                message = f"unknown matcher {name!r}{_did_you_mean(str(name), MATCHERS)}{hint}"
                problems.append(((*loc, name), message))
            return problems
        if not unknown:
            for matcher, operand in value.items():
                problem = _operand_problem(matcher, operand)
                if problem:
                    problems.append(((*loc, matcher), problem))
                if matcher == "len" and is_matcher_mapping(operand):
                    problems.extend(_check_value("len", operand, (*loc, matcher)))
    return problems


def check_spec(spec: Mapping[str, Any], result_fields: Sequence[str]) -> list[tuple[Location, str]]:
    """Problems in an ``assert`` mapping found without running anything, as (location, message).

    Locations are inside the mapping: ``("status",)``, ``("$.price", "gte")``, ``("that", 1)``.
    """
    problems: list[tuple[Location, str]] = []
    for raw_key, value in spec.items():
        key = str(raw_key)
        loc: Location = (key,)
        if key == "that":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list):
                problems.append((loc, "that: needs an expression or a list of expressions"))
                continue
            for index, expression in enumerate(items):
                if not isinstance(expression, str):
                    problems.append(((key, index), "an expression must be text"))
                    continue
                problem = expression_syntax_error(expression)
                if problem:
                    problems.append(((key, index), problem))
            continue
        if key.startswith("$"):
            problem = jsonpath.path_error(key)
            if problem:
                problems.append((loc, problem))
        elif key not in SPECIAL_KEYS and not is_template(key):
            head = key.partition(".")[0]
            if head not in result_fields:
                choices = [*result_fields, *SPECIAL_KEYS]
                hint = _did_you_mean(head, choices)
                if not hint and head in MATCHERS:
                    hint = " (a matcher goes under a key: '$.price': {gte: 10})"
                known = ", ".join(result_fields) or "none"
                problems.append(
                    (
                        loc,
                        f"unknown result field {head!r}{hint}; fields: {known}; "
                        "JSONPath keys start with '$'",
                    )
                )
                continue
        problems.extend(_check_value(key, value, loc))
    return problems
