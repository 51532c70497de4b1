"""Property tests of the loader: round trips through YAML and JSON, and fuzzed input.

- Generated valid flows (built-in kinds http/log/transform/delay and the control kinds,
  nested) dumped to YAML and to JSON load back to an equal Flow, with positions that point
  at the written text.
- Fuzzed text (mutations of valid flows, random text, random bytes) never makes the loader
  raise anything but FlowValidationError, and every diagnostic has a sane position.

Example counts come from the hypothesis profile: ``ci`` (the default: >= 2,000 examples for
the fuzz tests) or ``dev`` (fewer, for quick local runs: ``HYPOTHESIS_PROFILE=dev``).
"""

from __future__ import annotations

import json
import os
import string
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.durations import format_duration
from testflow.dsl.loader import dump_flow, flow_to_data, load_flow, parse_flow
from testflow.dsl.models import Flow

settings.register_profile(
    "ci", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
ROUND_TRIP = settings(PROFILE, max_examples=max(PROFILE.max_examples // 10, 50))
FUZZ = settings(PROFILE)

# --- valid flows --------------------------------------------------------------------------

# Plain text: no template markers (a template reading unknown names is rightly an error), but
# the characters that YAML and JSON treat specially, and line breaks YAML knows and JSON not.
ALPHABET = [*(string.ascii_letters + string.digits + " _-.:#'\"\\/\n\t,[]&*!|>@`"),
    "é", "ß", "\u00a0", "\x85", "\u2028", "\u2029", "\x00", "\x1b", "🙂", "\ufeff",
]  # fmt: skip
plain_text = st.text(st.sampled_from(ALPHABET), max_size=10)
names = st.text(st.sampled_from(string.ascii_letters + string.digits + "_"), max_size=6).map(
    lambda s: "v" + s
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | plain_text
    | st.sampled_from(
        ["yes", "no", "on", "0o17", "0x1F", "1:30", "1e3", "2024-01-01", "~", "<<", ""]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_text, inner, max_size=3),
    max_leaves=4,
)
durations = st.integers(min_value=0, max_value=10**8).map(lambda ms: timedelta(milliseconds=ms))
retries = st.fixed_dictionaries(
    {},
    optional={
        "attempts": st.integers(1, 10),
        "backoff": st.sampled_from(["exponential", "fixed"]),
        "initial_interval": durations,
        "coefficient": st.floats(1.0, 10.0),
    },
)
common = {
    "description": plain_text,
    "timeout": durations,
    "retry": retries,
    "continue_on_error": st.booleans(),
    "tags": st.lists(plain_text, max_size=2),
    "durable": st.booleans(),
}


def _action(kind: str, config: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just(kind), **config}, optional=common)  # type: ignore[dict-item]


http_step = _action(
    "http",
    {
        "request": st.fixed_dictionaries(
            {"url": st.just("http://localhost:8080/orders")},
            optional={
                "method": st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
                "headers": st.dictionaries(names, plain_text, max_size=2),
                "json": json_values,
                "params": st.dictionaries(names, scalars, max_size=2),
            },
        ),
        "extract": st.dictionaries(
            names, st.sampled_from(["$.id", "$.items[0].sku", "status"]), max_size=2
        ),
    },
)
log_step = _action(
    "log", {"message": plain_text, "level": st.sampled_from(["debug", "info", "warning", "error"])}
)
transform_step = _action(
    "transform", {"set": st.dictionaries(names, json_values, min_size=1, max_size=3)}
)
delay_step = _action("delay", {"duration": durations.map(format_duration)})  # as written
action_steps = st.one_of(http_step, log_step, transform_step, delay_step)


def _control(steps: st.SearchStrategy[list[dict[str, Any]]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("group"), "steps": steps}, optional=common),  # type: ignore[dict-item]
        st.fixed_dictionaries(
            {"type": st.just("parallel"), "branches": st.lists(steps, min_size=1, max_size=2)},
            optional={"fail_fast": st.booleans()},
        ),
        st.fixed_dictionaries(
            {"type": st.just("poll"), "step": action_steps},
            optional={"every": durations, "within": durations},
        ),
    )


# Two levels of nesting: control steps holding action steps or control steps of those.
inner_lists = st.lists(action_steps, min_size=1, max_size=3)
middle_lists = st.lists(
    action_steps | _control(inner_lists.map(lambda x: x)), min_size=1, max_size=3
)
step_lists = st.lists(action_steps | _control(middle_lists), min_size=1, max_size=3)


def _number_ids(steps: list[dict[str, Any]], counter: list[int]) -> list[dict[str, Any]]:
    """Unique ids in document order (the cross-checks reject duplicates)."""
    out = []
    for step in steps:
        step = {"id": f"s{counter[0]}", **step}
        counter[0] += 1
        if step["type"] == "group":
            step["steps"] = _number_ids(step["steps"], counter)
        elif step["type"] == "parallel":
            step["branches"] = [_number_ids(b, counter) for b in step["branches"]]
        elif step["type"] == "poll":
            step["step"] = _number_ids([step["step"]], counter)[0]
        out.append(step)
    return out


@st.composite
def flows(draw: st.DrawFn) -> Flow:
    counter = [0]
    data: dict[str, Any] = {
        "name": draw(plain_text.filter(bool)),
        "tags": draw(st.lists(plain_text, max_size=2)),
        "context": draw(st.dictionaries(names, json_values, max_size=4)),
        "steps": _number_ids(draw(step_lists), counter),
    }
    if draw(st.booleans()):
        data["setup"] = _number_ids(draw(st.lists(action_steps, max_size=2)), counter)
        data["teardown"] = _number_ids(draw(st.lists(action_steps, max_size=2)), counter)
    if draw(st.booleans()):
        data["defaults"] = {"timeout": draw(durations), "retry": draw(retries)}
    top = data["steps"]
    if len(top) > 1 and draw(st.booleans()):  # a DAG: each step may wait for earlier ones
        top[-1]["depends_on"] = [s["id"] for s in top[:-1]]
    return Flow.model_validate(data)


@ROUND_TRIP
@given(flows())
def test_yaml_round_trip(flow: Flow) -> None:
    text = dump_flow(flow, "yaml")
    loaded = parse_flow(text, "flow.yaml")
    assert loaded.flow == flow
    lines = text.split("\n")
    for step in flow.steps:
        index = flow.steps.index(step)
        line, col = loaded.positions[f"steps[{index}].id"]
        assert lines[line - 1][col - 1 :].lstrip("'\"").startswith(step.id)


@ROUND_TRIP
@given(flows())
def test_json_round_trip(flow: Flow) -> None:
    text = dump_flow(flow, "json")
    loaded = parse_flow(text, "flow.json")
    assert loaded.flow == flow
    lines = text.split("\n")
    data = flow_to_data(flow)
    for i, step in enumerate(data["steps"]):
        for key, value in step.items():
            line, col = loaded.positions[f"steps[{i}].{key}"]
            assert lines[line - 1][col - 1 :].startswith(json.dumps(value, ensure_ascii=False)[:1])
            kline, kcol = loaded.key_positions[f"steps[{i}].{key}"]
            assert lines[kline - 1][kcol - 1 :].startswith(json.dumps(key))


# --- fuzzing ------------------------------------------------------------------------------

SEED_FLOWS = [
    Path(__file__).parent / "golden" / name
    for name in ("misspelt_step_key.yaml", "poll_inner_step.yaml", "dependency_cycle.yaml")
]
VALID_YAML = """\
name: fuzz
context: {base: "http://localhost", items: [1, 2], deep: {a: [{b: c}]}}
defaults: {timeout: 30s, retry: {attempts: 3}}
steps:
  - id: create
    type: http
    request: {method: POST, url: "{{ base }}/orders", json: {sku: A1, qty: 2}}
    extract: {orderId: $.id}
    assert: {status: 201}
  - id: each
    type: group
    for_each: "{{ items }}"
    steps:
      - id: note
        type: log
        message: "item {{ item }} of {{ orderId }}"
  - &anchor
    id: wait
    type: poll
    every: 1s
    within: 1m
    step: {id: check, type: http, request: {url: "{{ base }}/orders/{{ orderId }}"}}
"""
VALID_JSON = json.dumps(
    parse_flow(VALID_YAML).flow.model_dump(mode="json", by_alias=True), indent=1
)
SPECIAL = [*":-[]{}#&*!|>'\"%@`,?\t\n\\ ", "{{", "}}", "<<", "---", "...", "\ufeff", "\x85"]


@st.composite
def mutations(draw: st.DrawFn, source: str) -> str:
    """A valid (or golden broken) flow with a few random edits."""
    text = source
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "truncate"]))
        piece = draw(st.sampled_from(SPECIAL) | st.text(max_size=3))
        if op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)) :]
        elif op == "replace":
            text = text[:pos] + piece + text[pos + len(piece) :]
        elif op == "duplicate":
            end = min(len(text), pos + draw(st.integers(1, 40)))
            text = text[:end] + text[pos:end] + text[end:]
        else:
            text = text[:pos]
    return text


