"""``run.json``: the canonical report, described by ``schemas/run.schema.json``.

Regenerate the committed schema with ``python -m testflow.reporting.json_report``; a test
fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from testflow.reporting.model import RUN_JSON, Report, report_json_schema
from testflow.reporting.options import ReportOptions

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "run.schema.json"


def render_json(report: Report, options: ReportOptions) -> str:
    """The report as indented JSON, secrets masked."""
    data = options.masker.data(report.model_dump(mode="json"))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_json(report: Report, out_dir: Path, options: ReportOptions) -> Path:
    path = out_dir / RUN_JSON
    path.write_text(render_json(report, options), encoding="utf-8")
    return path


def schema_text() -> str:
    return json.dumps(report_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``schemas/run.schema.json`` (or the path given)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else SCHEMA_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
