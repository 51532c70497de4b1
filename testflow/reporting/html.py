"""``report.html``: one self-contained offline file (inline CSS and JS, no CDN).

The run is embedded as compact JSON and drawn by a small vanilla-JS script that virtualises
the step list, so a run of 10,000 steps stays a few MB and opens in a browser at once instead
of parsing 10,000 server-rendered rows. Step details (request/response/logs) are read from the
artifact store through :attr:`ReportOptions.detail_loader` and embedded, masked.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from testflow.dsl.results import AssertionOutcome, RunResult, StepRecord
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions, earlier_attempts

REPORT_HTML = "report.html"
_CURL_SKIP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "user-agent"}
"""Set by curl itself (or transport details of the recorded client): copying them would break."""
_TEMPLATES = resources.files("testflow.reporting") / "templates"


def _ms(at: datetime | None, origin: datetime) -> float | None:
    if at is None:
        return None
    return round((at - origin).total_seconds() * 1000.0, 1)


def curl_command(request: dict[str, Any]) -> str | None:
    """A ``curl`` command line reproducing an HTTP request detail, or None if it is not one.

    Accepts the usual detail shapes: ``method``, ``url``, ``headers`` (dict or list of
    pairs), and one of ``json`` / ``body`` / ``content`` / ``data``.
    """
    method = request.get("method")
    url = request.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        return None
    parts = ["curl", "-X", method.upper(), shlex.quote(url)]
    headers = request.get("headers") or {}
    pairs = headers.items() if isinstance(headers, dict) else headers
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            continue
        if str(name).lower() in _CURL_SKIP_HEADERS:
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    body: Any = None
    for key in ("json", "body", "content", "data"):
        if request.get(key) is not None:
            body = request[key]
            if key == "json" and not any(
                str(n).lower() == "content-type"
                for n, _ in (headers.items() if isinstance(headers, dict) else [])
            ):
                parts += ["-H", shlex.quote("Content-Type: application/json")]
            break
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        parts += ["--data-raw", shlex.quote(text)]
    return " ".join(parts)


def _assertion(a: AssertionOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {"path": a.path, "m": a.matcher, "ok": a.passed}
    if not a.passed or a.expected is not None:
        out["exp"] = a.expected
        out["act"] = a.actual
    if a.message:
        out["msg"] = a.message
    if a.diff:
        out["diff"] = a.diff
    return out


def _step(step: StepRecord, origin: datetime, options: ReportOptions) -> dict[str, Any]:
    """A step in the compact shape the script reads (empty fields left out to save space)."""
    out: dict[str, Any] = {
        "k": step.key,
        "t": step.kind,
        "s": step.status,
        "d": round(step.duration_ms, 1),
    }
    start = _ms(step.started_at, origin)
    if start is not None:
        out["st"] = start
    optional: dict[str, Any] = {
        "id": step.step_id if not step.key.endswith(step.step_id) else None,
        "p": step.phase if step.phase != "steps" else None,
        "pa": step.parent,
        "it": step.iteration,
        "de": step.description,
        "a": step.attempts if step.attempts > 1 else None,
        "sm": step.summary or None,
        "sk": step.skip_reason,
        "w": step.worker,
        "e": step.error.model_dump(mode="json", exclude_defaults=True) if step.error else None,
        "as": [_assertion(a) for a in step.assertions] or None,
        "x": step.extracted or None,
        "cc": step.context_changes or None,
        "lg": [line.model_dump(mode="json", exclude_none=True) for line in step.logs] or None,
        "ae": [a.model_dump(mode="json", exclude_none=True) for a in earlier_attempts(step)]
        or None,
        "pv": step.preview or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if step.detail is not None:
        out["ref"] = {"name": step.detail.name, "uri": step.detail.uri, "size": step.detail.size}
        detail = options.load_detail(step.detail)
        if detail is None:
            out["det"] = None  # the script says "detail not available"
        else:
            detail = {k: v for k, v in detail.items() if k not in ("step_key", "kind")}
            request = detail.get("request")
            if isinstance(request, dict):
                curl = curl_command(request)
                if curl:
                    detail["curl"] = curl
            out["det"] = detail
    return out


def _run(run: RunResult, options: ReportOptions) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": run.run_id,
        "flow": run.flow,
        "file": run.flow_file,
        "s": run.status,
        "at": run.started_at.isoformat(),
        "d": round(run.duration_ms, 1),
        "c": run.counts,
        "steps": [_step(step, run.started_at, options) for step in run.steps],
    }
    if run.tags:
        out["tags"] = run.tags
    if run.environment:
        out["env"] = run.environment
    if run.context:
        out["ctx"] = run.context
    if run.error is not None:
        out["e"] = run.error.model_dump(mode="json", exclude_defaults=True)
    return out


def report_data(
    report: Report, options: ReportOptions, history: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the page shows, as JSON-able data (masked)."""
    data = {
        "title": options.title,
        "tool": report.tool_version,
        "s": report.status,
        "at": report.started_at.isoformat(),
        "end": report.finished_at.isoformat() if report.finished_at else None,
        "d": round(report.duration_ms, 1),
        "env": report.environment,
        "sha": report.git_sha,
        "host": report.hostname,
        "c": report.step_counts,
        "rc": report.run_counts,
        "runs": [_run(run, options) for run in report.runs],
        "history": history,
    }
    masked: dict[str, Any] = options.masker.data(data)
    return masked


def _embed(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no '</script>' or '<!--' can end it early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_html(
    report: Report, options: ReportOptions, history: dict[str, Any] | None = None
) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string((_TEMPLATES / "report.html.j2").read_text(encoding="utf-8"))
    html = template.render(
        title=options.title,
        css=Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
        js=Markup((_TEMPLATES / "report.js").read_text(encoding="utf-8")),
        data=Markup(_embed(report_data(report, options, history))),
        status=report.status,
    )
    return options.masker.text(html)


def write_html(
    report: Report, out_dir: Path, options: ReportOptions, history: dict[str, Any] | None = None
) -> Path:
    if history is None and options.history_dir is not None:
        from testflow.reporting.history import history_view  # only when history is asked for

        history = history_view(options.history_dir, report)
    path = out_dir / REPORT_HTML
    path.write_text(render_html(report, options, history), encoding="utf-8")
    return path
