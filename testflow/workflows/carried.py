"""Validated flows handed from a run to its next incarnation (continue-as-new) in this worker.

Each continue-as-new input carries the whole flow; decoding it validated every step again
(0.15-0.2 s of CPU at 10,000 steps, twice that at 20,000, inside the workflow task, whose
deadlock detector allows 2 s). The run that continues as new already holds the validated
``Flow``: it leaves it here, and the next incarnation's input takes it instead of validating
the same JSON again (``FlowInput``'s wrap validator, types.py). Commands are unchanged: the
input still carries the flow, and a worker without the entry (another worker, a restart, a
replay) validates it as before.

This is module-level state that runs change, in a module passed through the sandbox; it is
safe because an entry is an immutable validated flow that equals what validation of that
input would give: the key is (run id, event seq at the continue-as-new), unique per
incarnation of a run, and the entry is used only if the input's ``started_at`` matches too.
A few entries are kept, the least recently used dropped first; an entry is the object the run
holds anyway while it runs, and a replay of that incarnation (a query after the run left the
worker's cache) finds it too. A miss only costs the validation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from testflow.dsl.models import Flow

KEEP = 8
"""Entries kept at most: one per long run continuing as new at the same moment is plenty."""

_lock = threading.Lock()  # workflow tasks run on several threads
_flows: OrderedDict[tuple[str, int], tuple[datetime, Flow]] = OrderedDict()


def keep(run_id: str, event_seq: int, started_at: datetime, flow: Flow) -> None:
    """Called by the run that continues as new, with what its next input carries."""
    with _lock:
        _flows[(run_id, event_seq)] = (started_at, flow)
        while len(_flows) > KEEP:
            _flows.popitem(last=False)


def take(run_id: str, event_seq: int) -> tuple[datetime, Flow] | None:
    """The flow kept for this incarnation, if this worker ran the previous one."""
    key = (run_id, event_seq)
    with _lock:
        kept = _flows.get(key)
        if kept is not None:
            _flows.move_to_end(key)
        return kept
