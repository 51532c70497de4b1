"""CLI commands: every module here exposes ``register(app: typer.Typer)``.

Exit codes, shared by all commands: 0 pass, 1 test failures, 2 invalid input,
3 infrastructure error (Temporal, a service or testflow itself could not do its part).
"""

EXIT_OK = 0
EXIT_TEST_FAILURES = 1
EXIT_INVALID_INPUT = 2
EXIT_INFRA_ERROR = 3
