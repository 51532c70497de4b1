"""A bad ``TESTFLOW_*`` setting is a one-paragraph message and exit code 2, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testflow", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_setting_names_the_variable_and_exits_2() -> None:
    done = run_cli("tokens", "list", TESTFLOW_API_PORT="eighty")
    assert done.returncode == 2, done.stderr
    assert "configuration error:" in done.stderr
    assert "TESTFLOW_API_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_incomplete_oidc_is_refused_before_serving() -> None:
    done = run_cli("serve", TESTFLOW_OIDC_ISSUER="http://127.0.0.1:9/")
    assert done.returncode == 2, done.stderr
    assert "TESTFLOW_OIDC_CLIENT_ID is needed too" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_values_are_not_echoed() -> None:
    # Settings may hold keys and secrets: a rejected value stays out of the message.
    done = run_cli("tokens", "list", TESTFLOW_API_PORT="sekrit-value")
    assert done.returncode == 2, done.stderr
    assert "TESTFLOW_API_PORT" in done.stderr
    assert "sekrit" not in done.stderr
