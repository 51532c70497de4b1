"""Shared message handling: payload encoding/decoding and ``match`` (no broker needed)."""

from __future__ import annotations

import pytest

from testflow.activities.base import StepFailure
from testflow.activities.matching import Matcher, decode_payload, encode_payload

MESSAGE = {
    "topic": "orders",
    "key": "k-1",
    "value": {"id": 7, "status": "NEW", "customer": {"id": 42, "name": "Ada"}, "total": 12.5},
    "headers": {"Content-Type": "application/json", "trace": "t-1"},
}


@pytest.mark.parametrize(
    ("value", "fmt", "raw"),
    [
        ({"a": 1}, "auto", b'{"a":1}'),
        ("héllo", "auto", "héllo".encode()),
        ("abc", "json", b'"abc"'),
        (5, "text", b"5"),
        ("/w==", "base64", b"\xff"),
        (None, "auto", b"null"),
    ],
)
def test_encode_payload(value: object, fmt: str, raw: bytes) -> None:
    assert encode_payload(value, fmt) == raw  # type: ignore[arg-type]


def test_encode_rejects_bad_base64() -> None:
    with pytest.raises(StepFailure, match="not valid base64") as info:
        encode_payload("%%%", "base64")
    assert info.value.type == "InvalidConfig"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b'{"a": [1, 2]}', ({"a": [1, 2]}, "json")),
        (b"42", (42, "json")),
        (b"hello world", ("hello world", "text")),
        (b"", ("", "text")),
        (b"\xff\xfe", ("//4=", "base64")),
        (None, (None, "none")),
    ],
)
def test_decode_payload(raw: bytes | None, decoded: tuple[object, str]) -> None:
    assert decode_payload(raw) == decoded


def test_match_fields_headers_jsonpath_subset_and_schema() -> None:
    matcher = Matcher(
        {
            "key": "k-1",
            "headers": {"content-type": {"contains": "json"}, "TRACE": "t-1"},
            "$.status": "NEW",
            "$.total": {"gte": 10, "lt": 20},
            "value": {"customer": {"id": 42}},
            "schema": {"type": "object", "required": ["id", "status"]},
        }
    )
    assert matcher.check(MESSAGE) is None


@pytest.mark.parametrize(
    ("match", "reason"),
    [
        ({"key": "k-2"}, "key"),
        ({"headers": {"missing": "x"}}, "headers.missing"),
        ({"$.status": "PAID"}, "$.status"),
        ({"value": {"customer": {"id": 43}}}, "subset"),
        ({"schema": {"type": "array"}}, "schema"),
        ({"$.nothing": {"exists": True}}, "$.nothing"),
    ],
)
def test_mismatch_reasons_name_the_failing_key(match: dict[str, object], reason: str) -> None:
    got = Matcher(match).check(MESSAGE)
    assert got is not None and got.startswith(reason)


def test_empty_match_accepts_everything() -> None:
    assert not Matcher({})
    assert Matcher({}).check({"value": None}) is None


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ({"headers": ["a"]}, "match.headers must be a mapping"),
        ({"schema": "schemas/order.json"}, "inline JSON Schema"),
        ({"that": ["{{ true }}"]}, "does not take `that`"),
    ],
)
def test_bad_match_is_invalid_config(match: dict[str, object], message: str) -> None:
    with pytest.raises(StepFailure, match=message) as info:
        Matcher(match)
    assert info.value.type == "InvalidConfig" and not info.value.retryable
