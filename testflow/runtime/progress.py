"""Live progress in the terminal: a consumer of run events.

One line per finished step (and per run start/end), coloured on a TTY, plain when piped,
no colour with NO_COLOR. Lines stay short: status, flow, step, the step's one-line summary.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from testflow.dsl.masking import mask
from testflow.dsl.results import RunEvent, RunResult

_STYLE = {
    "passed": ("✓", "green"),
    "failed": ("✗", "red"),
    "error": ("!", "red"),
    "skipped": ("-", "yellow"),
    "cancelled": ("⊘", "yellow"),
    "running": ("…", "cyan"),
}


class ProgressPrinter:
    def __init__(
        self,
        console: Console | None = None,
        *,
        secrets: tuple[str, ...] = (),
        verbose: bool = False,
    ) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.secrets = secrets
        self.verbose = verbose

    def _text(self, value: str) -> str:
        return escape(mask(value, self.secrets) if self.secrets else value)

    def __call__(self, event: RunEvent) -> None:
        if event.type == "run_started":
            self.console.print(f"[bold]▶ {self._text(event.flow)}[/bold] [dim]{event.run_id}[/dim]")
            return
        if event.type == "step_started":
            if self.verbose and event.step is not None:
                self.console.print(f"  [dim]… {self._text(event.step.key)}[/dim]")
            return
        if event.type == "step_finished" and event.step is not None:
            step = event.step
            mark, colour = _STYLE.get(step.status, ("?", "white"))
            timing = f"{step.duration_ms:.0f} ms" if step.status not in ("skipped",) else ""
            retries = f" [yellow](attempt {step.attempts})[/yellow]" if step.attempts > 1 else ""
            detail = step.summary or step.skip_reason or ""
            indent = "  " + "  " * step.key.count(".")
            self.console.print(
                f"{indent}[{colour}]{mark}[/{colour}] {self._text(step.key)} "
                f"[dim]{self._text(detail)}[/dim] {timing}{retries}"
            )
            for outcome in step.assertions:
                if not outcome.passed:
                    self.console.print(
                        f"{indent}    [red]assert {self._text(outcome.path)}: {self._text(outcome.message)}[/red]"
                    )
            if step.error is not None and step.error.type != "AssertionFailed":
                self.console.print(
                    f"{indent}    [red]{step.error.type}: {self._text(step.error.message)}[/red]"
                )
            return
        if event.type == "run_finished":
            status = event.status or "running"
            mark, colour = _STYLE.get(status, ("?", "white"))
            self.console.print(f"[{colour}]{mark} {self._text(event.flow)}: {status}[/{colour}]")

    def summary(self, results: list[RunResult], report_paths: dict[str, str]) -> None:
        runs = {
            s: sum(1 for r in results if r.status == s)
            for s in ("passed", "failed", "error", "cancelled")
        }
        steps = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "cancelled": 0}
        for result in results:
            for key, value in result.counts.items():
                steps[key] += value
        parts = ", ".join(f"{n} {s}" for s, n in runs.items() if n)
        step_parts = ", ".join(f"{n} {s}" for s, n in steps.items() if n)
        colour = "green" if runs["passed"] == len(results) else "red"
        self.console.print(
            f"\n[bold {colour}]{len(results)} flow(s): {parts}[/bold {colour}]  [dim]steps: {step_parts}[/dim]"
        )
        for fmt, path in report_paths.items():
            self.console.print(f"  [dim]{fmt}:[/dim] {path}")
