"""Templating: native types, strict undefined, the sandbox, determinism, every function."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testflow.dsl.templating import (
    BUILTIN_NAMES,
    Renderer,
    TemplateError,
    TemplateRuntime,
    expression_names,
    expression_syntax_error,
    precompile,
    referenced_env,
    referenced_names,
    referenced_secrets,
    syntax_error,
)

FIXED_NOW = datetime(2024, 5, 17, 10, 30, 0, tzinfo=UTC)


def make_runtime(seed: int = 42, **overrides: Any) -> TemplateRuntime:
    counter = iter(range(1, 1_000_000))
    values: dict[str, Any] = {
        "rng": random.Random(seed),
        "clock": lambda: FIXED_NOW,
        "uuid4": lambda: uuid.UUID(int=next(counter)),
        "env": {"ORDERS_URL": "http://orders.test", "EMPTY": ""},
        "secrets": {"ACME_TOKEN": "tok-123456"},
    }
    values.update(overrides)
    return TemplateRuntime(**values)


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(make_runtime())


CONTEXT = {
    "price": 42,
    "ratio": 0.5,
    "flag": True,
    "nothing": None,
    "order": {"id": "o-1", "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]},
    "code": "007",
    "name": "Ada",
}


# -- native types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ price }}", 42),
        ("{{ ratio }}", 0.5),
        ("{{ flag }}", True),
        ("{{ nothing }}", None),
        ("{{ order }}", CONTEXT["order"]),
        ("{{ order['items'] }}", CONTEXT["order"]["items"]),
        ("{{ code }}", "007"),  # stays text: no literal_eval re-parsing
        ("{{ '123' }}", "123"),
        ("{{ price + 1 }}", 43),
        ("{{ [price, code] }}", [42, "007"]),
        ("{{ {'a': price} }}", {"a": 42}),
        ("{{- price -}}", 42),
        ("{{ price }}\n", 42),  # YAML block scalars end with a newline
    ],
)
def test_single_expression_keeps_its_type(renderer: Renderer, template: str, expected: Any) -> None:
    result = renderer.render(template, CONTEXT)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("price={{ price }}", "price=42"),
        ("{{ price }}{{ price }}", "4242"),
        (" {{ price }}", " 42"),
        ("{% if flag %}yes{% else %}no{% endif %}", "yes"),
        ("{% for i in order['items'] %}{{ i.sku }}{% endfor %}", "ab"),
        ("no template here", "no template here"),
        ("{{ name }} has {{ order['items'] | length }} items", "Ada has 2 items"),
    ],
)
def test_mixed_text_renders_to_str(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CONTEXT) == expected


def test_render_recurses_into_structures_and_keeps_non_strings(renderer: Renderer) -> None:
    value = {
        "url": "{{ env.ORDERS_URL }}/orders",
        "json": {"price": "{{ price }}", "tags": ["{{ code }}", 3, None, True]},
        "pair": ("{{ price }}", "x"),
        "{{ name }}": "{{ flag }}",
        7: 1.5,
    }
    assert renderer.render(value, CONTEXT) == {
        "url": "http://orders.test/orders",
        "json": {"price": 42, "tags": ["007", 3, None, True]},
        "pair": (42, "x"),
        "Ada": True,
        7: 1.5,
    }


def test_render_does_not_mutate_its_input(renderer: Renderer) -> None:
    value = {"a": ["{{ price }}"]}
    renderer.render(value, CONTEXT)
    assert value == {"a": ["{{ price }}"]}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_native_round_trip_of_any_json_value(value: Any) -> None:
    rendered = Renderer(make_runtime()).render("{{ x }}", {"x": value})
    assert rendered == value
    assert type(rendered) is type(value)


@given(st.text())
def test_plain_text_without_markup_is_returned_unchanged(text: str) -> None:
    if "{{" in text or "{%" in text or "{#" in text:
        return
    assert Renderer(make_runtime()).render(text, {}) == text


# -- errors --------------------------------------------------------------------------------------


def test_undefined_variable_names_the_variable(renderer: Renderer) -> None:
    with pytest.raises(TemplateError) as info:
        renderer.render({"a": ["ok", "{{ orderId }}"]}, CONTEXT)
    assert info.value.variable == "orderId"
    assert info.value.expression == "{{ orderId }}"
    assert "'orderId' is undefined" in str(info.value)


@pytest.mark.parametrize(
    ("template", "variable"),
    [
        ("total: {{ missing + 1 }}", "missing"),
        ("{{ order.nope }}", "nope"),
        ("{{ [missing] }}", "missing"),
        ("{{ {'k': missing} }}", "missing"),
        ("{% if missing %}x{% endif %}", "missing"),
    ],
)
def test_undefined_is_an_error_everywhere(renderer: Renderer, template: str, variable: str) -> None:
    with pytest.raises(TemplateError) as info:
        renderer.render(template, CONTEXT)
    assert info.value.variable == variable


def test_default_and_defined_work_with_strict_undefined(renderer: Renderer) -> None:
    assert renderer.render("{{ missing | default('x') }}", CONTEXT) == "x"
    assert renderer.render("{{ missing is defined }}", CONTEXT) is False
    assert renderer.render("{{ order.nope | default(3) }}", CONTEXT) == 3


def test_syntax_error_is_a_template_error(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match="syntax error"):
        renderer.render("{{ price ", CONTEXT)
    with pytest.raises(TemplateError, match="syntax error"):
        renderer.render("{% if %}", CONTEXT)


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ 'abc' | int }}", "cannot convert 'abc' to int"),
        ("{{ 'abc' | float }}", "cannot convert 'abc' to float"),
        ("{{ 'not json' | fromjson }}", "fromjson"),
        ("{{ b64decode('***') }}", "b64decode"),
        ("{{ random.choice([]) }}", "non-empty"),
        ("{{ hash('x', 'nope') }}", "unknown hash algorithm"),
    ],
)
def test_failing_functions_raise_template_errors(
    renderer: Renderer, template: str, fragment: str
) -> None:
    with pytest.raises(TemplateError, match=fragment) as info:
        renderer.render(template, CONTEXT)
    assert info.value.expression == template


# -- the sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ order.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ random.__class__ }}",
        "{{ random._rng.seed(1) }}",
        "{{ env._values }}",
        "{{ fake._faker }}",
        "{{ order['items'].append(1) }}",
        "{{ order.update({'x': 1}) }}",
        "{{ order.clear() }}",
        "{{ 'x' * 100000000 }}",
        "{{ [1] * 100000000 }}",
        "{{ 2 ** 1000000 }}",
        "{{ '{0.__class__}'.format(price) }}",
        "prefix {{ ''.__class__.__base__ }}",
    ],
)
def test_sandbox_refuses_escapes_and_exhaustion(renderer: Renderer, payload: str) -> None:
    with pytest.raises(TemplateError) as info:
        renderer.render(payload, CONTEXT)
    assert info.value.expression == payload


def test_sandbox_refusal_says_so(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match="refused by the template sandbox"):
        renderer.render("{{ ''.__class__.__mro__ }}", CONTEXT)


def test_fake_exposes_only_data_providers(renderer: Renderer) -> None:
    for attribute in ("seed_instance", "random", "add_provider", "providers"):
        with pytest.raises(TemplateError):
            renderer.render(f"{{{{ fake.{attribute} }}}}", CONTEXT)


def test_range_is_bounded(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match="Range too big"):
        renderer.render("{{ range(10 ** 9) | list }}", CONTEXT)


# -- runtime functions ---------------------------------------------------------------------------


def test_random_functions(renderer: Renderer) -> None:
    for _ in range(50):
        n = renderer.render("{{ random.int(10, 100) }}", {})
        assert isinstance(n, int) and 10 <= n <= 100
        f = renderer.render("{{ random.float(1, 2) }}", {})
        assert isinstance(f, float) and 1 <= f <= 2
        assert renderer.render("{{ random.choice(['a', 'b']) }}", {}) in ("a", "b")
    s = renderer.render("{{ random.string(16) }}", {})
    assert isinstance(s, str) and len(s) == 16 and s.isalnum()
    assert renderer.render("{{ random.digits(6) }}", {}).isdigit()
    assert len(renderer.render("{{ random.hex(8) }}", {})) == 8


def test_uuid_and_now_come_from_the_runtime(renderer: Renderer) -> None:
    assert renderer.render("{{ uuid() }}", {}) == str(uuid.UUID(int=1))
    assert renderer.render("{{ uuid() }}", {}) == str(uuid.UUID(int=2))
    assert renderer.render("{{ now() }}", {}) == FIXED_NOW
    assert renderer.render("{{ now('iso') }}", {}) == "2024-05-17T10:30:00+00:00"
    assert renderer.render("{{ now() | isoformat }}", {}) == "2024-05-17T10:30:00+00:00"
    assert renderer.render("{{ now('%Y-%m-%d') }}", {}) == "2024-05-17"
    assert renderer.render("{{ now() | strftime('%H:%M') }}", {}) == "10:30"
    assert renderer.render("{{ now().year }}", {}) == 2024


def test_env_reads_the_snapshot_and_missing_names_are_undefined(renderer: Renderer) -> None:
    assert renderer.render("{{ env.ORDERS_URL }}", {}) == "http://orders.test"
    assert renderer.render("{{ env['ORDERS_URL'] }}", {}) == "http://orders.test"
    assert renderer.render("{{ env.EMPTY }}", {}) == ""
    assert renderer.render("{{ env.NOPE | default('http://localhost') }}", {}) == "http://localhost"
    assert renderer.render("{{ env.NOPE is defined }}", {}) is False
    with pytest.raises(TemplateError, match="environment variable 'NOPE' is not set") as info:
        renderer.render("{{ env.NOPE }}", {})
    assert info.value.variable == "env.NOPE"


def test_secret(renderer: Renderer) -> None:
    assert renderer.render("Bearer {{ secret('ACME_TOKEN') }}", {}) == "Bearer tok-123456"
    with pytest.raises(TemplateError, match="unknown secret 'NOPE'") as info:
        renderer.render("{{ secret('NOPE') }}", {})
    assert info.value.variable == "NOPE"


def test_encoding_and_hash_functions(renderer: Renderer) -> None:
    assert renderer.render("{{ base64('hello') }}", {}) == base64.b64encode(b"hello").decode()
    assert renderer.render("{{ 'hello' | b64encode }}", {}) == "aGVsbG8="
    assert renderer.render("{{ b64decode('aGVsbG8=') }}", {}) == "hello"
    assert renderer.render("{{ b64decode('aGVsbG8') }}", {}) == "hello"  # JWT-style, no padding
    assert renderer.render("{{ sha256('abc') }}", {}) == hashlib.sha256(b"abc").hexdigest()
    assert renderer.render("{{ 'abc' | sha256 }}", {}) == hashlib.sha256(b"abc").hexdigest()
    assert renderer.render("{{ hash('abc', 'md5') }}", {}) == hashlib.md5(b"abc").hexdigest()
    expected = hmac.new(b"key", b"msg", "sha256").hexdigest()
    assert renderer.render("{{ hmac('key', 'msg') }}", {}) == expected
    expected_512 = hmac.new(b"key", b"msg", "sha512").hexdigest()
    assert renderer.render("{{ hmac('key', 'msg', 'sha512') }}", {}) == expected_512
    b64 = base64.b64encode(hmac.new(b"k", b"m", "sha256").digest()).decode()
    assert renderer.render("{{ hmac('k', 'm', encoding='base64') }}", {}) == b64


def test_jsonpath_function(renderer: Renderer) -> None:
    assert renderer.render("{{ jsonpath(order, '$.id') }}", CONTEXT) == "o-1"
    assert renderer.render("{{ jsonpath(order, '$.items[*].sku') }}", CONTEXT) == ["a", "b"]
    assert renderer.render("{{ order | jsonpath('$.items[?@.qty > 1].sku') }}", CONTEXT) == ["a"]
    assert renderer.render("{{ jsonpath(order, '$.nope') | default('none') }}", CONTEXT) == "none"
    with pytest.raises(TemplateError, match="matched nothing"):
        renderer.render("{{ jsonpath(order, '$.nope') }}", CONTEXT)
    with pytest.raises(TemplateError, match="invalid JSONPath"):
        renderer.render("{{ jsonpath(order, 'items') }}", CONTEXT)


def test_json_filters_and_conversions(renderer: Renderer) -> None:
    assert renderer.render("{{ {'a': '<b>'} | tojson }}", {}) == '{"a": "<b>"}'  # not HTML-escaped
    assert renderer.render("{{ now() | tojson }}", {}) == '"2024-05-17T10:30:00+00:00"'
    assert renderer.render("{{ '{\"a\": [1]}' | fromjson }}", {}) == {"a": [1]}
    assert renderer.render("{{ '42' | int }}", {}) == 42
    assert renderer.render("{{ '4.7' | int }}", {}) == 4
    assert renderer.render("{{ 'x' | int(default=-1) }}", {}) == -1
    assert renderer.render("{{ '2.5' | float }}", {}) == 2.5
    assert renderer.render("{{ int('7') + len([1, 2]) }}", {}) == 9
    assert renderer.render("{{ str(5) }}", {}) == "5"


@pytest.mark.parametrize(
    "method", ["name", "email", "address", "iban", "company", "phone", "first_name", "city"]
)
def test_fake_data(renderer: Renderer, method: str) -> None:
    value = renderer.render(f"{{{{ fake.{method}() }}}}", {})
    assert isinstance(value, str) and value


def test_fake_email_looks_like_one(renderer: Renderer) -> None:
    assert "@" in renderer.render("{{ fake.email() }}", {})


# -- determinism ---------------------------------------------------------------------------------

EVERYTHING = {
    "n": "{{ random.int(1, 1000000) }}",
    "f": "{{ random.float(0, 1) }}",
    "c": "{{ random.choice(['a', 'b', 'c', 'd']) }}",
    "s": "{{ random.string(20) }}",
    "u": "{{ uuid() }}",
    "t": "{{ now('iso') }}",
    "name": "{{ fake.name() }}",
    "email": "{{ fake.email() }}",
    "iban": "{{ fake.iban() }}",
    "address": "{{ fake.address() }}",
    "company": "{{ fake.company() }}",
}


def test_same_seed_same_output_including_fake_data() -> None:
    first = Renderer(make_runtime(seed=7)).render(EVERYTHING, {})
    second = Renderer(make_runtime(seed=7)).render(EVERYTHING, {})
    other = Renderer(make_runtime(seed=8)).render(EVERYTHING, {})
    assert first == second
    assert first["n"] != other["n"] or first["s"] != other["s"]
    assert first["name"] != other["name"] or first["iban"] != other["iban"]


def test_fake_data_does_not_depend_on_other_renderers() -> None:
    """Another renderer using faker in between must not shift this one's sequence."""
    a = Renderer(make_runtime(seed=3))
    expected = [a.render("{{ fake.name() }}", {}) for _ in range(3)]
    b = Renderer(make_runtime(seed=3))
    noise = Renderer(make_runtime(seed=99))
    got = []
    for _ in range(3):
        noise.render("{{ fake.name() }} {{ fake.email() }}", {})
        got.append(b.render("{{ fake.name() }}", {}))
    assert got == expected


