"""Flow, step, environment and suite models: the validated shape of a flow file.

A step is a discriminated union on ``type``: the control kinds (``parallel``, ``group``,
``call``, ``poll``) have models of their own; every other kind is an :class:`ActionStep` whose
kind-specific keys (``request`` for ``http``, ``topic`` for ``kafka.consume``...) sit beside the
common fields and are validated against the kind's input model from the step registry by the
loader (:mod:`testflow.dsl.loader`), so a plugin discovered at run time validates the same way
as a built-in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from testflow.dsl.durations import Duration

STEP_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
CONTROL_KINDS = ("parallel", "group", "call", "poll")


class FrozenModel(BaseModel):
    """Base of every DSL model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetrySpec(FrozenModel):
    """How often a step is tried; mapped onto a Temporal ``RetryPolicy``."""

    attempts: int = Field(1, ge=1, le=1000, description="Total attempts, the first included.")
    backoff: Literal["exponential", "fixed"] = "exponential"
    initial_interval: Duration = Field(timedelta(seconds=1), description="Wait before the 2nd try.")
    max_interval: Duration | None = Field(None, description="Upper bound of the wait.")
    coefficient: float = Field(2.0, ge=1.0, le=100.0, description="Growth factor (exponential).")
    retry_on_assertion: bool = Field(
        False, description="Retry when assertions fail too (by default they are final)."
    )
    non_retryable_errors: list[str] = Field(
        default_factory=list, description="Error types that stop the retries at once."
    )


class Defaults(FrozenModel):
    """Flow-wide defaults; a step's own value wins, then these, then the kind's."""

    timeout: Duration | None = None
    retry: RetrySpec | None = None
    durable: bool | None = None


class StepBase(FrozenModel):
    """Fields every step has, whatever its kind."""

    id: str = Field(pattern=STEP_ID_PATTERN, description="Unique id; extracted values and reports use it.")
    type: str = Field(description="Step kind: http, postgresql.query, kafka.consume, group, ...")
    description: str | None = None
    when: str | None = Field(None, description="Run only when this expression is true.")
    depends_on: list[str] = Field(
        default_factory=list, description="Ids of steps that must finish first (makes a DAG)."
    )
    retry: RetrySpec | None = None
    timeout: Duration | None = None
    continue_on_error: bool = False
    extract: dict[str, str] = Field(
        default_factory=dict,
        description="name: JSONPath ($.id), a result field (status, headers.Location) or {{ expr }}.",
    )
    assert_: dict[str, Any] = Field(
        default_factory=dict,
        alias="assert",
        description="Assertions: result fields, JSONPath keys with matchers, schema, that.",
    )
    for_each: str | list[Any] | None = Field(
        None, description="Run the step once per item (a list or a {{ expression }})."
    )
    as_: str = Field("item", alias="as", pattern=STEP_ID_PATTERN)
    tags: list[str] = Field(default_factory=list)
    durable: bool | None = Field(
        None, description="Run as a regular (heartbeating) activity even if the kind is quick."
    )


