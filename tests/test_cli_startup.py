"""`testflow --help` and light commands must not pay for Temporal, the server or protocol clients.

Each command imports what it needs when it runs; this test keeps it that way.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("temporalio", "fastapi", "sqlalchemy", "uvicorn", "aiokafka", "asyncpg", "redis", "aio_pika")


def test_cli_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, testflow.cli\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing testflow.cli loaded: {out.stdout.strip()}"