def test_default_runtime_is_real() -> None:
    runtime = TemplateRuntime.default()
    renderer = Renderer(runtime)
    a, b = renderer.render(["{{ uuid() }}", "{{ uuid() }}"], {})
    assert a != b
    now = renderer.render("{{ now() }}", {})
    assert isinstance(now, datetime) and now.tzinfo is not None


# -- evaluate (when / that) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("price > 10", True),
        ("{{ price > 100 }}", False),
        ("  price == 42  ", True),
        ("order['items'] | length == 2", True),
        ("code", "007"),
        ("missing is defined", False),
        ("flag and price < 50", True),
        ("'a' in name | lower", True),
    ],
)
def test_evaluate(renderer: Renderer, expression: str, expected: Any) -> None:
    assert renderer.evaluate(expression, CONTEXT) == expected


def test_evaluate_sees_a_context_variable_named_result(renderer: Renderer) -> None:
    assert renderer.evaluate("result.status == 201", {"result": {"status": 201}}) is True


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("price >", "syntax error"),
        ("price price", "unexpected"),
        ("{{ a }} and {{ b }}", "expected one expression"),
        ("missing > 1", "'missing' is undefined"),
        ("''.__class__", "refused by the template sandbox"),
    ],
)
def test_evaluate_errors(renderer: Renderer, expression: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match=fragment):
        renderer.evaluate(expression, CONTEXT)


