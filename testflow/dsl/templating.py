"""``{{ expression }}`` templates in flows: a Jinja2 sandbox with native types.

Rules (ARCHITECTURE.md section 3):

- A string that is exactly one ``{{ expr }}`` evaluates to the expression's own value, of its
  own type: ``"{{ price }}"`` is an int, ``"{{ order }}"`` a dict, ``"{{ '007' }}"`` the string
  ``'007'`` (unlike ``jinja2.nativetypes``, nothing is re-parsed with ``literal_eval``).
- Any other template (text around, several expressions, ``{% %}`` blocks) renders to a string.
- Undefined names fail loudly (:class:`TemplateError` naming the variable); ``| default(x)``
  and ``is defined`` still work.
- Templates run in Jinja2's ``ImmutableSandboxedEnvironment``: no dunder access, no mutation
  of lists/dicts, and huge ``*``/``**`` results are refused, so a flow file cannot escape or
  exhaust the worker.
- Everything that varies (randomness, clock, uuids, environment, secrets) comes from a
  :class:`TemplateRuntime`, so a workflow passes ``workflow.random()``, ``workflow.now`` and
  ``workflow.uuid4`` and stays deterministic on replay.

The Jinja environment is a module-level singleton (building one is slow) and compiled
templates are cached by source text.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import random
import uuid
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2 import runtime as _jinja_runtime
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from testflow.dsl import template_functions as fn
from testflow.dsl.fake import FakeData
from testflow.dsl.host_thread import on_host_thread
from testflow.dsl.template_functions import TemplateError, Undefined

__all__ = [
    "BUILTIN_NAMES",
    "Renderer",
    "TemplateError",
    "TemplateRuntime",
    "expression_names",
    "expression_syntax_error",
    "is_template",
    "precompile",
    "referenced_env",
    "referenced_names",
    "referenced_secrets",
    "syntax_error",
]

# Results of `*` and `**` larger than this are refused: `{{ 'x' * 10**10 }}` would otherwise
# allocate gigabytes inside the worker.
MAX_SEQUENCE_LENGTH = 1_000_000
MAX_POWER_BITS = 4096


def _template_import(
    name: str,
    globals: Any = None,
    locals: Any = None,
    fromlist: Any = (),
    level: int = 0,
) -> Any:
    """The only import compiled template code makes: ``from jinja2.runtime import ...``.

    Jinja executes each compiled template as a small module whose first line imports
    ``jinja2.runtime``. Inside the Temporal workflow sandbox that import would load a second
    copy of ``jinja2.runtime`` (only the top-level ``jinja2`` is passed through), whose
    ``missing`` sentinel differs from the one the passed-through ``Context`` returns, and
    undefined variables then render as the text "missing" instead of failing. Handing out the
    module bound when this one was imported (not looked up as ``jinja2.runtime`` now: the
    sandbox's import rebinds that attribute of the shared package) makes templates behave the
    same inside and outside the sandbox.
    """
    if name == "jinja2.runtime":
        return _jinja_runtime
    raise ImportError(f"templates cannot import {name!r}")


_TEMPLATE_BUILTINS = {**vars(builtins), "__import__": _template_import}


class _Template(Template):
    @classmethod
    def from_code(
        cls,
        environment: Any,
        code: Any,
        globals: Any,
        uptodate: Any = None,
    ) -> Any:
        # Template.from_code, with the builtins above (see _template_import).
        namespace = {
            "environment": environment,
            "__file__": code.co_filename,
            "__builtins__": _TEMPLATE_BUILTINS,
        }
        exec(code, namespace)
        template = cls._from_namespace(environment, namespace, globals)
        template._uptodate = uptodate
        return template


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with size limits on the two operators that can build huge values."""

    intercepted_binops = frozenset({"*", "**"})
    template_class = _Template

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | bytes | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > MAX_SEQUENCE_LENGTH
                ):
                    raise SecurityError(f"result of '*' longer than {MAX_SEQUENCE_LENGTH}")
        elif (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and max(left.bit_length(), 1) * right > MAX_POWER_BITS
        ):
            raise SecurityError(f"result of '**' larger than {MAX_POWER_BITS} bits")
        return super().call_binop(context, operator, left, right)


