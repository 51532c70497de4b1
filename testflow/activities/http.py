"""The ``http`` step executor: REST and GraphQL over httpx.

Redirects are followed by hand so that the run's cookie jar is applied on every hop: a cookie
set by a 302 reaches the next request and never another run. Clients, TLS and cookie jars live
in :mod:`testflow.activities.http_transport`, authentication in
:mod:`testflow.activities.http_auth`. The runner, not this module, does extraction,
assertions, masking and artifact storage.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from typing import Any

import httpx

from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.http_auth import auth_parts, forget_token
from testflow.activities.http_transport import (
    aclose_clients,
    client_for,
    describe_cause,
    remaining,
    run_jar,
    tls_files,
)
from testflow.dsl.kinds.http import HttpRequest, HttpStepConfig, MultipartFile

__all__ = ["aclose_clients", "execute"]

MAX_REDIRECTS = 20


async def execute(config: HttpStepConfig, ctx: StepContext) -> Output:
    """Send the step's request (following redirects by hand) and describe the response."""
    req = config.request
    client = client_for(tls_files(req.tls, ctx))
    headers, params = await auth_parts(req, ctx)
    request, shown_body = await _build(client, req, headers, params, ctx)
    jar = run_jar(ctx.run_id)
    started = time.perf_counter()
    try:
        response, hops = await _send(client, request, req, jar, ctx)
        if response.status_code == 401 and req.auth is not None and req.auth.oauth2 is not None:
            # The cached token may have been revoked or the server restarted: fetch a new one once.
            forget_token(req.auth.oauth2)
            headers, params = await auth_parts(req, ctx)
            request, shown_body = await _build(client, req, headers, params, ctx)
            response, hops = await _send(client, request, req, jar, ctx)
    except httpx.TimeoutException as exc:
        raise _timeout(req, ctx, started, exc) from exc
    except TimeoutError as exc:
        raise _timeout(req, ctx, started, exc) from exc
    except httpx.UnsupportedProtocol as exc:
        raise StepFailure(
            f"unsupported URL scheme in {req.url} (use http:// or https://)",
            type="InvalidConfig",
            retryable=False,
        ) from exc
    except httpx.TransportError as exc:
        raise _transport_failure(req, request, exc) from exc
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return _output(req, response, hops, shown_body, duration_ms)


# --- request --------------------------------------------------------------------------------


async def _build(
    client: httpx.AsyncClient,
    req: HttpRequest,
    auth_headers: dict[str, str],
    auth_params: dict[str, Any],
    ctx: StepContext,
) -> tuple[httpx.Request, Any]:
    """The httpx request and the body as shown in reports."""
    headers = {**req.headers, **auth_headers}
    params = {**req.params, **auth_params}
    method: str = req.method
    kwargs: dict[str, Any] = {}
    shown: Any = None
    if req.json_ is not None:
        kwargs["json"] = shown = req.json_
    elif req.body is not None:
        if isinstance(req.body, str):
            kwargs["content"] = shown = req.body
        else:
            kwargs["json"] = shown = req.body
    elif req.form is not None:
        kwargs["data"] = shown = {k: _form_value(v) for k, v in req.form.items()}
    elif req.multipart is not None:
        kwargs["data"], kwargs["files"], shown = await _multipart(req.multipart, ctx)
    elif req.graphql is not None:
        shown = {"query": req.graphql.query, "variables": req.graphql.variables}
        if req.graphql.operationName:
            shown["operationName"] = req.graphql.operationName
        headers.setdefault("Accept", "application/graphql-response+json, application/json")
        if method == "GET" and "method" in req.model_fields_set:
            # GraphQL over HTTP allows queries as GET with the parameters in the URL.
            params |= {k: v if isinstance(v, str) else json.dumps(v) for k, v in shown.items()}
        else:
            method = "POST"
            kwargs["json"] = shown
    try:
        request = client.build_request(
            method, req.url, params=params or None, headers=headers, **kwargs
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError, ValueError) as exc:
        raise StepFailure(
            f"invalid request {method} {req.url}: {exc}", type="InvalidConfig", retryable=False
        ) from exc
    return request, shown


def _form_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_form_value(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return value if isinstance(value, str) else str(value)


async def _multipart(
    parts: dict[str, str | MultipartFile], ctx: StepContext
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]], dict[str, Any]]:
    data: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    shown: dict[str, Any] = {}
    for name, part in parts.items():
        if isinstance(part, str):
            data[name] = shown[name] = part
            continue
        if part.path is not None:
            path = ctx.resolve_file(part.path, f"multipart part {name!r}")
            try:
                content = await asyncio.to_thread(_read_file, path)
            except OSError as exc:
                raise StepFailure(
                    f"multipart part {name!r}: cannot read {part.path}: {exc.strerror or exc}",
                    type="InvalidConfig",
                    retryable=False,
                ) from exc
            filename = part.filename or os.path.basename(part.path)
        elif part.content is not None:
            content, filename = part.content.encode(), part.filename or name
        else:
            raise StepFailure(
                f"multipart part {name!r} needs 'path' or 'content'",
                type="InvalidConfig",
                retryable=False,
            )
        media_type = part.content_type or "application/octet-stream"
        files[name] = (filename, content, media_type)
        shown[name] = {"filename": filename, "size": len(content), "content_type": media_type}
    return data, files, shown


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


