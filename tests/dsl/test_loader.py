"""The loader: positions, YAML/JSON parity, cross-checks, sub-flows, environments, suites, CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from testflow.cli import app
from testflow.dsl.diagnostics import Diagnostic, FlowValidationError, make_snippet
from testflow.dsl.loader import (
    detect_kind,
    find_environment,
    flow_to_data,
    load_environment,
    load_flow,
    load_suite,
    parse_flow,
    validate_paths,
)
from testflow.dsl.models import ActionStep, CallStep

VALID = textwrap.dedent(
    """\
    name: orders
    context:
      baseUrl: http://localhost:8080
    steps:
      - id: createOrder
        type: http
        request:
          method: POST
          url: "{{ baseUrl }}/orders"
        extract: {orderId: $.id}
        assert: {status: 201}
      - id: show
        type: log
        message: "created {{ orderId }}"
    """
)


def _errors(text: str, filename: str = "flow.yaml", **kwargs: object) -> list[Diagnostic]:
    with pytest.raises(FlowValidationError) as info:
        parse_flow(text, filename, **kwargs)  # type: ignore[arg-type]
    return info.value.errors


def test_valid_flow_loads_with_positions() -> None:
    loaded = parse_flow(VALID, "orders.yaml")
    assert loaded.flow.name == "orders"
    assert [s.id for s in loaded.flow.steps] == ["createOrder", "show"]
    step = loaded.flow.steps[0]
    assert isinstance(step, ActionStep)
    assert step.config["request"]["url"] == "{{ baseUrl }}/orders"
    assert loaded.position("steps[0].request.url") == (9, 12)
    assert loaded.position("steps[1]") == (12, 5)
    assert loaded.key_positions["steps[0].extract"] == (10, 5)
    assert loaded.position("steps[0].extract.orderId") == (10, 24)
    assert loaded.position("nowhere") is None
    assert loaded.warnings == []


def test_json_has_exact_positions_and_same_model() -> None:
    data = parse_flow(VALID, "orders.yaml").flow.model_dump(mode="json", by_alias=True)
    text = json.dumps(data, indent="\t")
    loaded = parse_flow(text, "orders.json")
    assert loaded.flow == parse_flow(VALID, "orders.yaml").flow
    lines = text.split("\n")
    for path, (line, col) in loaded.positions.items():
        if path.endswith("request.url"):
            assert lines[line - 1][col - 1 :].startswith('"{{ baseUrl }}/orders"')
    for path, (line, col) in loaded.key_positions.items():
        key = path.rsplit(".", 1)[-1].split("[")[0]
        assert lines[line - 1][col - 1 :].startswith(f'"{key}"'), path


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = VALID.replace("method: POST", "method: POTS").replace("type: log", "type: lgo")
    text = text.replace("name: orders", "name: orders\nstpes: []")
    errors = _errors(text)
    assert [e.path for e in errors] == ["stpes", "steps[0].request.method", "steps[1].type"]
    assert [e.hint for e in errors] == [
        "did you mean 'steps'?",
        "did you mean 'POST'?",
        "did you mean 'log'?",
    ]


def test_yaml_12_core_scalars_and_string_keys() -> None:
    text = textwrap.dedent(
        """\
        name: scalars
        context:
          country: NO
          enabled: on
          day: 2024-01-01
          octal: 0o17
          hex: 0x1F
          clock: 1:30
          big: 1e3
          nothing: ~
          yes_bool: true
          codes: {200: ok, 404: missing}
        steps: []
        """
    )
    ctx = parse_flow(text).flow.context
    assert ctx["country"] == "NO" and ctx["enabled"] == "on" and ctx["day"] == "2024-01-01"
    assert ctx["octal"] == 15 and ctx["hex"] == 31 and ctx["clock"] == "1:30"
    assert ctx["big"] == 1000.0 and ctx["nothing"] is None and ctx["yes_bool"] is True
    assert ctx["codes"] == {"200": "ok", "404": "missing"}


def test_merge_keys_and_anchors() -> None:
    text = textwrap.dedent(
        """\
        name: anchors
        context:
          base: &base {url: http://a, timeout: 5}
          derived:
            <<: *base
            url: http://b
        steps: []
        """
    )
    ctx = parse_flow(text).flow.context
    assert ctx["derived"] == {"url": "http://b", "timeout": 5}


def test_recursive_alias_and_deep_nesting_are_diagnostics() -> None:
    (error,) = _errors("name: x\ncontext: &a\n  self: *a\nsteps: []\n")
    assert "alias" in error.message
    deep = "name: x\ncontext: {a: " + "[" * 500 + "]" * 500 + "}\n"
    (error,) = _errors(deep)
    assert "nested" in error.message
    (error,) = _errors('{"name": ' + "[" * 5000 + "]" * 5000 + "}", "deep.json")
    assert "nested" in error.message


def test_alias_expansion_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    (error,) = _errors(
        "\n".join(["name: bomb", "context:"] + ["  " + ln for ln in lines]) + "\nsteps: []\n"
    )
    assert "too large" in error.message


def test_bom_and_invalid_utf8(tmp_path: Path) -> None:
    assert parse_flow("\ufeffname: bom\nsteps: []\n").flow.name == "bom"
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: ok\nsteps: []\ncontext: {a: \xff}\n")
    with pytest.raises(FlowValidationError) as info:
        load_flow(bad)
    (error,) = info.value.diagnostics
    assert (error.line, error.message) == (3, "the file is not valid UTF-8")


def test_template_values_skip_type_checks_but_not_unknown_keys() -> None:
    text = textwrap.dedent(
        """\
        name: templated types
        context: {follow: true}
        steps:
          - id: get
            type: http
            request:
              url: http://localhost/
              follow_redirects: "{{ follow }}"
        """
    )
    parse_flow(text)
    errors = _errors(text.replace("follow_redirects", "follow_redirect"))
    assert errors[0].hint == "did you mean 'follow_redirects'?"


def test_undefined_names_follow_execution_order() -> None:
    text = textwrap.dedent(
        """\
        name: names
        context: {items: [1, 2]}
        steps:
          - id: each
            type: log
            for_each: "{{ items }}"
            as: it
            message: "{{ it }} {{ loop.index }} {{ random.int(1, 2) }}"
          - id: compute
            type: transform
            set: {total: "{{ items | length }}"}
          - id: fan
            type: parallel
            branches:
              - - id: left
                  type: log
                  message: "{{ total }}"
          - id: grp
            type: group
            steps:
              - id: inner
                type: transform
                set: {inside: 1}
              - id: useInner
                type: log
                message: "{{ inside }}"
          - id: after
            type: log
            message: "{{ inside }} {{ env.HOME }} {{ steps.compute }}"
        teardown:
          - id: bye
            type: log
            message: "{{ total }}"
        """
    )
    parse_flow(text)
    (error,) = _errors(text.replace("{{ loop.index }}", "{{ inside }}"))
    assert (error.path, error.line) == ("steps[0].message", 8)
    assert error.message == "variable 'inside' is used before step 'inner' defines it"


def test_dag_steps_see_names_of_all_siblings_and_known_names() -> None:
    text = textwrap.dedent(
        """\
        name: dag
        steps:
          - id: second
            type: log
            message: "{{ first_value }} {{ from_env }}"
            depends_on: [first]
          - id: first
            type: transform
            set: {first_value: 1}
        """
    )
    (error,) = _errors(text)
    assert error.message == "undefined variable 'from_env'"
    assert error.path == "steps[0].message"
    parse_flow(text, known_names={"from_env"})


def test_call_steps_are_resolved_with_inputs_as_known_names(tmp_path: Path) -> None:
    (tmp_path / "sub.yaml").write_text(
        "name: sub\nsteps:\n  - id: s\n    type: log\n    message: '{{ customer }}'\n"
    )
    (tmp_path / "main.yaml").write_text(
        "name: main\nsteps:\n  - id: call\n    type: call\n    flow: sub.yaml\n"
        "    inputs: {customer: acme}\n"
    )
    loaded = load_flow(tmp_path / "main.yaml")
    step = loaded.flow.steps[0]
    assert isinstance(step, CallStep) and step.resolved is not None
    assert step.resolved.name == "sub"
    assert loaded.flow.model_dump(mode="json")["steps"][0]["resolved"]["name"] == "sub"
    assert "resolved" not in flow_to_data(loaded.flow)["steps"][0]  # the file form


def test_schema_files_are_inlined(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    schema = {"type": "object", "required": ["id"]}
    (tmp_path / "schemas" / "order.json").write_text(json.dumps(schema))
    (tmp_path / "flow.yaml").write_text(
        textwrap.dedent(
            """\
            name: schema
            steps:
              - id: get
                type: http
                request: {url: http://localhost/}
                assert:
                  schema: schemas/order.json
                  "$.items[0]": {schema: schemas/order.json}
            """
        )
    )
    step = load_flow(tmp_path / "flow.yaml").flow.steps[0]
    assert step.assert_["schema"] == schema
    assert step.assert_["$.items[0]"] == {"schema": schema}


def test_detect_kind() -> None:
    assert detect_kind({"suite": "s", "flows": []}) == "suite"
    assert detect_kind({"name": "dev", "variables": {}}) == "environment"
    assert detect_kind({"name": "f", "steps": [], "variables": 1}) == "flow"
    assert detect_kind([1]) == "flow"


def test_environment_and_suite_files(tmp_path: Path) -> None:
    env = tmp_path / "environments" / "staging.yaml"
    env.parent.mkdir()
    env.write_text(
        "variables: {baseUrl: http://staging}\nsecrets:\n  TOKEN: {env: STAGING_TOKEN}\n"
    )
    loaded = load_environment(env)
    assert loaded.name == "staging" and loaded.variables == {"baseUrl": "http://staging"}
    env.write_text("variables: {}\nsecrets:\n  TOKEN: {env: A, file: b}\n")
    with pytest.raises(FlowValidationError) as info:
        load_environment(env)
    assert info.value.errors[0].line == 3 and "exactly one" in info.value.errors[0].message
    (tmp_path / "a.yaml").write_text("name: a\nsteps: []\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text("suite: smoke\nflows:\n  - a.yaml\n  - path: missing.yaml\n  - '*.nothing'\n")
    with pytest.raises(FlowValidationError) as info:
        load_suite(suite)
    assert [(e.line, e.path) for e in info.value.errors] == [(4, "flows[1].path"), (5, "flows[2]")]
    suite.write_text("suite: smoke\nflows: [a.yaml]\nenvironment: staging\n")
    assert load_suite(suite).flows[0].path == "a.yaml"
    suite.write_text("suite: smoke\nflows: [a.yaml]\nenvironment: prod\n")
    with pytest.raises(FlowValidationError) as info:
        load_suite(suite)
    assert [(e.line, e.path) for e in info.value.errors] == [(3, "environment")]


def test_find_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "envs").mkdir()
    target = tmp_path / "envs" / "dev.yml"
    target.write_text("variables: {}\n")
    flows = tmp_path / "flows" / "orders"
    flows.mkdir(parents=True)
    monkeypatch.chdir(flows)
    assert find_environment("dev", [flows]) == target
    assert find_environment(str(target)) == target
    with pytest.raises(FileNotFoundError, match="environment 'prod' not found"):
        find_environment("prod", [flows])


def test_validate_paths_scans_directories_sensibly(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(VALID)
    (tmp_path / "broken.yaml").write_text(VALID.replace("type: log", "type: lgo"))
    (tmp_path / "ci.yml").write_text("on: push\njobs: {}\n")
    (tmp_path / "package.json").write_text('{"name": "x"}')
    (tmp_path / "helm.yaml").write_text("{{ .Values.x }}: [\n")
    (tmp_path / "bad-syntax.yaml").write_text("name: x\nsteps:\n - id: a\n  type: log\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "f.yaml").write_text("steps: 5\n")
    diagnostics = validate_paths([tmp_path])
    assert sorted({Path(d.file).name for d in diagnostics}) == ["bad-syntax.yaml", "broken.yaml"]
    explicit = validate_paths([tmp_path / "ci.yml", tmp_path / "nope.yaml"])
    assert {Path(d.file).name for d in explicit} == {"ci.yml", "nope.yaml"}


def test_validate_knows_environment_variables(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "dev.yaml").write_text("variables: {baseUrl: http://dev}\n")
    (tmp_path / "flow.yaml").write_text(
        "name: f\nsteps:\n  - id: a\n    type: log\n    message: '{{ baseUrl }}'\n"
    )
    assert validate_paths([tmp_path]) == []


def test_diagnostic_format_and_dict_round_trip() -> None:
    lines = ["name: x", "\tsteps: 1"]
    diag = Diagnostic(
        "f.yaml", 2, 2, "steps", "bad", hint="did you mean 'x'?", snippet=make_snippet(lines, 2, 2)
    )
    assert (
        diag.format() == "f.yaml:2:2: steps: bad (did you mean 'x'?)\n  2 | \tsteps: 1\n    | \t^"
    )
    assert "\x1b[" in diag.format(color=True) and "\x1b[" not in diag.format()
    assert Diagnostic.from_dict(diag.to_dict()) == diag
    warning = Diagnostic("f.yaml", 1, 1, "", "careful", severity="warning")
    assert warning.format() == "f.yaml:1:1: warning: careful"
    assert str(FlowValidationError([diag, diag])) == diag.headline()


runner = CliRunner()


def test_cli_validate_text_and_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ok.yaml").write_text(VALID)
    result = runner.invoke(app, ["validate", "ok.yaml"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 file checked, no problems"
    Path("bad.yaml").write_text(VALID.replace("reqeust", "x").replace("request:", "reqeust:"))
    result = runner.invoke(app, ["validate", "ok.yaml", "bad.yaml"])
    assert result.exit_code == 2
    assert (
        result.output.splitlines()[0]
        == "bad.yaml:7:5: steps[0].reqeust: unknown key 'reqeust' (did you mean 'request'?)"
    )
    assert result.output.splitlines()[-1] == "1 error, 0 warnings in 1 file (2 files checked)"
    assert "\x1b[" not in result.output  # not a TTY


def test_cli_validate_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("warn.yaml").write_text(VALID.replace("baseUrl: http", "orderId: 1\n  baseUrl: http"))
    result = runner.invoke(app, ["validate", "--format", "json", "warn.yaml"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["summary"] == {
        "errors": 0,
        "warnings": 1,
        "files_with_problems": 1,
        "files_checked": 1,
    }
    (warning,) = report["diagnostics"]
    assert (warning["line"], warning["col"], warning["severity"]) == (11, 15, "warning")


def test_cli_color_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from testflow.commands.validate import use_color

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())


def test_plugin_kinds_are_checked_against_their_json_schema() -> None:
    from testflow.dsl.registry import StepKind, default_registry

    registry = default_registry().copy()
    registry.add(
        StepKind(
            name="acme.hello",
            description="say hello",
            input_schema={
                "type": "object",
                "properties": {"greeting": {"type": "string"}, "count": {"type": "integer"}},
                "required": ["greeting"],
                "additionalProperties": False,
            },
            source="plugin:acme",
        )
    )
    step = "  - id: hi\n    type: acme.hello\n    {}\n"
    base = "name: plugin\ncontext: {n: 2}\nsteps:\n"
    parse_flow(base + step.format("greeting: hi\n    count: '{{ n }}'"), registry=registry)
    (error,) = _errors(base + step.format("greting: hi"), registry=registry)
    assert (error.path, error.line, error.col) == ("steps[0].greting", 6, 5)
    assert error.hint == "did you mean 'greeting'?"
    (error,) = _errors(base + step.format("greeting: hi\n    count: many"), registry=registry)
    assert (error.path, error.message) == ("steps[0].count", "'many' is not of type 'integer'")


def test_a_list_as_step_type_is_a_diagnostic_not_a_crash() -> None:
    # Found by the YAML fuzzer: the undefined-name check hashed `type` before the schema ran.
    text = 'name: x\nsteps:\n  - id: a\n    type: [a]\n    x: "{{ y }}"\n'
    with pytest.raises(FlowValidationError) as info:
        parse_flow(text, "f.yaml")
    first = info.value.errors[0]
    assert (first.line, first.col) == (4, 11) and "expected a string" in first.message
