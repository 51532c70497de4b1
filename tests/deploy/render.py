"""Render the Helm chart with Helm's own engine (helm-python-sdk embeds Helm's Go SDK) and
validate manifests against the Kubernetes OpenAPI schemas (kubernetes-validate ships them).

Also the generator of the plain manifests in deploy/k8s/: ``python -m tests.deploy.render
--write`` renders the chart with :data:`PLAIN_VALUES` and writes one file per resource, so the
plain manifests are the chart's output and cannot drift from it (a test compares them).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "testflow"
K8S_DIR = REPO / "deploy" / "k8s"
# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas shipped.
KUBE_VERSIONS = ("1.25.0", "1.37.0")

# What deploy/k8s/ is rendered with: secrets come from a Secret the user creates
# (deploy/k8s/secret.example.yaml), Temporal is the in-cluster service of the official chart.
PLAIN_VALUES: dict[str, Any] = {
    "plainManifests": True,
    "secrets": {"existingSecret": "testflow-secrets"},
    "temporal": {"address": "temporal-frontend.temporal.svc:7233"},
}
PLAIN_RELEASE = "testflow"
PLAIN_NAMESPACE = "testflow"


def render(
    values: dict[str, Any], *, name: str = "tf", namespace: str = "testing"
) -> list[dict[str, Any]]:
    """The chart's manifests as objects (NOTES.txt and empty documents dropped)."""
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        rendered = chart.render(values=values, name=name, namespace=namespace, is_install=True)
    docs: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if not path.endswith((".yaml", ".yml")):
            continue
        docs.extend(d for d in yaml.safe_load_all(rendered[path]) if d)
    return docs


def validate(doc: dict[str, Any], kube_version: str) -> None:
    """Strict OpenAPI validation (unknown fields are errors) of one built-in resource."""
    import kubernetes_validate

    kubernetes_validate.validate(doc, kube_version, strict=True)


def file_name(doc: dict[str, Any]) -> str:
    name = doc["metadata"]["name"].removeprefix(f"{PLAIN_RELEASE}-")
    return f"{doc['kind'].lower()}-{name}.yaml"


def write_plain_manifests() -> list[Path]:
    K8S_DIR.mkdir(parents=True, exist_ok=True)
    for old in K8S_DIR.glob("*.yaml"):
        if old.name not in ("namespace.yaml", "secret.example.yaml", "kustomization.yaml"):
            old.unlink()
    written = []
    docs = render(PLAIN_VALUES, name=PLAIN_RELEASE, namespace=PLAIN_NAMESPACE)
    for doc in docs:
        doc.setdefault("metadata", {})["namespace"] = PLAIN_NAMESPACE
        path = K8S_DIR / file_name(doc)
        header = "# Generated from deploy/helm/testflow by `python -m tests.deploy.render --write`; do not edit.\n"
        path.write_text(header + yaml.safe_dump(doc, sort_keys=False))
        written.append(path)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": PLAIN_NAMESPACE,
        "resources": ["namespace.yaml", *sorted(p.name for p in written)],
    }
    (K8S_DIR / "kustomization.yaml").write_text(
        "# kubectl apply -k deploy/k8s  (create the Secret first: see secret.example.yaml)\n"
        + yaml.safe_dump(kustomization, sort_keys=False)
    )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="regenerate deploy/k8s/")
    args = parser.parse_args()
    if args.write:
        for path in write_plain_manifests():
            print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
