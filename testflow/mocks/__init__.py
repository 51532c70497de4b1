"""Partner mocks: declared by ``mock`` steps (or a mocks file) and served during a run.

:mod:`server` holds a mock's matching, templating, scenarios and journal; :mod:`hub` serves
the mocks of the runs a worker process executes; :mod:`files` reads mocks files and WireMock
mappings with positioned diagnostics; :mod:`executors` are the step executors. See
docs/durable.md.
"""
