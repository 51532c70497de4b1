"""Notifications when a run ends: Slack incoming webhook, generic webhook, email (SMTP).

Configured in a YAML/JSON file (``notifications.yaml``)::

    notifications:
      - type: slack                      # slack | webhook | email
        url: ${SLACK_WEBHOOK_URL}        # ${VAR} reads the process environment
        on: failure                      # failure | recovery | always (default failure)
        environments: [staging, prod]    # default: every environment
      - type: webhook
        url: https://ci.example/hooks/testflow
        headers: {Authorization: "Bearer ${HOOK_TOKEN}"}
        on: always
      - type: email
        on: recovery
        smtp: {host: smtp.example, port: 587, starttls: true, username: bot, password: ${SMTP_PASSWORD}}
        from: testflow@example.com
        to: [team@example.com]

``recovery`` means: this run passed and the previous run of the same environment (from the
history directory) did not. Sending never fails the run: errors are logged and returned.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from testflow.dsl.positions import first_problem
from testflow.reporting.history import load_history
from testflow.reporting.markdown import ICONS, _duration
from testflow.reporting.model import Report, ReportError
from testflow.reporting.options import Masker

logger = logging.getLogger(__name__)
Rule = Literal["failure", "recovery", "always"]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    on: Rule = "failure"
    environments: list[str] | None = Field(None, description="Only for these environments.")
    timeout: float = Field(10.0, gt=0, le=120)


class SlackChannel(_Channel):
    type: Literal["slack"]
    url: str


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None


class EmailChannel(_Channel):
    type: Literal["email"]
    smtp: SmtpSettings
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)


Channel = Annotated[SlackChannel | WebhookChannel | EmailChannel, Field(discriminator="type")]


class NotificationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notifications: list[Channel] = Field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    channel: str
    sent: bool
    detail: str


def _expand(value: Any, secrets: list[str]) -> Any:
    """``${VAR}`` from the environment; expanded values are remembered as secrets to mask."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ReportError(f"notification config uses ${{{name}}} but it is not set")
            secrets.append(os.environ[name])
            return os.environ[name]

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        # YAML 1.1 reads a bare `on:` key as the boolean True; it means the rule here.
        return {("on" if k is True else k): _expand(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, secrets) for v in value]
    return value


def load_config(path: Path) -> tuple[NotificationConfig, tuple[str, ...]]:
    """Read and validate a notifications file; returns the config and the values to mask."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ReportError(f"{path}: cannot read notification config: {exc}") from exc
    secrets: list[str] = []
    try:
        config = NotificationConfig.model_validate(_expand(raw, secrets))
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise ReportError(f"{path}: invalid notification config at {where}: {message}") from exc
    return config, tuple(secrets)


def previous_status(history_dir: Path | None, report: Report) -> str | None:
    """Status of the last recorded run of the same environment before this one."""
    if history_dir is None:
        return None
    now = report.started_at.isoformat()
    earlier = [
        e
        for e in load_history(history_dir)
        if e.get("environment") == report.environment and str(e.get("started_at")) < now
    ]
    return str(earlier[-1]["status"]) if earlier else None


def should_send(rule: Rule, status: str, previous: str | None) -> bool:
    if rule == "always":
        return True
    if rule == "failure":
        return status != "passed"
    return status == "passed" and previous is not None and previous != "passed"


def _headline(report: Report, previous: str | None) -> str:
    c = report.step_counts
    recovered = (
        " (recovered)" if report.status == "passed" and previous not in (None, "passed") else ""
    )
    env = f" on {report.environment}" if report.environment else ""
    return (
        f"{ICONS.get(report.status, '')} testflow{env}: {report.status}{recovered} — "
        f"{len(report.runs)} flows, {c['passed']} passed, {c['failed']} failed, {c['error']} errors "
        f"in {_duration(report.duration_ms)}"
    )


def _failed_lines(report: Report, limit: int = 10) -> list[str]:
    out = []
    for run, step in report.all_steps():
        if step.status in ("failed", "error") and (step.error or step.assertions):
            message = step.error.message if step.error else "assertion failed"
            out.append(f"{run.flow} > {step.key}: {message[:200]}")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def payload(report: Report, previous: str | None, report_url: str | None) -> dict[str, Any]:
    """The generic webhook body."""
    return {
        "event": "run_finished",
        "status": report.status,
        "previous_status": previous,
        "environment": report.environment,
        "git_sha": report.git_sha,
        "started_at": report.started_at.isoformat(),
        "duration_ms": report.duration_ms,
        "counts": report.step_counts,
        "runs": [{"run_id": r.run_id, "flow": r.flow, "status": r.status} for r in report.runs],
        "failures": _failed_lines(report),
        "report_url": report_url,
    }


def _send(
    channel: SlackChannel | WebhookChannel | EmailChannel,
    report: Report,
    previous: str | None,
    report_url: str | None,
    masker: Masker,
) -> str:
    headline = masker.text(_headline(report, previous))
    failures = [masker.text(line) for line in _failed_lines(report)]
    if isinstance(channel, SlackChannel):
        text = headline + ("\n" + "\n".join(f"• {f}" for f in failures) if failures else "")
        if report_url:
            text += f"\n<{report_url}|Open the report>"
        body: dict[str, Any] = {"text": text}
        response = httpx.post(channel.url, json=body, timeout=channel.timeout)
        response.raise_for_status()
        return f"HTTP {response.status_code}"
    if isinstance(channel, WebhookChannel):
        response = httpx.post(
            channel.url,
            json=masker.data(payload(report, previous, report_url)),
            headers=channel.headers,
            timeout=channel.timeout,
        )
        response.raise_for_status()
        return f"HTTP {response.status_code}"
    message = EmailMessage()
    message["Subject"] = headline
    message["From"] = channel.from_
    message["To"] = ", ".join(channel.to)
    message.set_content("\n".join([headline, "", *failures, "", report_url or ""]).strip() + "\n")
    smtp = channel.smtp
    client_cls = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    with client_cls(smtp.host, smtp.port, timeout=channel.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)
    return f"mail to {len(channel.to)} recipients"


def notify(
    report: Report,
    config: NotificationConfig,
    *,
    history_dir: Path | None = None,
    report_url: str | None = None,
    secrets: tuple[str, ...] = (),
) -> list[Delivery]:
    """Send what the rules ask for; never raises for a failed delivery (it is logged)."""
    previous = previous_status(history_dir, report)
    masker = Masker(secrets)
    out = []
    for index, channel in enumerate(config.notifications):
        name = f"{channel.type}[{index}]"
        if channel.environments is not None and report.environment not in channel.environments:
            continue
        if not should_send(channel.on, report.status, previous):
            continue
        try:
            detail = _send(channel, report, previous, report_url, masker)
            out.append(Delivery(name, True, detail))
        except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
            # A URL may carry a token (Slack webhooks do): mask before logging.
            reason = masker.text(f"{type(exc).__name__}: {exc}")
            logger.warning("notification %s not sent: %s", name, reason)
            out.append(Delivery(name, False, reason))
    return out


def describe(deliveries: list[Delivery]) -> str:
    return json.dumps([d.__dict__ for d in deliveries])