# -- static analysis -------------------------------------------------------------------------------


def test_referenced_names() -> None:
    value = {
        "url": "{{ baseUrl }}/orders/{{ orderId }}",
        "n": "{{ random.int(1, 2) }} {{ uuid() }} {{ env.X }} {{ secret('S') }}",
        "loop": ["{% for item in items %}{{ item.sku }}{% endfor %}"],
        "{{ headerName }}": 1,
        "plain": "no templates",
        "broken": "{{ nope",
    }
    assert referenced_names(value) == {"baseUrl", "orderId", "items", "headerName"}
    assert referenced_names(3) == set()


def test_builtin_names_cover_the_runtime_functions() -> None:
    expected = {"random", "uuid", "now", "env", "secret", "fake", "base64", "sha256", "hmac"}
    assert expected | {"jsonpath"} <= BUILTIN_NAMES


def test_referenced_env_and_secrets() -> None:
    value = [
        "{{ env.ORDERS_URL | default('x') }}",
        "{{ env['OTHER'] }}",
        "{{ secret('ACME_TOKEN') }}",
        "{% if env.FLAG %}{{ secret('B') }}{% endif %}",
    ]
    assert referenced_env(value) == {"ORDERS_URL", "OTHER", "FLAG"}
    assert referenced_secrets(value) == {"ACME_TOKEN", "B"}


