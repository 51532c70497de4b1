"""junit.xml: XSD validity (default profile), status mapping, retries, profiles, cleaning."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import xmlschema

from testflow.dsl.results import LogLine
from testflow.reporting.junit import render_junit
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions
from tests.reporting.conftest import XSD
from tests.reporting.fixtures import SECRET, big_report


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    if not XSD.is_file():
        pytest.skip(
            f"JUnit XSD not found at {XSD} (../shared/data is only present in CI and dev clones)"
        )
    return xmlschema.XMLSchema(str(XSD))


def _cases(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {c.get("name"): c for c in root.iter("testcase")}


def test_default_profile_is_valid(
    report: Report, options: ReportOptions, schema: xmlschema.XMLSchema
) -> None:
    xml = render_junit(report, options)
    schema.validate(xml)
    flow_xml = render_junit(report, ReportOptions(junit_granularity="flow"))
    schema.validate(flow_xml)
    schema.validate(render_junit(big_report(300), options))


def test_status_mapping(report: Report, options: ReportOptions) -> None:
    xml = render_junit(report, options)
    root = ET.fromstring(xml)
    assert root.get("tests") == "9" and root.get("failures") == "2" and root.get("errors") == "1"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["Create order flow", 'Health <check> & "ping"']
    assert suites[0].get("file") == "examples/orders/create-order.yaml"
    assert suites[0].get("skipped") == "2"
    props = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert props["run_id"] == "run-create-order-1a2b3c"
    assert props["environment"] == "staging" and props["git_sha"].startswith("0123")
    cases = _cases(xml)
    failure = cases["steps.fanout.b0.checkOrder"].find("failure")
    assert failure is not None and failure.get("type") == "AssertionFailed"
    assert "PENDING" in (failure.text or "")
    error = cases["steps.fanout.b1.orderEvent"].find("error")
    assert error is not None and error.get("type") == "Timeout"
    assert "\x07" not in (error.get("message") or "")
    assert cases["steps.fanout.b1.orderEvent"].find("rerunError") is not None
    assert cases["steps.notify"].find("skipped").get("message") == "when: notify_enabled is false"
    flaky = cases["steps.createOrder"].findall("flakyFailure")
    assert [f.get("message") for f in flaky] == [
        "attempt 1: connection refused",
        "attempt 2: HTTP 503 Service Unavailable",
    ]
    out = cases["steps.createOrder"].find("system-out").text
    assert "retrying after 503" in out and "\x1b" not in out
    assert SECRET not in xml


def test_flow_granularity(report: Report) -> None:
    root = ET.fromstring(render_junit(report, ReportOptions(junit_granularity="flow")))
    cases = list(root.iter("testcase"))
    assert [c.get("name") for c in cases] == ["Create order flow", 'Health <check> & "ping"']
    assert cases[0].find("error") is not None and cases[1].find("error") is None
    assert root.get("tests") == "2" and root.get("errors") == "1"


def test_annotations_profile_adds_file_and_line(
    report: Report, schema: xmlschema.XMLSchema
) -> None:
    opts = ReportOptions(
        junit_profile="annotations",
        flow_files={
            "run-create-order-1a2b3c": {"steps.fanout.b0.checkOrder": 31, "createOrder": 12}
        },
    )
    xml = render_junit(report, opts)
    cases = _cases(xml)
    assert cases["steps.fanout.b0.checkOrder"].get("line") == "31"
    assert cases["steps.createOrder"].get("line") == "12"  # found by step id
    assert cases["steps.createOrder"].get("file") == "examples/orders/create-order.yaml"
    assert not schema.is_valid(xml), (
        "the XSD forbids file/line on testcase: that is why it is opt-in"
    )


def test_duplicate_flows_get_unique_suite_names_and_output_is_capped(report: Report) -> None:
    run = report.runs[1]
    noisy = run.steps[0].model_copy(update={"logs": [LogLine(message="x" * 5000)]})
    twice = report.model_copy(
        update={"runs": [run, run.model_copy(update={"run_id": "r2", "steps": [noisy]})]}
    )
    root = ET.fromstring(render_junit(twice, ReportOptions(system_out_limit=1000)))
    names = [s.get("name") for s in root.findall("testsuite")]
    assert len(set(names)) == 2
    out = root.findall("testsuite")[1].find("testcase/system-out").text
    assert "truncated" in out and len(out) < 1100


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="granularity"):
        ReportOptions(junit_granularity="case")  # type: ignore[arg-type]


def test_final_attempt_error_is_not_a_retry(report: Report) -> None:
    """A runner that also lists the last attempt's error must not produce rerun elements."""
    from testflow.dsl.results import AttemptRecord

    run = report.runs[0]
    failing = run.steps[3].model_copy(
        update={
            "attempts": 1,
            "attempt_errors": [AttemptRecord(attempt=1, error="2 of 3 assertions failed")],
        }
    )
    changed = report.model_copy(update={"runs": [run.model_copy(update={"steps": [failing]})]})
    case = _cases(render_junit(changed, ReportOptions()))["steps.fanout.b0.checkOrder"]
    assert case.find("failure") is not None
    assert case.find("rerunFailure") is None