async def _send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    req: HttpRequest,
    jar: httpx.Cookies,
    ctx: StepContext,
) -> tuple[httpx.Response, list[str]]:
    """Send, following redirects by hand with the run's cookie jar on every hop."""
    # Cookies the step gives itself (a Cookie header, `cookies:`) go on every hop.
    own = [request.headers.get("cookie", ""), *(f"{k}={v}" for k, v in req.cookies.items())]
    extra = "; ".join(c for c in own if c)
    hops: list[str] = []
    async with asyncio.timeout(remaining(ctx)):
        while True:
            _apply_cookies(request, jar, extra)
            request.extensions["timeout"] = httpx.Timeout(remaining(ctx)).as_dict()
            response = await client.send(request, follow_redirects=False)
            if "set-cookie" in response.headers:
                jar.extract_cookies(response)
            if not (req.follow_redirects and response.is_redirect and response.next_request):
                return response, hops
            if len(hops) >= MAX_REDIRECTS:
                raise StepFailure(f"more than {MAX_REDIRECTS} redirects from {req.url}")
            await response.aclose()
            hops.append(str(request.url))
            request = response.next_request


def _apply_cookies(request: httpx.Request, jar: httpx.Cookies, extra: str) -> None:
    """Cookie header of one hop: the run's jar for this URL, then the step's own cookies."""
    if "cookie" in request.headers:
        del request.headers["cookie"]  # a redirect hop copies the previous hop's header
    if len(jar.jar):
        jar.set_cookie_header(request)
    if extra:
        existing = request.headers.get("cookie")
        request.headers["Cookie"] = f"{existing}; {extra}" if existing else extra


# --- response, errors -----------------------------------------------------------------------


def _output(
    req: HttpRequest, resp: httpx.Response, hops: list[str], shown_body: Any, duration_ms: float
) -> Output:
    headers = _headers(resp.headers)
    body, note = _body(resp)
    errors = body.get("errors") if req.graphql is not None and isinstance(body, dict) else None
    url = resp.request.url
    fields = {
        "status": resp.status_code,
        "headers": headers,
        "body": body,
        "duration_ms": duration_ms,
        "url": str(url),
        "errors": errors,
        "redirects": hops,
    }
    summary = f"{resp.request.method} {url.raw_path.decode('ascii', 'replace').split('?')[0]} -> {resp.status_code} ({duration_ms:.0f} ms)"
    if errors:
        summary += f" with {len(errors)} GraphQL error(s)"
    output = Output(
        document=body,
        fields=fields,
        summary=summary,
        request={
            "method": resp.request.method,
            "url": str(url),
            "headers": _headers(resp.request.headers),
            "body": shown_body,
        },
        response={"status": resp.status_code, "headers": headers, "body": body},
    )
    if note:
        output.logs.append(_log(note))
    return output


def _headers(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _body(resp: httpx.Response) -> tuple[Any, str | None]:
    """The body as JSON, text or (for binary content) base64, and a note when base64."""
    content = resp.content
    if not content:
        return None, None
    media_type = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(content), None
        except ValueError:
            pass  # a server that lies about JSON: show the text as it is
    textual = media_type.startswith("text/") or any(
        t in media_type for t in ("json", "xml", "javascript", "x-www-form-urlencoded", "yaml")
    )
    try:
        return (resp.text if textual or not media_type else content.decode("utf-8")), None
    except UnicodeDecodeError:
        encoded = base64.b64encode(content).decode()
        return (
            encoded,
            f"binary body ({len(content)} bytes, {media_type or 'no content type'}) shown as base64",
        )


def _log(message: str) -> Any:
    from datetime import UTC, datetime

    from testflow.dsl.results import LogLine

    return LogLine(level="info", message=message, at=datetime.now(UTC))


def _timeout(req: HttpRequest, ctx: StepContext, started: float, exc: BaseException) -> StepFailure:
    waited = time.perf_counter() - started
    kind = type(exc).__name__ if isinstance(exc, httpx.TimeoutException) else "step timeout"
    return StepFailure(
        f"timed out after {waited:.1f} s ({kind}) on {req.method} {req.url}",
        type="Timeout",
        details={"url": req.url, "waited_s": round(waited, 3)},
    )


def _transport_failure(
    req: HttpRequest, request: httpx.Request, exc: httpx.TransportError
) -> StepFailure:
    cause = describe_cause(exc, str(request.url))
    return StepFailure(
        f"{cause} ({request.method} {request.url})",
        details={"url": str(request.url), "error": type(exc).__name__},
    )
