"""Service identity (issue 15, items 3 and 6): calls between services carry the calling service's own
client-credentials token beside the person's; internal methods accept only the services named for
them. And the loopback identity provider has none of the mock's doors that rewrite who is who.

Everything goes through the real provider over HTTP and a real gRPC server with the platform's chain.
"""

from __future__ import annotations

import json

import grpc
import httpx
import pytest

from conftest import free_port
from infra.oidc.client import login
from infra.oidc.provider import ProviderServer
from shared.auth import ServiceCredentials, TokenVerifier
from shared.errors import Unauthenticated
from shared.grpc.client import bearer, make_channel
from shared.grpc.server import Registration
from shared.tenancy import current_principal
from tests.support import PASSWORD, serving, user

USERS = [user("agent", "620602001001", "agent", name="王代办"),
         user("admin", "620602001002", "tenant_admin", name="另一村管理员")]
CLIENTS = {"sanji-agency": "agency-secret", "sanji-fees": "fees-secret"}
METHOD = "/sanji.test.v1.Internal/Submit"


def _submit(request: bytes, context) -> bytes:
    p = current_principal()
    return json.dumps({"user": p.username, "tenant": str(p.tenant), "via": p.via}).encode()


def _add(servicer, server) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "sanji.test.v1.Internal", {"Submit": grpc.unary_unary_rpc_method_handler(_submit)}),))


@pytest.fixture(scope="module")
def provider():
    server = ProviderServer(USERS, port=free_port(), service_clients=CLIENTS).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def verifier(provider):
    return TokenVerifier(provider.url, "sanji", audience="sanji-platform", min_refresh_seconds=0)


@pytest.fixture(scope="module")
def target(verifier):
    reg = Registration(object(), _add, "sanji.test.v1.Internal", internal_methods={"Submit": ("agency",)})
    with serving([reg], verifier, workers=2) as t:
        yield t


def _call(target: str, metadata, service: ServiceCredentials | None = None) -> dict:
    with make_channel(target, service=service) as channel:
        stub = channel.unary_unary(METHOD)
        return json.loads(stub(b"", metadata=metadata, timeout=10))


def test_a_service_token_names_the_service_and_is_no_persons_token(provider, verifier):
    creds = ServiceCredentials(provider.url, "sanji", "agency", "agency-secret")
    token = creds.token()
    assert creds.token() == token                      # kept until shortly before it expires
    assert verifier.verify_service(token) == "agency"
    with pytest.raises(Unauthenticated):
        verifier.verify(token)                         # no tenant: it cannot act as a person
    with pytest.raises(Unauthenticated):
        verifier.verify_service(login(provider.url, "agent", PASSWORD))   # a person is no service


@pytest.mark.parametrize("client, secret", [("sanji-agency", "wrong"), ("sanji-intake", "agency-secret"),
                                            ("sanji-console", "public"), ("", "")])
def test_client_credentials_are_refused_for_an_unknown_client_or_a_wrong_secret(provider, client, secret):
    r = httpx.post(f"{provider.url}/realms/sanji/protocol/openid-connect/token",
                   data={"grant_type": "client_credentials", "client_id": client, "client_secret": secret})
    assert r.status_code == 401 and "access_token" not in r.text


def test_an_internal_method_takes_the_allowed_service_acting_for_the_person(provider, target):
    person = login(provider.url, "agent", PASSWORD)
    answer = _call(target, bearer(person), ServiceCredentials(provider.url, "sanji", "agency", "agency-secret"))
    assert answer == {"user": "agent", "tenant": "620602001001", "via": "agency"}


def test_a_person_calling_an_internal_method_directly_is_refused(provider, target):
    person = login(provider.url, "agent", PASSWORD)
    with pytest.raises(grpc.RpcError) as e:
        _call(target, bearer(person))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_another_service_is_refused_and_a_persons_token_is_no_service_credential(provider, target):
    person = login(provider.url, "agent", PASSWORD)
    with pytest.raises(grpc.RpcError) as e:
        _call(target, bearer(person), ServiceCredentials(provider.url, "sanji", "fees", "fees-secret"))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED and "内部服务" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        _call(target, (*bearer(person), ("x-sanji-service", f"Bearer {person}")))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_service_alone_without_the_person_is_refused(provider, target):
    service = ServiceCredentials(provider.url, "sanji", "agency", "agency-secret")
    with pytest.raises(grpc.RpcError) as e:
        _call(target, None, service)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_providers_user_rewrite_door_is_closed(provider, verifier):
    """Tried before: an unauthenticated PUT /users/<sub> made a village admin another village's agent."""
    body = {"claims": {"tenant": "620602001001", "realm_access": {"roles": ["agent", "tenant_admin"]}}}
    r = httpx.put(f"{provider.url}/users/admin", json=body)
    assert r.status_code == 403
    assert httpx.post(f"{provider.url}/users/admin/revoke-tokens").status_code == 403
    assert httpx.post(f"{provider.url}/oauth2/clients", json={"redirect_uris": ["http://x/cb"]}).status_code == 403
    p = verifier.verify(login(provider.url, "admin", PASSWORD))
    assert (str(p.tenant), sorted(p.roles)) == ("620602001002", ["tenant_admin"])
