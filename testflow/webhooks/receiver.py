"""The webhook receiver: framework-independent handling of ``POST /hooks/{token}/{name}``.

A run's webhook URL carries a token ``<run_id>~<nonce>`` (the nonce is made by the starter
from a server key, or drawn by the workflow: URLs cannot be guessed from a run id; see
:mod:`testflow.webhooks.tokens`). For each inbound call the receiver:

1. checks the token and the hook name against what this process knows of the run (the
   starter registered it, or an earlier call asked it), else against the server key, else by
   asking the run (query ``webhook_config``, at most once per hook unless it has a status
   sequence); an unknown run, token or hook name is a 404 and nothing is signalled;
2. verifies the signature when the step declares one (HMAC-SHA256, or a detached JWS: see
   :mod:`testflow.webhooks.signatures`): a bad or missing signature is a 401, and the call is
   still signalled as a *rejected* delivery so the run reports it;
3. picks the answer from the step's status sequence (``responses: [500, 500, 200]``) by the
   number of deliveries received so far, so a partner's retry behaviour can be exercised;
4. signals the workflow with a :class:`WebhookDelivery` and answers.

The HTTP server (the CLI's listener, the API's router) only adapts requests to
:class:`InboundRequest` and :class:`ReceiverReply` back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from testflow.webhooks.signatures import JwksCache, KeysUnavailable, jws_problem
from testflow.webhooks.tokens import TOKEN_SEPARATOR, HookBook, book_for
from testflow.workflows.types import WebhookConfig, WebhookDelivery

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 256 * 1024
"""Largest body signalled to a run: Temporal warns at 256 KB per payload (ARCHITECTURE 4)."""


@dataclass(frozen=True)
class InboundRequest:
    """One HTTP call as the receiver needs it (raw body: signatures are over the bytes)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceiverReply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def run_id_of(token: str) -> str | None:
    """The run id inside a webhook token, or None when the token is malformed."""
    run_id, sep, nonce = token.rpartition(TOKEN_SEPARATOR)
    return run_id if sep and run_id and nonce else None


def signature_problem(
    signature: Mapping[str, Any], headers: Mapping[str, str], body: bytes
) -> str | None:
    """Why the HMAC-SHA256 signature of ``body`` is wrong, or None when it verifies."""
    header = str(signature.get("header") or "X-Signature")
    prefix = str(signature.get("prefix") or "")
    secret = str(signature.get("secret") or "")
    lowered = {k.lower(): v for k, v in headers.items()}
    given = lowered.get(header.lower())
    if given is None:
        return f"missing signature header {header}"
    expected = prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # Constant-time: a timing side channel must not reveal how much of a guess was right.
    if not hmac.compare_digest(given.strip().lower().encode(), expected.lower().encode()):
        return f"bad signature in header {header}"
    return None


