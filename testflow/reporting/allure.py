"""``allure-results/``: Allure 2 result files, one test result per flow run.

Layout (https://allurereport.org/docs/how-it-works-test-result-file/): ``<uuid>-result.json``
per flow run with the steps nested as in the flow (parallel branches under their parent),
``<uuid>-container.json`` holding setup steps as ``befores`` and teardown steps as
``afters``, ``<uuid>-attachment.json``/``.txt`` for request, response, result fields and
logs, plus ``environment.properties``, ``executor.json`` and ``categories.json``.

UUIDs are derived from run ids (uuid5), so rendering the same report twice rewrites the
same files instead of duplicating results. ``historyId``/``testCaseId`` derive from the flow
(file, name, environment), so Allure links the same flow across runs for its history/trends.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import uuid
from pathlib import Path
from typing import Any

from testflow.dsl.results import RunResult, StepError, StepRecord
from testflow.reporting.model import Report
from testflow.reporting.options import (
    MASK,
    ReportOptions,
    earlier_attempts,
    strip_ansi,
    was_retried,
)

ALLURE_DIR = "allure-results"
_NS = uuid.UUID("6f1c1a52-8a1e-4c55-9c59-2a4f0e6c7a11")
_STATUS = {
    "passed": "passed",
    "failed": "failed",
    "error": "broken",
    "skipped": "skipped",
    "cancelled": "skipped",
    "running": "unknown",
}
CATEGORIES = [
    {"name": "Assertion failures", "matchedStatuses": ["failed"]},
    {
        "name": "Timeouts",
        "matchedStatuses": ["broken"],
        "messageRegex": ".*(Timeout|timed out|within).*",
    },
    {
        "name": "Template and config errors",
        "matchedStatuses": ["broken"],
        "messageRegex": "(TemplateError|InvalidConfig).*",
    },
    {
        "name": "Infrastructure problems",
        "matchedStatuses": ["broken"],
        "messageRegex": "(InfraError|PluginCrashed).*",
    },
    {"name": "Step errors", "matchedStatuses": ["broken"]},
    {"name": "Passed on retry", "matchedStatuses": ["passed"], "flaky": True},
]


def _ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def _md5(*parts: str) -> str:
    return hashlib.md5("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()


def _details(error: StepError | None, step: StepRecord | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"known": False, "muted": False, "flaky": False}
    if error is not None:
        out["message"] = f"{error.type}: {error.message}"
    trace: list[str] = []
    if step is not None:
        for a in step.assertions:
            if not a.passed:
                trace.append(f"{a.path} {a.matcher}: {a.message}".rstrip(": "))
                trace.append(
                    a.diff
                    or f"expected: {json.dumps(a.expected, default=str)}\nactual:   {json.dumps(a.actual, default=str)}"
                )
        trace += [f"attempt {a.attempt}: {a.error}" for a in earlier_attempts(step)]
        if was_retried(step):
            out["flaky"] = True
        if step.skip_reason and "message" not in out:
            out["message"] = step.skip_reason
    if error is not None and error.details:
        trace.append(json.dumps(error.details, indent=2, default=str))
    if trace:
        out["trace"] = strip_ansi("\n".join(trace))
    return out


class _Writer:
    def __init__(self, report: Report, root: Path, options: ReportOptions) -> None:
        self.report = report
        self.root = root
        self.options = options
        self.masker = options.masker

    def dump(self, name: str, data: Any) -> None:
        text = json.dumps(self.masker.data(data), indent=1, ensure_ascii=False, default=str)
        (self.root / name).write_text(self.masker.text(text), encoding="utf-8")

    def attach(self, owner: str, name: str, content: Any) -> dict[str, str]:
        """Write one attachment file; its name is stable (owner uuid + attachment name)."""
        is_text = isinstance(content, str)
        ext, media = ("txt", "text/plain") if is_text else ("json", "application/json")
        source = f"{uuid.uuid5(_NS, owner + '/' + name)}-attachment.{ext}"
        body = (
            content if is_text else json.dumps(content, indent=2, ensure_ascii=False, default=str)
        )
        (self.root / source).write_text(self.masker.text(strip_ansi(body)), encoding="utf-8")
        return {"name": name, "source": source, "type": media}

    def step(
        self, run: RunResult, step: StepRecord, children: dict[str | None, list[StepRecord]]
    ) -> dict[str, Any]:
        label = step.step_id if step.iteration is None else f"{step.step_id}[{step.iteration}]"
        name = f"{label} ({step.kind})" + (f" — {step.summary}" if step.summary else "")
        owner = f"{run.run_id}/{step.key}"
        attachments = []
        detail = self.options.load_detail(step.detail)
        if detail is not None:
            for key in ("request", "response", "fields"):
                if detail.get(key) is not None:
                    attachments.append(self.attach(owner, key, detail[key]))
            logs = detail.get("logs") or []
            if logs:
                text = "\n".join(
                    f"[{x.get('level', 'info')}] {x.get('message', '')}"
                    if isinstance(x, dict)
                    else str(x)
                    for x in logs
                )
                attachments.append(self.attach(owner, "logs", text))
        elif step.detail is not None:
            attachments.append(
                self.attach(owner, "detail not available", f"{step.detail.uri} could not be read")
            )
        if step.logs:
            attachments.append(
                self.attach(
                    owner, "step logs", "\n".join(f"[{x.level}] {x.message}" for x in step.logs)
                )
            )
        params = [{"name": "kind", "value": step.kind}]
        if step.iteration is not None:
            params.append({"name": "iteration", "value": str(step.iteration)})
        params += [self.param(f"extracted.{k}", v) for k, v in step.extracted.items()]
        return {
            "name": name,
            "status": _STATUS[step.status],
            "statusDetails": _details(step.error, step),
            "stage": "finished" if step.status not in ("skipped", "cancelled") else "pending",
            "start": _ms(step.started_at) or _ms(run.started_at),
            "stop": _ms(step.finished_at) or _ms(step.started_at) or _ms(run.started_at),
            "parameters": params,
            "attachments": attachments,
            "steps": [self.step(run, child, children) for child in children.get(step.key, [])],
        }

    def param(self, name: str, value: Any) -> dict[str, Any]:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        masked = MASK in text or (self.masker and self.masker.text(text) != text)
        return {
            "name": name,
            "value": MASK if masked else text,
            **({"mode": "masked"} if masked else {}),
        }

    def run(self, run: RunResult) -> None:
        result_id = str(uuid.uuid5(_NS, run.run_id))
        keys = {s.key for s in run.steps}
        children: dict[str | None, list[StepRecord]] = {}
        for s in run.steps:
            parent = s.parent if s.parent in keys else None
            children.setdefault(parent, []).append(s)
        top = children.get(None, [])
        main = [self.step(run, s, children) for s in top if s.phase in ("steps", "hooks")]
        befores = [self.step(run, s, children) for s in top if s.phase == "setup"]
        afters = [self.step(run, s, children) for s in top if s.phase == "teardown"]
        env = run.environment or self.report.environment or ""
        case_id = _md5(run.flow_file or "", run.flow)
        labels = [
            {"name": "suite", "value": run.flow},
            {"name": "feature", "value": run.tags[0] if run.tags else run.flow},
            {"name": "host", "value": self.report.hostname or "localhost"},
            {"name": "framework", "value": "testflow"},
            {"name": "language", "value": "yaml"},
            *({"name": "tag", "value": tag} for tag in run.tags),
        ]
        if env:
            labels.append({"name": "parentSuite", "value": env})
        params = [{"name": "environment", "value": env}] if env else []
        params += [
            self.param(k, v)
            for k, v in sorted(run.context.items())
            if not isinstance(v, dict | list)
        ]
        # The step whose status decided the run's ("error" beats "failed") explains it best.
        causes = [
            s for s in run.steps if s.status in ("failed", "error") and (s.error or s.assertions)
        ]
        first_bad = next(
            (s for s in causes if s.status == run.status), causes[0] if causes else None
        )
        details = _details(run.error or (first_bad.error if first_bad else None), first_bad)
        details["flaky"] = any(was_retried(s) for s in run.steps)
        attachments = []
        if run.context:
            attachments.append(self.attach(result_id, "final context", run.context))
        self.dump(
            f"{result_id}-result.json",
            {
                "uuid": result_id,
                "historyId": _md5(case_id, env),
                "testCaseId": case_id,
                "fullName": f"{run.flow_file or 'flow'}#{run.flow}",
                "name": run.flow,
                "description": f"run {run.run_id}"
                + (f" of {run.flow_file}" if run.flow_file else ""),
                "status": _STATUS[run.status],
                "statusDetails": details,
                "stage": "finished",
                "start": _ms(run.started_at),
                "stop": _ms(run.finished_at) or _ms(run.started_at),
                "labels": labels,
                "parameters": params,
                "links": [],
                "attachments": attachments,
                "steps": main,
            },
        )
        if befores or afters:
            container_id = str(uuid.uuid5(_NS, run.run_id + "/container"))
            self.dump(
                f"{container_id}-container.json",
                {
                    "uuid": container_id,
                    "name": run.flow,
                    "children": [result_id],
                    "befores": befores,
                    "afters": afters,
                    "start": _ms(run.started_at),
                    "stop": _ms(run.finished_at) or _ms(run.started_at),
                },
            )

    def write(self) -> None:
        for run in self.report.runs:
            self.run(run)
        props = {
            "testflow.version": self.report.tool_version,
            "environment": self.report.environment,
            "git.sha": self.report.git_sha,
            "host": self.report.hostname,
            "python": platform.python_version(),
        }
        lines = [f"{k}={_escape_property(v)}" for k, v in props.items() if v]
        (self.root / "environment.properties").write_text(
            self.masker.text("\n".join(lines) + "\n"), encoding="utf-8"
        )
        self.dump("executor.json", _executor(self.report))
        self.dump("categories.json", CATEGORIES)


def _escape_property(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")


def _executor(report: Report) -> dict[str, Any]:
    """Who ran it: GitHub Actions when its variables are there, else the local machine."""
    data: dict[str, Any] = {"name": "testflow", "type": "testflow", "reportName": "testflow"}
    server, repo, run_id = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run_id:
        data.update(
            name="GitHub Actions",
            type="github",
            buildName=f"{repo} #{os.environ.get('GITHUB_RUN_NUMBER', run_id)}",
            buildUrl=f"{server}/{repo}/actions/runs/{run_id}",
        )
    else:
        data["buildName"] = f"{report.hostname or 'local'} {report.started_at.isoformat()}"
    return data


def write_allure(report: Report, out_dir: Path, options: ReportOptions) -> Path:
    root = out_dir / ALLURE_DIR
    root.mkdir(parents=True, exist_ok=True)
    _Writer(report, root, options).write()
    return root