class ActionStep(StepBase):
    """A step run by an activity; its kind-specific keys are kept as extra fields."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    @property
    def config(self) -> dict[str, Any]:
        """The kind-specific keys, as written (templates not rendered)."""
        return dict(self.model_extra or {})

    @field_validator("type")
    @classmethod
    def _not_control(cls, value: str) -> str:
        if value in CONTROL_KINDS:
            raise ValueError(f"{value!r} is a control step kind")
        return value


class ParallelBranch(FrozenModel):
    """One branch of a ``parallel`` step; a bare list of steps is accepted too."""

    name: str | None = None
    steps: list[Step]

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        return {"steps": data} if isinstance(data, list) else data


class ParallelStep(StepBase):
    """Run branches concurrently; a failing branch cancels its siblings unless told otherwise."""

    type: Literal["parallel"]
    branches: list[ParallelBranch] = Field(min_length=1)
    fail_fast: bool = Field(True, description="Cancel the other branches when one fails.")


class GroupStep(StepBase):
    """A named block of steps (reported as one unit; `for_each` repeats the whole block)."""

    type: Literal["group"]
    steps: list[Step] = Field(min_length=1)


class CallStep(StepBase):
    """Run another flow as a child workflow, with inputs and outputs."""

    type: Literal["call"]
    flow: str = Field(description="Path of the flow file, relative to this one.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Context of the sub-flow.")
    outputs: dict[str, str] = Field(
        default_factory=dict, description="name: variable of the sub-flow's final context."
    )
    resolved: SkipJsonSchema[Flow | None] = Field(
        None,
        description="Filled by the loader: the validated sub-flow (travels to the workflow).",
    )


class PollStep(StepBase):
    """Repeat an inner step until its assertions pass."""

    type: Literal["poll"]
    step: Step = Field(description="The step to repeat; its assertions decide when to stop.")
    every: Duration = timedelta(seconds=1)
    within: Duration = timedelta(seconds=60)


def _step_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in CONTROL_KINDS else "action"


Step = Annotated[
    Annotated[ParallelStep, Tag("parallel")]
    | Annotated[GroupStep, Tag("group")]
    | Annotated[CallStep, Tag("call")]
    | Annotated[PollStep, Tag("poll")]
    | Annotated[ActionStep, Tag("action")],
    Discriminator(_step_tag),
]


class Hooks(FrozenModel):
    """Steps run around every main step (the seed's beforeStep/afterStep)."""

    before_step: list[Step] = Field(default_factory=list)
    after_step: list[Step] = Field(default_factory=list)


class Flow(FrozenModel):
    """A flow: context, setup, steps and teardown."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"title": "testflow flow"},
    )

    name: str = Field(min_length=1)
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict, description="Initial variables.")
    defaults: Defaults = Field(default_factory=Defaults)
    hooks: Hooks | None = None
    setup: list[Step] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    teardown: list[Step] = Field(default_factory=list)


class SecretSource(FrozenModel):
    """Where a secret's value comes from: an environment variable or a file."""

    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self


class Connection(FrozenModel):
    """A named connection (database DSN, broker address) that steps refer to by name."""

    dsn: str | None = None
    url: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class Environment(FrozenModel):
    """An environment file: variables, secrets and named connections for a target system."""

    name: str = Field(min_length=1)
    description: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, SecretSource] = Field(default_factory=dict)
    connections: dict[str, Connection] = Field(default_factory=dict)


class SuiteEntry(FrozenModel):
    """A flow (file or glob) in a suite, with its own variables."""

    path: str
    vars: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


class Suite(FrozenModel):
    """A suite file: the flows to run together."""

    suite: str = Field(min_length=1, description="The suite's name.")
    description: str | None = None
    flows: list[SuiteEntry] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    environment: str | None = None
    concurrency: int = Field(4, ge=1, le=1000)
    fail_fast: bool = False
    vars: dict[str, Any] = Field(default_factory=dict)


ParallelBranch.model_rebuild()
ParallelStep.model_rebuild()
GroupStep.model_rebuild()
CallStep.model_rebuild()
PollStep.model_rebuild()
Hooks.model_rebuild()
Flow.model_rebuild()


def iter_steps(steps: list[Step]) -> list[Step]:
    """Every step in ``steps`` and nested in control steps, depth first."""
    out: list[Step] = []
    for step in steps:
        out.append(step)
        if isinstance(step, ParallelStep):
            for branch in step.branches:
                out.extend(iter_steps(branch.steps))
        elif isinstance(step, GroupStep):
            out.extend(iter_steps(step.steps))
        elif isinstance(step, PollStep):
            out.extend(iter_steps([step.step]))
    return out


def all_steps(flow: Flow) -> list[Step]:
    """Every step of a flow: setup, hooks, steps and teardown, nested ones included."""
    hooks = (flow.hooks.before_step + flow.hooks.after_step) if flow.hooks else []
    return iter_steps(flow.setup + hooks + flow.steps + flow.teardown)
