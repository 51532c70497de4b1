"""What every messaging executor shares: payload encoding, message documents, ``match``, waiting.

A received message becomes a plain JSON-able dict (its *document*): ``value`` (JSON-decoded
when it parses as JSON, else text, else base64 with ``encoding: base64``), ``headers`` and the
protocol's own fields (``key``/``partition``/``offset`` for Kafka, ``routing_key`` for AMQP,
``subject`` for NATS...). ``match`` is an assertion mapping checked against that document
with the assertion engine (:mod:`testflow.dsl.assertions`): JSONPath keys and ``schema``
address the value, other keys the message's fields, ``headers`` its headers. So a ``match``
accepts exactly the matchers that ``assert`` does (``gte``, ``matches``, ``schema``...).

:class:`Waiter` is the bookkeeping of a consume: it counts what was seen, keeps the matches
and a few non-matching samples, knows the deadline (``within`` from the first attempt) and
builds the step's :class:`Output` or its ``Timeout`` failure, so the four consume executors
only deal with their client library.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl import assertions as assertion_engine
from testflow.dsl.kinds.messaging import PayloadFormat, WaitOptions
from testflow.dsl.matchers import is_matcher_mapping

# -- payloads -------------------------------------------------------------------------------


def encode_payload(value: Any, fmt: PayloadFormat = "auto") -> bytes:
    """The bytes to send for ``value`` (see :data:`PAYLOAD_FORMAT_HELP`)."""
    if fmt == "base64":
        if not isinstance(value, str):
            raise StepFailure(
                f"format base64 needs a base64 string value, got {type(value).__name__}",
                type="InvalidConfig",
                retryable=False,
            )
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise StepFailure(
                f"value is not valid base64: {exc}", type="InvalidConfig", retryable=False
            ) from None
    if isinstance(value, str) and fmt in ("text", "auto"):
        return value.encode("utf-8")
    if value is None and fmt == "text":
        return b""
    if isinstance(value, bytes):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise StepFailure(
            f"value cannot be sent as JSON: {exc}", type="InvalidConfig", retryable=False
        ) from None


def decode_payload(data: bytes | bytearray | memoryview | None) -> tuple[Any, str]:
    """``(value, encoding)`` of received bytes: JSON when it parses, else text, else base64."""
    if data is None:
        return None, "none"
    raw = bytes(data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"
    stripped = text.strip()
    if stripped:
        try:
            return json.loads(stripped), "json"
        except ValueError:
            pass
    return text, "text"


def decode_text(data: bytes | str | None) -> str | None:
    """A key or header value as text (base64 when it is not UTF-8)."""
    if data is None or isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(bytes(data)).decode("ascii")


# -- match ----------------------------------------------------------------------------------


class Matcher:
    """A compiled ``match`` mapping: ``check(message)`` says whether a message counts and why not.

    ``match`` is rewritten into an assertion spec once: ``headers: {type: x}`` becomes
    ``headers.type: x`` (the engine reads header names case-insensitively), and ``value`` with
    an object or list becomes a ``subset`` check of the value (extra keys in the message are
    fine, as in ``assert: {body: ...}``); everything else is passed as written.
    """

    def __init__(self, match: Mapping[str, Any]) -> None:
        spec: dict[str, Any] = {}
        for key, expected in match.items():
            if key == "headers":
                if not isinstance(expected, Mapping):
                    raise StepFailure(
                        "match.headers must be a mapping {name: expected}",
                        type="InvalidConfig",
                        retryable=False,
                    )
                spec.update({f"headers.{name}": value for name, value in expected.items()})
            elif (
                key == "value"
                and isinstance(expected, Mapping | list)
                and not is_matcher_mapping(expected)
            ):
                spec["subset"] = expected
            elif key == "that":
                raise StepFailure(
                    "match does not take `that` expressions (templates are rendered before the "
                    "step runs); use JSONPath keys with matchers, e.g. `$.total: {gte: 10}`",
                    type="InvalidConfig",
                    retryable=False,
                )
            elif key == "schema" and isinstance(expected, str):
                # The loader inlines schema files of `assert` only; a path here would be
                # compared as a schema document and match nothing, silently.
                raise StepFailure(
                    f"match.schema must be an inline JSON Schema, not {expected!r}: schema "
                    "files are read for `assert` (use `assert: {schema: file.json}` there)",
                    type="InvalidConfig",
                    retryable=False,
                )
            else:
                spec[str(key)] = expected
        self.spec = spec

    def __bool__(self) -> bool:
        return bool(self.spec)

    def check(self, message: Mapping[str, Any]) -> str | None:
        """``None`` when ``message`` matches, else the first reason it does not."""
        if not self.spec:
            return None
        outcomes = assertion_engine.evaluate(
            self.spec, document=message.get("value"), fields=message
        )
        for outcome in outcomes:
            if not outcome.passed:
                return f"{outcome.path}: {outcome.message or 'did not match'}"
        return None


# -- waiting --------------------------------------------------------------------------------


def _short(message: Mapping[str, Any], limit: int = 600) -> Any:
    """A message small enough for an error's details."""
    text = json.dumps(message, default=str, ensure_ascii=False)
    return message if len(text) <= limit else text[:limit] + "..."


