from __future__ import annotations

from collections.abc import Iterator

import pytest

from testflow.demo import start_demo_service


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled demo partner service on a free port (a real HTTP server)."""
    db = tmp_path_factory.mktemp("demo") / "orders.sqlite3"
    url, stop = start_demo_service(0, db_path=str(db))
    try:
        yield url
    finally:
        stop()
