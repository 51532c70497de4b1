"""Executors of the core kinds: ``transform``, ``log`` and ``assert``.

They run as local activities like every quick step, so extraction, assertions and masking go
through the one generic runner; ``transform`` renders its ``set`` values in the workflow (all
templates are rendered there) and hands them back as variables.
"""

from __future__ import annotations

from testflow.activities.base import Output, StepContext
from testflow.dsl.kinds.core import AssertConfig, LogConfig, TransformConfig


async def transform(config: TransformConfig, ctx: StepContext) -> Output:
    names = ", ".join(sorted(config.set))
    return Output(document=dict(config.set), variables=dict(config.set), summary=f"set {names}")


async def log(config: LogConfig, ctx: StepContext) -> Output:
    ctx.log(config.message, config.level)
    return Output(document=config.message, summary=config.message[:200])


async def assert_value(config: AssertConfig, ctx: StepContext) -> Output:
    return Output(document=config.value, fields={"value": config.value}, summary="checked value")
