"""Deterministic workflow code: the flow interpreter and its types.

Imports only the standard library, temporalio, pydantic and testflow.dsl (a test checks that
no protocol client loads with it).
"""

from testflow.workflows.interpreter import FlowWorkflow

WORKFLOWS = (FlowWorkflow,)

__all__ = ["WORKFLOWS", "FlowWorkflow"]
