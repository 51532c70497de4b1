"""Flows whose histories are committed and replayed in CI (ARCHITECTURE.md section 4, rule 2).

Every interpreter construct appears in at least one case. Record anew (after an intended,
``workflow.patched``-guarded change) with ``python -m tests.workflows.record_histories``.
"""

from __future__ import annotations

import base64
from typing import Any

# A fixed, test-only payload key so committed histories decode in CI.
TEST_KEYS = "replay:" + base64.b64encode(bytes(range(32))).decode()

CASES: dict[str, dict[str, Any]] = {
    "sequential": {
        "context": {"items": [1, 2], "token": "{{ secret('REPLAY_TOKEN') }}", "n": "{{ random.int(1, 9) }}"},
        "setup": [{"id": "prepare", "type": "log", "message": "setup {{ uuid() }}"}],
        "steps": [
            {"id": "calc", "type": "transform", "set": {"total": "{{ items | sum }}"}},
            {"id": "check", "type": "assert", "value": "{{ total }}", "assert": {"$": 3}},
            {"id": "skipped", "type": "log", "message": "never", "when": "total > 100"},
            {"id": "loop", "type": "transform", "for_each": "{{ items }}", "as": "i", "set": {"last": "{{ i }}"}},
        ],
        "teardown": [{"id": "cleanup", "type": "log", "message": "teardown"}],
    },
    "failure_and_retry": {
        "steps": [
            {"id": "bad", "type": "assert", "value": 1, "assert": {"$": 2}, "retry": {"attempts": 2, "initial_interval": "100ms", "retry_on_assertion": True}},
            {"id": "after", "type": "log", "message": "skipped"},
        ],
        "teardown": [{"id": "cleanup", "type": "log", "message": "teardown"}],
    },
    "dag_parallel_group": {
        "hooks": {"before_step": [{"id": "pre", "type": "log", "message": "before"}]},
        "steps": [
            {"id": "a", "type": "delay", "duration": "1s"},
            {"id": "b", "type": "transform", "set": {"b": 1}},
            {"id": "c", "type": "log", "message": "c", "depends_on": ["a", "b"]},
            {
                "id": "fan",
                "type": "parallel",
                "depends_on": ["c"],
                "branches": [
                    [{"id": "left", "type": "transform", "set": {"l": 1}}],
                    {"name": "right", "steps": [{"id": "g", "type": "group", "steps": [{"id": "r", "type": "log", "message": "r"}]}]},
                ],
            },
        ],
    },
    "parallel_cancel": {
        "steps": [
            {
                "id": "fan",
                "type": "parallel",
                "branches": [
                    [{"id": "slow", "type": "delay", "duration": "30s"}],
                    [{"id": "bad", "type": "assert", "value": 1, "assert": {"$": 2}}],
                ],
            }
        ]
    },
    "poll_and_call": {
        "steps": [
            {"id": "wait", "type": "poll", "every": "1s", "within": "5s", "step": {"id": "probe", "type": "assert", "value": 1, "assert": {"$": 1}}},
            {"id": "child", "type": "call", "flow": "sub.yaml", "inputs": {"x": 1}, "outputs": {"y": "y"}},
        ]
    },
    "webhook": {
        "steps": [
            {"id": "hook", "type": "webhook.wait", "name": "cb", "within": "20s", "assert": {"count": 1}, "extract": {"got": "$.ok"}},
        ]
    },
    # Records moved to the artifact store in pages (RunOptions.records_page, workflow.patched).
    "records_pages": {
        "steps": [{"id": f"s{i}", "type": "transform", "set": {"i": i}} for i in range(5)],
    },
}

OPTIONS: dict[str, dict[str, Any]] = {"records_pages": {"records_page": 2}}
"""RunOptions of the cases that need some (recorded with them)."""

SUB_FLOW: dict[str, Any] = {"name": "sub", "context": {"x": 0}, "steps": [{"id": "inc", "type": "transform", "set": {"y": "{{ x + 1 }}"}}]}
