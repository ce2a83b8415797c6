"""Issue 23, item 1: what the k8s manifests start is what the repository serves. Beside
tests/test_k8s_manifests.py (schemas, hardening, a Deployment per registry row, modules that exist):
each process's settings are built from exactly the environment its pod gets (the ConfigMap, its
Secret's keys, its own env) in production mode, and its probes reach what that process then serves —
the port it binds, on an address beyond loopback, and the health answer the probe asks for.

No container engine runs here: the image is not built; what its processes would do with the pod's
environment is checked in this process."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import grpc
import pytest
import yaml
from fastapi.testclient import TestClient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.config import GrpcServiceSettings
from shared.grpc.server import build_server
from shared.registry import SERVICES, ServiceSpec

K8S = Path(__file__).resolve().parents[1] / "k8s"
DOCS = [d for f in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d]


def _of(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in DOCS if d["kind"] == kind}


def _container(deployment: str) -> dict:
    return _of("Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]


def pod_environment(container: dict) -> dict[str, str]:
    """The SANJI_ variables the container's process sees: its ConfigMaps, its Secrets, its own env."""
    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        if "configMapRef" in ref:
            env.update(_of("ConfigMap")[ref["configMapRef"]["name"]]["data"])
        if "secretRef" in ref:
            env.update(_of("Secret")[ref["secretRef"]["name"]]["stringData"])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


@pytest.fixture
def pod_env(monkeypatch):
    """Replace the test process's SANJI_ environment with a pod's (production mode, as the ConfigMap says)."""
    import os

    def apply(container: dict, *, secrets_filled: bool = True) -> dict[str, str]:
        for name in [n for n in os.environ if n.startswith("SANJI_")]:
            monkeypatch.delenv(name)
        env = pod_environment(container)
        if secrets_filled:       # what the operator does to the committed placeholders before deploying
            env = {k: v.replace("CHANGE-ME", "filled-by-the-operator") for k, v in env.items()}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return apply


def _port(container: dict, port: int | str) -> int:
    """A probe's port as the kubelet resolves it: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    [found] = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return found


def settings_class(spec: ServiceSpec) -> type[GrpcServiceSettings]:
    """The typed settings the service's process reads (services/<name>/settings.py)."""
    module = importlib.import_module(f"{spec.module}.settings")
    [cls] = [c for _, c in inspect.getmembers(module, inspect.isclass)
             if issubclass(c, GrpcServiceSettings) and c is not GrpcServiceSettings and c.__module__ == module.__name__]
    return cls


def _health(target: str, service: str) -> health_pb2.HealthCheckResponse.ServingStatus:
    with grpc.insecure_channel(target) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                         timeout=10).status


class _NoTokens:
    def verify(self, token: str):
        raise AssertionError("a probe sends no token")


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_a_services_probes_reach_the_port_its_process_binds(spec, pod_env):
    container = _container(spec.name)
    pod_env(container, secrets_filled=False)
    with pytest.raises(ValidationError, match="refusing to start in production mode"):   # placeholders start nothing
        settings_class(spec)()
    pod_env(container)
    settings = settings_class(spec)()
    assert settings.mode == "production"
    assert settings.grpc_host == "0.0.0.0", "a service must listen beyond loopback in a pod"  # noqa: S104
    service_ports = {p["name"]: p for p in _of("Service")[spec.name]["spec"]["ports"]}
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container[kind]["grpc"]
        assert _port(container, probe["port"]) == settings.grpc_port, (kind, probe)
        # the kubelet asks the health service for "" unless told otherwise: the overall status
        assert probe.get("service", "") == "", "a named health service must be one the server registers"
    assert _port(container, service_ports["grpc"]["targetPort"]) == settings.grpc_port


def test_the_platforms_grpc_server_answers_the_probe():
    """What the kubelet's gRPC probe sends (Health/Check for "", no token) is answered SERVING by the server
    every service is built with (shared.grpc.server.build_server), on the port it was given."""
    server, port, _ = build_server([], verifier=_NoTokens(), host="127.0.0.1", port=0, workers=1, spans=False)
    server.start()
    try:
        assert _health(f"127.0.0.1:{port}", "") == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop(None)


def test_the_gateways_probes_reach_what_it_serves(pod_env):
    container = _container("gateway")
    pod_env(container)
    settings = GatewaySettings()
    assert settings.mode == "production"
    assert settings.http_host == "0.0.0.0", "the gateway must listen beyond loopback in a pod"  # noqa: S104
    service_port = _of("Service")["gateway"]["spec"]["ports"][0]
    assert _port(container, service_port["targetPort"]) == settings.http_port
    with TestClient(create_app(settings, verifier=_NoTokens())) as client:
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container[kind]["httpGet"]
            assert _port(container, probe["port"]) == settings.http_port, (kind, probe)
            r = client.get(probe["path"])          # no token, no backend: the process's own health
            assert r.status_code == 200, (kind, r.status_code, r.text)


def test_every_registered_service_is_a_deployment_and_every_deployment_a_process_we_have():
    deployments = _of("Deployment")
    assert {s.name for s in SERVICES} <= set(deployments)
    for name, d in deployments.items():
        [c] = d["spec"]["template"]["spec"]["containers"]
        module = c["command"][2]
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{name} runs {module}: no __main__"
