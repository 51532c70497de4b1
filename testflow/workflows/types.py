"""Inputs and outputs of the workflows and of the generic step activity."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, model_validator

from testflow.dsl.models import Flow, RetrySpec
from testflow.dsl.registry import KindMode, StepKind
from testflow.dsl.results import ArtifactRef, RunEvent, StepRecord
from testflow.workflows import carried as carried_flows

# Executors that never read StepContext.step_outputs (checked by a test). Third-party kinds and
# plugins may, so they keep getting it.
_OWN_EXECUTORS = ("testflow.activities.", "testflow.mocks.")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KindOptions(Model):
    """What the interpreter needs to know of a step kind (resolved from the registry outside)."""

    name: str
    mode: KindMode
    activity: str
    timeout: timedelta
    retry: RetrySpec
    step_outputs: bool = Field(
        True,
        description=(
            "The kind's executor may read the outputs of earlier steps (the `steps` map; "
            "plugins get it as the protocol's step_outputs), so its activity is sent the whole "
            "map, which grows with every step. False for testflow's own executors."
        ),
    )

    @classmethod
    def of(cls, kind: StepKind) -> KindOptions:
        return cls(
            name=kind.name,
            mode=kind.mode,
            activity=kind.activity_name,
            timeout=kind.default_timeout,
            retry=kind.default_retry,
            step_outputs=not (kind.executor or "").startswith(_OWN_EXECUTORS),
        )


class RunOptions(Model):
    """Knobs of one run that are not part of the flow."""

    heartbeat_timeout: timedelta = timedelta(seconds=5)
    progress_page: int = 500
    fail_fast: bool = False
    records_page: int = Field(
        1000,
        ge=1,
        description=(
            "Step records a run keeps before it moves them to the artifact store (a page; "
            "RunResult.steps_stored), so its result and carried state stay small."
        ),
    )
    file_root: str | None = Field(
        None,
        description=(
            "Folder every file a step opens must resolve inside (multipart parts, TLS files, "
            "SQLite databases...); set by the API to its flow library. None: unrestricted "
            "(testflow run on a laptop reads local files)."
        ),
    )


class WebhookDelivery(Model):
    """One inbound call to a run's webhook URL, as signalled by the receiver."""

    name: str
    method: str = "POST"
    path: str = ""
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    received_at: datetime
    status: int = 200
    accepted: bool = True
    reason: str | None = Field(None, description="Why a delivery was rejected (bad signature...).")


class CarriedState(Model):
    """What a run hands to its next incarnation on continue-as-new."""

    next_index: int
    context: dict[str, Any]
    records: list[StepRecord]
    event_seq: int
    started_at: datetime
    failed: bool
    webhooks: dict[str, list[WebhookDelivery]] = Field(default_factory=dict)
    webhook_nonce: str = ""
    stored: list[ArtifactRef] = Field(
        default_factory=list,
        description="Pages of earlier records in the artifact store (RunResult.steps_stored).",
    )


class RecordsPage(Model):
    """Step records a long run moves to the artifact store (activity ``STORE_RECORDS``)."""

    run_id: str
    index: int = Field(description="0, 1, 2... in run order (the file name).")
    records: list[StepRecord]


class ResumeFrom(Model):
    """Start a re-run at a top-level step with what an earlier run had before it.

    The steps before ``step_id`` are not executed again: they are reported as skipped
    (reused). Setup and teardown run again. ``context`` holds variables and extracted values
    in clear; values that were masked in the earlier run's record are left out (secrets come
    from the environment again), so nothing masked is ever fed back into a run.
    """

    run_id: str = Field(description="The earlier run whose context is reused.")
    step_id: str = Field(description="The top-level step to start at.")
    context: dict[str, Any] = Field(
        default_factory=dict, description="Context to seed (over the flow's own `context`)."
    )
    changes: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="What each reused top-level step set in the earlier run (masked; shown).",
    )


class FlowInput(Model):
    """Everything a run needs: the validated flow and the values resolved outside the workflow."""

    run_id: str
    flow: Flow
    flow_file: str | None = None
    kinds: dict[str, KindOptions]
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the flow context (--var, environment)."
    )
    secrets: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(
        default_factory=dict, description="Snapshot of the environment variables the flow reads."
    )
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    environment: str | None = None
    options: RunOptions = Field(default_factory=RunOptions)
    carried: CarriedState | None = None
    parent_run_id: str | None = None
    webhook_base: str | None = Field(
        None, description="Public base URL of the webhook receiver (http://host:port)."
    )
    webhook_nonce: str | None = Field(
        None,
        description=(
            "Nonce of the run's webhook tokens, made by the starter so it knows the URLs at "
            "once (testflow.webhooks.tokens); None: the workflow draws one."
        ),
    )
    resume: ResumeFrom | None = Field(
        None, description="Re-run from a step of an earlier run (POST /runs/{id}/rerun)."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _carried_flow(cls, data: Any, handler: ModelWrapValidatorHandler[FlowInput]) -> FlowInput:
        """A continue-as-new input takes the flow its previous incarnation validated, when this
        worker ran it (carried.py), instead of validating every step again."""
        carried = data.get("carried") if isinstance(data, dict) else None
        if not isinstance(carried, dict):
            return handler(data)
        run_id, seq = data.get("run_id"), carried.get("event_seq")
        kept = (
            carried_flows.take(run_id, seq)
            if isinstance(run_id, str) and isinstance(seq, int)
            else None
        )
        if kept is None:
            return handler(data)
        started_at, flow = kept
        value = handler({**data, "flow": flow})
        if value.carried is None or value.carried.started_at != started_at:
            return handler(data)  # another run with this id and seq: validate its own flow
        return value


class PollSpec(Model):
    every: timedelta
    within: timedelta


class StepInput(Model):
    """The one typed input of every step activity."""

    run_id: str
    flow_name: str
    step_id: str
    step_key: str
    kind: str
    config: dict[str, Any]
    assertions: dict[str, Any] = Field(default_factory=dict)
    extract: dict[str, str] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    secret_values: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    timeout: timedelta
    poll: PollSpec | None = None
    retry_on_assertion: bool = False
    file_root: str | None = Field(None, description="RunOptions.file_root of the run.")


class ProgressPage(Model):
    """Answer of the ``progress`` query: events after ``since`` and whether the run is over."""

    events: list[RunEvent]
    done: bool
    status: Literal["running", "passed", "failed", "error", "cancelled"]


class WebhookConfig(Model):
    """What the receiver needs to answer a delivery (query ``webhook_config``)."""

    name: str
    token: str
    known: bool = Field(description="Whether the flow declares this webhook.")
    signature: dict[str, Any] | None = None
    responses: list[dict[str, Any]] = Field(default_factory=list)
    received: int = 0
