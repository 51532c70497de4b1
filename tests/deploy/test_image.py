"""The image's commands, in a virtualenv built the way the Dockerfile builds the image.

No container engine runs here, so the Dockerfile's build is reproduced step by step: build
the wheel (``pip wheel --no-deps --no-build-isolation``), install it into a fresh venv (the
``runtime`` stage has no ``temporal`` binary), check the packaged web UI and examples, run
``testflow --version`` and see ``testflow run`` refuse clearly without a dev server; then copy
the ``temporal`` binary in, as the ``dev`` stage does, and run the README's Deploy example
(``docker run ... testflow:0.1.0-dev run examples/create-and-read.yaml``) against the demo
service. Third-party dependencies come from this interpreter's site-packages
(``--system-site-packages``): the registry is not needed, and the wheel's own files are what
runs (checked).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testflow.demo import start_demo_service
from testflow.runtime.devserver import find_temporal_binary

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def readme_deploy_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Deploy", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (found,) = out.glob("testflow-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    root = tmp_path_factory.mktemp("image") / "opt-testflow"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(root)], check=True, timeout=120
    )
    pip = [
        str(root / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        str(wheel),
    ]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert not (root / "bin" / "temporal").exists()  # the runtime stage has no dev server
    return root


def image_env(venv: Path, home: Path) -> dict[str, str]:
    """The image's environment: its venv first on PATH, no system `temporal` reachable."""
    # PYTHONPATH too: a checkout on it would shadow the installed wheel.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TESTFLOW_") and k != "PYTHONPATH"
    }
    env.update(
        PATH=f"{venv / 'bin'}:/usr/bin:/bin",
        TESTFLOW_HOME=str(home),
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    url, stop = start_demo_service(0)
    try:
        yield url
    finally:
        stop()


def test_wheel_ships_the_web_ui_and_examples(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "testflow/_examples/create-and-read.yaml" in names
    static = REPO / "testflow" / "api" / "static" / "index.html"
    if not static.exists():
        pytest.skip("the web UI is not built in this checkout (npm run build in web/)")
    assert "testflow/api/static/index.html" in names


def test_runtime_image_commands(venv: Path, tmp_path: Path) -> None:
    env = image_env(venv, tmp_path / "data")
    testflow = str(venv / "bin" / "testflow")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import testflow; print(testflow.__file__)"],
        env=env,
        cwd=tmp_path,  # not the checkout: `python -c` would import ./testflow
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), (
        f"testflow imported from {where}, not from the installed wheel"
    )
    version = subprocess.run(
        [testflow, "--version"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert version.returncode == 0 and re.fullmatch(
        r"testflow \d+\.\d+\.\d+\S*\n", version.stdout
    ), version
    # Without a dev server and without TESTFLOW_TEMPORAL_ADDRESS: exit 3 and a message saying what to do.
    flow = REPO / "examples" / "create-and-read.yaml"
    run = subprocess.run(
        [testflow, "run", str(flow), "--report-dir", str(tmp_path / "r")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 3, run.stdout + run.stderr
    assert "temporal" in run.stdout and "--temporal HOST:PORT" in run.stdout.replace("\n", " ")
    # The container healthcheck: a one-shot `run` container has nothing to probe.
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "testflow.runtime.health"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0


def test_dev_image_runs_the_readme_example(venv: Path, tmp_path: Path, demo: str) -> None:
    # The dev stage: COPY --from=build /opt/testflow/bin/temporal /opt/testflow/bin/temporal
    shutil.copy2(find_temporal_binary(), venv / "bin" / "temporal")
    (docker_run,) = [
        c for c in readme_deploy_commands() if c.startswith("docker run") and "-dev" in c
    ]
    words = shlex.split(docker_run)
    image_index = next(
        i for i, w in enumerate(words) if w.startswith("testflow:") and w.endswith("-dev")
    )
    args = words[image_index + 1 :]
    assert args[0] == "run"
    # -v "$PWD:/work" with WORKDIR /work: the repository is the working directory.
    env = image_env(venv, tmp_path / "data") | {"ORDERS_URL": demo}
    proc = subprocess.run(
        [str(venv / "bin" / "testflow"), *args, "--report-dir", str(tmp_path / "results")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "results" / "junit.xml").exists()


def test_readme_helm_step_renders(tmp_path: Path) -> None:
    helm = pytest.importorskip("helm_python", reason="pip install helm-python-sdk")
    from tests.deploy import render

    (helm_install,) = [c for c in readme_deploy_commands() if c.startswith("helm install")]
    words = shlex.split(helm_install)
    values: dict[str, object] = {}
    for i, word in enumerate(words):
        if word == "--set":
            for key, value in helm.parse_set_string(words[i + 1]).items():
                values[key] = value
    assert words[3] == "deploy/helm/testflow"
    docs = render.render(values, name=words[2])
    assert {d["kind"] for d in docs} >= {
        "Deployment",
        "Service",
        "ConfigMap",
        "HorizontalPodAutoscaler",
    }
