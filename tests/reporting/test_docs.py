"""Test documentation of flows: the Markdown text and the `testflow docs` command."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from testflow.cli import app
from testflow.dsl.models import Flow
from testflow.reporting.docs import describe_assertion, flow_markdown, markdown_to_html

runner = CliRunner()
FLOW = """
name: Partner <ACME> order
description: Orders flow | documented
tags: [orders]
context:
  baseUrl: "{{ env.ORDERS_URL | default('http://127.0.0.1:8080') }}"
  token: "{{ secret('ACME_TOKEN') }}"
setup: [{id: seed, type: log, message: seeding}]
steps:
  - id: create
    type: http
    description: Create the order
    request: {method: POST, url: "{{ baseUrl }}/orders", json: {product: book}}
    extract: {orderId: "$.id"}
    assert: {status: 201, "$.price": {gte: 10, lte: 100}, that: ["{{ orderId > 0 }}"]}
  - id: fan
    type: parallel
    branches:
      - name: read
        steps: [{id: read, type: http, request: {url: "{{ baseUrl }}/orders/{{ orderId }}"}, assert: {status: 200}}]
      - [{id: note, type: log, message: hi, retry: {attempts: 3}}]
teardown: [{id: bye, type: log, message: done}]
"""


def test_markdown_sections() -> None:
    md = flow_markdown(Flow.model_validate(yaml.safe_load(FLOW)), "flows/order.yaml")
    assert md.startswith("# Partner <ACME> order\n")
    for heading in (
        "## Overview",
        "## Prerequisites",
        "## Setup",
        "## Steps and expected results",
        "## Teardown (always runs)",
        "## Data",
    ):
        assert heading in md
    assert "- `http` — Call an HTTP API" in md
    assert "Secrets (values are never shown in reports): `ACME_TOKEN`" in md
    assert "Environment variables: `ORDERS_URL`" in md
    assert "- **1 create** — `http`: Create the order" in md
    assert "  - `POST {{ baseUrl }}/orders`" in md
    assert "**expect** `$.price` is at least `10` and is at most `100`" in md
    assert "    - **2.1.1 read** — `http`" in md and "branch read (runs in parallel)" in md
    assert "up to 3 attempts (exponential backoff)" in md


def test_assertion_sentences() -> None:
    assert describe_assertion("status", 201) == "`status` equals `201`"
    assert describe_assertion("$.a", {"contains": "x"}) == "`$.a` contains `x`"
    assert describe_assertion("body", {"a": 1}) == 'the body contains `{"a": 1}`'
    assert describe_assertion("schema", "s.json") == "the result matches the JSON Schema `s.json`"


def test_html_escapes_raw_markup() -> None:
    page = markdown_to_html(flow_markdown(Flow.model_validate(yaml.safe_load(FLOW))), "x")
    assert "<h1>Partner &lt;ACME&gt; order</h1>" in page
    assert "<table>" in page and "http://" not in page.split("<body>")[0]


def test_docs_command(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "order.yaml").write_text(FLOW)
    (tmp_path / "flows" / "ping.yaml").write_text(
        "name: Ping\nsteps: [{id: p, type: log, message: x}]\n"
    )
    out = tmp_path / "docs"
    result = runner.invoke(app, ["docs", str(tmp_path / "flows"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "index.html",
        "index.md",
        "order.html",
        "order.md",
        "ping.html",
        "ping.md",
    ]
    assert "[Ping](ping.md)" in (out / "index.md").read_text()
    assert 'href="order.html"' in (out / "index.html").read_text()


def test_docs_command_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\nsteps: [{id: x, type: htp}]\n")
    result = runner.invoke(app, ["docs", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "bad.yaml:2" in result.output
    result = runner.invoke(app, ["docs", str(bad), "--format", "pdf"])
    assert result.exit_code == 2 and "unknown docs format" in result.output
