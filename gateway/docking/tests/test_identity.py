"""The province as an identity provider: the realm export brokers the provincial portal's login (OIDC), and a
person who came from the province carries the province as tenant and no county role — in the export and in
the loopback providers (the province's own realm, and the county's realm brokering it: a real broker login)."""

from __future__ import annotations

import json
import pathlib

import grpc
import pytest
from sanji.docking.v1 import docking_pb2 as pb

from infra.oidc.client import login
from infra.oidc.provider import ProviderServer
from shared.auth import TokenVerifier
from shared.errors import Unauthenticated
from shared.tenancy import Role
from tests.support import Caller

REALM = pathlib.Path(__file__).resolve().parents[3] / "infra" / "keycloak" / "realm-sanji.json"
COUNTY_ROLES = {str(r) for r in Role} - {str(Role.PROVINCE_PLATFORM), str(Role.SERVICE)}


def test_the_realm_brokers_the_provinces_login_and_maps_no_role():
    realm = json.loads(REALM.read_text(encoding="utf-8"))
    [idp] = [p for p in realm["identityProviders"] if p["alias"] == "province-62"]
    assert idp["providerId"] == "oidc" and idp["enabled"] and idp["config"]["validateSignature"] == "true"
    assert idp["config"]["clientSecret"].startswith("${vault.")       # no secret in the repository
    mappers = [m for m in realm["identityProviderMappers"] if m["identityProviderAlias"] == "province-62"]
    assert not [m for m in mappers if "role" in m["identityProviderMapper"]], "the province maps no role"
    [tenant] = [m for m in mappers if m["config"].get("attribute") == "tenant"]
    assert tenant["config"]["attribute.value"] == "62" and tenant["config"]["syncMode"] == "FORCE"


@pytest.fixture(scope="module")
def province_idp():
    """The provincial portal's own identity provider (its realm), on loopback."""
    server = ProviderServer([{"username": "portal.zhangsan", "password": "p", "name": "张三", "tenant": "62",
                              "roles": [], "email": "zs@example.gov.cn"}], realm="gansu").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def brokered(province_idp):
    """The county's realm brokering the province's (the realm export's province-62, pointed at the loopback
    province realm): a provincial login comes back as a county-realm user with the province as tenant and no
    role (infra/oidc/broker.py; the whole flow is tested in infra/oidc/tests/test_broker.py)."""
    from infra.oidc.tests.test_broker import province_idp as idp_of

    server = ProviderServer([], identity_providers=[idp_of(province_idp)]).start()
    yield server
    server.stop()


def test_a_token_of_the_provinces_realm_is_no_county_credential(province_idp, oidc):
    token = login(province_idp.url, "portal.zhangsan", "p", realm="gansu")
    with pytest.raises(Unauthenticated):
        TokenVerifier(oidc.url, "sanji", audience="sanji-platform").verify(token)


def test_the_brokered_person_carries_the_province_and_no_county_role(brokered, handlers):
    from sanji.docking.v1 import docking_pb2_grpc

    from gateway.docking.service import registration
    from tests.support import serving

    token = login(brokered.url, "portal.zhangsan", "p", idp_hint="province-62")
    verifier = TokenVerifier(brokered.url, "sanji", audience="sanji-platform")
    person = verifier.verify(token)
    assert str(person.tenant) == "62" and not (set(person.roles) & COUNTY_ROLES)
    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as ch:
        with pytest.raises(grpc.RpcError) as e:
            Caller(docking_pb2_grpc.DockingServiceStub(ch), token).GetBacklog(pb.GetBacklogRequest())
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