class Waiter:
    """Bookkeeping of one consume: matches, counts, samples, deadline, output."""

    def __init__(
        self,
        config: WaitOptions,
        ctx: StepContext,
        source: str,
        *,
        resumed: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.ctx = ctx
        self.source = source
        self.matcher = Matcher(config.match)
        self.t0 = time.monotonic()
        state = dict(resumed or {})
        # ``started_at`` (wall clock) survives retries so ``within`` counts from the first try.
        self.started_at: float = float(state.get("started_at") or time.time())
        self.matched: list[dict[str, Any]] = list(state.get("matched") or [])
        self.seen: int = int(state.get("seen") or 0)
        self.samples: list[dict[str, Any]] = []

    @property
    def done(self) -> bool:
        return len(self.matched) >= self.config.count

    def deadline(self) -> float:
        """``time.monotonic()`` value at which to stop waiting."""
        deadline = self.ctx.deadline
        if self.config.within is not None:
            left = self.started_at + self.config.within.total_seconds() - time.time()
            deadline = min(deadline, time.monotonic() + left)
        return deadline

    def remaining(self) -> float:
        return max(0.0, self.deadline() - time.monotonic())

    def offer(self, message: dict[str, Any]) -> bool:
        """Count ``message``; keep it when it matches. True once ``count`` matches were found."""
        if self.done:
            return True
        self.seen += 1
        reason = self.matcher.check(message)
        if reason is None:
            self.matched.append(message)
        elif len(self.samples) < self.config.samples:
            self.samples.append({"reason": reason, "message": _short(message)})
        return self.done

    def state(self) -> dict[str, Any]:
        """What a heartbeat records besides the protocol's position."""
        return {"started_at": self.started_at, "matched": self.matched, "seen": self.seen}

    def output(self, fields: Mapping[str, Any] | None = None, request: Any = None) -> Output:
        took = (time.monotonic() - self.t0) * 1000
        messages = self.matched[: self.config.count]
        return Output(
            document=messages,
            fields={
                "message": messages[0] if messages else None,
                "messages": messages,
                "count": len(messages),
                "seen": self.seen,
                "duration_ms": round(took, 1),
                **(fields or {}),
            },
            summary=f"consumed {len(messages)} of {self.config.count} from {self.source} in {took:.0f} ms",
            request=request,
            response={"messages": messages, "seen": self.seen},
        )

    def timeout(self) -> StepFailure:
        waited = time.time() - self.started_at
        return StepFailure(
            f"{len(self.matched)} of {self.config.count} matching message(s) from {self.source} "
            f"within {waited:.1f}s ({self.seen} seen)",
            type="Timeout",
            details={
                "source": self.source,
                "expected": self.config.count,
                "matched": len(self.matched),
                "seen": self.seen,
                "match": self.config.match,
                "non_matching_samples": self.samples,
                "matched_messages": [_short(m) for m in self.matched[:5]],
            },
        )


def resumed_state(ctx: StepContext) -> dict[str, Any]:
    """The last heartbeat of a previous attempt (a dict), or ``{}`` on a first try."""
    if ctx.heartbeat_details and isinstance(ctx.heartbeat_details[-1], Mapping):
        return dict(ctx.heartbeat_details[-1])
    return {}


def run_start_ms(ctx: StepContext) -> int:
    """The run's start (``run.started_at``) in epoch milliseconds, for ``start: flow_start``."""
    run = ctx.variables.get("run")
    started = run.get("started_at") if isinstance(run, dict) else None
    if not started:
        raise StepFailure(
            "start: flow_start needs the run's start time (run.started_at), which this run lacks",
            type="InvalidConfig",
            retryable=False,
        )
    try:
        moment = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
    except ValueError:
        raise StepFailure(
            f"run.started_at is not an ISO time: {started!r}", type="InvalidConfig"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
