"""Executors of the ``s3.*`` step kinds (aiobotocore; AWS S3, MinIO and other S3 APIs).

One client per endpoint, region and credentials per worker. An unreachable endpoint is an
``InfraError`` naming host and port; an S3 error reply (NoSuchBucket, AccessDenied) is a
``StepFailed`` with S3's code and message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import mimetypes
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.s3 import (
    S3AssertConfig,
    S3DeleteConfig,
    S3GetConfig,
    S3ListConfig,
    S3PutConfig,
    S3Target,
    check_endpoint,
)


def _settings(config: S3Target, ctx: StepContext) -> dict[str, Any]:
    """Endpoint, region and credentials: the step's own, else its named connection's."""
    conn: dict[str, Any] = {}
    if config.connection:
        if config.connection not in ctx.connections:
            known = ", ".join(sorted(ctx.connections)) or "none"
            raise StepFailure(
                f"unknown connection {config.connection!r} (the environment defines: {known})",
                type="InvalidConfig",
                retryable=False,
            )
        conn = ctx.connections[config.connection]
    options = dict(conn.get("options") or {})
    endpoint = config.endpoint or conn.get("url") or conn.get("dsn")
    if endpoint:
        try:
            check_endpoint(str(endpoint))
        except ValueError as exc:
            raise StepFailure(str(exc), type="InvalidConfig", retryable=False) from None
    path_style = config.path_style if config.path_style is not None else options.get("path_style")
    return {
        "endpoint": endpoint,
        "region": config.region or options.get("region") or "us-east-1",
        "access_key": config.access_key or options.get("access_key"),
        "secret_key": config.secret_key or options.get("secret_key"),
        "path_style": bool(endpoint) if path_style is None else bool(path_style),
    }


async def _client(settings: dict[str, Any]) -> Any:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    secret = hashlib.sha256(str(settings["secret_key"]).encode()).hexdigest()[:16]
    key = f"{settings['endpoint']}|{settings['region']}|{settings['access_key']}|{secret}|{settings['path_style']}"
    holder: dict[str, Any] = {}

    async def make() -> Any:
        config = AioConfig(
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 1},  # the step's retry policy decides, not botocore
            s3={"addressing_style": "path" if settings["path_style"] else "auto"},
        )
        context = get_session().create_client(
            "s3",
            endpoint_url=settings["endpoint"],
            region_name=settings["region"],
            aws_access_key_id=settings["access_key"],
            aws_secret_access_key=settings["secret_key"],
            config=config,
        )
        holder["context"] = context
        return await context.__aenter__()

    async def close(_client: Any) -> None:
        await holder["context"].__aexit__(None, None, None)

    return await pools.get_or_create("s3", key, make, close)


async def _run(
    config: S3Target,
    ctx: StepContext,
    what: str,
    call: Callable[[Any], Awaitable[tuple[Any, dict[str, Any], str]]],
) -> Output:
    """Run ``call(client)`` within the step's time; map S3 errors onto step failures."""
    from botocore import exceptions as bexc

    settings = _settings(config, ctx)
    endpoint = settings["endpoint"] or f"https://s3.{settings['region']}.amazonaws.com"
    address = pools.host_port(endpoint, 443 if endpoint.startswith("https") else 80)
    budget = ctx.remaining()
    started = time.perf_counter()
    try:
        client = await _client(settings)
        async with asyncio.timeout(budget):
            document, fields, summary = await call(client)
    except TimeoutError:
        raise StepFailure(
            f"S3 at {address} did not answer {what} within {budget:.1f}s", type="Timeout"
        ) from None
    except bexc.ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = error.get("Message") or str(exc)
        raise StepFailure(f"S3 error {code}: {message} ({what})", details={"code": code}) from None
    except (
        bexc.EndpointConnectionError,
        bexc.ConnectTimeoutError,
        bexc.ConnectionClosedError,
        OSError,
    ) as exc:
        raise StepFailure(
            f"cannot connect to S3 at {address}: {exc}",
            type="InfraError",
            details={"address": address},
        ) from None
    except bexc.NoCredentialsError:
        raise StepFailure(
            "no S3 credentials: give access_key and secret_key (or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
            type="InvalidConfig",
            retryable=False,
        ) from None
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return Output(
        document=document,
        fields=fields,
        summary=summary,
        request={"endpoint": endpoint, "region": settings["region"], "operation": what},
        response={k: v for k, v in fields.items() if k not in ("duration_ms", "content")},
    )


def _body(config: S3PutConfig, ctx: StepContext) -> tuple[bytes, str]:
    """The bytes to upload and their content type."""
    if config.file is not None:
        path = Path(ctx.resolve_file(config.file, "s3.put file"))
        if not path.is_file():
            raise StepFailure(
                f"file not found: {config.file}", type="InvalidConfig", retryable=False
            )
        guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return path.read_bytes(), config.content_type or guessed
    if isinstance(config.content, str):
        return config.content.encode(), config.content_type or "text/plain; charset=utf-8"
    return json.dumps(
        config.content, ensure_ascii=False
    ).encode(), config.content_type or "application/json"


