"""Masking: secret values anywhere (nested, in keys, inside text), sensitive keys, models."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from testflow.dsl.masking import MASK, is_sensitive_key, mask, mask_text
from testflow.dsl.results import AssertionOutcome, StepError, StepOutcome

SECRETS = ["tok-123456", "hunter2"]


def test_masks_every_occurrence_inside_text() -> None:
    text = "GET /x?token=tok-123456&again=tok-123456 with hunter2"
    assert mask(text, SECRETS) == f"GET /x?token={MASK}&again={MASK} with {MASK}"
    assert mask_text(text, SECRETS) == mask(text, SECRETS)


def test_masks_nested_structures_and_keys() -> None:
    value = {
        "headers": {"Authorization": "Bearer tok-123456", "X-Other": "fine"},
        "rows": [["hunter2", 1], ("tok-123456", None)],
        "tok-123456": "secret as a key",
        "n": 3,
    }
    assert mask(value, SECRETS) == {
        "headers": {"Authorization": f"Bearer {MASK}", "X-Other": "fine"},
        "rows": [[MASK, 1], (MASK, None)],
        MASK: "secret as a key",
        "n": 3,
    }


def test_does_not_mutate_the_input() -> None:
    value = {"a": ["hunter2"]}
    mask(value, SECRETS)
    assert value == {"a": ["hunter2"]}


def test_short_secrets_are_not_masked_by_value() -> None:
    assert mask("a1 ab abc", ["a1", "ab"]) == "a1 ab abc"
    assert mask("a1 ab abc", ["abc"]) == f"a1 ab {MASK}"


def test_longer_secret_wins_over_the_one_it_contains() -> None:
    assert mask("pass-word-long", ["word", "pass-word-long"]) == MASK


def test_regex_characters_in_secrets_are_literal() -> None:
    assert mask("a.b*c and axbbc", ["a.b*c"]) == f"{MASK} and axbbc"


def test_numbers_equal_to_a_secret_are_masked() -> None:
    assert mask({"pin": 987654, "other": 12}, ["987654"]) == {"pin": MASK, "other": 12}
    assert mask(True, ["True"]) is True


def test_bytes_are_masked_when_text() -> None:
    assert mask(b"token tok-123456", SECRETS) == f"token {MASK}".encode()
    assert mask(b"\xff\xfe", SECRETS) == b"\xff\xfe"


def test_mask_keys_hides_values_of_sensitive_keys() -> None:
    value = {
        "Authorization": "Basic abc",
        "headers": {"X-Api-Key": "k", "Content-Type": "json", "Cookie": "s=1"},
        "password": {"nested": "x"},
        "client_secret": "cs",
        "refresh_token": "rt",
        "accessToken": "at",
        "user": "bob",
        "token": None,
    }
    masked = mask(value, [], mask_keys=True)
    assert masked == {
        "Authorization": MASK,
        "headers": {"X-Api-Key": MASK, "Content-Type": "json", "Cookie": MASK},
        "password": MASK,
        "client_secret": MASK,
        "refresh_token": MASK,
        "accessToken": MASK,
        "user": "bob",
        "token": None,
    }
    assert mask(value, [])["Authorization"] == "Basic abc"  # by value only unless asked


def test_is_sensitive_key() -> None:
    for key in ("authorization", "AUTHORIZATION", "api_key", "apiKey", "X-API-KEY", "Password"):
        assert is_sensitive_key(key), key
    for key in ("content-type", "user", "status", "id"):
        assert not is_sensitive_key(key), key


def test_pydantic_results_are_masked_and_stay_models() -> None:
    outcome = AssertionOutcome(
        path="$.token",
        matcher="eq",
        expected="tok-123456",
        actual={"value": "tok-123456"},
        passed=False,
        message="$.token: expected tok-123456",
    )
    masked = mask([outcome], SECRETS)[0]
    assert isinstance(masked, AssertionOutcome)
    assert masked.expected == MASK
    assert masked.actual == {"value": MASK}
    assert "tok-123456" not in masked.message
    assert outcome.expected == "tok-123456"  # the original is untouched

    now = datetime.now(UTC)
    step = StepOutcome(
        status="error",
        started_at=now,
        finished_at=now,
        duration_ms=1,
        error=StepError(type="StepFailed", message="401 for hunter2"),
        assertions=[outcome],
    )
    masked_step = mask(step, SECRETS)
    assert isinstance(masked_step.error, StepError)
    assert masked_step.error.message == f"401 for {MASK}"
    assert masked_step.assertions[0].expected == MASK
    assert masked_step.started_at == now


def test_dataclasses_are_masked() -> None:
    @dataclasses.dataclass
    class Output:
        document: object
        summary: str

    masked = mask(Output({"t": "hunter2"}, "sent hunter2"), SECRETS)
    assert masked == Output({"t": MASK}, f"sent {MASK}")


def test_no_secrets_returns_equal_value() -> None:
    value = {"a": ["b", 1, None]}
    assert mask(value, []) == value
    assert mask(value, [None, "", "x"]) == value


@given(
    secret=st.text(min_size=3, max_size=12).filter(lambda s: MASK not in s and "*" not in s),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_a_secret_never_survives_masking(secret: str, before: str, after: str) -> None:
    value = {"k": [before + secret + after], before + secret: after}
    masked = mask(value, [secret])
    assert not any(secret in text for text in _strings(masked))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _strings(k) + _strings(v)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _strings(item)]
    return []
