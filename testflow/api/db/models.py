"""Tables of the API database (the flow library, environments, run index, schedules, tokens).

Temporal keeps the live state of runs; the ``runs`` table is an index (what was started, by
whom, with which flow text and variables) and a summary store once a run ends, so listing and
filtering never scan Temporal's visibility. Tags are kept twice: a JSON list for answers and a
``,a,b,`` string that both SQLite and PostgreSQL filter with a plain LIKE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def tag_text(tags: list[str]) -> str:
    return "," + ",".join(tags) + "," if tags else ""


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class FlowRow(Base):
    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    folder: Mapped[str | None] = mapped_column(String(300), index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    tag_text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(300), default="flow.yaml")
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FlowVersion(Base):
    __tablename__ = "flow_versions"

    flow_id: Mapped[str] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    author: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuiteRow(Base):
    __tablename__ = "suites"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    flow_ids: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    environment: Mapped[str | None] = mapped_column(String(200))
    concurrency: Mapped[int] = mapped_column(Integer, default=4)
    fail_fast: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnvironmentRow(Base):
    __tablename__ = "environments"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """NAME -> AES-GCM ciphertext (see testflow.api.security.SecretBox); never returned."""
    connections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    flow_id: Mapped[str | None] = mapped_column(String(40), index=True)
    flow_version: Mapped[int | None] = mapped_column(Integer)
    flow_name: Mapped[str] = mapped_column(String(200), index=True)
    suite_id: Mapped[str | None] = mapped_column(String(40), index=True)
    parent_run_id: Mapped[str | None] = mapped_column(String(200), index=True)
    schedule_id: Mapped[str | None] = mapped_column(String(40), index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    tag_text: Mapped[str] = mapped_column(Text, default="")
    environment: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="running")
    trigger: Mapped[str] = mapped_column(String(20), default="api")
    started_by: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str | None] = mapped_column(Text)
    """The flow text the run started from (re-runs start it again)."""
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The final RunResult (masked by the workflow), once the run is over."""
    events: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """The run's event stream once it is over (SSE replays it with the same ids)."""


class ScheduleRow(Base):
    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # One of flow_id and suite_id: what each firing runs.
    flow_id: Mapped[str | None] = mapped_column(String(40), index=True, nullable=True)
    suite_id: Mapped[str | None] = mapped_column(String(40), index=True, nullable=True)
    suite_flows: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """The suite's flows when the schedule was made ({flow_id, version, name, tags} each, in
    child order): the schedule repeats that snapshot, and its firings' child rows name them."""
    environment: Mapped[str | None] = mapped_column(String(200))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cron: Mapped[list[Any]] = mapped_column(default=list)
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    overlap: Mapped[str] = mapped_column(String(30), default="skip")
    timezone: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked: Mapped[int] = mapped_column(Integer, default=0)
