"""``python -m testflow.demo --port 8080 [--db path] [--token T]``: the demo service, foreground."""

from __future__ import annotations

import argparse
import os

import uvicorn

from testflow.demo import default_db_path
from testflow.demo.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m testflow.demo", description="The testflow demo partner service."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--db", default=None, help="SQLite file (default: $DEMO_DB or a temp file)")
    parser.add_argument(
        "--token",
        default=os.environ.get("DEMO_TOKEN"),
        help="Bearer token required for writes (default: $DEMO_TOKEN; none means open)",
    )
    parser.add_argument("--token-ttl", type=int, default=3600, help="OAuth2 token lifetime (s)")
    args = parser.parse_args(argv)
    db_path = args.db or default_db_path()
    app = create_app(db_path, token=args.token or None, token_ttl=args.token_ttl)
    auth = "bearer token required for writes" if args.token else "no token required"
    print(f"testflow demo service on http://{args.host}:{args.port} (db {db_path}, {auth})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
