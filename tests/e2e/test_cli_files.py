"""`testflow run` on a laptop reads local files as before: no file root (that is the API's)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]


@pytest.fixture
def sink() -> Iterator[tuple[str, list[bytes]]]:
    """A local HTTP server recording the bodies it receives."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    server.shutdown()
    server.server_close()


def test_run_reads_local_multipart_files(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, sink: tuple[str, list[bytes]]
) -> None:
    url, bodies = sink
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "order.csv").write_text("id,product\n1,book\n")
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "invoice.txt"  # outside the flow's folder
    elsewhere.write_text("invoice 42")
    (tmp_path / "upload.yaml").write_text(
        f"""\
name: local upload
steps:
  - id: relative
    type: http
    request:
      method: POST
      url: {url}/upload
      multipart: {{doc: {{path: data/order.csv}}}}
    assert: {{status: 200}}
  - id: absolute
    type: http
    request:
      method: POST
      url: {url}/upload
      multipart: {{doc: {{path: "{elsewhere}"}}}}
    assert: {{status: 200}}
"""
    )
    done = subprocess.run(
        [sys.executable, "-m", "testflow", "run", "upload.yaml"],
        cwd=tmp_path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "local upload: passed" in out
    assert len(bodies) == 2
    assert b"id,product\n1,book\n" in bodies[0]
    assert b"invoice 42" in bodies[1]
