#!/usr/bin/env python3
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

START_TIME = time.time()

ACTIONS = [
    {
        "id": "my-plugin.hello",
        "name": "Say Hello",
        "description": "Returns a greeting",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    }
]


class PluginHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            self.respond(
                200,
                {
                    "status": "healthy",
                    "version": "1.0.0",
                    "uptime_seconds": int(time.time() - START_TIME),
                },
            )
        elif self.path == "/info":
            self.respond(
                200,
                {
                    "id": "my-plugin",
                    "name": "My Plugin",
                    "version": "1.0.0",
                    "description": "Example plugin",
                    "actions": ACTIONS,
                },
            )
        else:
            self.respond(404, {"error": "not found"})

    def do_POST(self):
        if self.path == "/execute":
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))

            action = body.get("action")
            config = body.get("config", {})

            if action == "my-plugin.hello":
                name = config.get("name", "World")
                self.respond(
                    200,
                    {
                        "success": True,
                        "output": {"greeting": f"Hello, {name}!", "timestamp": time.time()},
                        "logs": [{"level": "info", "message": f"Greeted {name}"}],
                    },
                )
            else:
                self.respond(
                    400,
                    {
                        "success": False,
                        "output": {},
                        "error": {"code": "UNKNOWN_ACTION", "message": f"Unknown action: {action}"},
                    },
                )
        elif self.path == "/shutdown":
            self.respond(200, {"message": "shutting down"})
            os._exit(0)
        else:
            self.respond(404, {"error": "not found"})

    def respond(self, status, data):
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", len(body))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # Suppress default access logs


port = int(os.environ.get("PLUGIN_PORT", 8080))
server = HTTPServer(("127.0.0.1", port), PluginHandler)
print(f"Plugin listening on port {port}", flush=True)
server.serve_forever()
