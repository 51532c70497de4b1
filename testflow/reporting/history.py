"""Run history: small summaries in ``results/history/*.json`` give trends, flaky flows and
failure clusters, shown in the HTML report's history section.

A summary is written per report (its file name derives from the run ids, so re-rendering the
same report rewrites it instead of counting it twice). Flaky means: a step passed only after
retries, or a flow's outcome alternated (pass -> fail -> pass) over recent runs. Failures are
clustered by a signature: the error type plus the message with numbers, ids, quoted values
and addresses blanked, so "timeout after 30s on order 17" and "... order 18" group together.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from testflow.dsl.results import StepRecord
from testflow.reporting.model import Report
from testflow.reporting.options import Masker, was_retried

HISTORY_DIR = "history"
MAX_ENTRIES = 50
"""Entries read for trends; older files are kept on disk but not shown."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NORMALISE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b"), "<addr>"),
    (re.compile(r"\b\d+(\.\d+)?(ms|s|m)?\b"), "<n>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<value>"),
]


def failure_signature(step: StepRecord) -> str:
    """What a failure is 'about', stable across runs: type + normalised message."""
    if step.error is not None:
        kind, message = step.error.type, step.error.message
    else:
        failed = [a for a in step.assertions if not a.passed]
        kind = "AssertionFailed"
        message = "; ".join(f"{a.path} {a.matcher}" for a in failed) or step.status
    for pattern, repl in _NORMALISE:
        message = pattern.sub(repl, message)
    message = _CONTROL.sub("", message)
    return f"{kind}: {' '.join(message.split())[:200]}"


def summarise(report: Report) -> dict[str, Any]:
    """The small per-report record kept in the history directory."""
    runs = []
    for run in report.runs:
        failures = [
            {"key": s.key, "signature": failure_signature(s)}
            for s in run.steps
            if s.status in ("failed", "error") and (s.error or s.assertions)
        ]
        retried = [s.key for s in run.steps if was_retried(s)]
        runs.append(
            {
                "run_id": run.run_id,
                "flow": run.flow,
                "flow_file": run.flow_file,
                "status": run.status,
                "duration_ms": run.duration_ms,
                "counts": run.counts,
                "failures": failures,
                "passed_on_retry": retried,
            }
        )
    return {
        "started_at": report.started_at.isoformat(),
        "status": report.status,
        "environment": report.environment,
        "git_sha": report.git_sha,
        "runs": runs,
    }


def record_history(report: Report, history_dir: Path, masker: Masker | None = None) -> Path:
    """Write this report's summary; idempotent for the same set of runs."""
    history_dir.mkdir(parents=True, exist_ok=True)
    ident = hashlib.sha1(
        "\n".join(sorted(r.run_id for r in report.runs)).encode(), usedforsecurity=False
    )
    stamp = report.started_at.strftime("%Y%m%dT%H%M%S")
    path = history_dir / f"{stamp}-{ident.hexdigest()[:10]}.json"
    data = masker.data(summarise(report)) if masker else summarise(report)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def load_history(history_dir: Path, limit: int = MAX_ENTRIES) -> list[dict[str, Any]]:
    """Summaries oldest first (unreadable files are skipped: history is best effort)."""
    entries = []
    for path in sorted(history_dir.glob("*.json")) if history_dir.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("runs"), list):
            data["_file"] = path.name
            entries.append(data)
    entries.sort(key=lambda e: str(e.get("started_at", "")))
    return entries[-limit:]


def _alternations(outcomes: list[str]) -> int:
    simple = ["passed" if o == "passed" else "failed" for o in outcomes]
    return sum(1 for a, b in itertools.pairwise(simple) if a != b)


def analyse(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Trends per flow, flaky flows and failure clusters over the given summaries."""
    outcomes: dict[str, list[str]] = defaultdict(list)
    retried: dict[str, set[str]] = defaultdict(set)
    clusters: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for run in entry["runs"]:
            flow = str(run.get("flow"))
            outcomes[flow].append(str(run.get("status")))
            retried[flow].update(run.get("passed_on_retry") or [])
            for failure in run.get("failures") or []:
                cluster = clusters.setdefault(
                    failure["signature"],
                    {"signature": failure["signature"], "count": 0, "steps": []},
                )
                cluster["count"] += 1
                where = f"{flow} > {failure['key']}"
                if where not in cluster["steps"]:
                    cluster["steps"].append(where)
    flows = []
    for flow, seen in outcomes.items():
        flips = _alternations(seen)
        reason = None
        if flips >= 2:
            reason = f"outcome changed {flips} times in the last {len(seen)} runs"
        elif retried[flow]:
            reason = "passed on retry: " + ", ".join(sorted(retried[flow]))
        flows.append(
            {
                "flow": flow,
                "outcomes": seen,
                "pass_rate": round(seen.count("passed") / len(seen), 3),
                "flaky": reason is not None,
                "flaky_reason": reason,
            }
        )
    flows.sort(key=lambda f: (not f["flaky"], f["pass_rate"], f["flow"]))
    ordered = sorted(clusters.values(), key=lambda c: (-c["count"], c["signature"]))
    return {"runs": len(entries), "flows": flows, "clusters": ordered}


def history_view(history_dir: Path, report: Report) -> dict[str, Any] | None:
    """History for the HTML report: earlier summaries plus this report; None if no history."""
    current = summarise(report)
    earlier = [e for e in load_history(history_dir) if e.get("started_at") != current["started_at"]]
    if not earlier:
        return None
    view = analyse([*earlier, current])
    view["runs"] = len(earlier)
    return view
