"""Redis step kinds: ``redis.get|set|del|exists|hget|hset|lpush|lrange|xadd|xread|publish|command``.

Values written are sent as they are when they are strings or numbers and as JSON otherwise
(a mapping in YAML lands as a JSON document). Values read are UTF-8 text (base64 when they are
binary), or parsed JSON with ``format: json``, so ``$.status`` reaches into a cached document.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from testflow.dsl.durations import Duration
from testflow.dsl.kinds.sql import is_template
from testflow.dsl.models import FrozenModel, RetrySpec
from testflow.dsl.registry import StepKind

ValueFormat = Literal["text", "json"]
_SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str) -> str:
    """Raise ValueError unless ``url`` is a redis://, rediss:// or unix:// URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        raise ValueError(
            "expected a Redis URL like redis://[:password@]host:6379/0 (or rediss://, unix://)"
        )
    host_part = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if scheme.lower() != "unix" and ":" in host_part and not host_part.rsplit(":", 1)[1].isdigit():
        raise ValueError("the port of a Redis URL must be a number")
    return url


class RedisTarget(FrozenModel):
    """Where Redis is: a URL, or a named connection of the environment file."""

    dsn: str | None = Field(
        None, description="redis://[:password@]host:6379/0 (templates allowed)."
    )
    connection: str | None = Field(
        None, description="Name of a connection of the environment file."
    )

    @field_validator("dsn")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is None or is_template(value):
            return value
        return check_redis_url(value)

    @model_validator(mode="after")
    def _has_target(self) -> RedisTarget:
        if not self.dsn and not self.connection:
            raise ValueError("give a 'dsn' (redis://host:6379/0) or a 'connection'")
        return self


class RedisGetConfig(RedisTarget):
    key: str = Field(min_length=1)
    format: ValueFormat = Field("text", description="json parses the value ($ reaches into it).")


class RedisSetConfig(RedisTarget):
    key: str = Field(min_length=1)
    value: Any = Field(description="A string or number as is; anything else as JSON.")
    ttl: Duration | None = Field(None, description="Expiry (millisecond precision).")
    nx: bool = Field(False, description="Only set when the key does not exist.")
    xx: bool = Field(False, description="Only set when the key exists.")


class RedisKeysConfig(RedisTarget):
    key: str | list[str] = Field(description="A key or a list of keys.")

    @field_validator("key")
    @classmethod
    def _some(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("give at least one key")
        return value

    def keys(self) -> list[str]:
        return [self.key] if isinstance(self.key, str) else list(self.key)


class RedisHgetConfig(RedisTarget):
    key: str = Field(min_length=1)
    field: str | None = Field(None, description="A field; without it the whole hash (HGETALL).")
    format: ValueFormat = "text"


class RedisHsetConfig(RedisTarget):
    key: str = Field(min_length=1)
    values: dict[str, Any] = Field(min_length=1, description="field: value pairs.")


class RedisLpushConfig(RedisTarget):
    key: str = Field(min_length=1)
    values: list[Any] = Field(min_length=1, description="Pushed in order (the last ends first).")


class RedisLrangeConfig(RedisTarget):
    key: str = Field(min_length=1)
    start: int = 0
    stop: int = Field(-1, description="Inclusive; -1 is the last element.")
    format: ValueFormat = "text"


class RedisXaddConfig(RedisTarget):
    stream: str = Field(min_length=1)
    values: dict[str, Any] = Field(min_length=1, description="The entry's field: value pairs.")
    id: str = Field("*", description="Entry id; * lets Redis choose.")
    maxlen: int | None = Field(None, ge=1, description="Trim the stream to about this length.")


class RedisXreadConfig(RedisTarget):
    streams: dict[str, str] = Field(
        min_length=1,
        description="stream: last id seen ('0' reads from the start, '$' only new entries).",
    )
    count: int = Field(100, ge=1, description="At most this many entries per stream.")
    block: Duration | None = Field(
        None, description="Wait up to this long for an entry (bounded by the step's timeout)."
    )
    format: ValueFormat = "text"

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: Any) -> Any:
        # `stream: s` (+ optional `after: id`) is a shorthand for `streams: {s: id}`.
        if isinstance(data, dict) and "stream" in data and "streams" not in data:
            data = dict(data)
            data["streams"] = {data.pop("stream"): str(data.pop("after", "0"))}
        return data


