"""The executor of ``checksum.compute``: runs inside the worker, in-process."""

from __future__ import annotations

import base64
import hashlib

from testflow.activities.base import Output, StepContext
from testflow_example_steps import ChecksumConfig


async def execute(config: ChecksumConfig, ctx: StepContext) -> Output:
    digest = hashlib.new(config.algorithm, config.data.encode("utf-8")).digest()
    text = digest.hex() if config.encoding == "hex" else base64.b64encode(digest).decode()
    ctx.log(f"{config.algorithm} of {len(config.data)} characters")
    return Output(
        document={"digest": text, "algorithm": config.algorithm, "length": len(config.data)},
        fields={"digest": text},
        summary=f"{config.algorithm} -> {text[:12]}...",
    )
