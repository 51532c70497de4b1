"""What a run produces: step results, run events and the run result.

These are the contract between the workflow (which records them), the activities (which fill
a step's outcome), and every consumer: the CLI's live progress, the API's event stream, the UI
and the reporters. Results travel through Temporal, so they stay small: the full request,
response and logs of a step live in the artifact store and travel as :class:`ArtifactRef`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.json_schema import SkipJsonSchema

StepStatus = Literal["passed", "failed", "error", "skipped", "cancelled"]
RunStatus = Literal["running", "passed", "failed", "error", "cancelled"]
Phase = Literal["setup", "steps", "teardown", "hooks"]

ErrorType = Literal[
    "AssertionFailed",  # the step ran, its assertions did not hold -> status "failed"
    "StepFailed",  # the step's own operation failed (HTTP connection refused, SQL error...)
    "Timeout",
    "TemplateError",  # a template could not be rendered (undefined variable, syntax)
    "InvalidConfig",  # the rendered config does not match the kind's input model
    "PluginCrashed",
    "Cancelled",
    "InfraError",  # testflow itself could not run the step (no worker, store unavailable)
    "FileNotAllowed",  # a file outside the run's file root (flows run through the API)
]


class ResultModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssertionOutcome(ResultModel):
    """One checked assertion: where, what was expected, what was found."""

    path: str = Field(description="The assertion key: status, $.items[0].id, schema, that[1].")
    matcher: str = Field(description="eq, gte, contains, schema, subset, expression, ...")
    expected: Any = None
    actual: Any = None
    passed: bool
    message: str = ""
    diff: str | None = Field(None, description="A unified diff of expected vs actual, when useful.")


class ArtifactRef(ResultModel):
    """A file in the artifact store (a response body too large to travel, a row set...)."""

    name: str
    uri: str
    size: int
    media_type: str = "application/octet-stream"


class LogLine(ResultModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    message: str
    at: datetime | None = None


class StepError(ResultModel):
    type: ErrorType
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class AttemptRecord(ResultModel):
    """One failed try of a step that was retried."""

    attempt: int
    error: str
    at: datetime | None = None


class StepOutcome(ResultModel):
    """What an activity returns for one execution of a step (all attempts folded in)."""

    status: StepStatus
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    attempts: int = 1
    extracted: dict[str, Any] = Field(default_factory=dict)
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    error: StepError | None = None
    summary: str = Field("", description="One line for progress output: 'POST /orders -> 201'.")
    detail: ArtifactRef | None = Field(
        None, description="Full request/response/logs of the step in the artifact store."
    )
    preview: dict[str, Any] = Field(
        default_factory=dict, description="Small excerpt of request/response for live views."
    )
    logs: list[LogLine] = Field(default_factory=list)
    attempt_errors: list[AttemptRecord] = Field(default_factory=list)
    worker: str | None = None


class StepRecord(ResultModel):
    """A step as the run saw it: identity, place in the flow and its outcome."""

    key: str = Field(description="Unique within the run: steps.createOrder, steps.loop[2].get.")
    step_id: str
    kind: str
    phase: Phase
    parent: str | None = None
    iteration: int | None = None
    description: str | None = None
    status: StepStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float = 0.0
    attempts: int = 0
    extracted: dict[str, Any] = Field(default_factory=dict)
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    error: StepError | None = None
    summary: str = ""
    skip_reason: str | None = None
    detail: ArtifactRef | None = None
    preview: dict[str, Any] = Field(default_factory=dict)
    logs: list[LogLine] = Field(default_factory=list)
    attempt_errors: list[AttemptRecord] = Field(default_factory=list)
    worker: str | None = None
    context_changes: dict[str, Any] = Field(
        default_factory=dict, description="Variables this step set or changed (masked)."
    )


EventType = Literal["run_started", "step_started", "step_finished", "run_finished"]


class RunEvent(ResultModel):
    """One entry of a run's live event stream (``progress(since)`` query, SSE, CLI output)."""

    seq: int
    type: EventType
    at: datetime
    run_id: str
    flow: str
    step: StepRecord | None = None
    status: RunStatus | None = None


class RunResult(ResultModel):
    """The outcome of one flow run."""

    run_id: str
    flow: str
    flow_file: str | None = None
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: float = 0.0
    steps: list[StepRecord] = Field(default_factory=list)
    # Not in the published schemas: readers get the steps whole (testflow.runtime.run_results).
    steps_stored: SkipJsonSchema[list[ArtifactRef]] = Field(
        default_factory=list,
        description=(
            "Pages of the records before `steps` (JSON lists, in run order) that a long run "
            "kept in the artifact store: a result of every record would outgrow Temporal's "
            "payload limit and the workflow's time to serialise it."
        ),
    )
    context: dict[str, Any] = Field(default_factory=dict, description="Final context (masked).")
    error: StepError | None = None
    tags: list[str] = Field(default_factory=list)
    environment: str | None = None

    # No return annotation: with one, pydantic would take the serialisation schema (run.json's)
    # from it instead of from the fields.
    @model_serializer(mode="wrap")
    def _without_empty_pages(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # Left out when empty: reports (run.json) and the results of short runs stay as they were.
        data: dict[str, Any] = handler(self)
        if not data.get("steps_stored", True):
            del data["steps_stored"]
        return data

    @property
    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "cancelled": 0}
        for step in self.steps:
            out[step.status] += 1
        return out
