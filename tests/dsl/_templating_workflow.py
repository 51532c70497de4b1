"""A workflow that renders templates, for the sandbox test in test_templating.py.

Kept in its own small module because the Temporal sandbox re-imports a workflow's module for
every run; the test module itself imports pytest and hypothesis, which must not load there.
The pass-through block mirrors the interpreter's (testflow/workflows/interpreter.py).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import jinja2
    import jinja2.debug
    import jinja2.optimizer  # noqa: F401
    import jsonpath  # noqa: F401

    from testflow.dsl.templating import Renderer, TemplateError, TemplateRuntime


@workflow.defn(name="TemplatingProbe")
class TemplatingProbe:
    """Renders each template with a deterministic runtime; errors come back as text."""

    @workflow.run
    async def run(self, templates: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        renderer = Renderer(
            TemplateRuntime(
                rng=workflow.random(),
                clock=workflow.now,
                uuid4=workflow.uuid4,
                env={"ORDERS_URL": "http://orders.test"},
                secrets={"TOKEN": "tok-123456"},
            )
        )
        out: dict[str, Any] = {}
        for name, template in templates.items():
            try:
                value = renderer.render(template, context)
            except TemplateError as error:
                value = {"error": str(error), "variable": error.variable}
            out[name] = value if _plain(value) else repr(value)
        # A timer between renders makes the replay test cover more than one workflow task.
        await workflow.sleep(0.01)
        out["after_timer"] = renderer.render("{{ fake.name() }} {{ random.int(1, 10**6) }}", {})
        return out


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False
