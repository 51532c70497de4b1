"""Settings of testflow processes (CLI, worker, API), from ``TESTFLOW_*`` environment variables.

Every setting has an environment variable named after it (``TESTFLOW_TEMPORAL_ADDRESS``,
``TESTFLOW_ENCRYPTION_KEYS``...); command-line flags override them. See docs/configuration.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TASK_QUEUE = "testflow"


def default_home() -> Path:
    return Path.home() / ".testflow"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TESTFLOW_", extra="ignore")

    temporal_address: str | None = Field(
        None, description="HOST:PORT of a Temporal frontend; empty starts an embedded dev server."
    )
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: str | None = Field(None, description="Client certificate (PEM path) for mTLS.")
    temporal_tls_key: str | None = Field(None, description="Client key (PEM path) for mTLS.")
    temporal_tls_ca: str | None = None
    temporal_api_key: str | None = Field(None, description="API key (Temporal Cloud).")
    temporal_ui_url: str | None = Field(None, description="Base URL of the Temporal web UI.")
    task_queue: str = DEFAULT_TASK_QUEUE
    home: Path = Field(default_factory=default_home, description="Where testflow keeps its state.")
    artifacts_dir: Path | None = Field(
        None, description="Local artifact store (step details, large bodies); default HOME/artifacts."
    )
    artifacts_s3_url: str | None = Field(
        None, description="s3://bucket/prefix for a shared artifact store (distributed workers)."
    )
    encryption_keys: str | None = Field(
        None,
        description=(
            "Payload encryption keys as 'id:base64key[,id:base64key...]'; the first encrypts, "
            "all decrypt (rotation). Unset: a key is generated once under HOME/keys."
        ),
    )
    preview_bytes: int = Field(4096, description="Largest excerpt of a body kept in step results.")
    sticky_queue_timeout_s: float = Field(2.0, description="Crash recovery: see ARCHITECTURE.md 4.")
    max_concurrent_activities: int = 200
    max_concurrent_workflow_tasks: int = 100
    max_concurrent_local_activities: int = 200
    max_cached_workflows: int = Field(
        3000,
        description=(
            "Runs a worker keeps in memory (sticky cache), ~160 KB each for a waiting run. A run "
            "evicted from it costs nothing while it waits and is replayed from its history on "
            "its next task or query (~15-20 ms of worker CPU for a short history)."
        ),
    )
    plugins_dir: Path | None = None
    # -- API server (testflow serve); see docs/configuration.md ---------------------------
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the API database (postgresql+asyncpg://... or sqlite+aiosqlite:///...); "
            "default: SQLite at HOME/testflow.db."
        ),
    )
    auth: Literal["auto", "required", "off"] = Field(
        "auto",
        description="API auth: auto = required once a token exists; required; off (local only).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list or comma-separated)."
    )
    database_schema: str | None = Field(
        None, description="PostgreSQL schema of the API tables (created when missing)."
    )
    api_host: str = Field("127.0.0.1", description="Address `testflow serve` listens on.")
    api_port: int = Field(8420, description="Port `testflow serve` listens on.")
    public_url: str | None = Field(
        None, description="External base URL of the API (links to runs, webhook URLs)."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home / 'testflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.artifacts_dir or (self.home / "artifacts")