def test_expression_names() -> None:
    assert expression_names("a > b and c.d == 1") == {"a", "b", "c"}
    assert expression_names("{{ x }}") == {"x"}
    assert expression_names("random.int(1, 2) > n") == {"n"}


def test_syntax_error() -> None:
    assert syntax_error("{{ ok }} and {% if a %}b{% endif %}") is None
    assert syntax_error("plain") is None
    message = syntax_error("line one\n{{ a + }}")
    assert message is not None and "line 2" in message
    assert syntax_error("{% if a %}") is not None
    assert expression_syntax_error("a > 1") is None
    assert expression_syntax_error("a >") is not None
    assert expression_syntax_error("{{ a }} {{ b }}") is not None


# -- caching -------------------------------------------------------------------------------------


def test_compiled_templates_are_cached(renderer: Renderer) -> None:
    """Compiling costs ~1 ms; rendering the same text again must reuse the compiled template."""
    from testflow.dsl import templating

    value = {"url": "{{ base }}/orders/{{ id }}-cache-test", "price": "{{ price }}"}
    context = {"base": "http://x", "id": 5, "price": 3}
    renderer.render(value, context)
    before = templating._compile.cache_info()
    for _ in range(20):
        renderer.render(value, context)
    after = templating._compile.cache_info()
    assert after.misses == before.misses
    assert after.hits - before.hits == 40


