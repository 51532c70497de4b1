#!/usr/bin/env python3
"""An importer plugin: a CSV of HTTP checks becomes a testflow flow.

Columns: ``id,method,url,status`` (a header row is required); ``options.name`` names the flow.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePath
from typing import Any

from testflow.plugins.sdk import Context, Plugin, PluginError

plugin = Plugin(id="csv-importer", name="CSV importer", version="1.0.0")
REQUIRED = ("id", "method", "url", "status")


@plugin.importer
def import_csv(config: dict[str, Any], ctx: Context) -> dict[str, Any]:
    text = config.get("content", "")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise PluginError("BAD_CSV", f"missing column(s): {', '.join(missing)}")
    steps = []
    for line, row in enumerate(reader, start=2):
        try:
            status = int(row["status"])
        except ValueError:
            raise PluginError(
                "BAD_CSV", f"line {line}: status {row['status']!r} is not a number"
            ) from None
        steps.append(
            {
                "id": row["id"],
                "type": "http",
                "request": {"method": row["method"].upper(), "url": row["url"]},
                "assert": {"status": status},
            }
        )
    stem = PurePath(config.get("filename") or "imported.csv").stem
    name = (config.get("options") or {}).get("name") or stem
    ctx.log(f"imported {len(steps)} step(s)")
    return {"flows": [{"filename": f"{stem}.yaml", "flow": {"name": name, "steps": steps}}]}


if __name__ == "__main__":
    plugin.serve()
