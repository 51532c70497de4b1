"""Hide secret values in anything that will be shown: reports, logs, events, errors.

Masking is by value (every occurrence of a resolved secret, wherever it ended up: inside a URL,
a header, a JSON body, a dict key) and, optionally, by key name (``Authorization``,
``password``, ``api_key``...) for values that never went through ``secret()``, such as a token
a login step returned. Very short secrets (under 3 characters) are not masked by value: hiding
every "1" or "a" in a report would make it unreadable and protect nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

__all__ = ["MASK", "MIN_SECRET_LENGTH", "SENSITIVE_KEY", "is_sensitive_key", "mask", "mask_text"]

MASK = "***"
MIN_SECRET_LENGTH = 3

# Key names whose values are hidden with mask_keys=True. Matched on the normalised key
# (lowercase, '-' and ' ' as '_'), anywhere in it: "X-Api-Key", "client_secret", "refresh_token".
SENSITIVE_KEY = re.compile(
    r"authorization|password|passwd|pwd|token|secret|api_?key|apikey|private_?key|"
    r"credential|cookie|session_?id|signature"
)


def is_sensitive_key(key: str) -> bool:
    """True for key names that usually hold credentials (case-insensitive)."""
    normalised = key.lower().replace("-", "_").replace(" ", "_")
    return SENSITIVE_KEY.search(normalised) is not None


@lru_cache(maxsize=256)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    # Longest first, so a secret containing another one is masked whole.
    usable = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    if not usable:
        return None
    return re.compile("|".join(re.escape(s) for s in usable))


def _secret_tuple(secrets: Iterable[Any]) -> tuple[str, ...]:
    return tuple(sorted({str(s) for s in secrets if s is not None and not isinstance(s, bool)}))


def mask_text(text: str, secrets: Iterable[Any]) -> str:
    """``text`` with every occurrence of every secret replaced by :data:`MASK`."""
    pattern = _pattern(_secret_tuple(secrets))
    return text if pattern is None else pattern.sub(MASK, text)


def mask(value: Any, secrets: Iterable[Any], *, mask_keys: bool = False) -> Any:
    """A copy of ``value`` with secrets hidden in every string, dict key and nested container.

    Non-string scalars are returned as they are, unless they equal a secret once written as
    text (a numeric PIN stored as an int is still a secret). With ``mask_keys=True`` the whole
    value of a sensitive key (see :func:`is_sensitive_key`) becomes :data:`MASK`.
    """
    pattern = _pattern(_secret_tuple(secrets))
    return _mask(value, pattern, mask_keys)


def _mask(value: Any, pattern: re.Pattern[str] | None, mask_keys: bool) -> Any:
    if isinstance(value, str):
        return pattern.sub(MASK, value) if pattern is not None else value
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = _mask(key, pattern, False) if isinstance(key, str) else key
            if mask_keys and isinstance(key, str) and is_sensitive_key(key) and item is not None:
                out[new_key] = MASK
            else:
                out[new_key] = _mask(item, pattern, mask_keys)
        return out
    if isinstance(value, list):
        return [_mask(item, pattern, mask_keys) for item in value]
    if isinstance(value, tuple):
        return tuple(_mask(item, pattern, mask_keys) for item in value)
    if isinstance(value, bytes):
        try:
            text = value.decode()
        except UnicodeDecodeError:
            return value
        masked = _mask(text, pattern, mask_keys)
        return value if masked == text else masked.encode()
    if isinstance(value, BaseModel):
        # Results (AssertionOutcome, StepError...) are frozen models: copy with masked fields,
        # keeping nested models as models.
        updates = {
            name: _mask_field(name, getattr(value, name), pattern, mask_keys)
            for name in type(value).model_fields
        }
        return value.model_copy(update=updates)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _mask_field(f.name, getattr(value, f.name), pattern, mask_keys)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if (
        pattern is not None
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and pattern.fullmatch(str(value))
    ):
        return MASK
    return value


def _mask_field(name: str, value: Any, pattern: re.Pattern[str] | None, mask_keys: bool) -> Any:
    if mask_keys and is_sensitive_key(name) and value is not None:
        return MASK
    return _mask(value, pattern, mask_keys)
