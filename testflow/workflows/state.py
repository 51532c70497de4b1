"""Run state kept by the interpreter: context, step records and the live event log.

Pure bookkeeping, no Temporal calls except the workflow clock passed in, so it is easy to test
and cheap to carry across continue-as-new. Records stay small (no previews, ARCHITECTURE.md
section 2); previews travel only in the events the live views consume.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from testflow.dsl.masking import mask
from testflow.dsl.results import (
    ArtifactRef,
    RunEvent,
    RunResult,
    RunStatus,
    StepError,
    StepRecord,
    StepStatus,
)

_MISSING = object()
STEPS = "steps"
"""The context's map of every finished step's status and extracted values (``steps.login.token``)."""


def activity_context(
    context: dict[str, Any], *, step_outputs: bool, that: Any, extract: dict[str, str]
) -> dict[str, Any]:
    """The context a step's activity is sent: without the ``steps`` map unless it may be read.

    The map grows with every finished step; sent whole, each step's input (serialised,
    encrypted, handed to the SDK core) grew with the run: ~370 KB at step 10,000 of a flow of
    transform steps; the last tenth of a 3,000-step run took 3x the first per step
    (bench/long_flow.py). The workflow renders config and assertions itself; in the activity
    only ``that`` expressions and template extractions see the context, and executors that
    read ``step_outputs`` (plugins, third-party kinds).
    """
    if step_outputs or STEPS not in context:
        return context
    if STEPS in repr(that) or any(STEPS in text for text in extract.values()):
        return context
    return {name: value for name, value in context.items() if name != STEPS}


class RunState:
    def __init__(
        self,
        *,
        run_id: str,
        flow: str,
        clock: Callable[[], datetime],
        secrets: list[str],
        context: dict[str, Any],
        records: list[StepRecord] | None = None,
        stored: list[ArtifactRef] | None = None,
        event_seq: int = 0,
        started_at: datetime | None = None,
    ) -> None:
        self.run_id = run_id
        self.flow = flow
        self.clock = clock
        self.secrets = secrets
        self.context = context
        self.records: list[StepRecord] = list(records or [])
        # Earlier records, moved to the artifact store a page at a time (long runs).
        self.stored: list[ArtifactRef] = list(stored or [])
        self.events: list[RunEvent] = []
        self.seq = event_seq
        self.started_at = started_at or clock()
        self.failed = False
        self.cancelled = False
        self.finished = False
        self.status: RunStatus = "running"

    # -- events -------------------------------------------------------------------------
    def _emit(
        self, type_: str, step: StepRecord | None = None, status: RunStatus | None = None
    ) -> None:
        self.seq += 1
        self.events.append(
            RunEvent(
                seq=self.seq,
                type=type_,
                at=self.clock(),
                run_id=self.run_id,
                flow=self.flow,
                step=step,
                status=status,
            )
        )

    def run_started(self) -> None:
        self._emit("run_started", status="running")

    def run_finished(self, status: RunStatus) -> None:
        self.status = status
        self.finished = True
        self._emit("run_finished", status=status)

    def events_since(self, since: int, limit: int) -> list[RunEvent]:
        if not self.events or since >= self.seq:
            return []
        first = self.events[0].seq
        start = max(0, since + 1 - first)
        return self.events[start : start + limit]

    # -- steps --------------------------------------------------------------------------
    def step_started(self, record: StepRecord) -> None:
        self._emit("step_started", step=record)

    def masked(self, value: Any) -> Any:
        return mask(value, self.secrets) if self.secrets else value

    def finish(self, record: StepRecord, preview: dict[str, Any] | None = None) -> StepRecord:
        """Store the record (without preview) and emit it (with the preview)."""
        self.records.append(record)
        shown = record.model_copy(update={"preview": self.masked(preview)}) if preview else record
        self._emit("step_finished", step=shown)
        return record

    def merge_extracted(self, values: dict[str, Any]) -> dict[str, Any]:
        """Put extracted values into the context; returns what changed, masked."""
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if self.context.get(name, _MISSING) != value:
                changes[name] = value
            self.context[name] = value
        return self.masked(changes)  # type: ignore[no-any-return]

    def note_step_output(self, step_id: str, status: StepStatus, extracted: dict[str, Any]) -> None:
        steps = self.context.setdefault(STEPS, {})
        steps[step_id] = {"status": status, **extracted}

    def step_outputs(self) -> dict[str, Any]:
        value = self.context.get(STEPS, {})
        return dict(value) if isinstance(value, dict) else {}

    def records_stored(self, ref: ArtifactRef) -> None:
        """The records so far are in the store as page ``ref``: the run keeps only the ref."""
        self.stored.append(ref)
        self.records = []

    # -- result -------------------------------------------------------------------------
    def result(
        self,
        *,
        flow_file: str | None,
        tags: list[str],
        environment: str | None,
        error: StepError | None = None,
    ) -> RunResult:
        finished = self.clock()
        visible = {k: v for k, v in self.context.items() if k not in ("steps", "env")}
        return RunResult(
            run_id=self.run_id,
            flow=self.flow,
            flow_file=flow_file,
            status=self.status,
            started_at=self.started_at,
            finished_at=finished,
            duration_ms=(finished - self.started_at).total_seconds() * 1000,
            steps=self.records,
            context=self.masked(visible),
            error=error,
            tags=tags,
            environment=environment,
            # Only when there are: the result of a short run stays as it was.
            **({"steps_stored": self.stored} if self.stored else {}),
        )
