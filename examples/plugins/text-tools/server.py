#!/usr/bin/env python3
"""A plugin with several sub-actions (text.upper, text.words, text.expect), Python SDK."""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import BaseModel, Field

from testflow.plugins.sdk import Context, Plugin, PluginError

plugin = Plugin(id="text", name="Text tools", version="1.0.0", description="String helpers")


class UpperConfig(BaseModel):
    text: str = Field(description="The text to upper-case.")


class WordsConfig(BaseModel):
    text: str
    min_length: int = Field(1, ge=1, description="Ignore words shorter than this.")


class ExpectConfig(BaseModel):
    text: str
    pattern: str = Field(description="A regular expression the text must match.")


class SleepConfig(BaseModel):
    seconds: float = Field(ge=0, le=60)


@plugin.action("upper", model=UpperConfig)
def upper(config: UpperConfig, ctx: Context) -> dict[str, Any]:
    """Upper-case a text."""
    ctx.log(f"upper-casing {len(config.text)} characters for step {ctx.step_id}")
    return {"text": config.text.upper(), "flow": ctx.flow_id, "run": ctx.execution_id}


@plugin.action("words", model=WordsConfig)
def words(config: WordsConfig, ctx: Context) -> dict[str, Any]:
    """Split a text into words and count them."""
    found = [w for w in re.findall(r"\w+", config.text) if len(w) >= config.min_length]
    return {"words": found, "count": len(found)}


@plugin.action("expect", model=ExpectConfig)
def expect(config: ExpectConfig, ctx: Context) -> dict[str, Any]:
    """Fail with NO_MATCH unless the text matches the pattern."""
    match = re.search(config.pattern, config.text)
    if match is None:
        ctx.log(f"{config.pattern!r} not found", "warn")
        raise PluginError("NO_MATCH", f"{config.pattern!r} does not match", {"text": config.text})
    return {"match": match.group(0), "groups": list(match.groups())}


@plugin.action("sleep", model=SleepConfig)
def sleep(config: SleepConfig, ctx: Context) -> dict[str, Any]:
    """Sleep (for timeout tests and demos)."""
    time.sleep(config.seconds)
    return {"slept": config.seconds}


if __name__ == "__main__":
    plugin.serve()
