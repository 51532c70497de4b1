"""The functions and filters templates can call (``random.int``, ``sha256``, ``| tojson``...).

Kept apart from :mod:`testflow.dsl.templating` (which owns the sandbox and rendering) so the
list of what a flow can call reads in one place. Nothing here does I/O; whatever varies comes
in through the runtime objects (``RandomFunctions(rng)``, ``make_now(clock)``...).
"""

from __future__ import annotations

import base64 as _base64
import builtins
import hashlib
import hmac as _hmac
import json
import string
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NoReturn

from jinja2 import StrictUndefined
from jinja2.exceptions import TemplateRuntimeError, UndefinedError
from jinja2.utils import missing

from testflow.dsl import jsonpath as _jsonpath

__all__ = [
    "FILTERS",
    "STATIC_GLOBALS",
    "EnvVars",
    "RandomFunctions",
    "TemplateError",
    "Undefined",
    "make_now",
    "make_secret",
]


class TemplateError(Exception):
    """A template that could not be rendered: syntax, undefined variable, sandbox refusal..."""

    def __init__(self, message: str, *, variable: str | None = None, expression: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.variable = variable
        self.expression = expression

    def with_expression(self, expression: str) -> TemplateError:
        """This error, with the template source filled in when a function raised it."""
        if not self.expression:
            self.expression = expression
        return self

    def __str__(self) -> str:
        if self.expression:
            return f"{self.message} in {self.expression!r}"
        return self.message


def _named_exception(
    exc: type[TemplateRuntimeError], variable: str | None
) -> Callable[[str], TemplateRuntimeError]:
    """An exception factory that tags the error with the undefined name (for TemplateError)."""

    def make(message: str) -> TemplateRuntimeError:
        error = exc(message)
        error.variable = variable  # type: ignore[attr-defined]
        return error

    return make


class Undefined(StrictUndefined):
    """StrictUndefined whose errors remember which name was undefined."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        factory = _named_exception(exc, name)
        super().__init__(hint, obj, name, factory)  # type: ignore[arg-type]


class RandomFunctions:
    """``random.int(1, 6)``, ``random.float(0, 1)``, ``random.choice([...])``, ``random.string(8)``."""

    __slots__ = ("_rng",)

    def __init__(self, rng: Any) -> None:
        self._rng = rng

    def int(self, low: builtins.int, high: builtins.int) -> builtins.int:
        """An integer in [low, high], both ends included."""
        return builtins.int(self._rng.randint(low, high))

    def float(self, low: builtins.float = 0.0, high: builtins.float = 1.0) -> builtins.float:
        return builtins.float(self._rng.uniform(low, high))

    def choice(self, items: Sequence[Any]) -> Any:
        if not items:
            raise TemplateError("random.choice() needs a non-empty list")
        return self._rng.choice(list(items))

    def string(
        self, length: builtins.int = 12, alphabet: str = string.ascii_letters + string.digits
    ) -> str:
        if length < 0 or length > 1_000_000:
            raise TemplateError("random.string() length must be between 0 and 1000000")
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def digits(self, length: builtins.int = 6) -> str:
        return self.string(length, string.digits)

    def hex(self, length: builtins.int = 16) -> str:
        return self.string(length, "0123456789abcdef")

    def __repr__(self) -> str:
        return "<random functions>"


class EnvVars:
    """``env.NAME`` / ``env['NAME']``; a missing name is undefined, so ``| default()`` works."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def _lookup(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return Undefined(hint=f"environment variable {name!r} is not set", name=f"env.{name}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._lookup(name)

    def __getitem__(self, name: str) -> Any:
        return self._lookup(name)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __repr__(self) -> str:  # never show values: they may be sensitive
        return "<environment variables>"


def make_now(clock: Callable[[], datetime]) -> Callable[..., Any]:
    def now(fmt: str | None = None) -> Any:
        """``now()`` a datetime, ``now('iso')`` ISO 8601 text, ``now('%Y-%m-%d')`` strftime."""
        moment = clock()
        if fmt is None:
            return moment
        if fmt == "iso":
            return moment.isoformat()
        return moment.strftime(fmt)

    return now


def make_secret(secrets: Mapping[str, str]) -> Callable[[str], str]:
    def secret(name: str) -> str:
        if name not in secrets:
            raise TemplateError(f"unknown secret {name!r}", variable=name)
        return secrets[name]

    return secret


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return str(value).encode()


def b64encode(value: Any, urlsafe: bool = False) -> str:
    raw = _to_bytes(value)
    encoded = _base64.urlsafe_b64encode(raw) if urlsafe else _base64.b64encode(raw)
    return encoded.decode("ascii")


def b64decode(value: Any, urlsafe: bool = False) -> str:
    raw = _to_bytes(value)
    raw += b"=" * (-len(raw) % 4)  # tolerate stripped padding (JWT segments)
    try:
        # validate=True: the default silently drops characters that are not base64.
        decoded = _base64.b64decode(raw, altchars=b"-_" if urlsafe else None, validate=True)
        return decoded.decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise TemplateError(f"b64decode: not base64-encoded UTF-8 text ({error})") from None


def _digest(raw: bytes, encoding: str) -> str:
    if encoding == "hex":
        return raw.hex()
    if encoding == "base64":
        return _base64.b64encode(raw).decode("ascii")
    raise TemplateError(f"digest encoding must be 'hex' or 'base64', not {encoding!r}")


def hash_value(value: Any, algo: str = "sha256", encoding: str = "hex") -> str:
    try:
        digest = hashlib.new(algo, _to_bytes(value)).digest()
    except ValueError:
        raise TemplateError(f"unknown hash algorithm {algo!r}") from None
    return _digest(digest, encoding)


def sha256(value: Any, encoding: str = "hex") -> str:
    return hash_value(value, "sha256", encoding)


def hmac(key: Any, message: Any, algo: str = "sha256", encoding: str = "hex") -> str:
    """HMAC of ``message`` with ``key``: hex by default, ``encoding='base64'`` for Shopify-style."""
    try:
        digest = _hmac.new(_to_bytes(key), _to_bytes(message), algo).digest()
    except ValueError:
        raise TemplateError(f"unknown hash algorithm {algo!r}") from None
    return _digest(digest, encoding)


def jsonpath(document: Any, path: str) -> Any:
    """A singular path (``$.a.b``) gives its value; any other path the list of matches."""
    try:
        if _jsonpath.is_singular(path):
            found = _jsonpath.find_all(document, path)
            if not found:
                return Undefined(hint=f"JSONPath {path!r} matched nothing", name=path)
            return found[0]
        return _jsonpath.find_all(document, path)
    except _jsonpath.JSONPathError as error:
        raise TemplateError(error.message) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def tojson(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Plain JSON (Jinja's own ``tojson`` HTML-escapes ``<>&'``, wrong for API payloads)."""
    return json.dumps(value, indent=indent, sort_keys=sort_keys, default=_json_default)


def fromjson(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError) as error:
        raise TemplateError(f"fromjson: not JSON text ({error})") from None


class _NoDefault:
    pass


_NO_DEFAULT: Any = _NoDefault()


def to_int(value: Any, default: Any = _NO_DEFAULT, base: int = 10) -> Any:
    """Like Jinja's ``int`` filter, but a failed conversion is an error unless a default is given.

    Jinja silently turns ``'abc' | int`` into 0, which would hide broken test data.
    """
    try:
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text, base)
            except ValueError:
                return int(float(text))
        return int(value)
    except (TypeError, ValueError, OverflowError):
        if default is _NO_DEFAULT:
            raise TemplateError(f"cannot convert {value!r} to int") from None
        return default


def to_float(value: Any, default: Any = _NO_DEFAULT) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        if default is _NO_DEFAULT:
            raise TemplateError(f"cannot convert {value!r} to float") from None
        return default


def isoformat(value: Any) -> str:
    if not isinstance(value, datetime | date):
        raise TemplateError(f"isoformat needs a date or datetime, not {type(value).__name__}")
    return value.isoformat()


def strftime(value: Any, fmt: str) -> str:
    if not isinstance(value, datetime | date):
        raise TemplateError(f"strftime needs a date or datetime, not {type(value).__name__}")
    return value.strftime(fmt)


def _fail(message: str) -> NoReturn:
    raise TemplateError(message)


FILTERS: dict[str, Callable[..., Any]] = {
    "tojson": tojson,
    "fromjson": fromjson,
    "int": to_int,
    "float": to_float,
    "b64encode": b64encode,
    "base64": b64encode,
    "b64decode": b64decode,
    "sha256": sha256,
    "hash": hash_value,
    "isoformat": isoformat,
    "strftime": strftime,
    "jsonpath": jsonpath,
}

STATIC_GLOBALS: dict[str, Any] = {
    "base64": b64encode,
    "b64encode": b64encode,
    "b64decode": b64decode,
    "sha256": sha256,
    "hash": hash_value,
    "hmac": hmac,
    "jsonpath": jsonpath,
    "tojson": tojson,
    "fromjson": fromjson,
    "fail": _fail,
    "int": to_int,
    "float": to_float,
    "str": str,
    "bool": bool,
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sorted": sorted,
}
