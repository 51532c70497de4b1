"""A continue-as-new input takes the flow its previous incarnation validated (workflows/carried.py).

Decoded through the worker's payload converter, as the next incarnation's input is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from testflow.dsl.models import Flow
from testflow.runtime.engine import CompactPayloadConverter
from testflow.workflows import carried
from testflow.workflows.types import CarriedState, FlowInput

STARTED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _input(flow: Flow, started_at: datetime = STARTED, seq: int = 41) -> FlowInput:
    state = CarriedState(
        next_index=2, context={}, records=[], event_seq=seq, started_at=started_at, failed=False
    )
    return FlowInput(run_id="run-carried-1", flow=flow, kinds={}, carried=state)


def _flow(name: str) -> Flow:
    steps = [{"id": f"s{i}", "type": "log", "message": "m"} for i in range(3)]
    return Flow.model_validate({"name": name, "steps": steps})


def _decode(value: FlowInput) -> FlowInput:
    converter = CompactPayloadConverter()
    payloads = converter.to_payloads([value])
    decoded = converter.from_payloads(payloads, [FlowInput])[0]
    assert isinstance(decoded, FlowInput)
    return decoded


def test_next_incarnation_takes_the_kept_flow() -> None:
    flow = _flow("kept")
    carried.keep("run-carried-1", 41, STARTED, flow)
    assert _decode(_input(flow)).flow is flow
    assert _decode(_input(flow)).flow is flow  # a replay of that incarnation in this worker
    validated = _decode(_input(flow, seq=42))  # nothing kept for it: validated
    assert validated.flow is not flow and validated.flow == flow


def test_only_a_few_flows_are_kept() -> None:
    for seq in range(carried.KEEP + 1):
        carried.keep("run-carried-2", seq, STARTED, _flow(f"f{seq}"))
    assert carried.take("run-carried-2", 0) is None
    assert carried.take("run-carried-2", carried.KEEP) is not None


def test_an_input_of_another_run_validates_its_own_flow() -> None:
    carried.keep("run-carried-1", 41, STARTED, _flow("kept"))
    other = _flow("other")
    decoded = _decode(_input(other, started_at=STARTED + timedelta(seconds=1)))
    assert decoded.flow.name == "other"
    assert decoded.carried is not None and decoded.carried.started_at != STARTED


def test_a_first_run_input_is_validated() -> None:
    flow = _flow("fresh")
    value = FlowInput(run_id="run-carried-1", flow=flow, kinds={})
    decoded = _decode(value)
    assert decoded.flow is not flow and decoded == value
