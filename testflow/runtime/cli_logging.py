"""What the Temporal SDK core prints in a terminal command: errors only.

The core logs to stderr by itself (not through Python's logging) and warns at ``WARN``. In
``testflow run`` and ``testflow demo`` the one warning it gives is noise: the CLI stops waiting
for a ``progress`` query when the run's result arrives first (testflow.runtime.run_events), the
server drops that query, and the worker's late answer is logged as "Query not found when
attempting to respond to it". The run is unaffected; the user should not see it.
"""

from __future__ import annotations

from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

CORE_LEVEL = "ERROR"


def quiet_core_logs() -> bool:
    """Make the process's default Temporal runtime log core errors only.

    Must run before the first Temporal client or worker of the process: they bind the default
    runtime when created. Returns False (and changes nothing) when a default runtime already
    exists, e.g. one made for SDK metrics (testflow.runtime.metrics) or a test's: that one's
    settings are kept.
    """
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level=CORE_LEVEL, other_level="ERROR")
            )
        )
    )
    try:
        Runtime.set_default(runtime, error_if_already_set=True)
    except RuntimeError:
        return False
    return True
