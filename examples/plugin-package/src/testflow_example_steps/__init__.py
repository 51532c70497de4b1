"""The ``checksum.compute`` step kind: the input model and the StepKind.

This module is imported wherever flows are validated (CLI, API, worker), so it holds only
the declaration; the executor lives in :mod:`testflow_example_steps.executor` and is
imported by workers only (``executor="module:function"``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from testflow.dsl.registry import StepKind


class ChecksumConfig(BaseModel):
    """The kind-specific keys of a ``checksum.compute`` step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str = Field(description="The text to hash.")
    algorithm: Literal["sha256", "sha1", "md5", "blake2b"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"


KINDS = [
    StepKind(
        name="checksum.compute",
        description="Hash a text (sha256, sha1, md5, blake2b); $ is {digest, algorithm, length}.",
        input_model=ChecksumConfig,
        executor="testflow_example_steps.executor:execute",
        mode="quick",
        primary="{digest, algorithm, length}",
        result_fields=("digest",),
        category="utility",
        icon="hash",
        example={
            "id": "sum",
            "type": "checksum.compute",
            "data": "{{ body }}",
            "extract": {"sha": "$.digest"},
        },
        source="package:testflow-example-steps",
    )
]
