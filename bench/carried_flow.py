"""Decoding a continue-as-new input: the kept validated flow (workflows/carried.py) against
validating the whole flow again, the floor, measured in the same run.

    python bench/carried_flow.py [--steps 10000 20000] [--rounds 5]

The next incarnation of a long run decodes its input inside its first workflow task, which the
deadlock detector stops after 2 s. Each input goes through the worker's own payload converter
(pydantic JSON); the codec (encryption) is the same either way and is left out. Printed per
step count: payload size, CPU ms of the floor (the flow validated again, as any worker that did
not run the previous incarnation does) and of the kept flow (median of the rounds), ratio.
Numbers only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from temporalio.api.common.v1 import Payload

from testflow.dsl.models import Flow
from testflow.runtime.engine import CompactPayloadConverter
from testflow.workflows import carried
from testflow.workflows.types import CarriedState, FlowInput


def long_input(n: int) -> FlowInput:
    steps = [{"id": f"s{i}", "type": "transform", "set": {"i": i}} for i in range(n)]
    flow = Flow.model_validate({"name": f"bench carried {n}", "steps": steps})
    state = CarriedState(
        next_index=n // 2,
        context={"i": n // 2},
        records=[],
        event_seq=n,
        started_at=datetime.now(UTC),
        failed=False,
    )
    return FlowInput(run_id=f"run-bench-carried-{n}", flow=flow, kinds={}, carried=state)


def cpu_ms(
    decode: Callable[[], FlowInput], rounds: int, before: Callable[[], None] | None = None
) -> tuple[float, FlowInput]:
    times = []
    for _ in range(rounds):
        if before is not None:
            before()
        start = time.process_time()
        decoded = decode()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times), decoded


def main(steps: list[int], rounds: int) -> None:
    converter = CompactPayloadConverter()
    for n in steps:
        value = long_input(n)
        assert value.carried is not None
        payloads = converter.to_payloads([value])

        def decode(payloads: list[Payload] = payloads) -> FlowInput:
            decoded = converter.from_payloads(payloads, [FlowInput])[0]
            assert isinstance(decoded, FlowInput)
            return decoded

        def keep(value: FlowInput = value) -> None:
            assert value.carried is not None
            carried.keep(
                value.run_id, value.carried.event_seq, value.carried.started_at, value.flow
            )

        floor, validated = cpu_ms(decode, rounds)
        kept, taken = cpu_ms(decode, rounds, before=keep)
        assert validated.flow == value.flow and validated.flow is not value.flow
        assert taken.flow is value.flow
        size = len(payloads[0].data)
        print(
            f"{n:>6} steps  input {size / 1e6:5.2f} MB  validated again {floor:7.1f} ms CPU  "
            f"kept flow {kept:6.1f} ms CPU  ratio {kept / floor:4.2f}",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10000, 20000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    main(args.steps, args.rounds)
