"""The API database pool and the live streams' query budget come from settings
(TESTFLOW_DB_POOL_SIZE, TESTFLOW_DB_POOL_OVERFLOW, TESTFLOW_STREAM_QUERIES_PER_SECOND), and a
value that makes no sense is refused before the server starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from testflow.api.app import create_app
from testflow.api.deps import AppState
from testflow.api.errors import Unavailable
from testflow.api.runstate import QUERIES_PER_SECOND, RunFeed, RunFeeds, stream_events
from testflow.runtime.settings import Settings


def settings_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("TESTFLOW_HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(f"TESTFLOW_{name.upper()}", value)
    return Settings()


async def test_the_pool_of_the_api_database_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from_env(tmp_path, monkeypatch, db_pool_size="3", db_pool_overflow="2")
    state: AppState = create_app(settings, connect=False).state.tf
    try:
        pool = state.db.engine.pool
        assert pool.size() == 3  # type: ignore[attr-defined]
        assert pool._max_overflow == 2  # type: ignore[attr-defined]
    finally:
        await state.db.dispose()
    fields = Settings.model_fields
    assert (fields["db_pool_size"].default, fields["db_pool_overflow"].default) == (20, 10)


async def test_live_streams_share_the_budget_of_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from_env(tmp_path, monkeypatch, stream_queries_per_second="4")
    state: AppState = create_app(settings, connect=False).state.tf
    try:
        # The first stream of a running run makes the server's feeds; with no Temporal
        # connected its poll fails, and the stream ends with that error.
        with pytest.raises(Unavailable):
            await anext(stream_events(state, None, "no-such-run", 0))
        assert state.feeds is not None and state.feeds.budget == 4.0
        state.feeds.feeds = {f"run{i}": RunFeed(f"run{i}", 0) for i in range(8)}
        assert state.feeds.interval(0.2) == 2.0  # 8 open feeds share 4 queries a second
        assert state.feeds.interval(3.0) == 3.0
    finally:
        await state.db.dispose()
    assert Settings.model_fields["stream_queries_per_second"].default == QUERIES_PER_SECOND


@pytest.mark.parametrize(
    ("name", "value"),
    [("db_pool_size", "0"), ("db_pool_overflow", "-1"), ("stream_queries_per_second", "0")],
)
def test_nonsense_values_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(ValidationError, match=name):
        settings_from_env(tmp_path, monkeypatch, **{name: value})
    with pytest.raises(ValueError, match="above 0"):
        RunFeeds(lambda: None, budget=0)  # type: ignore[arg-type,return-value]
