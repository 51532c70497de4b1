"""Deterministic workflow code: the flow interpreter, the suite parent and their types.

Imports only the standard library, temporalio, pydantic and testflow.dsl (a test checks that
no protocol client loads with it).

The workflow classes are loaded on first use (PEP 562): the sandbox imports this package
anew for every run, as the parent of the workflow's module, and a FlowWorkflow run must not
pay for importing the SuiteWorkflow (and the reverse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testflow.workflows.interpreter import FlowWorkflow
    from testflow.workflows.suite import SuiteWorkflow

    WORKFLOWS: tuple[type[FlowWorkflow], type[SuiteWorkflow]]

__all__ = ["WORKFLOWS", "FlowWorkflow", "SuiteWorkflow"]


def __getattr__(name: str) -> Any:
    if name == "FlowWorkflow":
        from testflow.workflows.interpreter import FlowWorkflow

        return FlowWorkflow
    if name == "SuiteWorkflow":
        from testflow.workflows.suite import SuiteWorkflow

        return SuiteWorkflow
    if name == "WORKFLOWS":
        return (__getattr__("FlowWorkflow"), __getattr__("SuiteWorkflow"))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