class RedisPublishConfig(RedisTarget):
    channel: str = Field(min_length=1)
    message: Any = Field(description="A string or number as is; anything else as JSON.")


class RedisCommandConfig(RedisTarget):
    args: list[str | int | float] = Field(min_length=1, description="e.g. [INCRBY, counter, 5].")


def _kind(
    verb: str,
    model: type[FrozenModel],
    description: str,
    primary: str,
    fields: tuple[str, ...],
    example: dict[str, Any],
) -> StepKind:
    return StepKind(
        name=f"redis.{verb}",
        description=description,
        input_model=model,
        executor=f"testflow.activities.redis:redis_{verb}",
        mode="quick",
        default_timeout=timedelta(seconds=10),
        default_retry=RetrySpec(attempts=1),
        primary=primary,
        result_fields=(*fields, "duration_ms"),
        category="cache",
        icon="redis",
        example={
            "id": f"redis_{verb}",
            "type": f"redis.{verb}",
            "dsn": "redis://127.0.0.1:6379/0",
            **example,
        },
    )


REDIS_KINDS: list[StepKind] = [
    _kind(
        "get",
        RedisGetConfig,
        "Read a key.",
        "the value",
        ("value", "exists"),
        {"key": "order:{{ orderId }}", "format": "json"},
    ),
    _kind(
        "set",
        RedisSetConfig,
        "Write a key (optionally with a TTL).",
        "the value written",
        ("ok",),
        {"key": "feature:x", "value": "on", "ttl": "10m"},
    ),
    _kind(
        "del",
        RedisKeysConfig,
        "Delete keys.",
        "the number deleted",
        ("deleted",),
        {"key": ["a", "b"]},
    ),
    _kind(
        "exists",
        RedisKeysConfig,
        "Check that keys exist.",
        "whether all exist",
        ("exists", "count"),
        {"key": "session:42", "assert": {"exists": True}},
    ),
    _kind(
        "hget",
        RedisHgetConfig,
        "Read a hash field, or the whole hash.",
        "the value or the hash",
        ("value", "exists"),
        {"key": "user:1", "field": "email"},
    ),
    _kind(
        "hset",
        RedisHsetConfig,
        "Write hash fields.",
        "the number of new fields",
        ("added",),
        {"key": "user:1", "values": {"email": "a@b.c"}},
    ),
    _kind(
        "lpush",
        RedisLpushConfig,
        "Push values onto a list.",
        "the list's length",
        ("length",),
        {"key": "jobs", "values": ["job-1"]},
    ),
    _kind(
        "lrange",
        RedisLrangeConfig,
        "Read a range of a list.",
        "the items",
        ("items", "length"),
        {"key": "jobs", "assert": {"length": 1}},
    ),
    _kind(
        "xadd",
        RedisXaddConfig,
        "Append an entry to a stream.",
        "the entry id",
        ("id",),
        {"stream": "orders", "values": {"id": "{{ orderId }}"}},
    ),
    _kind(
        "xread",
        RedisXreadConfig,
        "Read stream entries (optionally waiting for them).",
        "the entries [{stream, id, values}]",
        ("messages", "count", "last_ids"),
        {"streams": {"orders": "0"}, "block": "5s"},
    ),
    _kind(
        "publish",
        RedisPublishConfig,
        "Publish a message on a channel.",
        "the number of receivers",
        ("receivers",),
        {"channel": "events", "message": {"type": "ping"}},
    ),
    _kind(
        "command",
        RedisCommandConfig,
        "Run any Redis command.",
        "the reply",
        ("result",),
        {"args": ["INCRBY", "counter", 5]},
    ),
]
