"""The Helm chart, rendered by Helm's engine and validated against the Kubernetes schemas.

Renderer: helm-python-sdk (Helm v4's Go SDK through a C ABI; no helm binary is installable
here). Validator: kubernetes-validate's strict OpenAPI JSON schemas (unknown fields fail) for
the oldest and newest Kubernetes versions the chart targets. KEDA's ScaledObject is a CRD the
schemas do not cover: its shape is checked against KEDA's documented temporal scaler fields.
"""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import render as r
from tests.deploy.envnames import assert_known_settings

pytest.importorskip(
    "helm_python", reason="helm-python-sdk renders the chart: pip install helm-python-sdk"
)
pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")

KEY = {"secrets": {"encryptionKeys": "k1:c2VjcmV0LWtleS1ub3QtaW4tY29uZmlnbWFwcw=="}}


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, (kind, suffix, [d["metadata"]["name"] for d in by_kind(docs, kind)])
    return found[0]


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = (
                merged(out[key], value)
                if isinstance(value, dict) and isinstance(out.get(key), dict)
                else value
            )
    return out


VARIANTS = {
    "defaults": KEY,
    "existing-secret": {"secrets": {"existingSecret": "prod-secrets"}},
    "cloud-keda-ingress-cron": merged(
        KEY,
        {
            "temporal": {
                "address": "prod.a1b2c.tmprl.cloud:7233",
                "namespace": "prod.a1b2c",
                "tls": {"enabled": True, "existingSecret": "temporal-mtls"},
            },
            "worker": {"keda": {"enabled": True, "authenticationRef": "temporal-cloud"}},
            "api": {
                "ingress": {
                    "enabled": True,
                    "className": "nginx",
                    "host": "tf.example.com",
                    "tlsSecret": "tf-tls",
                }
            },
            "run": {
                "enabled": True,
                "schedule": "*/30 * * * *",
                "flows": {"smoke.yaml": "name: smoke\nsteps: []\n"},
            },
        },
    ),
    "ha-api-job": merged(
        KEY,
        {
            "secrets": {"databaseUrl": "postgresql+asyncpg://tf:pw@pg:5432/tf"},
            "api": {"replicas": 2},
            "worker": {"hpa": {"enabled": False}, "replicas": 4},
            "run": {"enabled": True, "existingFlowsConfigMap": "my-flows"},
            "config": {"TESTFLOW_ARTIFACTS_S3_URL": "s3://bucket/tf"},
        },
    ),
    "plain": r.PLAIN_VALUES,
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kube", r.KUBE_VERSIONS)
def test_every_manifest_is_valid_kubernetes(variant: str, kube: str) -> None:
    docs = r.render(VARIANTS[variant])
    assert docs
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        r.validate(doc, kube)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_references_between_resources_hold(variant: str) -> None:
    docs = r.render(VARIANTS[variant])
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in by_kind(docs, "Deployment")
    }
    for svc in by_kind(docs, "Service"):
        selector = svc["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pods.values()), svc["metadata"][
            "name"
        ]
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= labels.items() for labels in pods.values())
    for deploy in by_kind(docs, "Deployment"):
        assert (
            deploy["spec"]["selector"]["matchLabels"].items()
            <= pods[deploy["metadata"]["name"]].items()
        )
    for hpa in by_kind(docs, "HorizontalPodAutoscaler") + by_kind(docs, "ScaledObject"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in pods
    services = {s["metadata"]["name"] for s in by_kind(docs, "Service")}
    for ing in by_kind(docs, "Ingress"):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] in services
    config_names = {c["metadata"]["name"] for c in by_kind(docs, "ConfigMap")}
    for workload in by_kind(docs, "Deployment") + by_kind(docs, "Job"):
        containers = workload["spec"]["template"]["spec"]["containers"]
        for c in containers:
            assert all(ref["configMapRef"]["name"] in config_names for ref in c["envFrom"])
    # Every TESTFLOW_* name the chart sets is a real setting (a typo would be silently ignored).
    for cm in by_kind(docs, "ConfigMap"):
        if cm["metadata"]["name"].endswith("-config"):
            assert_known_settings(cm["data"], where=f"chart ConfigMap ({variant})")


