"""Files a flow makes the loader read (``call:`` flows, ``schema:`` files), with and without a
library root: stored flows must not read the server's files, local runs read local files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testflow.dsl.diagnostics import Diagnostic, FlowValidationError
from testflow.dsl.loader import load_flow, parse_flow
from testflow.dsl.paths import ESCAPES

SECRET_TEXT = "TOP-SECRET-server-file-4f2a"

SUB = """\
name: sub
context: {who: nobody}
steps:
  - {id: hello, type: log, message: "hello {{ who }}"}
"""

ORDER_SCHEMA = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/lib (the library: flows/, common/sub.yaml, schemas/order.json) beside tmp/outside."""
    lib = tmp_path / "lib"
    for folder in ("flows", "common", "schemas"):
        (lib / folder).mkdir(parents=True)
    (lib / "common" / "sub.yaml").write_text(SUB)
    (lib / "schemas" / "order.json").write_text(json.dumps(ORDER_SCHEMA))
    outside = tmp_path / "outside"
    outside.mkdir()
    # A "flow" and a "schema" whose content must never reach a diagnostic.
    (outside / "x.yaml").write_text(f"name: {SECRET_TEXT}\nsteps: [{{id: a, type: nope}}]\n")
    (outside / "s.json").write_text(json.dumps({"title": SECRET_TEXT, "type": "string"}))
    (lib / "schemas" / "link.json").symlink_to(outside / "s.json")
    return lib


def flow(*steps: str) -> str:
    return "name: paths\nsteps:\n" + "".join(steps)


def call(target: str) -> str:
    return f"  - id: sub\n    type: call\n    flow: {target}\n"


def schema(target: str, nested: bool = False) -> str:
    spec = f'{{"$.order": {{schema: "{target}"}}}}' if nested else f'{{schema: "{target}"}}'
    return f"  - id: check\n    type: assert\n    value: {{id: 1}}\n    assert: {spec}\n"


def refused(text: str, lib: Path) -> list[Diagnostic]:
    with pytest.raises(FlowValidationError) as info:
        parse_flow(
            text, str(lib / "flows" / "f.yaml"), base_dir=str(lib / "flows"), root_dir=str(lib)
        )
    errors = info.value.errors
    assert all(SECRET_TEXT not in str(e) + e.snippet for e in info.value.diagnostics)
    return errors


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [
        (flow(call("../../outside/x.yaml")), "steps[0].flow", 5),
        (flow(call("/etc/passwd")), "steps[0].flow", 5),
        (flow(schema("/etc/passwd")), "steps[0].assert.schema", 6),
        (flow(schema("../../outside/s.json")), "steps[0].assert.schema", 6),
        (flow(schema("../../outside/s.json", nested=True)), 'steps[0].assert["$.order"].schema', 6),
        (flow(schema("../schemas/link.json")), "steps[0].assert.schema", 6),  # a symlink out
    ],
)
def test_paths_out_of_the_library_are_refused_with_their_position(
    tree: Path, text: str, path: str, line: int
) -> None:
    errors = refused(text, tree)
    assert len(errors) == 1, errors
    assert errors[0].path == path
    assert errors[0].message.startswith(ESCAPES)
    assert errors[0].line == line and errors[0].col > 1


def test_a_called_flow_cannot_escape_either(tree: Path) -> None:
    (tree / "common" / "hop.yaml").write_text(flow(call("../../outside/x.yaml")))
    errors = refused(flow(call("../common/hop.yaml")), tree)
    escaped = [e for e in errors if e.message.startswith(ESCAPES)]
    assert [e.path for e in escaped] == ["steps[0].flow"]
    assert escaped[0].file.endswith("hop.yaml")


def test_paths_inside_the_library_work_with_a_root(tree: Path) -> None:
    text = flow(call("../common/sub.yaml"), schema("../schemas/order.json"))
    loaded = parse_flow(
        text, str(tree / "flows" / "f.yaml"), base_dir=str(tree / "flows"), root_dir=str(tree)
    )
    assert loaded.flow.steps[0].resolved is not None  # type: ignore[union-attr]
    assert loaded.flow.steps[1].assert_["schema"] == ORDER_SCHEMA


def test_without_a_root_local_files_are_read_as_before(tree: Path) -> None:
    # `testflow run` / `validate` on a laptop: the author's own files, wherever they are.
    (tree / "flows" / "f.yaml").write_text(
        flow(call("../../outside/ok.yaml"), schema("../../outside/s.json"))
    )
    (tree.parent / "outside" / "ok.yaml").write_text(SUB)
    loaded = load_flow(tree / "flows" / "f.yaml")
    assert loaded.flow.steps[1].assert_["schema"]["title"] == SECRET_TEXT  # type: ignore[union-attr]


CLI_FLOW = """\
name: local paths
context:
  order: {id: 7}
steps:
  - id: sub
    type: call
    flow: ../common/sub.yaml
    inputs: {who: laptop}
  - id: check
    type: assert
    value: "{{ order }}"
    assert: {schema: ../schemas/order.json}
"""


@pytest.mark.e2e
@pytest.mark.workflow
def test_cli_run_reads_local_relative_paths(tree: Path) -> None:
    (tree / "flows" / "local.yaml").write_text(CLI_FLOW)
    done = subprocess.run(
        [sys.executable, "-m", "testflow", "run", "flows/local.yaml", "--report", "json"],
        cwd=tree,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    report = json.loads((tree / "results" / "run.json").read_text())
    steps = [s for run in report["runs"] for s in run["steps"]]
    assert {(s["step_id"], s["status"]) for s in steps} >= {("sub", "passed"), ("check", "passed")}
