"""Request and answer models of the HTTP API (docs/api-contract.md); the OpenAPI comes from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from testflow.dsl.models import STEP_ID_PATTERN

T = TypeVar("T")
Name = Field(min_length=1, max_length=200)


class In(BaseModel):
    """Request bodies refuse unknown keys, so a typo is an error and not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorItem(BaseModel):
    path: str = ""
    line: int | None = None
    col: int | None = None
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"
    file: str | None = None


class ErrorDetail(BaseModel):
    message: str
    errors: list[ErrorItem] = Field(default_factory=list)


class ErrorBody(BaseModel):
    detail: ErrorDetail


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


# -- flows -------------------------------------------------------------------------------


class ValidateRequest(In):
    text: str = Field(max_length=2_000_000)
    filename: str | None = Field(None, max_length=300)


class ValidateResult(BaseModel):
    valid: bool
    diagnostics: list[ErrorItem]


class FlowCreate(In):
    text: str = Field(max_length=2_000_000, description="YAML or JSON, stored byte for byte.")
    folder: str | None = Field(None, max_length=300)
    layout: dict[str, Any] | None = Field(None, description="Canvas positions (the UI's).")
    filename: str | None = Field(None, max_length=300)


class FlowUpdate(In):
    text: str = Field(max_length=2_000_000)
    layout: dict[str, Any] | None = None
    folder: str | None = Field(None, max_length=300)


class LastRun(BaseModel):
    run_id: str
    status: str
    finished_at: datetime | None


class FlowSummary(BaseModel):
    id: str
    name: str
    folder: str | None
    tags: list[str]
    version: int
    updated_at: datetime
    last_run: LastRun | None = None


class FlowOut(BaseModel):
    id: str
    name: str
    folder: str | None
    tags: list[str]
    version: int
    text: str
    layout: dict[str, Any] | None
    updated_at: datetime
    warnings: list[ErrorItem] = Field(default_factory=list)


class FlowVersionOut(BaseModel):
    version: int
    created_at: datetime
    author: str | None


class FlowVersionText(FlowVersionOut):
    text: str
    layout: dict[str, Any] | None


# -- suites & environments ---------------------------------------------------------------


class SuiteIn(In):
    name: str = Name
    description: str | None = Field(None, max_length=2000)
    flow_ids: list[str] = Field(min_length=1, max_length=1000)
    tags: list[str] = Field(default_factory=list)
    environment: str | None = None
    concurrency: int = Field(4, ge=1, le=1000)
    fail_fast: bool = Field(
        False,
        description=(
            "After the first flow that did not pass, start no more flows of a run of this suite "
            "(the running ones finish; the others end cancelled without starting)."
        ),
    )


class SuiteOut(BaseModel):
    id: str
    name: str
    description: str | None = None
    flow_ids: list[str]
    tags: list[str]
    environment: str | None
    concurrency: int
    fail_fast: bool


class EnvironmentIn(In):
    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str | None] = Field(
        default_factory=dict,
        description=(
            "Write-only. A value sets the secret; null or '***' keeps the stored one; "
            "a name left out is deleted."
        ),
    )
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)


class EnvironmentOut(BaseModel):
    name: str
    description: str | None
    variables: dict[str, Any]
    secrets: dict[str, str] = Field(description="Names only; every value reads '***'.")
    connections: dict[str, Any]
    updated_at: datetime


# -- runs --------------------------------------------------------------------------------


class RunStart(In):
    flow_id: str | None = None
    text: str | None = Field(None, max_length=2_000_000, description="An inline flow definition.")
    filename: str | None = Field(None, max_length=300)
    suite_id: str | None = None
    environment: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


class StartedRun(BaseModel):
    run_id: str
    workflow_id: str | None
    temporal_url: str | None = None


class RunStarted(StartedRun):
    runs: list[StartedRun] = Field(default_factory=list, description="The flows of a suite run.")


class RunSummary(BaseModel):
    run_id: str
    flow_id: str | None
    flow_name: str
    tags: list[str]
    environment: str | None
    status: str
    trigger: str
    started_by: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float
    counts: dict[str, int]
    suite_id: str | None
    parent_run_id: str | None
    schedule_id: str | None


class RunSource(RunSummary):
    """A run's index entry with the flow text it started from (the UI draws its graph)."""

    flow_version: int | None
    text: str | None
    variables: dict[str, Any]
    temporal_url: str | None = None


class RerunRequest(In):
    from_step: str | None = Field(
        None,
        max_length=200,
        pattern=STEP_ID_PATTERN,
        description=(
            "Re-run from this failed top-level step: the steps before it are not executed "
            "again (reported as skipped, reused from the earlier run, whose variables and "
            "extracted values the new run starts with); setup and teardown run again."
        ),
    )
    vars: dict[str, Any] = Field(
        default_factory=dict,
        description="Variables to change for the re-run (over the earlier run's variables).",
    )


# -- schedules, tokens, plugins ------------------------------------------------------------

Overlap = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]


class ScheduleIn(In):
    name: str = Name
    flow_id: str | None = Field(None, description="The flow each firing runs (or suite_id).")
    suite_id: str | None = Field(
        None,
        description=(
            "Or the suite each firing runs: one suite run per firing, its children indexed "
            "as a POST /runs {suite_id} run's (environment defaults to the suite's)."
        ),
    )
    cron: list[str] = Field(
        default_factory=list, description="Cron expressions (UTC unless timezone)."
    )
    interval: str | None = Field(None, description="Or a fixed interval: 30s, 5m, 1h.")
    timezone: str | None = None
    environment: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    overlap: Overlap = "skip"
    paused: bool = False


class ScheduleOut(BaseModel):
    id: str
    name: str
    flow_id: str | None
    suite_id: str | None = None
    cron: list[str]
    interval_s: float | None
    timezone: str | None
    environment: str | None
    overlap: str
    paused: bool
    next_runs: list[datetime] = Field(default_factory=list)
    recent_runs: list[str] = Field(default_factory=list)


class TokenIn(In):
    name: str = Name
    role: Literal["viewer", "runner", "admin"]


class TokenOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; only its hash is stored.")


class PluginInstall(In):
    source: str = Field(min_length=1, description="A local directory or archive on the server.")
    force: bool = False


class StepKindOut(BaseModel):
    name: str
    description: str
    category: str
    icon: str
    mode: str
    schema_: dict[str, Any] = Field(alias="schema")
    example: dict[str, Any] | None
    source: str
    result_fields: list[str]

    model_config = ConfigDict(populate_by_name=True)
