"""report.html without a browser: self-contained, data embedded and masked, size of 10k steps."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from testflow.reporting.html import curl_command, render_html, report_data
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions
from tests.reporting.fixtures import SECRET, big_report


def _embedded(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="tf-data">(.*?)</script>', html, re.S)
    assert match, "run data is not embedded"
    return json.loads(match.group(1))


def test_self_contained(report: Report, options: ReportOptions) -> None:
    html = render_html(report, options)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), (
        "external resource referenced"
    )
    assert "<link" not in html and "@import" not in html
    assert SECRET not in html
    data = _embedded(html)
    assert data["s"] == "error" and len(data["runs"]) == 2
    # A flow name with markup is data, not HTML: only one </script> per script element.
    assert html.count("</script>") == 2


def test_details_embedded_masked_and_missing_tolerated(
    report: Report, options: ReportOptions
) -> None:
    data = report_data(report, options)
    steps = {s["k"]: s for s in data["runs"][0]["steps"]}
    create = steps["steps.createOrder"]["det"]
    assert create["request"]["headers"]["Authorization"] == "Bearer ***"
    assert create["curl"].startswith("curl -X POST http://localhost:8080/orders")
    assert "Bearer ***" in create["curl"]
    assert (
        steps["steps.fanout.b1.orderEvent"]["det"] is None
    )  # file absent -> "detail not available"
    assert "det" not in steps["steps.notify"]
    assert steps["steps.fanout.b0.checkOrder"]["pa"] == "steps.fanout"
    assert steps["steps.fanout.b1.orderEvent"]["st"] == 65.0


def test_curl_command_round_trips_through_a_shell() -> None:
    cmd = curl_command(
        {"method": "put", "url": "http://h/x?a=1&b=2", "headers": [["X-Q", "it's"]], "body": "a b"}
    )
    assert cmd is not None
    assert shlex.split(cmd) == [
        "curl",
        "-X",
        "PUT",
        "http://h/x?a=1&b=2",
        "-H",
        "X-Q: it's",
        "--data-raw",
        "a b",
    ]
    assert curl_command({"sql": "select 1"}) is None


def test_ten_thousand_steps_stay_small(tmp_path: Path) -> None:
    html = render_html(big_report(10_000), ReportOptions())
    size = len(html.encode())
    print(f"report.html for 10,000 steps: {size / 1e6:.2f} MB")
    assert size < 10_000_000
