"""CPU of the workflow sandbox per run: creating one sandboxed instance of each of testflow's
workflows (the per-run import of its module) against a bare workflow, the floor, measured in
the same run with the same sandbox configuration (runtime/worker.py).

    python bench/sandbox.py [--instances 200] [--rounds 3]

A worker creates one instance per run it starts, and again for a run that left its cache
(replay). Printed per workflow: CPU ms per instance (median of the rounds), ratio to the
floor, and the modules the sandbox imported anew for it (everything else was passed
through). Run it as installed: without bytecode (PYTHONDONTWRITEBYTECODE and edited sources)
every instance compiles its module from source. Numbers only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import temporalio.converter
import temporalio.workflow
from _floor import BareLoop  # bench/ is on sys.path: the script's folder
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox._runner import _fake_info

from testflow.runtime.worker import workflow_runner
from testflow.workflows import WORKFLOWS


def details(cls: type) -> WorkflowInstanceDetails:
    converter = temporalio.converter.DataConverter.default
    return WorkflowInstanceDetails(
        payload_converter_factory=converter._new_payload_converter,
        failure_converter_class=converter.failure_converter_class,
        interceptor_classes=[],
        defn=temporalio.workflow._Definition.must_from_class(cls),
        info=_fake_info,
        randomness_seed=-1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


def fresh_modules(instance: object) -> list[str]:
    """Modules in the instance's sandbox that are not the host's (imported anew)."""
    modules = getattr(getattr(instance, "importer", None), "new_modules", {})
    return sorted(
        name
        for name, module in modules.items()
        if sys.modules.get(name) is not module and not name.startswith("__")
    )


async def measure(cls: type, instances: int, rounds: int) -> tuple[float, list[str]]:
    runner = workflow_runner()
    det = details(cls)
    fresh = fresh_modules(runner.create_instance(det))  # warm: host imports, bytecode
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(instances):
            runner.create_instance(det)
        times.append((time.process_time() - start) * 1000 / instances)
    return statistics.median(times), fresh


async def main(instances: int, rounds: int) -> None:
    floor, floor_fresh = await measure(BareLoop, instances, rounds)
    print(f"{'floor (bare workflow)':<24} {floor:6.2f} ms CPU per instance  anew: {floor_fresh}")
    for cls in WORKFLOWS:
        ms, fresh = await measure(cls, instances, rounds)
        print(
            f"{cls.__name__:<24} {ms:6.2f} ms CPU per instance  {ms / floor:5.2f}x  anew: {fresh}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.instances, args.rounds))
