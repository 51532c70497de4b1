"""Worker factory: the interpreter workflows and one activity per step kind on a task queue."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import testflow
from testflow.activities.records import store_records_activity
from testflow.activities.runner import StepRunner
from testflow.dsl.registry import StepRegistry
from testflow.runtime.artifacts import open_store
from testflow.runtime.settings import Settings
from testflow.workflows import WORKFLOWS

# Modules passed through the workflow sandbox are loaded once, outside it, and shared by every
# run; the rest is imported anew for each run (the sandbox's isolation). A module may be passed
# through only if it keeps no module-level state that a run changes and it reads the clock,
# randomness and uuids only through the ``workflow`` API (which finds the current run on the
# running workflow event loop, one per run) or through what the caller passes in.
PASSTHROUGH = (
    # Pure libraries: re-importing Jinja2 and python-jsonpath per run is slow, and faker loads
    # its providers lazily, which the sandbox rejects (ARCHITECTURE.md section 4).
    "jinja2",
    "markupsafe",
    "jsonpath",
    "faker",
    "pydantic",
    "pydantic_core",
    # The DSL: models, templating, assertions, results. Its module-level caches hold pure
    # results only (lru_caches of compiled templates and JSONPaths, one Faker per locale that
    # each draw reseeds from the run's workflow random, a template renderer without secrets).
    "testflow.dsl",
    # The interpreter's helpers (everything but the workflow class, testflow.workflows.
    # interpreter, which the sandbox must import per run and which is kept thin for that).
    # None but carried has module-level mutable state: each run's state lives in the
    # RunContext, RunState and WebhookInbox objects its workflow instance owns. Passing them
    # through saves re-executing their code (class bodies, pydantic models) for every run.
    "testflow.workflows.actions",  # ActionRunner: one action step (activity, timer, webhook)
    # The one exception, on purpose: validated flows a run hands to its next incarnation
    # (continue-as-new); shared by every run of this worker so the next one finds it. Safe
    # because an entry equals what validating that input gives (see its docstring).
    "testflow.workflows.carried",
    "testflow.workflows.context",  # RunContext: per-run object, record helpers
    "testflow.workflows.control",  # ControlFlow: lists, DAGs, parallel, group, call, poll
    "testflow.workflows.lifecycle",  # FlowRun: run loop, record pages, continue-as-new
    "testflow.workflows.options",  # pure: step -> activity options
    "testflow.workflows.records",  # pure: record/outcome builders (clock passed in)
    "testflow.workflows.search",  # constants: search attribute keys
    "testflow.workflows.state",  # RunState class (per-run instances)
    "testflow.workflows.suite_types",  # pydantic models of the SuiteWorkflow
    "testflow.workflows.types",  # pydantic models of inputs and outputs
    "testflow.workflows.webhooks",  # WebhookInbox class (per-run instances)
)


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def build_worker(
    client: Client,
    settings: Settings,
    registry: StepRegistry,
    *,
    task_queue: str | None = None,
    build_id: str | None = None,
) -> Worker:
    store = open_store(settings)  # a local directory, or S3 when TESTFLOW_ARTIFACTS_S3_URL is set
    runner = StepRunner(registry, store, preview_bytes=settings.preview_bytes)
    deployment = None
    if build_id:
        # The build id is reported to Temporal (visible per task); routing by version
        # (use_worker_versioning) needs a deployment set current on the server first.
        deployment = WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(deployment_name="testflow", build_id=build_id),
            use_worker_versioning=False,
        )
    return Worker(
        client,
        deployment_config=deployment,
        # Without one the SDK hashes the bytecode of every loaded module (0.1-1 s at start-up).
        build_id=None if deployment else f"testflow-{testflow.__version__}",
        task_queue=task_queue or settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=[*runner.activities(), store_records_activity(store)],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_local_activities=settings.max_concurrent_local_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_cached_workflows=settings.max_cached_workflows,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_queue_timeout_s),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
