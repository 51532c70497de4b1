"""A partner on loopback that counts the requests it is sent and can hold them.

Suites, the CLI and the API bound how many flows run at the same time; a test sees the bound
only on a real server that keeps requests open:

* ``GET /wait/...`` is held until ``hold`` requests are in flight (or 3 s passed), so every
  flow allowed to run at once is in flight together and a run over its bound shows more than
  its limit in ``max_in_flight``;
* ``GET /gate/...`` is held until the test sets ``gate`` (or 60 s passed);
* anything else answers at once. Every answer is ``200 {}``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_LIMIT_S = 3
GATE_LIMIT_S = 60


@dataclass
class CountingPartner:
    url: str = ""
    hold: int = 0
    """``/wait/`` requests are held until this many are in flight."""
    gate: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    max_in_flight: int = 0
    paths: Counter[str] = field(default_factory=Counter)
    lock: threading.Condition = field(default_factory=threading.Condition)


@contextmanager
def counting_partner() -> Iterator[CountingPartner]:
    state = CountingPartner()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            with state.lock:
                state.paths[self.path] += 1
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                state.lock.notify_all()
                if self.path.startswith("/wait/"):
                    state.lock.wait_for(lambda: state.in_flight >= state.hold, HOLD_LIMIT_S)
            if self.path.startswith("/gate/"):
                state.gate.wait(timeout=GATE_LIMIT_S)
            with state.lock:
                state.in_flight -= 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        state.gate.set()  # held requests answer, so the server can shut down
        server.shutdown()
        server.server_close()