def _build_environment() -> _Environment:
    env = _Environment(undefined=Undefined, autoescape=False, keep_trailing_newline=False)
    env.filters.update(fn.FILTERS)
    env.globals.update(fn.STATIC_GLOBALS)
    return env


_ENV = _build_environment()

# Functions whose result depends on the runtime; bound per Renderer.
_RUNTIME_NAMES = frozenset({"random", "uuid", "now", "env", "secret", "fake"})

BUILTIN_NAMES: frozenset[str] = frozenset(_RUNTIME_NAMES | set(_ENV.globals))
"""Names every template can use without defining them; flows must not shadow them."""


@dataclass
class TemplateRuntime:
    """Everything a template may read that is not in the flow's context.

    Injected so that the workflow renders deterministically: it builds one with
    ``rng=workflow.random()``, ``clock=workflow.now``, ``uuid4=workflow.uuid4``.
    """

    rng: random.Random
    clock: Callable[[], datetime]
    uuid4: Callable[[], uuid.UUID]
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls) -> TemplateRuntime:
        """Real randomness, wall clock and ``os.environ``: for activities and the CLI."""
        return cls(
            rng=random.Random(),
            clock=lambda: datetime.now(UTC),
            uuid4=uuid.uuid4,
            env=os.environ,
        )


@dataclass(frozen=True)
class _Compiled:
    """A compiled template: ``native`` ones store their single expression's value."""

    template: Any  # jinja2.Template; typed Any because Jinja's Template stubs are loose
    native: bool
    source: str


def is_template(text: str) -> bool:
    """Cheap test: does this string contain Jinja markup at all?"""
    return "{{" in text or "{%" in text or "{#" in text


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression node when the template is exactly one ``{{ expr }}``, else None."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts = tree.body[0].nodes
    if len(parts) != 1 or isinstance(parts[0], nodes.TemplateData):
        return None
    return parts[0]


# The variable an expression template stores its value in; not a name users can write, so a
# context variable called ``result`` (assertions have one) is never shadowed.
_RESULT = "_tf_value"


def _expression_template(expr: nodes.Expr) -> Any:
    """Compile an expression into a template that stores its value as ``result``.

    The same trick as ``Environment.compile_expression``, kept here so the context can be
    passed without copying it.
    """
    body = [nodes.Assign(nodes.Name(_RESULT, "store"), expr, lineno=1)]
    return _ENV.from_string(nodes.Template(body, lineno=1))


# Parsing and compiling run on the host thread (see testflow.dsl.host_thread: Jinja imports
# lazily while compiling, which the workflow sandbox would turn into private module copies).


@lru_cache(maxsize=4096)
def _compile(source: str) -> _Compiled:
    return on_host_thread(_compile_now, source)


def _compile_now(source: str) -> _Compiled:
    tree = _ENV.parse(source)
    expr = _single_expression(tree)
    if expr is not None:
        return _Compiled(_expression_template(expr), True, source)
    return _Compiled(_ENV.from_string(tree), False, source)


@lru_cache(maxsize=4096)
def _compile_bare(expression: str) -> _Compiled:
    """Compile a bare expression (``x > 1``) as used by ``when:`` and ``that:``."""
    return on_host_thread(_compile_bare_now, expression)


