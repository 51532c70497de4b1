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

# Pure modules used by the interpreter are passed through the sandbox (loaded once, outside):
# re-importing Jinja2 and python-jsonpath per workflow run is slow, and faker loads its
# providers lazily, which the sandbox rejects (ARCHITECTURE.md section 4).
PASSTHROUGH = (
    "jinja2",
    "markupsafe",
    "jsonpath",
    "faker",
    "testflow.dsl",
    "pydantic",
    "pydantic_core",
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
