"""Parse YAML or JSON text into plain data plus the position of every key and value.

YAML goes through libyaml's composer (``yaml.compose``-style node graph with marks) and is
turned into data by a small walk of our own, so that each value is recorded under its path
(``steps[0].request.url``). The resolver follows the YAML 1.2 core schema rather than 1.1:
``yes``/``no``/``on``/``off`` stay strings, timestamps stay strings, ``0o17`` is octal and
``1:30`` is not a sexagesimal number, so a YAML flow and its JSON twin load to the same data.
Mapping keys are always strings (``200: ok`` gives the key ``"200"``), as in JSON.

JSON goes through a tiny recursive-descent parser built on the standard library's string and
number scanners, so positions are exact there too (tabs, ``\\u2028`` inside strings...).
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml.nodes
from pydantic import ValidationError
from yaml.resolver import BaseResolver

from testflow.dsl.diagnostics import JSON_LINE_BREAK, LINE_BREAK

try:  # libyaml is ~10x faster; the pure parser gives the same marks
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


MAX_DEPTH = 200
MAX_ALIAS_NODES = 100_000
"""Nodes reached again through aliases; a document beyond this is an alias bomb."""
Position = tuple[int, int]

_T = "tag:yaml.org,2002:"
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$\-]*$")


class SourceError(Exception):
    """A file that cannot be parsed at all (syntax error), at a 1-based line and column."""

    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


@dataclass
class SourceDoc:
    """Parsed data, the positions of its values and keys, and non-fatal problems."""

    data: Any
    values: dict[str, Position] = field(default_factory=dict)
    keys: dict[str, Position] = field(default_factory=dict)
    problems: list[tuple[str, Position, str]] = field(default_factory=list)


def join_path(base: str, key: str | int) -> str:
    """``steps`` + 0 -> ``steps[0]``; ``request`` + ``url`` -> ``request.url``; odd keys quoted."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{base}.{key}" if base else key
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"


def format_loc(loc: tuple[str | int, ...], base: str = "") -> str:
    path = base
    for part in loc:
        path = join_path(path, part)
    return path


def first_problem(exc: ValidationError) -> tuple[str, str]:
    """The JSON path (empty at the root) and message of a pydantic error's first problem, for
    one-line messages; never the input value, which may be a secret."""
    first = exc.errors(include_input=False)[0]
    return format_loc(tuple(first["loc"])), first["msg"]


def parse_source(text: str, *, json_syntax: bool = False) -> SourceDoc:
    """Parse ``text`` (YAML, or strict JSON when ``json_syntax``); raise SourceError on syntax errors."""
    return _parse_json(text) if json_syntax else _parse_yaml(text)


# --- YAML ---------------------------------------------------------------------------------


class _Resolver(BaseResolver):
    """YAML 1.2 core schema scalars (plus the ``<<`` merge key)."""