def _check_only_diagnostics(text: str, filename: str) -> None:
    try:
        parse_flow(text, filename)
    except FlowValidationError as exc:
        assert exc.diagnostics
        for diag in exc.diagnostics:
            assert diag.line >= 1 and diag.col >= 1
            assert diag.message


@FUZZ
@given(
    st.sampled_from([VALID_YAML, *(p.read_text(encoding="utf-8") for p in SEED_FLOWS)]).flatmap(
        mutations
    )
)
def test_fuzzed_yaml_raises_only_diagnostics(text: str) -> None:
    _check_only_diagnostics(text, "fuzz.yaml")


@FUZZ
@given(mutations(VALID_JSON))
def test_fuzzed_json_raises_only_diagnostics(text: str) -> None:
    _check_only_diagnostics(text, "fuzz.json")


@FUZZ
@given(
    st.text(max_size=200)
    | st.lists(st.sampled_from([*SPECIAL, "a", "b", "0", "1"]), max_size=60).map("".join)
)
def test_random_text_raises_only_diagnostics(text: str) -> None:
    _check_only_diagnostics(text, "random.yaml")


@settings(PROFILE, max_examples=max(PROFILE.max_examples // 10, 50))
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_diagnostics(tmp_path_factory: Any, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "random.yaml"
    path.write_bytes(data)
    try:
        load_flow(path)
    except FlowValidationError as exc:
        assert all(d.line >= 1 and d.col >= 1 for d in exc.diagnostics)
