"""The Kubernetes manifests validate against the bundled API schemas (offline, strict), run the registry's
services and modules the repository has, and every workload runs hardened: probes, resource limits,
non-root, read-only root filesystem, no privilege escalation."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from infra.manifests import IMAGE, render, service_secrets
from shared import registry
from shared.registry import NAMES

K8S = Path(__file__).resolve().parents[1] / "k8s"
FILES = sorted(K8S.glob("*.yaml"))
SERVICES = list(NAMES)
VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"


def _docs() -> list[dict]:
    out = []
    for f in FILES:
        out += [d for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d]
    return out


DOCS = _docs()


def _of(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in DOCS if d["kind"] == kind}


def _pod_specs():
    for d in DOCS:
        if d["kind"] == "Deployment":
            yield d["metadata"]["name"], d["spec"]["template"]["spec"]
        elif d["kind"] == "Job":
            yield d["metadata"]["name"], d["spec"]["template"]["spec"]


def test_one_file_per_concern():
    assert [f.name for f in FILES] == ["00-namespace.yaml", "10-config.yaml", "20-services.yaml",
                                       "30-gateway.yaml", "40-jobs.yaml", "50-policies.yaml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_kubernetes_validate_strict(path):
    assert VALIDATOR.exists(), f"{VALIDATOR} missing: install the dev extras"
    out = subprocess.run([str(VALIDATOR), "--strict", "--quiet", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_every_resource_is_in_the_namespace():
    for d in DOCS:
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "sanji", (d["kind"], d["metadata"]["name"])


def test_deployments_and_services():
    deployments, services = _of("Deployment"), _of("Service")
    assert set(deployments) == {*SERVICES, "gateway"}
    for name in SERVICES:
        c = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert c["image"] == IMAGE
        assert c["command"] == ["python", "-m", registry.spec(name).module]
        assert c["ports"] == [{"name": "grpc", "containerPort": 50051, "protocol": "TCP"}]
        assert c["readinessProbe"]["grpc"]["port"] == 50051 and c["livenessProbe"]["grpc"]["port"] == 50051
        svc = services[name]["spec"]
        assert svc["type"] == "ClusterIP" and svc["ports"][0]["port"] == 50051
        assert svc["selector"].items() <= deployments[name]["spec"]["template"]["metadata"]["labels"].items()
    gw = deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gw["command"] == ["python", "-m", "gateway"]
    assert gw["ports"][0]["containerPort"] == 8000 and gw["ports"][0]["name"] == "http"
    assert gw["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert gw["livenessProbe"]["httpGet"]["path"] == "/healthz"
    backend = _of("Ingress")["gateway"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "gateway" and backend["name"] in services


def _commands() -> list[tuple[str, str]]:
    """(workload/container, the module it runs) for every container of every Deployment and Job."""
    out = []
    for name, spec in _pod_specs():
        for c in spec["containers"] + spec.get("initContainers", []):
            command = c.get("command", []) + c.get("args", [])
            assert command[:2] == ["python", "-m"] and len(command) >= 3, (name, c["name"], command)
            out.append((f"{name}/{c['name']}", command[2]))
    return out


@pytest.mark.parametrize("container,module", _commands(), ids=lambda v: v)
def test_every_module_a_workload_runs_is_in_the_repository(container, module):
    """`python -m <module>` in a pod runs code the repository has: the module imports here, and a package
    has the `__main__` that -m runs."""
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{container} runs {module}, which the repository does not have"
    importlib.import_module(module)
    if spec.submodule_search_locations is not None:      # a package: `python -m` runs its __main__
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} has no __main__"
        importlib.import_module(f"{module}.__main__")


@pytest.mark.parametrize("name,spec", list(_pod_specs()), ids=lambda v: v if isinstance(v, str) else "")
def test_workloads_are_hardened(name, spec):
    pod_sc = spec.get("securityContext", {})
    assert pod_sc.get("runAsNonRoot") is True and pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert spec.get("automountServiceAccountToken") is False
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(c["resources"]["limits"]) and {"cpu", "memory"} <= set(
            c["resources"]["requests"])
        if name in SERVICES or name == "gateway":
            assert "readinessProbe" in c and "livenessProbe" in c, name


def test_settings_come_from_config_and_secret():
    config = _of("ConfigMap")["sanji-config"]["data"]
    assert config["SANJI_OTEL_EXPORTER"] == "otlp" and config["SANJI_MODE"] == "production"
    for key in ("SANJI_OIDC_SERVER_URL", "SANJI_OIDC_REALM", "SANJI_OIDC_AUDIENCE", "SANJI_OTEL_ENDPOINT"):
        assert config[key], key
    assert config["SANJI_GRPC_HOST"] == "0.0.0.0", "services must listen beyond loopback in a pod"  # noqa: S104
    for name in SERVICES:
        assert config[f"SANJI_{name.upper()}_TARGET"] == f"{name}.sanji.svc.cluster.local:50051"
    secrets = _of("Secret")
    for secret in secrets.values():               # the committed values are obvious placeholders
        assert all("CHANGE-ME" in v for v in secret["stringData"].values())
        assert not set(secret["stringData"]) & set(config)
    job = next(iter(_of("Job").values()))
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "-m", "infra.migrate", "--broker"]


def _secret_refs(pod_spec: dict) -> set[str]:
    return {ref["secretRef"]["name"] for c in pod_spec["containers"] for ref in c.get("envFrom", [])
            if "secretRef" in ref}


def test_each_process_reads_only_its_own_secret_and_the_edge_none():
    """Issue 15, item 2: one Secret per service with only what it needs; the owner's database URL and the
    broker administrator's only in the migration Job; the internet-facing gateway holds no credentials."""
    secrets = _of("Secret")
    pods = dict(_pod_specs())
    for name in SERVICES:
        assert _secret_refs(pods[name]) == {f"sanji-{name}"}
        data = secrets[f"sanji-{name}"]["stringData"]
        assert sorted(data) == sorted(service_secrets(name))          # exactly what its settings refuse to lack
        assert f"sanji-{name}:" in data["SANJI_AMQP_URL"]            # its own broker user
        # the application role (or the service's own role, e.g. onboarding's: its schema only), never the owner
        assert f"{registry.spec(name).database_role or 'sanji_app'}:" in data["SANJI_DATABASE_URL"]
    assert _secret_refs(pods["gateway"]) == set()
    assert not any(e.get("name", "").startswith("SANJI_") and "valueFrom" in e
                   for c in pods["gateway"]["containers"] for e in c.get("env", []))
    holders = {n for n, s in secrets.items() if "SANJI_DATABASE_OWNER_URL" in s["stringData"]}
    assert holders == {"sanji-migrate"}
    migrate = [n for n in pods if n.startswith("migrate-")]
    assert [_secret_refs(pods[n]) for n in migrate] == [{"sanji-migrate"}]


