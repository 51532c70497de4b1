"""The SuiteWorkflow's input, progress and result models.

Kept out of suite.py so the sandbox can pass them through (runtime/worker.py PASSTHROUGH):
building pydantic models is the costly part of importing a module, and the sandbox imports a
workflow class's module anew for every run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from testflow.dsl.results import RunStatus
from testflow.workflows.types import FlowInput

ChildStatus = Literal["queued", "running", "passed", "failed", "error", "cancelled"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuiteChild(_Model):
    """One flow of the suite: its run id (chosen by the starter) and its prepared input.

    ``run_id`` is left empty when the suite derives its children's ids (``derive_child_ids``).
    """

    run_id: str
    input: FlowInput


def derived_child_id(suite_run_id: str, index: int) -> str:
    """The run id of child ``index`` of a suite that derives its children's ids from its own.

    The API computes the same ids to index a scheduled suite run's children, so this is the
    one place that decides them.
    """
    return f"{suite_run_id}.{index}"


class SuiteInput(_Model):
    name: str = Field(description="The suite's name (search attribute TestflowFlow).")
    suite_id: str | None = None
    children: list[SuiteChild] = Field(min_length=1)
    concurrency: int = Field(4, ge=1, le=1000)
    fail_fast: bool = Field(
        False,
        description=(
            "After the first child that did not pass, start no more children (as `testflow "
            "run --fail-fast`): the running ones finish, the others are reported cancelled "
            "with started=False."
        ),
    )
    tags: list[str] = Field(default_factory=list)
    environment: str | None = None
    derive_child_ids: bool = Field(
        False,
        description=(
            "Name each child after the suite's own workflow id (derived_child_id) instead of "
            "the run ids in ``children``, which are then left empty. A Temporal Schedule "
            "repeats one input, and names each firing's workflow <id>-<time>: ids fixed in "
            "the input would be reused by every firing."
        ),
    )

    @model_validator(mode="after")
    def _child_ids(self) -> SuiteInput:
        given = [c.run_id for c in self.children if c.run_id]
        if self.derive_child_ids and given:
            raise ValueError("derive_child_ids: leave the children's run_id empty")
        if not self.derive_child_ids and len(given) < len(self.children):
            raise ValueError("every child needs a run_id (or set derive_child_ids)")
        return self


class ChildSummary(BaseModel):
    """Where one child is; ``counts`` are its step counts once it is over."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    flow: str
    status: ChildStatus = "queued"
    started: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    error: str | None = None


class SuiteProgress(_Model):
    """Answer of the suite's ``progress`` query (and its result, with ``done`` set)."""

    name: str
    status: RunStatus
    done: bool
    started_at: datetime
    finished_at: datetime | None = None
    concurrency: int
    children: list[ChildSummary]