def _compile_bare_now(expression: str) -> _Compiled:
    parser = Parser(_ENV, expression, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        token = parser.stream.current
        raise TemplateSyntaxError(
            f"unexpected {token.value!r} after the expression", token.lineno, None, None
        )
    expr.set_environment(_ENV)
    return _Compiled(_expression_template(expr), True, expression)


def _check_defined(value: Any, depth: int = 0) -> None:
    """Raise for an undefined value a native result would otherwise smuggle out."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if depth > 20:
        return
    if isinstance(value, dict):
        for item in value.values():
            _check_defined(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_defined(item, depth + 1)


def _format_syntax_error(error: TemplateSyntaxError) -> str:
    return f"syntax error: {error.message} (line {error.lineno})"


class Renderer:
    """Renders values and evaluates expressions with one :class:`TemplateRuntime`."""

    def __init__(self, runtime: TemplateRuntime) -> None:
        self.runtime = runtime
        self._builtins: dict[str, Any] = {
            "random": fn.RandomFunctions(runtime.rng),
            "uuid": lambda: str(runtime.uuid4()),
            "now": fn.make_now(runtime.clock),
            "env": fn.EnvVars(runtime.env),
            "secret": fn.make_secret(runtime.secrets),
            "fake": FakeData(runtime.rng),
        }

    def _scope(self, context: Mapping[str, Any]) -> ChainMap[str, Any]:
        # Built-ins win over context variables of the same name (they are reserved); the
        # ChainMap avoids copying a large context for every string.
        return ChainMap(self._builtins, context, _ENV.globals)  # type: ignore[arg-type]

    def render(self, value: Any, context: Mapping[str, Any]) -> Any:
        """Render every template string inside ``value`` (dicts, lists, tuples, recursively)."""
        return self._render(value, self._scope(context))

    def _render(self, value: Any, scope: ChainMap[str, Any]) -> Any:
        if isinstance(value, str):
            return self._render_string(value, scope) if is_template(value) else value
        if isinstance(value, dict):
            return {(self._render_key(k, scope)): self._render(v, scope) for k, v in value.items()}
        if isinstance(value, list):
            return [self._render(item, scope) for item in value]
        if isinstance(value, tuple):
            return tuple(self._render(item, scope) for item in value)
        return value

    def _render_key(self, key: Any, scope: ChainMap[str, Any]) -> Any:
        if isinstance(key, str) and is_template(key):
            return str(self._render_string(key, scope))
        return key

    def _render_string(self, source: str, scope: ChainMap[str, Any]) -> Any:
        try:
            compiled = _compile(source)
        except TemplateSyntaxError as error:
            raise TemplateError(_format_syntax_error(error), expression=source) from None
        return self._run(compiled, scope)

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> Any:
        """Evaluate a condition: ``"{{ x > 1 }}"`` or the bare ``"x > 1"``."""
        text = expression.strip()
        try:
            if is_template(text):
                compiled = _compile(text)
                if not compiled.native:
                    raise TemplateError(
                        "expected one expression, like 'x > 1' or '{{ x > 1 }}'",
                        expression=expression,
                    )
            else:
                compiled = _compile_bare(text)
        except TemplateSyntaxError as error:
            raise TemplateError(_format_syntax_error(error), expression=expression) from None
        return self._run(compiled, self._scope(context))

    def _run(self, compiled: _Compiled, scope: ChainMap[str, Any]) -> Any:
        template = compiled.template
        try:
            ctx = template.new_context(scope, shared=True)
            if compiled.native:
                for _ in template.root_render_func(ctx):
                    pass
                value = ctx.vars[_RESULT]
                _check_defined(value)
                return value
            return "".join(template.root_render_func(ctx))
        except TemplateError as error:
            raise error.with_expression(compiled.source) from None
        except SecurityError as error:
            raise TemplateError(
                f"refused by the template sandbox: {error}", expression=compiled.source
            ) from None
        except UndefinedError as error:
            raise TemplateError(
                str(error), variable=getattr(error, "variable", None), expression=compiled.source
            ) from None
        except Exception as error:  # any other failure of user code: 1/0, int('x')...
            raise TemplateError(
                f"{type(error).__name__}: {error}", expression=compiled.source
            ) from None


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if is_template(value):
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(key)
            yield from _walk_strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk_strings(item)


@lru_cache(maxsize=4096)
def _parse(source: str) -> nodes.Template | None:
    return on_host_thread(_parse_now, source)


def _parse_now(source: str) -> nodes.Template | None:
    try:
        return _ENV.parse(source)
    except TemplateSyntaxError:
        return None


@lru_cache(maxsize=4096)
def _parse_bare(expression: str) -> nodes.Template | None:
    return on_host_thread(_parse_bare_now, expression)


def _parse_bare_now(expression: str) -> nodes.Template | None:
    try:
        parser = Parser(_ENV, expression, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            return None
    except TemplateSyntaxError:
        return None
    tree = nodes.Template([nodes.Output([expr])], lineno=1)
    tree.set_environment(_ENV)
    return tree


def _trees(value: Any) -> Iterator[nodes.Template]:
    for source in _walk_strings(value):
        tree = _parse(source)
        if tree is not None:
            yield tree


def precompile(value: Any) -> int:
    """Compile every template inside ``value`` now; returns how many there were.

    Compiling costs ~1-5 ms per new template (more inside the workflow sandbox, where the
    workflow thread waits for the host thread). A worker can call this on a flow before
    starting it, so that a flow with hundreds of templates never keeps one workflow task busy
    long enough to trip Temporal's 2-second deadlock detector. Syntax errors are skipped here
    (rendering reports them).
    """
    count = 0
    for source in _walk_strings(value):
        count += 1
        with contextlib.suppress(TemplateSyntaxError):
            _compile(source)
    return count


def referenced_names(value: Any) -> set[str]:
    """Context variables the templates inside ``value`` read (built-ins excluded)."""
    names: set[str] = set()
    for tree in _trees(value):
        names |= meta.find_undeclared_variables(tree)
    return names - BUILTIN_NAMES


def expression_names(expression: str) -> set[str]:
    """Like :func:`referenced_names` for a ``when:``/``that:`` expression (bare or braced)."""
    text = expression.strip()
    tree = _parse(text) if is_template(text) else _parse_bare(text)
    if tree is None:
        return set()
    return meta.find_undeclared_variables(tree) - BUILTIN_NAMES


def _constant_argument(tree: nodes.Template, owner: str) -> Iterator[str]:
    """Constant names read as ``owner.NAME`` / ``owner['NAME']`` / ``owner('NAME')``."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Call)):
        target = getattr(node, "node", None)
        if not (isinstance(target, nodes.Name) and target.name == owner):
            continue
        if isinstance(node, nodes.Getattr):
            yield node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            yield str(node.arg.value)
        elif isinstance(node, nodes.Call) and node.args and isinstance(node.args[0], nodes.Const):
            yield str(node.args[0].value)


def referenced_env(value: Any) -> set[str]:
    """Environment variables read as ``env.NAME`` (the workflow snapshots just these)."""
    return {name for tree in _trees(value) for name in _constant_argument(tree, "env")}


def referenced_secrets(value: Any) -> set[str]:
    """Secret names read as ``secret('NAME')`` (resolved outside the workflow)."""
    return {name for tree in _trees(value) for name in _constant_argument(tree, "secret")}


def syntax_error(text: str) -> str | None:
    """``None`` when the string's templates compile, else a readable message."""
    if not isinstance(text, str) or not is_template(text):
        return None
    try:
        _compile(text)
    except TemplateSyntaxError as error:
        return _format_syntax_error(error)
    return None


def expression_syntax_error(expression: str) -> str | None:
    """Like :func:`syntax_error` for a ``when:``/``that:`` expression (bare or braced)."""
    text = expression.strip()
    if is_template(text):
        message = syntax_error(text)
        if message is None and not _compile(text).native:
            return "expected one expression, like 'x > 1' or '{{ x > 1 }}'"
        return message
    try:
        _compile_bare(text)
    except TemplateSyntaxError as error:
        return _format_syntax_error(error)
    return None
