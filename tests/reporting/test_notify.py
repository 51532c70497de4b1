"""Notifications against real local receivers: an HTTP server and an aiosmtpd SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from testflow.reporting.model import Report, ReportError
from testflow.reporting.notify import load_config, notify, should_send
from testflow.reporting.writer import write_reports
from tests.reporting.test_history import _health


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict, dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(500 if self.path == "/broken" else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, list]]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Receiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list]]:
    from aiosmtpd.controller import Controller

    messages: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            messages.append(envelope)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, messages
    controller.stop()


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "notifications.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("rule", "status", "previous", "expected"),
    [
        ("failure", "failed", None, True),
        ("failure", "passed", "failed", False),
        ("recovery", "passed", "error", True),
        ("recovery", "passed", "passed", False),
        ("recovery", "passed", None, False),
        ("always", "passed", None, True),
    ],
)
def test_rules(rule: str, status: str, previous: str | None, expected: bool) -> None:
    assert should_send(rule, status, previous) is expected  # type: ignore[arg-type]


def test_slack_webhook_and_email(
    report: Report,
    tmp_path: Path,
    http_receiver: tuple[str, list],
    smtp_server: tuple[int, list],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = http_receiver
    port, mails = smtp_server
    monkeypatch.setenv("HOOK_TOKEN", "hook-t0ken-xyz")
    path = _config(
        tmp_path,
        f"""
notifications:
  - {{type: slack, url: "{url}/slack", on: failure}}
  - {{type: webhook, url: "{url}/hook", headers: {{Authorization: "Bearer ${{HOOK_TOKEN}}"}}, on: always}}
  - {{type: email, on: failure, smtp: {{host: 127.0.0.1, port: {port}}}, from: bot@test.local, to: [team@test.local]}}
  - {{type: slack, url: "{url}/prod-only", environments: [prod]}}
  - {{type: webhook, url: "{url}/recovery", on: recovery}}
""",
    )
    config, secrets = load_config(path)
    assert secrets == ("hook-t0ken-xyz",)
    deliveries = notify(report, config, report_url="file:///results/report.html", secrets=secrets)
    assert [(d.channel, d.sent) for d in deliveries] == [
        ("slack[0]", True),
        ("webhook[1]", True),
        ("email[2]", True),
    ]
    by_path = {p: (h, b) for p, h, b in received}
    assert set(by_path) == {"/slack", "/hook"}
    assert by_path["/slack"][1]["text"].startswith("💥 testflow on staging: error")
    assert (
        "Create order flow > steps.fanout.b1.orderEvent: no message matched"
        in by_path["/slack"][1]["text"]
    )
    headers, body = by_path["/hook"]
    assert headers["Authorization"] == "Bearer hook-t0ken-xyz"
    assert body["status"] == "error" and body["counts"]["failed"] == 2 and len(body["runs"]) == 2
    (mail,) = mails
    assert mail.rcpt_tos == ["team@test.local"]
    assert b"Subject:" in mail.content and b"report.html" in mail.content


def test_recovery_uses_history(tmp_path: Path, http_receiver: tuple[str, list]) -> None:
    url, received = http_receiver
    config, _ = load_config(
        _config(tmp_path, f'notifications: [{{type: webhook, url: "{url}/r", on: recovery}}]')
    )
    failed, passed = _health(0, False, order=1), _health(1, True, order=1)
    write_reports(failed, tmp_path / "res", ["json"])
    assert notify(failed, config, history_dir=tmp_path / "res" / "history") == []
    write_reports(passed, tmp_path / "res", ["json"])
    (delivery,) = notify(passed, config, history_dir=tmp_path / "res" / "history")
    assert delivery.sent and received[0][2]["previous_status"] == "error"


def test_failures_are_logged_never_raised(
    report: Report,
    tmp_path: Path,
    http_receiver: tuple[str, list],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = http_receiver
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("SLACK_URL", f"http://127.0.0.1:{closed}/services/T000/B000/sekret-path")
    config, secrets = load_config(
        _config(
            tmp_path,
            f"""
notifications:
  - {{type: slack, url: "${{SLACK_URL}}", timeout: 2}}
  - {{type: webhook, url: "{url}/broken"}}
  - {{type: email, smtp: {{host: 127.0.0.1, port: {closed}}}, from: a@b.c, to: [d@e.f], timeout: 2}}
""",
        )
    )
    deliveries = notify(report, config, secrets=secrets)
    assert [d.sent for d in deliveries] == [False, False, False]
    assert "500" in deliveries[1].detail
    assert all("sekret-path" not in d.detail for d in deliveries)
    assert "sekret-path" not in caplog.text and "notification slack[0] not sent" in caplog.text


def test_config_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_VAR", raising=False)
    with pytest.raises(ReportError, match=r"uses \$\{NOPE_VAR\} but it is not set"):
        load_config(_config(tmp_path, 'notifications: [{type: slack, url: "${NOPE_VAR}"}]'))
    with pytest.raises(ReportError, match=r"invalid notification config at notifications\[0\]"):
        load_config(_config(tmp_path, "notifications: [{type: pager, url: x}]"))
    with pytest.raises(ReportError, match="invalid notification config"):
        load_config(_config(tmp_path, "notifications: [{type: webhook, url: x, on: sometimes}]"))


def test_report_command_notifies(
    report: Report, tmp_path: Path, http_receiver: tuple[str, list]
) -> None:
    from typer.testing import CliRunner

    from testflow.cli import app

    url, received = http_receiver
    write_reports(report, tmp_path, ["json"])
    config = _config(tmp_path, f'notifications: [{{type: webhook, url: "{url}/cli", on: failure}}]')
    result = CliRunner().invoke(
        app, ["report", str(tmp_path), "-r", "html", "--notify", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "notify webhook[0]: sent (HTTP 200)" in result.output
    assert received[0][2]["report_url"].endswith("/report.html")
