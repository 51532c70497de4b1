"""Which ``TESTFLOW_*`` variable names are real settings (Settings ignores unknown ones silently)."""

from __future__ import annotations

from collections.abc import Iterable

from testflow.runtime.settings import Settings

# Read outside Settings: the worker's probe/metrics port (testflow.runtime.health), the
# container healthcheck override, the compose image name, and flow variables.
OUTSIDE_SETTINGS = {"TESTFLOW_METRICS_PORT", "TESTFLOW_HEALTHCHECK_URL", "TESTFLOW_IMAGE"}
# Wired by the worker command once Worker Versioning lands (see docs/deploy.md).
PENDING = {"TESTFLOW_WORKER_BUILD_ID"}


def known_names() -> set[str]:
    return (
        {f"TESTFLOW_{name.upper()}" for name in Settings.model_fields} | OUTSIDE_SETTINGS | PENDING
    )


def assert_known_settings(names: Iterable[str], *, where: str) -> None:
    known = known_names()
    unknown = sorted(
        n
        for n in names
        if n.startswith("TESTFLOW_") and not n.startswith("TESTFLOW_VAR_") and n not in known
    )
    assert not unknown, f"{where}: unknown testflow settings {unknown}"
