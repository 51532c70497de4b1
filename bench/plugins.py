"""Bench: per-call overhead of an action plugin against a direct in-process call.

Measured in the same run, on warm processes:

* direct: an in-process executor doing the same work as ``text.upper`` (upper-case a string,
  return an Output) -- what a ``testflow.steps`` entry-point kind costs;
* plugin: ``testflow.plugins.executor.execute`` for ``text.upper`` (Python SDK plugin,
  kept-alive HTTP/1.1), ``my-js-plugin.transform`` (the seed's Node.js plugin),
  ``my-plugin.hello`` (the seed's Python plugin: HTTP/1.0, one TCP connection per call) and
  ``go-kv.put`` (Go SDK; only when ``go`` is installed).

Each call is the executor as the activity runner calls it (action lookup, context
serialization, HTTP round trip on loopback, answer validation, log mapping); Temporal is not
involved. Target: the SDK plugin's p50 overhead under 2 ms. Exit code 1 when missed.

Run: ``python bench/plugins.py [--n 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from testflow.activities.base import Output, StepContext
from testflow.plugins.executor import execute
from testflow.plugins.host import get_host

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "plugins"
TARGET_MS = 2.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ctx_for(kind: str) -> StepContext:
    return StepContext(
        run_id="bench",
        flow_name="bench",
        step_id="s",
        step_key="steps.s",
        variables={"baseUrl": "http://127.0.0.1:8080", "orderId": 42},
        step_outputs={"login": {"token": "x"}},
        connections={},
        deadline=time.monotonic() + 3600,
        kind=kind,
    )


async def direct(config: dict[str, Any], ctx: StepContext) -> Output:
    """The same work as text.upper, in-process."""
    text = config["text"]
    ctx.log(f"upper-casing {len(text)} characters")
    out = {"text": text.upper(), "flow": ctx.flow_name, "run": ctx.run_id}
    return Output(document=out, fields={"output": out})


async def measure(call: Callable[[], Awaitable[Any]], n: int, warm: int = 100) -> list[float]:
    for _ in range(warm):
        await call()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def setup_plugins(root: Path) -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("text.upper", {"text": "hello plugin"}),
        ("my-js-plugin.transform", {"input": {"a": 1}}),
        ("my-plugin.hello", {"name": "bench"}),
    ]
    for name in ("text-tools", "my-js-plugin", "my-plugin"):
        shutil.copytree(EXAMPLES / name, root / name)
    if shutil.which("go"):
        target = root / "go-kv"
        target.mkdir()
        shutil.copy(EXAMPLES / "go-kv" / "manifest.json", target)
        env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
        subprocess.run(
            ["go", "build", "-o", str(target / "plugin"), "."],
            cwd=EXAMPLES / "go-kv",
            env=env,
            check=True,
            capture_output=True,
        )
        cases.append(("go-kv.put", {"key": "k", "value": {"n": 1}}))
    return cases


async def main(n: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-plugins-") as tmp:
        root = Path(tmp)
        os.environ["PLUGINS_DIR"] = str(root)
        os.environ["TESTFLOW_USER_PLUGINS_DIR"] = str(root / "no-user-dir")
        cases = setup_plugins(root)
        config = {"text": "hello plugin"}
        base = await measure(lambda: direct(config, ctx_for("direct")), n)
        print(
            f"{'direct in-process':28} p50 {pct(base, 0.5):7.3f} ms  p95 {pct(base, 0.95):7.3f} ms"
        )
        verdict = 0
        try:
            for kind, cfg in cases:
                times = await measure(lambda k=kind, c=cfg: execute(c, ctx_for(k)), n)  # type: ignore[misc]
                over50 = pct(times, 0.5) - pct(base, 0.5)
                over95 = pct(times, 0.95) - pct(base, 0.95)
                print(
                    f"{kind:28} p50 {pct(times, 0.5):7.3f} ms  p95 {pct(times, 0.95):7.3f} ms  "
                    f"mean {statistics.mean(times):7.3f} ms  overhead p50 {over50:6.3f} ms  p95 {over95:6.3f} ms"
                )
                if kind == "text.upper" and over50 >= TARGET_MS:
                    verdict = 1
        finally:
            await get_host(root).shutdown_all()
    print(
        f"target: SDK plugin p50 overhead < {TARGET_MS} ms -> {'met' if verdict == 0 else 'MISSED'}"
    )
    return verdict


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, default=2000, help="calls per case (after 100 warm-up calls)"
    )
    sys.exit(asyncio.run(main(parser.parse_args().n)))
