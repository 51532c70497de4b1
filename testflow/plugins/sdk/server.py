"""The SDK's HTTP server: standard library only, keep-alive, one write per answer.

HTTP/1.1 keep-alive saves a TCP handshake per call, and answering in a single ``write`` with
TCP_NODELAY keeps Nagle's algorithm and the client's delayed ACK from adding 40 ms to each
answer (``BaseHTTPRequestHandler`` writes headers and body separately otherwise).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testflow.plugins.sdk.core import Plugin


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    plugin: Plugin

    def server_bind(self) -> None:
        super().server_bind()
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + body)
        self.wfile.flush()

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def do_GET(self) -> None:
        plugin = self.server.plugin
        if self.path == "/health":
            self._send(200, plugin.health())
        elif self.path == "/info":
            self._send(200, plugin.info())
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        plugin = self.server.plugin
        try:
            body = self._body()
        except ValueError as exc:
            self._send(400, {"success": False, "output": {}, "error": {"code": "BAD_REQUEST", "message": f"invalid JSON: {exc}"}})
            return
        if self.path == "/execute":
            status, answer = plugin.execute(body)
            self._send(status, answer)
        elif self.path == "/shutdown":
            self._send(200, {"message": "shutting down"})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, format: str, *args: Any) -> None:
        pass  # access logs would flood the host's plugin log file


def serve(plugin: Plugin, port: int | None = None) -> None:
    """Serve until ``POST /shutdown`` (or SIGTERM/SIGKILL from the host)."""
    chosen = port if port is not None else int(os.environ.get("PLUGIN_PORT", "8080"))
    server = _Server(("127.0.0.1", chosen), _Handler)
    server.plugin = plugin
    print(f"plugin {plugin.id} listening on 127.0.0.1:{chosen}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
