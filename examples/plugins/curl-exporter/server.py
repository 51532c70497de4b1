#!/usr/bin/env python3
"""An exporter plugin: the ``http`` steps of a flow as a bash script of curl commands."""

from __future__ import annotations

import json
import shlex
from pathlib import PurePath
from typing import Any

from testflow.plugins.sdk import Context, Plugin

plugin = Plugin(id="curl-exporter", name="curl exporter", version="1.0.0")


def curl(request: dict[str, Any]) -> str:
    parts = ["curl", "-sS", "-X", request.get("method", "GET"), request["url"]]
    for name, value in (request.get("headers") or {}).items():
        parts += ["-H", f"{name}: {value}"]
    body = request.get("json", request.get("body"))
    if body is not None:
        parts += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
    return " ".join(shlex.quote(p) for p in parts)


@plugin.exporter
def export(config: dict[str, Any], ctx: Context) -> dict[str, Any]:
    flow = config["flow"]
    lines = [
        "#!/usr/bin/env bash",
        f"# {flow.get('name', 'flow')} (exported by testflow)",
        "set -euo pipefail",
    ]
    skipped = 0
    for step in flow.get("steps", []):
        if step.get("type") == "http":
            lines += [f"# {step['id']}", curl(step["request"])]
        else:
            skipped += 1
    if skipped:
        ctx.log(f"{skipped} non-http step(s) have no curl equivalent", "warn")
    stem = PurePath(config.get("filename") or "flow.yaml").stem
    return {"files": [{"name": f"{stem}.sh", "content": "\n".join(lines) + "\n"}]}


if __name__ == "__main__":
    plugin.serve()
