"""Core kinds: ``transform``, ``log``, ``assert``, ``delay``, and the control kinds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from testflow.dsl.durations import Duration
from testflow.dsl.models import CallStep, FrozenModel, GroupStep, ParallelStep, PollStep
from testflow.dsl.registry import StepKind


class TransformConfig(FrozenModel):
    set: dict[str, Any] = Field(
        description="Variables to set; values are templates ({{ order.items | length }})."
    )


class LogConfig(FrozenModel):
    message: str
    level: Literal["debug", "info", "warning", "error"] = "info"


class AssertConfig(FrozenModel):
    value: Any = Field(None, description="The document to assert on ($ addresses it).")


class DelayConfig(FrozenModel):
    duration: Duration = Field(description="How long to wait (a durable timer).")


CORE_KINDS = [
    StepKind(
        name="transform",
        description="Compute variables from the context with templates.",
        input_model=TransformConfig,
        executor="testflow.activities.core:transform",
        primary="the variables set",
        category="utility",
        icon="shuffle",
        example={"id": "total", "type": "transform", "set": {"total": "{{ price * qty }}"}},
    ),
    StepKind(
        name="log",
        description="Write a message to the run's log.",
        input_model=LogConfig,
        executor="testflow.activities.core:log",
        category="utility",
        icon="message",
        example={"id": "note", "type": "log", "message": "order {{ orderId }} created"},
    ),
    StepKind(
        name="assert",
        description="Assert on any value of the context.",
        input_model=AssertConfig,
        executor="testflow.activities.core:assert_value",
        primary="`value`",
        result_fields=("value",),
        category="utility",
        icon="check",
        example={"id": "check", "type": "assert", "value": "{{ order }}", "assert": {"$.status": "NEW"}},
    ),
    StepKind(
        name="delay",
        description="Wait for a duration (a durable timer: survives worker restarts).",
        input_model=DelayConfig,
        mode="workflow",
        default_timeout=timedelta(days=365),
        category="control",
        icon="clock",
        example={"id": "wait", "type": "delay", "duration": "5s"},
    ),
    StepKind(
        name="parallel",
        description="Run branches concurrently; a failure cancels the siblings.",
        input_model=ParallelStep,
        mode="control",
        category="control",
        icon="split",
    ),
    StepKind(
        name="group",
        description="A block of steps, reported together; repeat it with for_each.",
        input_model=GroupStep,
        mode="control",
        category="control",
        icon="folder",
    ),
    StepKind(
        name="call",
        description="Run another flow as a child workflow, with inputs and outputs.",
        input_model=CallStep,
        mode="control",
        category="control",
        icon="external",
    ),
    StepKind(
        name="poll",
        description="Repeat an inner step until its assertions pass (every/within).",
        input_model=PollStep,
        mode="control",
        category="control",
        icon="repeat",
    ),
]