def test_precompile_fills_the_cache() -> None:
    from testflow.dsl import templating

    flow = {"a": "{{ pre_a }}-precompile", "b": ["{{ pre_b }} precompile", "plain", "{{ bad "]}
    assert precompile(flow) == 3
    before = templating._compile.cache_info()
    Renderer(make_runtime()).render(flow["a"], {"pre_a": 1})
    assert templating._compile.cache_info().hits == before.hits + 1


def test_fail_and_python_helpers(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match="order is not ready"):
        renderer.render("{{ fail('order is not ready') if not flag2 else 1 }}", {"flag2": False})
    assert renderer.render("{{ sorted([3, 1, 2]) }}", {}) == [1, 2, 3]
    assert renderer.render("{{ round(2.567, 1) }}", {}) == 2.6
    assert renderer.render("{{ max(1, price) }}", CONTEXT) == 42


# -- inside the Temporal workflow sandbox ----------------------------------------------------------

SANDBOX_TEMPLATES = {
    "int": "{{ price }}",
    "dict": "{{ order }}",
    "text": "{{ code }}",
    "mixed": "{{ env.ORDERS_URL }}/orders/{{ order.id }}",
    "loop": "{% for i in order['items'] %}{{ i.sku }}{% endfor %}",
    "undefined": "{{ nope }}",
    "undefined_attr": "{{ order.nope }}",
    "default": "{{ nope | default('d') }}",
    "escape": "{{ ''.__class__.__mro__ }}",
    "mutate": "{{ order['items'].append(1) }}",
    "syntax": "{{ price ",
    "secret": "{{ secret('TOKEN') }}",
    "jsonpath": "{{ jsonpath(order, '$.items[*].sku') }}",
    "hash": "{{ sha256('abc') }}",
    "uuid": "{{ uuid() }}",
    "random": "{{ random.int(1, 1000000) }}",
    "name": "{{ fake.name() }}",
    "email": "{{ fake.email() }}",
    "iban": "{{ fake.iban() }}",
}


