"""Fixtures of the durable tests: a persistent dev server process, shared settings, PostgreSQL."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from testflow.runtime.devserver import connect
from testflow.runtime.engine import data_converter
from testflow.runtime.settings import Settings
from tests.durable.procs import PG_DSN, DevServer


@pytest.fixture(scope="session")
def proc_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """TESTFLOW_* settings shared by the test and every process it starts (same payload key)."""
    home = tmp_path_factory.mktemp("durable-home")
    return {
        "TESTFLOW_HOME": str(home),
        "TESTFLOW_ARTIFACTS_DIR": str(home / "artifacts"),
        "TESTFLOW_ENCRYPTION_KEYS": "crash:" + base64.b64encode(os.urandom(32)).decode(),
        "TESTFLOW_STICKY_QUEUE_TIMEOUT_S": "1",
        "NO_COLOR": "1",
    }


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    dev = DevServer(tmp_path_factory.mktemp("temporal") / "temporal.db").start()
    try:
        yield dev
    finally:
        dev.kill()


@pytest.fixture(scope="session")
def proc_settings(proc_env: dict[str, str], server: DevServer) -> Settings:
    return Settings(
        home=Path(proc_env["TESTFLOW_HOME"]),
        encryption_keys=proc_env["TESTFLOW_ENCRYPTION_KEYS"],
        temporal_address=server.address,
    )


@pytest.fixture(scope="session")
async def proc_client(server: DevServer, proc_settings: Settings) -> Client:
    return await connect(
        server.address, namespace="default", data_converter=data_converter(proc_settings)
    )


@pytest.fixture(scope="session")
async def pg() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(PG_DSN)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS durable_calls (run_id text, step text, at timestamptz DEFAULT now())"
    )
    await conn.execute("CREATE TABLE IF NOT EXISTS durable_flags (run_id text)")
    try:
        yield conn
    finally:
        await conn.close()