def _decode(data: bytes, content_type: str, fmt: str) -> Any:
    if fmt == "base64":
        return base64.b64encode(data).decode("ascii")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if fmt == "text":
            raise StepFailure("the object is not UTF-8 text: use format: base64") from None
        return base64.b64encode(data).decode("ascii")
    if fmt == "json" or (fmt == "auto" and "json" in content_type.lower()):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise StepFailure(f"the object is not JSON ({exc}): {text[:200]!r}") from None
    return text


async def s3_put(config: S3PutConfig, ctx: StepContext) -> Output:
    data, content_type = _body(config, ctx)
    where = f"s3://{config.bucket}/{config.key}"

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        from botocore.exceptions import ClientError

        if config.create_bucket:
            try:
                await c.head_bucket(Bucket=config.bucket)
            except ClientError:
                region = c.meta.region_name
                # Outside us-east-1, S3 wants the region named again in the request body.
                extra = (
                    {}
                    if region == "us-east-1"
                    else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                )
                await c.create_bucket(Bucket=config.bucket, **extra)
        resp = await c.put_object(
            Bucket=config.bucket,
            Key=config.key,
            Body=data,
            ContentType=content_type,
            Metadata=config.metadata,
        )
        fields = {
            "etag": resp.get("ETag", "").strip('"'),
            "size": len(data),
            "version_id": resp.get("VersionId"),
        }
        return fields, fields, f"PUT {where} ({len(data)} bytes)"

    return await _run(config, ctx, f"PUT {where}", call)


async def s3_get(config: S3GetConfig, ctx: StepContext) -> Output:
    where = f"s3://{config.bucket}/{config.key}"

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        resp = await c.get_object(Bucket=config.bucket, Key=config.key)
        size = int(resp.get("ContentLength") or 0)
        if size > config.max_bytes:
            resp["Body"].close()
            raise StepFailure(f"{where} has {size} bytes, more than max_bytes ({config.max_bytes})")
        async with resp["Body"] as stream:
            data = await stream.read()
        content_type = resp.get("ContentType") or "application/octet-stream"
        content = _decode(data, content_type, config.format)
        fields = {
            "content": content,
            "size": len(data),
            "content_type": content_type,
            "etag": resp.get("ETag", "").strip('"'),
            "metadata": resp.get("Metadata") or {},
            "last_modified": pools.jsonable(resp.get("LastModified")),
        }
        return content, fields, f"GET {where} ({len(data)} bytes)"

    return await _run(config, ctx, f"GET {where}", call)


async def s3_delete(config: S3DeleteConfig, ctx: StepContext) -> Output:
    where = f"s3://{config.bucket}/{config.key}"

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        await c.delete_object(Bucket=config.bucket, Key=config.key)
        return config.key, {"deleted": True}, f"DELETE {where}"

    return await _run(config, ctx, f"DELETE {where}", call)


async def s3_list(config: S3ListConfig, ctx: StepContext) -> Output:
    where = f"s3://{config.bucket}/{config.prefix}"

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        objects: list[dict[str, Any]] = []
        paginator = c.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=config.bucket, Prefix=config.prefix):
            for item in page.get("Contents", []):
                objects.append(
                    {
                        "key": item["Key"],
                        "size": item.get("Size", 0),
                        "etag": item.get("ETag", "").strip('"'),
                        "last_modified": pools.jsonable(item.get("LastModified")),
                    }
                )
            if len(objects) >= config.max_keys:
                break
        objects = objects[: config.max_keys]
        keys = [o["key"] for o in objects]
        return objects, {"keys": keys, "count": len(keys)}, f"LIST {where}: {len(keys)} object(s)"

    return await _run(config, ctx, f"LIST {where}", call)


async def s3_assert(config: S3AssertConfig, ctx: StepContext) -> Output:
    where = f"s3://{config.bucket}/{config.key}"

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        from botocore.exceptions import ClientError

        try:
            head = await c.head_object(Bucket=config.bucket, Key=config.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            head = None
        exists = head is not None
        if exists != config.exists:
            raise StepFailure(
                f"{where} {'does not exist' if config.exists else 'exists'} (expected it to {'exist' if config.exists else 'be absent'})",
                type="AssertionFailed",
                retryable=False,
                details={"path": "exists", "expected": config.exists, "actual": exists},
            )
        fields: dict[str, Any] = {"exists": exists}
        if head is not None:
            fields.update(
                size=int(head.get("ContentLength") or 0),
                content_type=head.get("ContentType"),
                etag=head.get("ETag", "").strip('"'),
                metadata=head.get("Metadata") or {},
            )
        return fields, fields, f"{where}: {'exists' if exists else 'absent'}"

    return await _run(config, ctx, f"HEAD {where}", call)
