"""``junit.xml``: one ``<testsuite>`` per flow run, one ``<testcase>`` per step.

The default profile is valid against Jenkins' ``junit-10.xsd`` (the xUnit plugin's schema),
which accepts ``flakyFailure``/``rerunFailure``/``rerunError`` on a test case (Surefire's
retry elements), so retries are reported there in both profiles. The ``annotations`` profile
adds ``file``/``line`` on ``<testcase>`` (read by GitHub/GitLab annotation actions), which
that XSD does not allow, so it is opt-in.

Status mapping: ``failed`` (assertions did not hold) -> ``<failure>``, ``error`` (the step
could not run: timeout, connection refused, template error) -> ``<error>``, ``skipped`` and
``cancelled`` -> ``<skipped>`` with the reason.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from testflow.dsl.results import RunResult, StepRecord
from testflow.reporting.model import Report
from testflow.reporting.options import Masker, ReportOptions, earlier_attempts, strip_ansi

JUNIT_XML = "junit.xml"

# Characters XML 1.0 forbids (control characters except tab/newline/CR, surrogates, FFFE/FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str, masker: Masker) -> str:
    """Text safe for XML and free of secrets and ANSI colour codes."""
    return _XML_INVALID.sub("", strip_ansi(masker.text(text)))


def _seconds(ms: float) -> str:
    return f"{max(ms, 0.0) / 1000.0:.3f}"


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [truncated {len(text) - limit} characters]"


def _assertion_text(step: StepRecord) -> str:
    lines = []
    for a in step.assertions:
        if a.passed:
            continue
        lines.append(f"{a.path} {a.matcher}: {a.message}".rstrip(": "))
        lines.append(f"  expected: {json.dumps(a.expected, default=str)}")
        lines.append(f"  actual:   {json.dumps(a.actual, default=str)}")
        if a.diff:
            lines.append(a.diff)
    return "\n".join(lines)


def _failure_message(step: StepRecord) -> str:
    if step.error is not None:
        return step.error.message
    failed = [a for a in step.assertions if not a.passed]
    if failed:
        first = failed[0]
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"{first.path}: {first.message or 'assertion failed'}{more}"
    return f"step {step.status}"


def _system_out(step: StepRecord) -> str:
    parts = []
    if step.summary:
        parts.append(step.summary)
    for line in step.logs:
        at = line.at.isoformat() if line.at else ""
        parts.append(f"{at} [{line.level}] {line.message}".strip())
    if step.extracted:
        parts.append("extracted: " + json.dumps(step.extracted, default=str, sort_keys=True))
    if step.context_changes:
        parts.append("context: " + json.dumps(step.context_changes, default=str, sort_keys=True))
    return "\n".join(parts)


class _Builder:
    def __init__(self, report: Report, options: ReportOptions) -> None:
        self.report = report
        self.options = options
        self.masker = options.masker

    def text(self, value: str) -> str:
        return clean(value, self.masker)

    def sub(
        self, parent: ET.Element, tag: str, body: str | None = None, **attrs: Any
    ) -> ET.Element:
        el = ET.SubElement(
            parent, tag, {k: self.text(str(v)) for k, v in attrs.items() if v is not None}
        )
        if body:
            el.text = self.text(body)
        return el

    def build(self) -> ET.Element:
        counts = {"tests": 0, "failures": 0, "errors": 0}
        root = ET.Element("testsuites", {"name": self.text(self.options.title)})
        seen: dict[str, int] = {}
        for run in self.report.runs:
            name = run.flow
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:  # the same flow run twice (shards, --repeat): keep names unique
                name = f"{run.flow} [{run.run_id}]"
            suite = self.suite(root, run, name)
            for key in counts:
                counts[key] += int(suite.get(key, "0"))
        root.set("tests", str(counts["tests"]))
        root.set("failures", str(counts["failures"]))
        root.set("errors", str(counts["errors"]))
        root.set("time", _seconds(self.report.duration_ms))
        return root

    def suite(self, root: ET.Element, run: RunResult, name: str) -> ET.Element:
        suite = self.sub(
            root,
            "testsuite",
            name=name,
            id=run.run_id,
            package=run.flow,
            timestamp=run.started_at.replace(microsecond=0).isoformat(),
            hostname=self.report.hostname or "localhost",
            time=_seconds(run.duration_ms),
            file=run.flow_file,
        )
        props = self.sub(suite, "properties")
        for key, value in (
            ("run_id", run.run_id),
            ("status", run.status),
            ("environment", run.environment or self.report.environment),
            ("git_sha", self.report.git_sha),
            ("tool_version", self.report.tool_version),
            ("tags", ",".join(run.tags) if run.tags else None),
        ):
            if value:
                self.sub(props, "property", name=key, value=value)
        if self.options.junit_granularity == "flow":
            tally = self.flow_case(suite, run)
        else:
            tally = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            for step in run.steps:
                tally["tests"] += 1
                outcome = self.step_case(suite, run, step)
                if outcome:
                    tally[outcome] += 1
            if run.error is not None:  # a run-level error with no step to carry it
                tally["tests"] += 1
                tally["errors"] += 1
                case = self.sub(suite, "testcase", name="(run)", classname=run.flow, time="0.000")
                self.sub(
                    case, "error", run.error.message, type=run.error.type, message=run.error.message
                )
        for key, count in tally.items():
            suite.set(key, str(count))
        return suite

    def step_case(self, suite: ET.Element, run: RunResult, step: StepRecord) -> str | None:
        attrs: dict[str, Any] = {
            "name": step.key,
            "classname": run.flow,
            "time": _seconds(step.duration_ms),
        }
        if self.options.junit_profile == "annotations":
            attrs["file"] = run.flow_file
            line = self.options.line_of(run.run_id, step.key, step.step_id)
            attrs["line"] = line
        case = self.sub(suite, "testcase", **attrs)
        outcome: str | None = None
        if step.status == "failed":
            outcome = "failures"
            body = "\n".join(
                filter(None, [_assertion_text(step), step.error.message if step.error else None])
            )
            err_type = step.error.type if step.error else "AssertionFailed"
            self.sub(case, "failure", body, type=err_type, message=_failure_message(step))
        elif step.status == "error":
            outcome = "errors"
            err = step.error
            body = json.dumps(err.details, indent=2, default=str) if err and err.details else ""
            self.sub(
                case,
                "error",
                body,
                type=err.type if err else "StepFailed",
                message=_failure_message(step),
            )
        elif step.status in ("skipped", "cancelled"):
            outcome = "skipped"
            reason = step.skip_reason or ("cancelled" if step.status == "cancelled" else "skipped")
            self.sub(case, "skipped", message=reason)
        self.retries(case, step)
        out = _system_out(step)
        if out:
            self.sub(case, "system-out", _cap(out, self.options.system_out_limit))
        return outcome

    def retries(self, case: ET.Element, step: StepRecord) -> None:
        """Earlier attempts: flaky when the step passed in the end, reruns when it did not."""
        attempts = earlier_attempts(step)
        if not attempts:
            return
        if step.status == "passed":
            tag = "flakyFailure"
        elif step.status == "error":
            tag = "rerunError"
        else:
            tag = "rerunFailure"
        for attempt in attempts:
            el = self.sub(
                case,
                tag,
                type="AttemptFailed",
                message=f"attempt {attempt.attempt}: {attempt.error}",
            )
            self.sub(el, "stackTrace", attempt.error)

    def flow_case(self, suite: ET.Element, run: RunResult) -> dict[str, int]:
        """Granularity ``flow``: the whole run is one test case."""
        attrs: dict[str, Any] = {
            "name": run.flow,
            "classname": run.flow,
            "time": _seconds(run.duration_ms),
        }
        if self.options.junit_profile == "annotations":
            attrs["file"] = run.flow_file
        case = self.sub(suite, "testcase", **attrs)
        tally = {"tests": 1, "failures": 0, "errors": 0, "skipped": 0}
        bad = [s for s in run.steps if s.status in ("failed", "error")]
        lines = [f"{s.key}: {s.status}: {_failure_message(s)}" for s in bad]
        if run.error is not None:
            lines.insert(0, f"run: {run.error.type}: {run.error.message}")
        message = lines[0] if lines else f"flow {run.status}"
        if run.status == "failed":
            tally["failures"] = 1
            self.sub(case, "failure", "\n".join(lines), type="AssertionFailed", message=message)
        elif run.status == "error":
            tally["errors"] = 1
            first = run.error or next((s.error for s in bad if s.error), None)
            err_type = first.type if first else "StepFailed"
            self.sub(case, "error", "\n".join(lines), type=err_type, message=message)
        elif run.status == "cancelled":
            tally["skipped"] = 1
            self.sub(case, "skipped", message="cancelled")
        out = "\n".join(
            f"[{s.status}] {s.key} ({s.duration_ms:.0f} ms) {s.summary}".rstrip() for s in run.steps
        )
        if out:
            self.sub(case, "system-out", _cap(out, self.options.system_out_limit))
        return tally


def render_junit(report: Report, options: ReportOptions) -> str:
    root = _Builder(report, options).build()
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: Report, out_dir: Path, options: ReportOptions) -> Path:
    path = out_dir / JUNIT_XML
    path.write_text(render_junit(report, options), encoding="utf-8")
    return path
