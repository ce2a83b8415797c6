"""python -m infra.manifests — write the k8s manifests that follow from the service registry (`make k8s`).

Every service of shared/registry.py gets the same workload, so its manifests are rendered, not copied:
k8s/10-config.yaml (the settings every process shares, the service targets, the migration Job's Secret),
k8s/20-services.yaml (per service: Deployment, Service, its own Secret, disruption budget and autoscaler)
and k8s/40-jobs.yaml (the migration Job). tests/test_k8s_manifests.py renders them again and fails when
the committed files differ, so a new registry row cannot be forgotten in k8s.

Trust boundaries (issue 15, item 2): each service reads only its own Secret — its database URL (the
application role), its broker user's AMQP URL, its client secret and whatever its settings class names in
SECRETS (the fees keys); the owner's database URL and the broker administrator's URL are only in the
migration Job's Secret; the gateway (k8s/30-gateway.yaml) holds no Secret at all. Secrets here are
placeholders (`CHANGE-ME…`, refused by every process in production mode); a deployment manages them
outside git.
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
from typing import Any

import yaml

from shared import registry
from shared.messaging.topology import broker_user

ROOT = pathlib.Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
NAMESPACE = "sanji"
VERSION = "0.1.0"
IMAGE = f"registry.example.gov.cn/sanji/sanji:{VERSION}"      # one image (Dockerfile) for every process
GRPC_PORT = 50051
PART_OF = {"app.kubernetes.io/part-of": "sanji"}

SHARED_CONFIG = {
    "SANJI_MODE": "production",
    "SANJI_OIDC_SERVER_URL": "https://id.example.gov.cn",
    "SANJI_OIDC_REALM": "sanji",
    "SANJI_OIDC_AUDIENCE": "sanji-platform",
    "SANJI_OIDC_CLIENT_ID": "sanji-console",
    "SANJI_OIDC_PUBLIC_URL": "https://id.example.gov.cn",
    "SANJI_OTEL_EXPORTER": "otlp",
    "SANJI_OTEL_ENDPOINT": "http://otel-collector.observability.svc.cluster.local:4317",
    "SANJI_LOG_LEVEL": "INFO",
    "SANJI_GRPC_HOST": "0.0.0.0",   # noqa: S104 — inside the pod; the NetworkPolicy decides who reaches it
    "SANJI_GRPC_PORT": str(GRPC_PORT),
    "SANJI_PUBLIC_BASE_URL": "https://zwfw.example.gov.cn",
}


def _labels(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, **PART_OF, "app.kubernetes.io/component": component,
            "app.kubernetes.io/version": VERSION}


def _selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, **PART_OF}


def _hardened_pod(name: str, container: dict[str, Any], *, restart: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": "sanji", "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "terminationGracePeriodSeconds": 30,
    }
    if restart:
        spec["restartPolicy"] = restart
    container.update({
        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "privileged": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 — an in-memory emptyDir
    })
    spec["containers"] = [container]
    spec["volumes"] = [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]
    return spec


def service_secrets(name: str) -> list[str]:
    """The settings a service's process refuses to start without (its settings class's SECRETS)."""
    module = importlib.import_module(f"{registry.spec(name).module}.settings")
    [cls] = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__
             and "grpc_port" in getattr(c, "model_fields", {})]
    return [f"SANJI_{s.upper()}" for s in cls.SECRETS]


def _placeholder(variable: str, service: str) -> str:
    if variable == "SANJI_DATABASE_URL":
        # a service with a database role of its own (the registry's database_role) connects as it
        role = registry.spec(service).database_role or "sanji_app"
        secret = f"CHANGE-ME-{role.removeprefix('sanji_')}-password"
        return f"postgresql+psycopg://{role}:{secret}@postgres.example.internal:5432/sanji"
    if variable == "SANJI_AMQP_URL":
        return f"amqps://{broker_user(service)}:CHANGE-ME-broker-password@rabbitmq.example.internal:5671/sanji"
    return f"CHANGE-ME-{variable.removeprefix('SANJI_').lower().replace('_', '-')}"


def render_service(spec: registry.ServiceSpec) -> list[dict[str, Any]]:
    name = spec.name
    probe = {"grpc": {"port": GRPC_PORT}}
    container = {
        "name": name, "image": IMAGE, "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", spec.module],
        "ports": [{"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": "sanji-config"}}, {"secretRef": {"name": f"sanji-{name}"}}],
        "env": [{"name": "OTEL_SERVICE_NAME", "value": f"sanji-{name}"}],
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 24},
        "readinessProbe": {**probe, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 20, "timeoutSeconds": 3, "failureThreshold": 3},
        "resources": {"requests": {"cpu": "100m", "memory": "192Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    }
    pod = _hardened_pod(name, container)
    pod["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                         "whenUnsatisfiable": "ScheduleAnyway",
                                         "labelSelector": {"matchLabels": _selector(name)}}]
    meta = {"name": name, "namespace": NAMESPACE, "labels": _labels(name, "service")}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {**meta, "annotations": {"sanji.gov.cn/description": spec.summary or spec.title}},
        "spec": {"revisionHistoryLimit": 5,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                 "selector": {"matchLabels": _selector(name)},
                 "template": {"metadata": {"labels": _labels(name, "service")}, "spec": pod}},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta,
               "spec": {"type": "ClusterIP", "selector": _selector(name),
                        "ports": [{"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP",
                                   "appProtocol": "grpc"}]}}
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": f"sanji-{name}", "namespace": NAMESPACE, "labels": _labels(name, "service")},
              "type": "Opaque",
              "stringData": {v: _placeholder(v, name) for v in service_secrets(name)}}
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
              "metadata": {"name": name, "namespace": NAMESPACE, "labels": _labels(name, "service")},
              "spec": {"minAvailable": 1, "selector": {"matchLabels": _selector(name)}}}
    # stateless: every replica serves gRPC and competes for the same queues (DESIGN §5: idempotent consumers)
    autoscaler = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                  "metadata": {"name": name, "namespace": NAMESPACE, "labels": _labels(name, "service")},
                  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                           "minReplicas": 2, "maxReplicas": 8,
                           "metrics": [{"type": "Resource", "resource": {
                               "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}}
    return [deployment, service, secret, budget, autoscaler]


def render_config() -> list[dict[str, Any]]:
    data = dict(SHARED_CONFIG)
    for spec in registry.SERVICES:
        data[f"SANJI_{spec.target_setting.upper()}"] = f"{spec.name}.{NAMESPACE}.svc.cluster.local:{GRPC_PORT}"
    data.update({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "sanji-config", "namespace": NAMESPACE, "labels": dict(PART_OF)}, "data": data}
    migrate = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "sanji-migrate", "namespace": NAMESPACE, "labels": dict(PART_OF)},
               "type": "Opaque",
               "stringData": {
                   "SANJI_DATABASE_OWNER_URL": "postgresql+psycopg://sanji_owner:CHANGE-ME-owner-password"
                                               "@postgres.example.internal:5432/sanji",
                   "SANJI_AMQP_ADMIN_URL": "amqps://sanji-admin:CHANGE-ME-broker-admin-password"
                                           "@rabbitmq.example.internal:5671/sanji"}}
    return [config, migrate]


MIGRATE_DESCRIPTION = "以表属主角色执行各服务数据库迁移（含行级安全策略），并按服务注册表声明消息交换机与队列"


def render_jobs() -> list[dict[str, Any]]:
    container = {
        "name": "migrate", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", "infra.migrate", "--broker"],
        "envFrom": [{"configMapRef": {"name": "sanji-config"}}, {"secretRef": {"name": "sanji-migrate"}}],
        "env": [{"name": "OTEL_SERVICE_NAME", "value": "sanji-migrate"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi"}},
    }
    name = f"migrate-{VERSION.replace('.', '-')}"
    return [{"apiVersion": "batch/v1", "kind": "Job",
             "metadata": {"name": name, "namespace": NAMESPACE, "labels": _labels("migrate", "migration"),
                          "annotations": {"sanji.gov.cn/description": MIGRATE_DESCRIPTION}},
             "spec": {"backoffLimit": 3, "activeDeadlineSeconds": 900, "ttlSecondsAfterFinished": 86400,
                      "template": {"metadata": {"labels": _labels("migrate", "migration")},
                                   "spec": _hardened_pod("migrate", container, restart="OnFailure")}}}]


HEADERS = {
    "10-config.yaml": """\
