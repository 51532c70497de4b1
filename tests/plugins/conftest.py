"""Fixtures of the plugin tests: an isolated plugin directory, example and fixture plugins,
and the TypeScript / Go example plugins built once per session with the real toolchains."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testflow.activities.base import StepContext
from testflow.plugins.host import PluginHost, get_host

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "plugins"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def plugins_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty plugin directory, used as $PLUGINS_DIR; the user's own dir is kept out."""
    root = tmp_path / "plugins"
    root.mkdir()
    monkeypatch.setenv("PLUGINS_DIR", str(root))
    monkeypatch.setenv("TESTFLOW_USER_PLUGINS_DIR", str(tmp_path / "user-plugins"))
    yield root
    get_host(root).kill_all()


@pytest.fixture
def host(plugins_dir: Path) -> PluginHost:
    return get_host(plugins_dir)


@pytest.fixture
def add_plugin(plugins_dir: Path) -> Callable[[str], Path]:
    """Copy an example (or test fixture) plugin into the plugin directory."""

    def add(name: str) -> Path:
        source = EXAMPLES / name if (EXAMPLES / name).is_dir() else FIXTURES / name
        target = plugins_dir / name
        shutil.copytree(
            source, target, ignore=shutil.ignore_patterns("node_modules", "__pycache__")
        )
        return target

    return add


def make_ctx(kind: str, *, timeout_s: float = 10.0, **extra: object) -> StepContext:
    ctx = StepContext(
        run_id="run-plugins-1",
        flow_name="plugin flow",
        step_id="step1",
        step_key="steps.step1",
        variables={"base": "http://x", "hello": "Bonjour"},
        step_outputs={"login": {"token": "t"}},
        connections={},
        deadline=time.monotonic() + timeout_s,
        kind=kind,
    )
    for key, value in extra.items():
        setattr(ctx, key, value)
    return ctx


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def ts_greeter_built() -> Path:
    """Build the TypeScript SDK and the ts-greeter example (npm ci from the lock files)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("Node.js/npm are not installed")
    sdk = REPO / "sdk" / "typescript"
    example = EXAMPLES / "ts-greeter"
    for folder in (sdk, example):
        if not (folder / "node_modules").is_dir():
            _run(["npm", "ci", "--no-audit", "--no-fund"], folder)
    _run(["npm", "run", "build"], sdk)
    _run(["npm", "run", "build"], example)
    return example


@pytest.fixture(scope="session")
def go_kv_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the go-kv example with the Go SDK (standard library only: no network)."""
    if shutil.which("go") is None:
        pytest.skip("Go is not installed (apt-get install golang-go)")
    out = tmp_path_factory.mktemp("go-kv") / "plugin"
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    _run(["go", "build", "-o", str(out), "."], EXAMPLES / "go-kv", env)
    return out


@pytest.fixture
def add_ts_greeter(plugins_dir: Path, ts_greeter_built: Path) -> Path:
    target = plugins_dir / "ts-greeter"
    target.mkdir()
    shutil.copy(ts_greeter_built / "manifest.json", target)
    shutil.copytree(ts_greeter_built / "dist", target / "dist")
    (target / "node_modules" / "@testflow").mkdir(parents=True)
    (target / "node_modules" / "@testflow" / "plugin-sdk").symlink_to(REPO / "sdk" / "typescript")
    return target


@pytest.fixture
def add_go_kv(plugins_dir: Path, go_kv_binary: Path) -> Path:
    target = plugins_dir / "go-kv"
    target.mkdir()
    shutil.copy(EXAMPLES / "go-kv" / "manifest.json", target)
    shutil.copy(go_kv_binary, target / "plugin")
    return target
