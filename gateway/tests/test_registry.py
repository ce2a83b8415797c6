"""The gateway knows the services from shared/registry.py alone: one router and one target setting per row."""

from __future__ import annotations

import importlib

import pytest

from gateway.app import create_app, routers
from gateway.settings import GatewaySettings
from shared import registry

REST = [spec for spec in registry.SERVICES if spec.rest]


def test_every_service_with_a_rest_edge_is_served(verifier):
    spec = create_app(GatewaySettings(), verifier=verifier).openapi()
    for service in REST:
        router = importlib.import_module(f"gateway.routes_{service.name}").router
        documented = [r for r in router.routes if r.include_in_schema]
        assert documented, f"gateway/routes_{service.name}.py documents no route"
        for route in documented:
            assert {m.lower() for m in route.methods} <= set(spec["paths"][route.path]), route.path


def test_a_registered_service_without_its_router_stops_the_gateway():
    missing = registry.ServiceSpec("nosuch", 15099, "无此服务")
    with pytest.raises(ModuleNotFoundError) as exc:
        routers([*registry.SERVICES, missing])
    assert exc.value.name == "gateway.routes_nosuch"


def test_a_service_without_a_rest_edge_needs_no_router():
    assert routers([registry.ServiceSpec("nosuch", 15099, "无此服务", rest=False)]) == []


def test_each_service_has_its_target_setting(monkeypatch):
    fields = GatewaySettings.model_fields
    for service in registry.SERVICES:
        assert fields[service.target_setting].default == service.local_target
    monkeypatch.setenv("SANJI_INTAKE_TARGET", "intake.sanji.svc:50051")
    monkeypatch.delenv("SANJI_FEES_TARGET", raising=False)
    settings = GatewaySettings()
    assert settings.intake_target == "intake.sanji.svc:50051"
    assert settings.fees_target == registry.spec("fees").local_target
