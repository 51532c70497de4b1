"""Test documentation of flows: overview, prerequisites, steps, expected results and data.

Rendered from the validated flows themselves (and the step registry's kind descriptions), so
the document cannot drift from what runs. Markdown is the source; HTML is the same text
rendered with markdown-it (already a dependency through rich) in a self-contained page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

from markdown_it import MarkdownIt

from testflow.dsl.durations import format_duration
from testflow.dsl.models import (
    ActionStep,
    CallStep,
    Flow,
    GroupStep,
    ParallelStep,
    PollStep,
    Step,
    all_steps,
)
from testflow.dsl.registry import StepRegistry, default_registry

_SECRET = re.compile(r"""secret\(\s*['"]([^'"]+)['"]\s*\)""")
_ENV = re.compile(r"\benv\.([A-Za-z_][A-Za-z0-9_]*)|\benv\[\s*['\"]([^'\"]+)['\"]\s*\]")
_MATCHERS = {
    "eq": "equals",
    "ne": "is not",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "in": "is one of",
    "contains": "contains",
    "matches": "matches the pattern",
    "exists": "exists:",
    "type": "has type",
    "len": "has length",
    "schema": "matches the JSON Schema",
}


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", " ")
    if len(text) > 160:
        text = text[:157] + "..."
    ticks = "``" if "`" in text else "`"
    return f"{ticks}{text}{ticks}"


def _cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def describe_assertion(key: str, expected: Any) -> str:
    """One assertion as a sentence: ``$.price`` is at least `10` and is at most `100`."""
    if key == "schema":
        return f"the result matches the JSON Schema {_code(expected if isinstance(expected, str) else 'inline schema')}"
    if key == "that":
        items = expected if isinstance(expected, list) else [expected]
        return "; ".join(f"{_code(x)} is true" for x in items)
    if key in ("body", "subset"):
        return f"the body contains {_code(expected)}"
    subject = _code(key)
    if isinstance(expected, dict) and expected and all(k in _MATCHERS for k in expected):
        parts = [f"{_MATCHERS[m]} {_code(v)}" for m, v in expected.items()]
        return f"{subject} " + " and ".join(parts)
    return f"{subject} equals {_code(expected)}"


def requirements(flow: Flow) -> tuple[list[str], list[str]]:
    """Secrets and environment variables the flow reads (from its templates)."""
    text = json.dumps(flow.model_dump(mode="json", by_alias=True), ensure_ascii=False)
    secrets = sorted(set(_SECRET.findall(text)))
    envs = sorted({a or b for a, b in _ENV.findall(text)})
    return secrets, envs


class _Doc:
    def __init__(self, registry: StepRegistry) -> None:
        self.registry = registry
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def kind_text(self, kind: str) -> str:
        found = self.registry.get(kind)
        return found.description if found else "unknown step kind"

    def step(self, step: Step, number: str, depth: int) -> None:
        pad = "  " * depth
        title = f"{pad}- **{number} {step.id}** — `{step.type}`"
        if step.description:
            title += f": {step.description.strip()}"
        self.add(title)
        facts: list[str] = []
        if isinstance(step, ActionStep):
            facts.append(f"_{self.kind_text(step.type)}_")
            facts.extend(self.action_facts(step))
        if step.when:
            facts.append(f"only when {_code(step.when)}")
        if step.depends_on:
            facts.append("after " + ", ".join(f"`{d}`" for d in step.depends_on))
        if step.for_each is not None:
            facts.append(f"for each `{step.as_}` in {_code(step.for_each)}")
        if step.retry is not None and step.retry.attempts > 1:
            facts.append(f"up to {step.retry.attempts} attempts ({step.retry.backoff} backoff)")
        if step.timeout is not None:
            facts.append(f"time limit {format_duration(step.timeout)}")
        if step.continue_on_error:
            facts.append("the flow goes on if it fails")
        for name, source in step.extract.items():
            facts.append(f"saves `{name}` from {_code(source)}")
        for key, expected in step.assert_.items():
            facts.append(f"**expect** {describe_assertion(key, expected)}")
        for fact in facts:
            self.add(f"{pad}  - {fact}")
        self.children(step, number, depth)

    def action_facts(self, step: ActionStep) -> list[str]:
        config = step.config
        request = config.get("request")
        if isinstance(request, dict) and "url" in request:
            out = [f"`{str(request.get('method', 'GET')).upper()} {request['url']}`"]
            for key in ("json", "body", "form", "query", "graphql"):
                if request.get(key) is not None:
                    out.append(f"sends {key} {_code(request[key])}")
            return out
        return [f"{key}: {_code(value)}" for key, value in config.items()]

    def children(self, step: Step, number: str, depth: int) -> None:
        if isinstance(step, ParallelStep):
            for b, branch in enumerate(step.branches, 1):
                self.add(f"{'  ' * (depth + 1)}- branch {branch.name or b} (runs in parallel)")
                self.steps(branch.steps, f"{number}.{b}.", depth + 2)
        elif isinstance(step, GroupStep):
            self.steps(step.steps, f"{number}.", depth + 1)
        elif isinstance(step, PollStep):
            self.add(
                f"{'  ' * (depth + 1)}- repeated every {format_duration(step.every)} until its expectations hold, within {format_duration(step.within)}"
            )
            self.steps([step.step], f"{number}.", depth + 1)
        elif isinstance(step, CallStep):
            self.add(
                f"{'  ' * (depth + 1)}- runs the flow `{step.flow}`"
                + (f" with {_code(step.inputs)}" if step.inputs else "")
            )

    def steps(self, steps: Iterable[Step], prefix: str, depth: int) -> None:
        for i, step in enumerate(steps, 1):
            self.step(step, f"{prefix}{i}", depth)


def flow_markdown(flow: Flow, path: str | None = None, registry: StepRegistry | None = None) -> str:
    """The documentation of one flow as Markdown."""
    doc = _Doc(registry or default_registry())
    doc.add(f"# {flow.name}", "")
    if flow.description:
        doc.add(flow.description.strip(), "")
    overview = []
    if path:
        overview.append(f"- File: `{path}`")
    if flow.tags:
        overview.append("- Tags: " + ", ".join(f"`{t}`" for t in flow.tags))
    steps = all_steps(flow)
    overview.append(
        f"- Steps: {len(flow.steps)} main ({len(steps)} with setup, teardown and nested steps)"
    )
    doc.add("## Overview", "", *overview, "")
    secrets, envs = requirements(flow)
    kinds = sorted({s.type for s in steps})
    doc.add("## Prerequisites", "")
    doc.add("Step kinds used (the systems the flow talks to):", "")
    doc.add(*(f"- `{k}` — {doc.kind_text(k)}" for k in kinds), "")
    if secrets:
        doc.add(
            "Secrets (values are never shown in reports): " + ", ".join(f"`{s}`" for s in secrets),
            "",
        )
    if envs:
        doc.add("Environment variables: " + ", ".join(f"`{e}`" for e in envs), "")
    if flow.setup:
        doc.add("## Setup", "")
        doc.steps(flow.setup, "", 0)
        doc.add("")
    doc.add("## Steps and expected results", "")
    doc.steps(flow.steps, "", 0)
    doc.add("")
    if flow.teardown:
        doc.add("## Teardown (always runs)", "")
        doc.steps(flow.teardown, "", 0)
        doc.add("")
    if flow.context:
        doc.add("## Data", "", "| Variable | Initial value |", "| --- | --- |")
        doc.add(*(f"| `{_cell(k)}` | {_cell(_code(v))} |" for k, v in flow.context.items()), "")
    return "\n".join(doc.lines).rstrip() + "\n"


_CSS = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:24px auto;padding:0 16px;color:#1d2330}"
    "code{background:#f3f4f6;padding:1px 4px;border-radius:4px;font-size:13px}"
    "table{border-collapse:collapse}td,th{border:1px solid #e3e6ec;padding:4px 8px;text-align:left}"
    "h1{border-bottom:1px solid #e3e6ec;padding-bottom:6px}li{margin:2px 0}"
)


def markdown_to_html(markdown: str, title: str) -> str:
    """A self-contained HTML page (inline CSS, raw HTML in the source escaped)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{body}</body></html>\n"
    )
