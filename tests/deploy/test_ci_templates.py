"""CI templates in deploy/ci/: schema-valid, and consistent with the CLI and the manifests.

GitHub Actions and GitLab CI files are checked with check-jsonschema's vendored SchemaStore
schemas (``vendor.github-workflows``, ``vendor.gitlab-ci``). The Argo WorkflowTemplate is a
CRD no installable schema covers: its pod (container, volumes, security context) is wrapped in
a Pod and validated strictly against the Kubernetes schemas, and its references (parameters,
the chart's ConfigMap and Secret names) are checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from testflow.cli import app
from tests.deploy.envnames import assert_known_settings

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "deploy" / "ci"


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("check-jsonschema")
    if cli is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    return subprocess.run(
        [cli, "--builtin-schema", schema, str(path)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("file", "schema"),
    [("github-actions.yml", "vendor.github-workflows"), ("gitlab-ci.yml", "vendor.gitlab-ci")],
)
def test_ci_files_are_schema_valid(file: str, schema: str, tmp_path: Path) -> None:
    proc = check_jsonschema(schema, CI / file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The check is real: a misspelt key fails it.
    broken = tmp_path / file
    text = (CI / file).read_text()
    broken.write_text(
        text.replace("runs-on:", "runs_on:", 1)
        if file.startswith("github")
        else text.replace("when: always", "when: sometimes", 1)
    )
    assert check_jsonschema(schema, broken).returncode != 0


def cli_lines(text: str) -> list[list[str]]:
    """``testflow <command> ...`` lines of a template, split into words (no shell expansion)."""
    out = []
    for match in re.finditer(r"(?m)\btestflow (run|validate) ([^\n\\]*)", text):
        out.append([match.group(1), *match.group(2).split()])
    return out


@pytest.mark.parametrize("file", ["github-actions.yml", "gitlab-ci.yml", "argo-workflow.yaml"])
def test_templates_use_existing_cli_options_and_settings(file: str) -> None:
    text = (CI / file).read_text()
    runner = CliRunner()
    commands = cli_lines(text)
    if file != "argo-workflow.yaml":
        assert commands, "the template runs no testflow command"
    for command in commands:
        help_text = runner.invoke(app, [command[0], "--help"]).output
        for word in command[1:]:
            if word.startswith("--"):
                assert word in help_text, f"{file}: `testflow {command[0]}` has no option {word}"
    names = set(re.findall(r"\bTESTFLOW_[A-Z0-9_]+", text)) - {"TESTFLOW_VERSION"}
    assert_known_settings(names, where=file)
    for fmt in re.findall(r"--report ([a-z,]+)", text):
        from testflow.reporting.writer import parse_formats

        parse_formats(fmt)


def argo() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CI / "argo-workflow.yaml").read_text())
    return doc


def test_argo_template_references_hold() -> None:
    doc = argo()
    assert doc["apiVersion"] == "argoproj.io/v1alpha1" and doc["kind"] == "WorkflowTemplate"
    spec = doc["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    assert spec["entrypoint"] in templates
    declared = {p["name"] for p in spec["arguments"]["parameters"]}
    text = (CI / "argo-workflow.yaml").read_text()
    for template in templates.values():
        inputs = {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        assert inputs <= declared
        used = set(
            re.findall(r"\{\{inputs\.parameters\.([a-z0-9-]+)\}\}", yaml.safe_dump(template))
        )
        assert used <= inputs, used - inputs
    assert "{{workflow." not in text or "{{workflow.name}}" in text
    # The ConfigMap and Secret are the ones deploy/k8s creates (and the chart with release "testflow").
    container = templates["run-flows"]["container"]
    assert container["envFrom"][0]["configMapRef"]["name"] == "testflow-config"
    assert (REPO / "deploy" / "k8s" / "configmap-config.yaml").exists()
    secret_ref = container["env"][0]["valueFrom"]["secretKeyRef"]
    example = yaml.safe_load((REPO / "deploy" / "k8s" / "secret.example.yaml").read_text())
    assert (
        secret_ref["name"] == example["metadata"]["name"]
        and secret_ref["key"] in example["stringData"]
    )
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/flows", "/data", "/reports"} <= mounts
    assert {a["path"].split("/")[1] for a in templates["run-flows"]["outputs"]["artifacts"]} == {
        "reports"
    }


@pytest.mark.parametrize("kube", ["1.25.0", "1.37.0"])
def test_argo_pod_is_valid_kubernetes(kube: str) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate"
    )
    template = next(t for t in argo()["spec"]["templates"] if t["name"] == "run-flows")
    container = {"name": "main", **template["container"]}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "testflow-run"},
        "spec": {
            "containers": [container],
            "volumes": template["volumes"],
            "securityContext": template["securityContext"],
            "restartPolicy": "Never",
            "activeDeadlineSeconds": template["activeDeadlineSeconds"],
        },
    }
    kubernetes_validate.validate(pod, kube, strict=True)
