"""Settings of testflow processes (CLI, worker, API), from ``TESTFLOW_*`` environment variables.

Every setting has an environment variable named after it (``TESTFLOW_TEMPORAL_ADDRESS``,
``TESTFLOW_ENCRYPTION_KEYS``...); command-line flags override them. See docs/configuration.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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
    db_pool_size: int = Field(
        20, ge=1, description="API database connections kept open for requests (`testflow serve`)."
    )
    db_pool_overflow: int = Field(
        10, ge=0, description="Connections opened for one request above the pool, then closed."
    )
    stream_queries_per_second: float = Field(
        20.0,
        gt=0,
        description=(
            "Progress queries all live event streams of one server send Temporal together "
            "(each costs ~5 ms of worker and ~5 ms of Temporal CPU)."
        ),
    )

    tracker_sweep_s: float = Field(
        30.0,
        ge=0,
        description=(
            "How often each API replica looks (through Temporal visibility) for indexed runs "
            "that ended while nobody followed them (their replica died); 0: only at start-up."
        ),
    )
    schedule_sync_s: float = Field(
        15.0,
        ge=0,
        description=(
            "How often the API indexes the runs schedules started (listed through Temporal "
            "visibility); 0: only when a schedule is read."
        ),
    )

    # -- OpenID Connect sign-in for the API and UI (docs/configuration.md, "OIDC") ---------
    oidc_issuer: str | None = Field(
        None, description="Issuer URL of the OpenID provider; set it to turn OIDC sign-in on."
    )
    oidc_client_id: str | None = Field(None, description="Client id of the testflow UI.")
    oidc_client_secret: SecretStr | None = Field(
        None,
        description="Secret of a confidential client: the code exchange then goes through the API.",
    )
    oidc_audience: str | None = Field(
        None, description="The `aud` access tokens must carry; default: the client id."
    )
    oidc_scopes: str = Field("openid profile email", description="Scopes the UI asks for.")
    oidc_roles_claim: str = Field(
        "groups", description="Claim with the groups/roles (dotted path: realm_access.roles)."
    )
    oidc_role_map: Annotated[dict[str, Literal["viewer", "runner", "admin"]], NoDecode] = Field(
        default_factory=dict,
        description=(
            "Claim value -> testflow role, as JSON or 'group=role,group=role'; the highest "
            "mapped role wins. Empty: the values viewer/runner/admin are taken as they are."
        ),
    )
    oidc_username_claim: str = Field(
        "preferred_username", description="Claim shown as the caller's name (else `sub`)."
    )
    oidc_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        description="Signature algorithms accepted (asymmetric only).",
    )
    oidc_leeway_s: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    oidc_jwks_refetch_s: float = Field(
        30.0, ge=0, description="Least time between two JWKS fetch attempts (unknown key ids, a provider that is down)."
    )
    oidc_jwks_max_age_s: float = Field(3600.0, gt=0, description="JWKS cache lifetime.")

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _parse_role_map(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("{"):
                return json.loads(value)
            pairs = [p.strip() for p in value.split(",") if p.strip()]
            bad = [p for p in pairs if "=" not in p]
            if bad:
                raise ValueError(f"role map entries look like 'claim-value=role', not {bad[0]!r}")
            return {k.strip(): v.strip() for k, v in (p.rsplit("=", 1) for p in pairs)}
        return value

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _parse_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"}
            unsafe = [a for a in value if a not in allowed]
            if unsafe:
                # none and HS* would let anyone holding the public JWKS forge tokens.
                raise ValueError(f"unsupported OIDC algorithm(s) {unsafe}; use {sorted(allowed)}")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        # Caught here, at start-up, rather than on the first sign-in.
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("TESTFLOW_OIDC_ISSUER is set: TESTFLOW_OIDC_CLIENT_ID is needed too")
        return self

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
