"""S3 steps against moto's S3 server on loopback: put, get, list, assert, delete, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testflow.activities import s3 as s3_steps
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.s3 import S3_KINDS
from tests.activities.conftest_services_sql import MakeCtx

pytestmark = pytest.mark.service

KINDS = {k.name: k for k in S3_KINDS}
CREDS = {"access_key": "testing", "secret_key": "testing-secret"}


@pytest.fixture
def bucket(unique: str) -> str:
    return unique.replace("_", "-")


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    """Validate ``config`` with the kind's model (as the runner does) and run the executor."""
    parsed = KINDS[kind].parse_config(config)
    executor = getattr(s3_steps, KINDS[kind].executor.split(":")[1])  # type: ignore[union-attr]
    return await executor(parsed, ctx)


async def test_put_get_list_assert_delete(
    moto_endpoint: str, bucket: str, make_ctx: MakeCtx
) -> None:
    base = {"endpoint": moto_endpoint, "bucket": bucket, **CREDS}
    out = await step(
        "s3.put",
        {
            **base,
            "key": "in/o-1.json",
            "content": {"order": "o-1", "total": 12.5},
            "metadata": {"source": "tf"},
            "create_bucket": True,
        },
        make_ctx(),
    )
    assert out.fields["size"] > 0 and out.fields["etag"]
    await step("s3.put", {**base, "key": "in/o-2.txt", "content": "plain text"}, make_ctx())
    await step("s3.put", {**base, "key": "other/x", "content": "x"}, make_ctx())

    out = await step("s3.get", {**base, "key": "in/o-1.json"}, make_ctx())
    assert out.document == {"order": "o-1", "total": 12.5}  # JSON content type: parsed
    assert out.fields["content_type"] == "application/json"
    assert out.fields["metadata"] == {"source": "tf"}
    out = await step("s3.get", {**base, "key": "in/o-2.txt"}, make_ctx())
    assert out.document == "plain text"
    out = await step("s3.get", {**base, "key": "in/o-2.txt", "format": "base64"}, make_ctx())
    assert out.document == "cGxhaW4gdGV4dA=="

    out = await step("s3.list", {**base, "prefix": "in/"}, make_ctx())
    assert out.fields["keys"] == ["in/o-1.json", "in/o-2.txt"]
    assert out.document[1]["size"] == len("plain text")

    out = await step("s3.assert", {**base, "key": "in/o-2.txt"}, make_ctx())
    assert out.fields["exists"] is True and out.fields["size"] == 10
    await step("s3.delete", {**base, "key": "in/o-2.txt"}, make_ctx())
    out = await step("s3.assert", {**base, "key": "in/o-2.txt", "exists": False}, make_ctx())
    assert out.fields == {"exists": False, "duration_ms": out.fields["duration_ms"]}
    with pytest.raises(StepFailure) as info:
        await step("s3.assert", {**base, "key": "in/o-2.txt"}, make_ctx())
    assert info.value.type == "AssertionFailed" and "does not exist" in info.value.message


async def test_upload_a_file_and_use_a_named_connection(
    moto_endpoint: str, bucket: str, tmp_path: Path, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(
        connections={"minio": {"url": moto_endpoint, "options": {**CREDS, "region": "eu-west-1"}}}
    )
    source = tmp_path / "invoice.csv"
    source.write_text("id,total\n1,10\n")
    out = await step(
        "s3.put",
        {
            "connection": "minio",
            "bucket": bucket,
            "key": "invoice.csv",
            "file": str(source),
            "create_bucket": True,
        },
        ctx,
    )
    assert out.fields["size"] == source.stat().st_size
    out = await step("s3.get", {"connection": "minio", "bucket": bucket, "key": "invoice.csv"}, ctx)
    assert out.document == "id,total\n1,10\n"
    assert out.fields["content_type"] == "text/csv"


async def test_missing_key_and_bucket_are_s3_errors(
    moto_endpoint: str, bucket: str, make_ctx: MakeCtx
) -> None:
    base = {"endpoint": moto_endpoint, "bucket": bucket, **CREDS}
    with pytest.raises(StepFailure) as info:
        await step("s3.get", {**base, "key": "nope"}, make_ctx())
    assert info.value.type == "StepFailed" and "NoSuchBucket" in info.value.message
    await step("s3.put", {**base, "key": "a", "content": "a", "create_bucket": True}, make_ctx())
    with pytest.raises(StepFailure, match="NoSuchKey"):
        await step("s3.get", {**base, "key": "nope"}, make_ctx())


async def test_unreachable_endpoint_names_host_and_port(make_ctx: MakeCtx) -> None:
    with pytest.raises(StepFailure) as info:
        await step(
            "s3.get",
            {"endpoint": "http://127.0.0.1:9", "bucket": "b", "key": "k", **CREDS},
            make_ctx(timeout=5),
        )
    assert info.value.type == "InfraError" and "127.0.0.1:9" in info.value.message
    assert "testing-secret" not in info.value.message


def test_config_validation() -> None:
    put = KINDS["s3.put"]
    assert put.config_problems({"bucket": "b", "key": "k"})  # neither content nor file
    assert put.config_problems({"bucket": "b", "key": "k", "content": "x", "file": "f"})
    assert put.config_problems({"endpoint": "ftp://x", "bucket": "b", "key": "k", "content": "x"})
    assert (
        put.config_problems({"endpoint": "{{ env.S3 }}", "bucket": "b", "key": "k", "content": "x"})
        == []
    )
