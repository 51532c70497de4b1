#!/usr/bin/env python3
"""A reporter plugin: the run result (RunResult JSON) as TAP version 13."""

from __future__ import annotations

from typing import Any

from testflow.plugins.sdk import Context, Plugin

plugin = Plugin(id="tap-reporter", name="TAP reporter", version="1.0.0")


@plugin.reporter
def report(config: dict[str, Any], ctx: Context) -> dict[str, Any]:
    result = config["result"]
    steps = result.get("steps", [])
    lines = ["TAP version 13", f"1..{len(steps)}"]
    for n, step in enumerate(steps, start=1):
        ok = step.get("status") in ("passed", "skipped")
        directive = " # SKIP" if step.get("status") == "skipped" else ""
        lines.append(
            f"{'ok' if ok else 'not ok'} {n} - {step.get('key', step.get('step_id'))}{directive}"
        )
        error = step.get("error")
        if not ok and error:
            lines += [
                "  ---",
                f"  message: {error.get('message', '')!r}",
                f"  type: {error.get('type', '')}",
                "  ...",
            ]
    lines.append(f"# run {result.get('run_id')} {result.get('status')}")
    return {
        "files": [
            {"name": "results.tap", "content": "\n".join(lines) + "\n", "media_type": "text/plain"}
        ]
    }


if __name__ == "__main__":
    plugin.serve()