@pytest.mark.workflow
async def test_templates_in_the_workflow_sandbox_and_replay(
    temporal_client: Any, task_queue: str
) -> None:
    """Rendering inside a sandboxed workflow behaves as outside, and replays identically.

    Uses the SDK's default sandbox (no configured pass-through), the strictest case.
    Regressions: Faker imported inside the sandbox failed on ``platform.system``; Jinja's
    compiler imports ``jinja2.runtime`` lazily, and doing that inside the sandbox loaded a
    second copy and rebound ``jinja2.runtime`` on the host's package (so a template that got
    that copy rendered ``{{ nope }}`` as "missing" instead of failing).
    """
    import jinja2.runtime
    from temporalio.worker import Replayer, Worker

    from tests.dsl._templating_workflow import TemplatingProbe

    async with Worker(temporal_client, task_queue=task_queue, workflows=[TemplatingProbe]):
        handle = await temporal_client.start_workflow(
            TemplatingProbe.run,
            args=[SANDBOX_TEMPLATES, CONTEXT],
            id=f"templating-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
        )
        out = await handle.result()

    outside = Renderer(make_runtime())
    for name in ("int", "dict", "text", "loop", "default", "jsonpath", "hash"):
        assert out[name] == outside.render(SANDBOX_TEMPLATES[name], CONTEXT), name
    assert out["mixed"] == "http://orders.test/orders/o-1"
    assert out["secret"] == "tok-123456"
    assert out["undefined"] == {
        "error": "'nope' is undefined in '{{ nope }}'",
        "variable": "nope",
    }
    assert out["undefined_attr"]["variable"] == "nope"
    for name in ("escape", "mutate"):
        assert "refused by the template sandbox" in out[name]["error"], out[name]
    assert "syntax error" in out["syntax"]["error"]
    uuid.UUID(out["uuid"])
    assert isinstance(out["random"], int)
    for name in ("name", "email", "iban", "after_timer"):
        assert isinstance(out[name], str) and out[name] and "error" not in out[name], out[name]
    assert "@" in out["email"]

    # Compiling happened on the host: the sandbox never loaded its own jinja2.runtime.
    assert jinja2.runtime is sys.modules["jinja2.runtime"]

    # Replaying the history re-renders everything: any non-determinism raises here.
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[TemplatingProbe], data_converter=temporal_client.data_converter)
    await replayer.replay_workflow(history)
