"""Building step records and outcomes in the interpreter (pure: the caller passes the clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

from testflow.dsl.models import StepBase
from testflow.dsl.results import StepError, StepOutcome, StepRecord, StepStatus

STORE_RECORDS = "testflow.store_records"
"""Activity that writes a page of step records to the artifact store and returns its ref."""
STORE_RECORDS_PATCH = "records-in-artifact-store"
"""Guards the activity (RunOptions.records_page). Every record in the result made the
10,000-step result ~6 MB, and each continue-as-new handed the next run all records so far,
parsed by it inside the deadlock detector's 2 s (exceeded at ~4,000 records on a busy
machine). A page of 1,000 is a few tens of KB through the codec, one local activity."""


def parent_of(key: str) -> str | None:
    """``steps.group.inner`` -> ``steps.group``; None at the top."""
    head, sep, _ = key.rpartition(".")
    return head if sep else None


def outcome(
    started: datetime,
    now: datetime,
    status: StepStatus,
    *,
    error: StepError | None = None,
    summary: str = "",
) -> StepOutcome:
    """The outcome of a step the interpreter ran itself (or could not run)."""
    return StepOutcome(
        status=status,
        started_at=started,
        finished_at=now,
        duration_ms=(now - started).total_seconds() * 1000,
        error=error,
        summary=summary or (error.message if error else ""),
    )


def outcome_from_error(
    exc: ActivityError | ApplicationError, started: datetime, now: datetime, timeout: timedelta
) -> StepOutcome:
    """The outcome a failed activity carried in its error details, else one built from it.

    Local activity failures may surface as the ApplicationError itself, not wrapped.
    """
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError) and cause.details:
        detail = cause.details[0]
        if isinstance(detail, dict) and "status" in detail:
            return StepOutcome.model_validate(detail)
    if isinstance(cause, TimeoutError):
        error = StepError(type="Timeout", message=f"the step did not finish within {timeout}")
    else:
        error = StepError(type="InfraError", message=str(cause or exc))
    return outcome(started, now, "error", error=error)


def step_record(
    step: StepBase,
    phase: str,
    key: str,
    iteration: int | None,
    status: StepStatus,
    started: datetime | None,
    now: datetime,
    *,
    error: StepError | None = None,
    skip_reason: str | None = None,
) -> StepRecord:
    """A record for a step without an activity outcome (started, skipped, control steps)."""
    return StepRecord(
        key=key,
        step_id=step.id,
        kind=step.type,
        phase=phase,
        parent=parent_of(key),
        iteration=iteration,
        description=step.description,
        status=status,
        started_at=started,
        finished_at=now if started else None,
        duration_ms=(now - started).total_seconds() * 1000 if started else 0.0,
        error=error,
        summary=error.message if error else (skip_reason or ""),
        skip_reason=skip_reason,
    )


def record_from_outcome(
    *,
    key: str,
    step_id: str,
    kind: str,
    phase: str,
    parent: str | None,
    iteration: int | None,
    description: str | None,
    outcome: StepOutcome,
    context_changes: dict[str, Any],
) -> StepRecord:
    return StepRecord(
        key=key,
        step_id=step_id,
        kind=kind,
        phase=phase,
        parent=parent,
        iteration=iteration,
        description=description,
        status=outcome.status,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        duration_ms=outcome.duration_ms,
        attempts=outcome.attempts,
        extracted=outcome.extracted,
        assertions=outcome.assertions,
        error=outcome.error,
        summary=outcome.summary,
        detail=outcome.detail,
        logs=outcome.logs,
        attempt_errors=outcome.attempt_errors,
        worker=outcome.worker,
        context_changes=context_changes,
    )