# Settings every process shares (env prefix SANJI_, read once by each typed settings object), and the
# migration Job's Secret: the only place with the owner's database URL and the broker
# administrator's. Each service's own Secret is beside its Deployment in 20-services.yaml.
# Rendered from shared/registry.py by `python -m infra.manifests`; do not edit by hand.
""",
    "20-services.yaml": """\
# The business services of shared/registry.py: one Deployment each (gRPC on 50051, probed with the
# kubelet's gRPC probe), its Service, its own Secret (placeholders: a deployment manages the real
# values outside git; every process refuses CHANGE-ME values in production mode), a disruption
# budget and an autoscaler. Rendered by `python -m infra.manifests`; do not edit by hand.
""",
    "40-jobs.yaml": """\
# Database migrations and the broker's topology, run once per release before the services roll out
# (owner role; the broker administrator declares every exchange and queue of the registry).
# Rendered by `python -m infra.manifests`; do not edit by hand.
""",
}


def render() -> dict[str, str]:
    docs = {"10-config.yaml": render_config(),
            "20-services.yaml": [d for spec in registry.SERVICES for d in render_service(spec)],
            "40-jobs.yaml": render_jobs()}
    out = {}
    for name, items in docs.items():
        body = "".join("---\n" + yaml.safe_dump(d, sort_keys=False, allow_unicode=True, width=120) for d in items)
        out[name] = HEADERS[name] + body
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a committed file differs from the rendering")
    ap.add_argument("--broker-users", metavar="VHOST",
                    help="print the rabbitmqctl commands that give each service its broker user in VHOST")
    args = ap.parse_args(argv)
    if args.broker_users:
        from shared.messaging.topology import permissions

        for spec in registry.SERVICES:
            user = broker_user(spec.name)
            configure, write, read = permissions(spec.name)
            print(f"rabbitmqctl add_user {user} \"$(cat {user}.password)\"")
            print(f"rabbitmqctl set_permissions -p {args.broker_users} {user} '{configure}' '{write}' '{read}'")
        return 0
    stale = []
    for name, text in render().items():
        path = K8S / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"k8s manifests out of date with shared/registry.py: {', '.join(stale)} (run `make k8s`)")
        return 1
    print(f"[manifests] {'rewrote ' + ', '.join(stale) if stale else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
