"""Flow texts used by the API tests (no network: log, transform and delay steps)."""

QUICK = """\
name: api quick
tags: [api-test, quick]
context:
  greeting: hello
steps:
  - id: say
    type: log
    message: "{{ greeting }} from the API"
  - id: shape
    type: transform
    set: {n: 1}
"""

SLOW = """\
name: api slow
tags: [api-test, slow]
steps:
  - id: wait
    type: delay
    duration: 60s
  - id: after
    type: log
    message: not reached
teardown:
  - id: cleanup
    type: log
    message: teardown ran
"""

INVALID = """\
name: broken
steps:
  - id: a
    type: log
    mesage: typo
"""