def test_the_rendered_manifests_are_the_committed_ones():
    """20-services.yaml and its neighbours follow from shared/registry.py (`python -m infra.manifests`):
    a service added to the registry without rendering its manifests fails here."""
    for name, text in render().items():
        assert (K8S / name).read_text(encoding="utf-8") == text, f"k8s/{name} is stale: run make k8s"


def test_the_image_the_manifests_name_is_the_one_the_dockerfile_builds():
    """No container engine here: what can be checked without building is checked."""
    dockerfile = (K8S.parent / "Dockerfile").read_text(encoding="utf-8")
    images = {c["image"] for _, spec in _pod_specs() for c in spec["containers"]}
    assert images == {IMAGE}
    python = tomllib.loads((K8S.parent / "pyproject.toml").read_text())["project"]["requires-python"]
    assert "3.11" in python and "FROM python:3.11-slim" in dockerfile
    assert "\nUSER 10001" in dockerfile and "useradd --system --uid 10001" in dockerfile
    for _, module in _commands():                     # the code every workload runs is copied into the image
        assert f"COPY {module.split('.')[0]} ./{module.split('.')[0]}" in dockerfile, module
    assert "gen_proto.py" in dockerfile and "fonts-arphic-uming" in dockerfile


def test_network_policies_only_open_grpc_to_gateway_and_services():
    policies = _of("NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    grpc = policies["services-grpc-from-gateway-and-services"]["spec"]
    assert grpc["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "service"
    [rule] = grpc["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 50051}]
    [peer] = rule["from"]
    allowed = next(e for e in peer["podSelector"]["matchExpressions"] if e["key"] == "app.kubernetes.io/component")
    assert set(allowed["values"]) == {"gateway", "service"}
    # the labels the policy relies on are the ones the pods carry
    components = {n: d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
                  for n, d in _of("Deployment").items()}
    assert components == {**{s: "service" for s in SERVICES}, "gateway": "gateway"}


def test_disruption_budgets_and_autoscalers():
    pdbs = _of("PodDisruptionBudget")
    assert set(pdbs) == {*SERVICES, "gateway"}
    hpas = _of("HorizontalPodAutoscaler")
    assert set(hpas) == {*SERVICES, "gateway"}          # every stateless process scales out
    deployments = _of("Deployment")
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["spec"]["minReplicas"] >= 2
        assert "replicas" not in deployments[name]["spec"], "an autoscaled Deployment must not pin replicas"
