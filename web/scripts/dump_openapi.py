"""Write the API's OpenAPI document (from create_app, offline) for openapi-typescript.

Run by `npm run gen:api`; no server, Temporal or database is started: the schema is built from
the routers and models alone. Keys are sorted so the committed output only changes when the API
does.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main(out: Path) -> None:
    from testflow.api.app import create_app
    from testflow.runtime.settings import Settings

    with tempfile.TemporaryDirectory(prefix="testflow-openapi-") as home:
        # A throwaway home: create_app may create an encryption key under it.
        app = create_app(Settings(home=Path(home)), connect=False)
        schema = app.openapi()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(schema.get('paths', {}))} paths)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "src/api/openapi.json"))
