"""``testflow report RESULTS...``: re-render or merge finished runs (shards) into one report.

Each RESULTS is a results directory holding ``run.json`` or the ``run.json`` file itself;
several are merged (runs with the same id are kept once). Nothing is re-run.
"""

from __future__ import annotations

from pathlib import Path

import typer

from testflow.commands import EXIT_INVALID_INPUT, EXIT_OK, EXIT_TEST_FAILURES
from testflow.reporting.model import Report, ReportError, load_report, merge_reports
from testflow.reporting.notify import load_config, notify
from testflow.reporting.options import ReportOptions
from testflow.reporting.writer import DEFAULT_FORMATS, FORMATS, parse_formats, write_reports


def _default_out(inputs: list[Path]) -> Path:
    """One input re-renders in place; several merge into results/merged."""
    if len(inputs) == 1:
        return inputs[0] if inputs[0].is_dir() else inputs[0].parent
    return Path("results") / "merged"


def report_command(
    results: list[Path] = typer.Argument(
        ..., help="Results directories (or run.json files) to render or merge."
    ),
    report: str = typer.Option(
        ",".join(DEFAULT_FORMATS),
        "--report",
        "-r",
        help=f"Formats, comma-separated: {','.join(FORMATS)}.",
    ),
    report_dir: Path | None = typer.Option(
        None,
        "--report-dir",
        "-o",
        help="Where to write (default: the input dir, or results/merged).",
    ),
    junit_granularity: str = typer.Option(
        "step", help="JUnit test cases per 'step' or per 'flow'."
    ),
    junit_profile: str = typer.Option(
        "default",
        help="'default' (valid junit-10.xsd) or 'annotations' (adds file/line on testcase).",
    ),
    history_dir: Path | None = typer.Option(
        None, help="Directory of history/*.json summaries; the HTML report shows trends from it."
    ),
    title: str = typer.Option("testflow report", help="Report title."),
    notify_config: Path | None = typer.Option(
        None,
        "--notify",
        help="Notifications file (Slack/webhook/email rules) to send the result to.",
    ),
    exit_status: bool = typer.Option(
        False, "--exit-status", help="Exit 1 when the merged result is not 'passed' (for CI gates)."
    ),
) -> None:
    """Re-render finished runs, or merge several runs/shards into one report."""
    try:
        formats = parse_formats(report)
        options = ReportOptions(
            junit_granularity=junit_granularity,  # type: ignore[arg-type]  # checked by ReportOptions
            junit_profile=junit_profile,  # type: ignore[arg-type]
            history_dir=history_dir,
            title=title,
        )
        merged = merge_reports([load_report(path) for path in results])
    except (ReportError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT) from exc
    out_dir = report_dir or _default_out(results)
    written = write_reports(merged, out_dir, formats, options=options)
    counts = merged.step_counts
    typer.echo(
        f"{len(merged.runs)} flow runs, {merged.total_steps} steps: {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['error']} errors, {counts['skipped'] + counts['cancelled']} skipped "
        f"-> {merged.status}"
    )
    for name, path in written.items():
        typer.echo(f"  {name:6} {path}")
    if notify_config is not None:
        _notify(merged, notify_config, history_dir or out_dir / "history", written.get("html"))
    if exit_status and merged.status != "passed":
        raise typer.Exit(EXIT_TEST_FAILURES)
    raise typer.Exit(EXIT_OK)


def _notify(report: Report, config_path: Path, history_dir: Path, html: Path | None) -> None:
    """Send notifications; a failure to notify is reported, never fatal."""
    try:
        config, secrets = load_config(config_path)
    except ReportError as exc:
        typer.echo(f"notifications not sent: {exc}", err=True)
        return
    url = html.resolve().as_uri() if html else None
    for delivery in notify(
        report, config, history_dir=history_dir, report_url=url, secrets=secrets
    ):
        state = "sent" if delivery.sent else "NOT sent"
        typer.echo(f"  notify {delivery.channel}: {state} ({delivery.detail})")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