_Resolver.add_implicit_resolver(
    _T + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    _T + "null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Resolver.add_implicit_resolver(
    _T + "int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    _T + "float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(_T + "merge", re.compile(r"^<<$"), ["<"])


class _Dumper(yaml.SafeDumper):
    """Quotes every string that YAML 1.1 *or* our 1.2 core resolver would read as non-string."""


_Dumper.yaml_implicit_resolvers = {
    first: list(yaml.SafeDumper.yaml_implicit_resolvers.get(first, []))
    + list(_Resolver.yaml_implicit_resolvers.get(first, []))
    for first in set(yaml.SafeDumper.yaml_implicit_resolvers)
    | set(_Resolver.yaml_implicit_resolvers)
}


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    # PyYAML folds NEL/LS/PS inside single-quoted scalars into spaces; escape them instead.
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar(_T + "str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """YAML text that :func:`parse_source` reads back to ``data`` (JSON-like data only)."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


class _Composer(_Parser, _Resolver):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Resolver.__init__(self)


def _parse_yaml(text: str) -> SourceDoc:
    try:
        loader = _Composer(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise SourceError(f"YAML syntax error: {problem}{context}", line, col) from None
    except yaml.reader.ReaderError as exc:
        line, col = _offset_position(text, exc.position)
        raise SourceError(f"YAML syntax error: {exc.reason}", line, col) from None
    except UnicodeEncodeError as exc:  # lone surrogates cannot reach libyaml
        line, col = _offset_position(text, exc.start)
        raise SourceError("invalid character (an unpaired UTF-16 surrogate)", line, col) from None
    except RecursionError:
        raise SourceError("the document is nested too deeply", 1, 1) from None
    doc = SourceDoc(data=None)
    if node is not None:
        doc.data = _YamlWalk(doc).build(node, "", 0)
    return doc


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _YamlWalk:
    def __init__(self, doc: SourceDoc) -> None:
        self.doc = doc
        self.active: set[int] = set()
        self.built: set[int] = set()
        self.count = 0

    def build(self, node: yaml.Node, path: str, depth: int) -> Any:
        if id(node) in self.built:  # an alias: count what it expands to (billion laughs)
            self.count += 1
        self.built.add(id(node))
        if self.count > MAX_ALIAS_NODES:
            raise SourceError(
                "the document is too large (aliases expand to too many nodes)", *_mark(node)
            )
        if depth > MAX_DEPTH:
            raise SourceError(
                f"the document is nested deeper than {MAX_DEPTH} levels", *_mark(node)
            )
        self.doc.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            raise SourceError("a YAML alias refers to a node that contains it", *_mark(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                self.check_tag(node, "seq", path)
                return [
                    self.build(item, join_path(path, i), depth + 1)
                    for i, item in enumerate(node.value)
                ]
            assert isinstance(node, yaml.MappingNode)
            self.check_tag(node, "map", path)
            return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def check_tag(self, node: yaml.Node, kind: str, path: str) -> None:
        if node.tag not in (_T + kind, "!"):
            self.doc.problems.append(
                (path, _mark(node), f"unsupported YAML tag {_short(node.tag)!r}")
            )

    def mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _T + "merge" and isinstance(key_node, yaml.ScalarNode):
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    value = self.build(source, path, depth + 1)
                    if not isinstance(value, dict):
                        self.doc.problems.append(
                            (path, _mark(source), "a '<<' merge needs a mapping")
                        )
                        continue
                    for k, v in value.items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError(
                    "a mapping key must be a plain value, not a list or mapping", *_mark(key_node)
                )
            key = str(key_node.value)
            child = join_path(path, key)
            if key in out:
                line, _col = self.doc.keys.get(child, (0, 0))
                self.doc.problems.append(
                    (
                        child,
                        _mark(key_node),
                        f"duplicate key {key!r} (first defined on line {line})",
                    )
                )
                continue
            self.doc.keys[child] = _mark(key_node)
            self.doc.values[child] = _mark(value_node)
            out[key] = self.build(value_node, child, depth + 1)
        for k, v in merged.items():
            out.setdefault(k, v)
        return out

    def scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        tag, value = node.tag, node.value
        if tag in (_T + "str", "!"):
            return value
        if tag == _T + "null":
            return None
        if tag == _T + "bool":
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
        elif tag == _T + "int":
            try:
                return _yaml_int(value)
            except ValueError:
                pass
        elif tag == _T + "float":
            try:
                return _yaml_float(value)
            except ValueError:
                pass
        else:
            self.doc.problems.append((path, _mark(node), f"unsupported YAML tag {_short(tag)!r}"))
            return value
        self.doc.problems.append(
            (path, _mark(node), f"{value!r} is not a valid {tag.rsplit(':', 1)[-1]}")
        )
        return value


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_T) if tag.startswith(_T) else tag


def _yaml_int(text: str) -> int:
    value = text.replace("_", "")
    sign = -1 if value.startswith("-") else 1
    value = value.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if value.startswith(prefix):
            return sign * int(value[2:], base)
    return sign * int(value, 10)


def _yaml_float(text: str) -> float:
    value = text.replace("_", "").lower()
    if value.lstrip("+-") == ".inf":
        return float("-inf") if value.startswith("-") else float("inf")
    if value == ".nan":
        return float("nan")
    return float(value)


# --- JSON ---------------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = json.scanner.NUMBER_RE


class _LineIndex:
    """Offsets -> 1-based (line, column), with the same line breaks as the snippets."""

    def __init__(self, text: str, breaks: re.Pattern[str] = JSON_LINE_BREAK) -> None:
        self.starts = [0] + [m.end() for m in breaks.finditer(text)]

    def __call__(self, offset: int) -> Position:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1


def _offset_position(text: str, offset: int) -> Position:
    """For YAML reader errors: count lines the way YAML does."""
    return _LineIndex(text, LINE_BREAK)(offset)


def _parse_json(text: str) -> SourceDoc:
    doc = SourceDoc(data=None)
    index = _LineIndex(text)
    parser = _JsonParser(text, doc, index)
    try:
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        if pos == len(text):
            return doc
        doc.data, pos = parser.value(pos, "", 0)
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos != len(text):
            raise SourceError("JSON syntax error: extra data after the document", *index(pos))
    except json.JSONDecodeError as exc:
        raise SourceError(f"JSON syntax error: {exc.msg.lower()}", *index(exc.pos)) from None
    except RecursionError:
        raise SourceError("the document is nested too deeply", 1, 1) from None
    return doc


class _JsonParser:
    def __init__(self, text: str, doc: SourceDoc, index: _LineIndex) -> None:
        self.text, self.doc, self.index = text, doc, index

    def fail(self, message: str, pos: int) -> SourceError:
        what = "the end of the file" if pos >= len(self.text) else repr(self.text[pos])
        return SourceError(f"JSON syntax error: {message}, found {what}", *self.index(pos))

    def skip(self, pos: int) -> int:
        return _WS.match(self.text, pos).end()  # type: ignore[union-attr]

    def value(self, pos: int, path: str, depth: int) -> tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise SourceError(
                f"the document is nested deeper than {MAX_DEPTH} levels", *self.index(pos)
            )
        self.doc.values.setdefault(path, self.index(pos))
        text = self.text
        char = text[pos : pos + 1]
        if char == "{":
            return self.obj(pos + 1, path, depth)
        if char == "[":
            return self.array(pos + 1, path, depth)
        if char == '"':
            return json.decoder.scanstring(text, pos + 1, True)  # type: ignore[attr-defined,no-any-return]
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, pos):
                return literal, pos + len(word)
        match = _NUMBER.match(text, pos)
        if match and match.end() > pos:
            integer, frac, exp = match.groups()
            if frac or exp:
                return float(integer + (frac or "") + (exp or "")), match.end()
            try:
                return int(integer), match.end()
            except ValueError:  # more digits than Python converts by default
                raise SourceError("number too large", *self.index(pos)) from None
        raise self.fail("expected a value", pos)

    def obj(self, pos: int, path: str, depth: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        pos = self.skip(pos)
        if self.text[pos : pos + 1] == "}":
            return out, pos + 1
        while True:
            if self.text[pos : pos + 1] != '"':
                raise self.fail("expected a key in double quotes", pos)
            key_pos = self.index(pos)
            key, pos = json.decoder.scanstring(self.text, pos + 1, True)  # type: ignore[attr-defined]
            pos = self.skip(pos)
            if self.text[pos : pos + 1] != ":":
                raise self.fail("expected ':'", pos)
            pos = self.skip(pos + 1)
            child = join_path(path, key)
            duplicate = key in out
            if duplicate:
                first = self.doc.keys[child][0]
                self.doc.problems.append(
                    (child, key_pos, f"duplicate key {key!r} (first defined on line {first})")
                )
            else:
                self.doc.keys[child] = key_pos
                self.doc.values[child] = self.index(pos)
            value, pos = self.value(pos, child, depth + 1)
            if not duplicate:
                out[key] = value
            pos = self.skip(pos)
            char = self.text[pos : pos + 1]
            if char == "}":
                return out, pos + 1
            if char != ",":
                raise self.fail("expected ',' or '}'", pos)
            pos = self.skip(pos + 1)

    def array(self, pos: int, path: str, depth: int) -> tuple[list[Any], int]:
        out: list[Any] = []
        pos = self.skip(pos)
        if self.text[pos : pos + 1] == "]":
            return out, pos + 1
        while True:
            value, pos = self.value(pos, join_path(path, len(out)), depth + 1)
            out.append(value)
            pos = self.skip(pos)
            char = self.text[pos : pos + 1]
            if char == "]":
                return out, pos + 1
            if char != ",":
                raise self.fail("expected ',' or ']'", pos)
            pos = self.skip(pos + 1)
