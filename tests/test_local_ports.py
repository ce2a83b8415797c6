"""The local defaults of every service's gRPC port agree everywhere and stay out of the kernel's ephemeral range.

An outgoing connection takes its local port from the ephemeral range (32768-60999 on Linux). A listening port
inside it can be held by such a connection for a moment, and `make run` then fails with "Address already in use".
"""

import importlib

import pytest

from gateway.settings import GatewaySettings
from infra.local.platform import SERVICE_PORTS, Ports
from services.agency.settings import AgencySettings
from services.approval.settings import ApprovalSettings
from services.catalogue.settings import CatalogueSettings
from services.fees.settings import FeesSettings
from services.intake.settings import IntakeSettings
from shared import registry

EPHEMERAL_START = 32768
SETTINGS = {"catalogue": CatalogueSettings, "intake": IntakeSettings, "agency": AgencySettings,
            "approval": ApprovalSettings, "fees": FeesSettings}


def _settings_of(service):
    """The service's settings class (its package's settings module: services/<name>/ or the registry's package)."""
    if service in SETTINGS:
        return SETTINGS[service]
    module = importlib.import_module(f"{registry.spec(service).module}.settings")
    [cls] = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__
             and "grpc_port" in getattr(c, "model_fields", {})]
    return cls


def _default(cls, name):
    return cls.model_fields[name].default


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_a_service_listens_where_the_others_look_for_it(service):
    port = SERVICE_PORTS[service]
    assert port < EPHEMERAL_START
    assert Ports().of(service) == port
    assert _default(_settings_of(service), "grpc_port") == port
    assert _default(GatewaySettings, f"{service}_target") == f"127.0.0.1:{port}"
    for caller in (IntakeSettings, AgencySettings):
        if f"{service}_target" in caller.model_fields:
            assert _default(caller, f"{service}_target") == f"127.0.0.1:{port}"


def test_the_local_ports_are_distinct():
    ports = Ports()
    values = [ports.oidc, ports.gateway, ports.province, *(ports.of(s) for s in SERVICE_PORTS)]
    assert len(set(values)) == len(values)
    assert all(p < EPHEMERAL_START for p in values)
