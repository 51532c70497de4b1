"""S3 step kinds: ``s3.put|get|delete|list|assert`` for AWS S3 and S3-compatible stores
(MinIO, Ceph, moto...). One name per thing: MinIO is reached with ``s3.*`` and its
``endpoint``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from testflow.dsl.kinds.sql import is_template
from testflow.dsl.models import FrozenModel, RetrySpec
from testflow.dsl.registry import StepKind


def check_endpoint(url: str) -> str:
    """Raise ValueError unless ``url`` is an http(s):// endpoint with a host."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed endpoint URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "expected an endpoint like http://127.0.0.1:9000 (MinIO) or https://s3.eu-west-1.amazonaws.com"
        )
    return url


class S3Target(FrozenModel):
    """Where the object store is and who we are there."""

    endpoint: str | None = Field(
        None, description="Endpoint URL (MinIO: http://host:9000); AWS's when omitted."
    )
    connection: str | None = Field(
        None,
        description="A connection of the environment file: url is the endpoint, options may "
        "hold region, access_key, secret_key.",
    )
    region: str | None = Field(None, description="Region; us-east-1 when not given anywhere.")
    access_key: str | None = Field(
        None, description="Access key id; the AWS default chain when omitted."
    )
    secret_key: str | None = Field(None, description="Secret access key (use {{ secret('...') }}).")
    path_style: bool | None = Field(
        None, description="Path-style addressing (MinIO needs it); default: on with an endpoint."
    )
    bucket: str = Field(min_length=1)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_shape(cls, value: str | None) -> str | None:
        if value is None or is_template(value):
            return value
        return check_endpoint(value)


class S3PutConfig(S3Target):
    key: str = Field(min_length=1)
    content: Any = Field(None, description="Text as is; a mapping or list as JSON.")
    file: str | None = Field(None, description="Upload this local file instead of content.")
    content_type: str | None = Field(None, description="Default: from the content or file name.")
    metadata: dict[str, str] = Field(default_factory=dict, description="x-amz-meta-* values.")
    create_bucket: bool = Field(False, description="Create the bucket first when it is missing.")

    @model_validator(mode="after")
    def _one_source(self) -> S3PutConfig:
        if (self.content is None) == (self.file is None):
            raise ValueError("give exactly one of 'content' or 'file'")
        return self


class S3GetConfig(S3Target):
    key: str = Field(min_length=1)
    format: Literal["auto", "text", "json", "base64"] = Field(
        "auto",
        description="auto: JSON when the content type says so, else text (base64 if binary).",
    )
    max_bytes: int = Field(16 * 1024 * 1024, ge=1, description="Refuse larger objects.")


class S3DeleteConfig(S3Target):
    key: str = Field(min_length=1)


class S3ListConfig(S3Target):
    prefix: str = ""
    max_keys: int = Field(1000, ge=1, le=100_000)


class S3AssertConfig(S3Target):
    key: str = Field(min_length=1)
    exists: bool = Field(True, description="false: assert that the object is absent.")


def _kind(
    verb: str,
    model: type[FrozenModel],
    description: str,
    primary: str,
    fields: tuple[str, ...],
    example: dict[str, Any],
) -> StepKind:
    return StepKind(
        name=f"s3.{verb}",
        description=description,
        input_model=model,
        executor=f"testflow.activities.s3:s3_{verb}",
        mode="quick",
        default_timeout=timedelta(seconds=30),
        default_retry=RetrySpec(attempts=1),
        primary=primary,
        result_fields=(*fields, "duration_ms"),
        category="storage",
        icon="bucket",
        example={
            "id": f"s3_{verb}",
            "type": f"s3.{verb}",
            "endpoint": "http://127.0.0.1:9000",
            "bucket": "invoices",
            **example,
        },
    )


S3_KINDS: list[StepKind] = [
    _kind(
        "put",
        S3PutConfig,
        "Upload an object.",
        "the upload's metadata",
        ("etag", "size", "version_id"),
        {"key": "in/{{ orderId }}.json", "content": {"order": "{{ orderId }}"}},
    ),
    _kind(
        "get",
        S3GetConfig,
        "Download an object; assert on its content.",
        "the content (parsed JSON when JSON)",
        ("content", "size", "content_type", "etag", "metadata", "last_modified"),
        {"key": "out/{{ orderId }}.json", "assert": {"$.status": "INVOICED"}},
    ),
    _kind(
        "delete",
        S3DeleteConfig,
        "Delete an object.",
        "the key",
        ("deleted",),
        {"key": "in/{{ orderId }}.json"},
    ),
    _kind(
        "list",
        S3ListConfig,
        "List objects under a prefix.",
        "the objects [{key, size, etag, last_modified}]",
        ("keys", "count"),
        {"prefix": "out/", "assert": {"count": {"gte": 1}}},
    ),
    _kind(
        "assert",
        S3AssertConfig,
        "Assert that an object exists (or not).",
        "the object's metadata",
        ("exists", "size", "content_type", "etag", "metadata"),
        {"key": "out/{{ orderId }}.pdf"},
    ),
]
