"""The in-process plugin package example: installed with pip, its ``testflow.steps`` entry
point adds ``checksum.compute`` to the default registry; its executor runs in-process."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testflow.activities.base import StepContext

from .conftest import REPO

PACKAGE = REPO / "examples" / "plugin-package"


@pytest.mark.slow
def test_pip_installed_package_registers_its_kind(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0 and "hatchling" in build.stderr.lower():
        pytest.skip(
            f"hatchling (a dev dependency) is needed to build the example: {build.stderr[-300:]}"
        )
    assert build.returncode == 0, build.stderr
    probe = (
        "import asyncio, time\n"
        "from testflow.dsl.registry import default_registry\n"
        "from testflow.activities.base import StepContext\n"
        "import importlib\n"
        "kind = default_registry().get('checksum.compute')\n"
        "print(kind.source, 'http' in default_registry())\n"
        "mod, fn = kind.executor.split(':')\n"
        "execute = getattr(importlib.import_module(mod), fn)\n"
        "ctx = StepContext('r', 'f', 's', 'steps.s', {}, {}, {}, time.monotonic() + 5)\n"
        "out = asyncio.run(execute(kind.parse_config({'data': 'hello'}), ctx))\n"
        "print(out.document['digest'])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "package:testflow-example-steps True",
        hashlib.sha256(b"hello").hexdigest(),
    ]


async def test_example_executor_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PACKAGE / "src"))
    from testflow_example_steps import KINDS
    from testflow_example_steps.executor import execute

    (kind,) = KINDS
    assert kind.config_problems({"data": "x", "algorithm": "crc"})
    ctx = StepContext("r", "f", "s", "steps.s", {}, {}, {}, time.monotonic() + 5)
    out = await execute(kind.parse_config({"data": "abc", "algorithm": "md5"}), ctx)
    assert out.fields["digest"] == hashlib.md5(b"abc").hexdigest()
    assert ctx.logs[0].message == "md5 of 3 characters"