def test_worker_scales_and_shuts_down_gracefully() -> None:
    docs = r.render(KEY)
    worker = one(docs, "Deployment", "-worker")
    spec = worker["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > 10  # the worker's graceful_shutdown_timeout
    (container,) = spec["containers"]
    assert container["args"][:1] == ["worker"]
    args = container["args"]
    # `testflow worker` requires --temporal; the task queue is explicit too.
    assert args[args.index("--temporal") + 1] == "temporal-frontend.temporal.svc:7233"
    assert args[args.index("--task-queue") + 1] == "testflow"
    assert "--max-concurrent-activities" in container["args"]
    assert "--max-concurrent-workflow-tasks" in container["args"]
    assert (
        container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    )
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert worker["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # The HPA owns the replica count when enabled.
    assert "replicas" not in worker["spec"]
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert one(docs, "PodDisruptionBudget", "-worker")["spec"]["minAvailable"] == 1
    # A single API replica gets no PDB (it would block node drains).
    assert not [
        p for p in by_kind(docs, "PodDisruptionBudget") if p["metadata"]["name"].endswith("-api")
    ]


def test_keda_replaces_the_cpu_hpa_and_targets_the_task_queue() -> None:
    docs = r.render(VARIANTS["cloud-keda-ingress-cron"])
    assert not by_kind(docs, "HorizontalPodAutoscaler")
    scaled = one(docs, "ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "temporal"
    meta = trigger["metadata"]
    assert meta["endpoint"] == "prod.a1b2c.tmprl.cloud:7233"
    assert meta["namespace"] == "prod.a1b2c" and meta["taskQueue"] == "testflow"
    assert all(isinstance(v, str) for v in meta.values())  # KEDA metadata values are strings
    assert trigger["authenticationRef"] == {"name": "temporal-cloud"}
    cm = one(docs, "ConfigMap", "-config")["data"]
    assert cm["TESTFLOW_TEMPORAL_TLS"] == "true"
    assert cm["TESTFLOW_TEMPORAL_TLS_CERT"] == "/etc/testflow/temporal-tls/tls.crt"
    worker = one(docs, "Deployment", "-worker")["spec"]["template"]["spec"]
    assert {
        "name": "temporal-tls",
        "secret": {"secretName": "temporal-mtls", "defaultMode": 0o440},
    } in worker["volumes"]
    cron = one(docs, "CronJob")
    job_pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job_pod["containers"][0]["args"][0] == "run" and job_pod["restartPolicy"] == "Never"
    assert one(docs, "Ingress")["spec"]["tls"][0]["secretName"] == "tf-tls"


def test_secrets_stay_in_secrets() -> None:
    docs = r.render(VARIANTS["ha-api-job"])
    key = KEY["secrets"]["encryptionKeys"]
    for doc in docs:
        text = str(doc)
        if doc["kind"] == "Secret":
            assert key in text and "pw@pg" in text
        else:
            assert key not in text and "pw@pg" not in text, doc["kind"]
    api = one(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["args"] == ["serve", "--no-worker"]
    env = api["env"]
    names = {e["name"]: e for e in env}
    assert (
        names["TESTFLOW_ENCRYPTION_KEYS"]["valueFrom"]["secretKeyRef"]["key"] == "encryption-keys"
    )
    assert names["TESTFLOW_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert one(docs, "Deployment", "-api")["spec"]["replicas"] == 2
    assert (
        one(docs, "Job")["spec"]["template"]["spec"]["volumes"][-2]["configMap"]["name"]
        == "my-flows"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "secrets.encryptionKeys"),
        (
            merged(KEY, {"worker": {"terminationGracePeriodSeconds": 10}}),
            "must be longer than worker.gracefulShutdownSeconds",
        ),
        (merged(KEY, {"api": {"replicas": 3}}), "needs a shared database"),
        (merged(KEY, {"run": {"enabled": True}}), "run.enabled needs flow files"),
        (merged(KEY, {"worker": {"replica": 3}}), "additional properties 'replica' not allowed"),
        (merged(KEY, {"temporal": {"address": "http://temporal"}}), "does not match pattern"),
        (merged(KEY, {"config": {"ORDERS_URL": "x"}}), "ORDERS_URL"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError, match=message):
        r.render(values)


def test_chart_lints_clean() -> None:
    import helm_python as helm

    report = helm.lint(str(r.CHART), values=KEY, strict=True, kube_version="v1.30.0")
    errors = [m for m in report["messages"] if m["severity"] >= 2]
    assert not errors and not report["errors"], report


def test_plain_manifests_are_the_chart_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/k8s/ is generated from the chart; regenerate it with `python -m tests.deploy.render --write`."""
    fresh = tmp_path / "k8s"
    fresh.mkdir()
    for name in ("namespace.yaml", "secret.example.yaml"):
        (fresh / name).write_text((r.K8S_DIR / name).read_text())
    monkeypatch.setattr(r, "K8S_DIR", fresh)
    r.write_plain_manifests()
    committed = sorted(p.name for p in (r.REPO / "deploy" / "k8s").glob("*.yaml"))
    assert sorted(p.name for p in fresh.glob("*.yaml")) == committed
    _, mismatch, errors = filecmp.cmpfiles(
        fresh, r.REPO / "deploy" / "k8s", committed, shallow=False
    )
    assert not mismatch and not errors, f"stale deploy/k8s files: {mismatch + errors}"


@pytest.mark.parametrize("kube", r.KUBE_VERSIONS)
def test_plain_manifests_validate(kube: str) -> None:
    import yaml

    files = sorted((r.REPO / "deploy" / "k8s").glob("*.yaml"))
    kinds = set()
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            r.validate(doc, kube)
            kinds.add(doc["kind"])
    assert {"Namespace", "Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler"} <= kinds