def decode_body(body: bytes, content_type: str | None) -> Any:
    """JSON when it parses, else text; bytes that are not UTF-8 travel as base64."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}
    if content_type is not None and "json" not in content_type and "text" in content_type:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def choose_response(responses: list[dict[str, Any]], received: int) -> dict[str, Any]:
    """The ``received``-th answer of the status sequence; the last one repeats."""
    if not responses:
        return {"status": 200}
    return responses[min(received, len(responses) - 1)]


class WebhookReceiver:
    """Turns inbound calls into signals to the runs that wait for them."""

    def __init__(
        self,
        client: Client | Callable[[], Client],
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        query_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self._client = client
        self.max_body_bytes = max_body_bytes
        self.query_timeout = query_timeout
        self.jwks = JwksCache()  # partners' JWKS (``jwks_url``), shared by this receiver's hooks
        # Calls to one hook are answered in order: the status sequence depends on the count.
        # Entries live while calls are in flight (reference counts), so the table stays small.
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, list[int]]] = {}

    @property
    def client(self) -> Client:
        return self._client if isinstance(self._client, Client) else self._client()

    @property
    def book(self) -> HookBook:
        """What this process knows of runs' webhooks (shared with the starter of the client)."""
        return book_for(self.client)

    async def handle(self, token: str, name: str, request: InboundRequest) -> ReceiverReply:
        run_id = run_id_of(token)
        if run_id is None:
            return _error(404, "unknown webhook token")
        # Checks that need no call to Temporal: a run this process knows (its starter
        # registered it, or an earlier query taught it), else a starter-signed nonce.
        known = self.book.get(run_id)
        if known is not None:
            # Constant-time comparison: the nonce is what makes the URL unguessable.
            if not hmac.compare_digest(known.token.encode(), token.encode()):
                return _error(404, "unknown webhook token")
            if known.names is not None and name not in known.names:
                return _no_such_hook(name)
        elif self.book.verify(run_id, token.rpartition(TOKEN_SEPARATOR)[2]) is False:
            return _error(404, "unknown webhook token")
        key = (run_id, name)
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                return await self._handle(run_id, token, name, request)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[key]

    async def _handle(
        self, run_id: str, token: str, name: str, request: InboundRequest
    ) -> ReceiverReply:
        handle = self.client.get_workflow_handle(run_id)
        known = self.book.get(run_id)
        config = known.configs.get(name) if known is not None else None
        # The static part of a hook's settings (signature, responses) never changes during a
        # run, so it is asked at most once; only a status sequence needs the run's delivery
        # count, so its hooks ask on every call.
        if config is None or len(config.responses) > 1:
            try:
                config = await handle.query(
                    "webhook_config",
                    name,
                    result_type=WebhookConfig,
                    rpc_timeout=self.query_timeout,
                )
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return _error(404, "unknown webhook token")
                log.warning("webhook %s: the run did not answer: %s", name, exc.message)
                return _error(503, "the run is not reachable right now; retry later")
            except WorkflowQueryFailedError as exc:
                log.warning("webhook %s: query failed: %s", name, exc)
                return _error(503, "the run could not answer; retry later")
            if not hmac.compare_digest(config.token.encode(), token.encode()):
                return _error(404, "unknown webhook token")
            if not config.known:
                return _no_such_hook(name)
            known = self.book.learn(run_id, config)
        elif known is None:  # unreachable: a config comes from a known run
            return _error(404, "unknown webhook token")
        # Position in the status sequence: calls answered from it, counted here and in the
        # run. Calls rejected before the sequence (bad signature, too large) do not advance
        # it, like an unmatched request in a WireMock scenario; the run counts every delivery,
        # so the receiver subtracts the ones it rejected itself (exact with one receiver).
        received = max(config.received - known.unsequenced.get(name, 0), known.sent.get(name, 0))
        reply, accepted, reason, sequenced = await self._decide(config, received, request)
        delivery = WebhookDelivery(
            name=name,
            method=request.method.upper(),
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=decode_body(request.body, _content_type(request.headers))
            if len(request.body) <= self.max_body_bytes
            else None,
            received_at=datetime.now(UTC),
            status=reply.status,
            accepted=accepted,
            reason=reason,
        )
        try:
            await handle.signal("webhook", delivery, rpc_timeout=self.query_timeout)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                self.book.forget(run_id)
                return _error(404, "the run is over")
            return _error(503, "the run is not reachable right now; retry later")
        if len(config.responses) > 1:
            if sequenced:
                known.sent[name] = received + 1
            else:
                known.unsequenced[name] = known.unsequenced.get(name, 0) + 1
        return reply

    async def _decide(
        self, config: WebhookConfig, received: int, request: InboundRequest
    ) -> tuple[ReceiverReply, bool, str | None, bool]:
        """(reply, accepted, reason, whether the call took a place in the status sequence)."""
        if len(request.body) > self.max_body_bytes:
            reason = (
                f"body of {len(request.body)} bytes exceeds the {self.max_body_bytes}-byte limit"
            )
            return _error(413, reason), False, reason, False
        if config.signature:
            try:
                problem = await self._signature_problem(config.signature, request)
            except KeysUnavailable as exc:
                # Not the partner's delivery at fault (nor proven good): 503 so it retries.
                reason = f"{exc}; retry later"
                return _error(503, reason), False, reason, False
            if problem is not None:
                return _error(401, problem), False, problem, False
        answer = choose_response(config.responses, received)
        status = int(answer.get("status", 200))
        body = answer.get("body")
        if body is None:
            body = (
                {"received": True}
                if status < 400
                else {"error": f"answering {status} (responses sequence)"}
            )
        reply = ReceiverReply(status=status, body=body, headers=dict(answer.get("headers") or {}))
        if status >= 400:
            return reply, False, f"answered {status} (responses sequence)", True
        return reply, True, None, True

    async def _signature_problem(
        self, signature: Mapping[str, Any], request: InboundRequest
    ) -> str | None:
        if signature.get("type", "hmac") == "jws":
            return await jws_problem(signature, request.headers, request.body, self.jwks)
        return signature_problem(signature, request.headers, request.body)


def _content_type(headers: Mapping[str, str]) -> str | None:
    for key, value in headers.items():
        if key.lower() == "content-type":
            return value
    return None


def _no_such_hook(name: str) -> ReceiverReply:
    return _error(404, f"this run declares no webhook named {name!r}")


def _error(status: int, message: str) -> ReceiverReply:
    return ReceiverReply(status=status, body={"error": message})
