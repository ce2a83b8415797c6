"""The loopback provider's admin API (issue 23, item 2): python-keycloak's KeycloakAdmin provisions staff into it
at run time through the same plan and apply as against Keycloak, the new user logs in at once with the tenant
and roles given, and only a realm administrator's token gets in — the unauthenticated doors stay shut."""

from __future__ import annotations

import secrets

import httpx
import pytest
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakGetError, KeycloakPostError

from infra.keycloak import provision
from infra.oidc.client import login
from infra.oidc.provider import ProviderServer
from shared.auth import TokenVerifier

ADMIN_CLIENT = "sanji-admin"
ADMIN_SECRET = secrets.token_urlsafe(24)
SERVICE_SECRET = secrets.token_urlsafe(24)
EXISTING = {"username": "demo.admin", "password": "pw-demo", "name": "甲", "tenant": "620602",
            "roles": ["tenant_admin"], "email": "a@example.gov.cn"}
TREE = [{"code": "371502", "name": "东昌府区"}, {"code": "371502001", "name": "古楼街道"}]


@pytest.fixture(scope="module")
def provider():
    server = ProviderServer([EXISTING], service_clients={"sanji-intake": SERVICE_SECRET},
                            admin_clients={ADMIN_CLIENT: ADMIN_SECRET}).start()
    yield server
    server.stop()


def _admin(provider, client_id=ADMIN_CLIENT, secret=ADMIN_SECRET) -> KeycloakAdmin:
    return KeycloakAdmin(server_url=provider.url, realm_name="sanji", client_id=client_id, client_secret_key=secret)


def _staff_actions(users: list[dict]) -> list:
    return [a for a in provision.plan(TREE, users)
            if isinstance(a, provision.CreateGroup | provision.CreateUser | provision.AssignRoles
                          | provision.JoinGroup)]


def test_staff_provisioned_through_python_keycloak_log_in_at_once(provider):
    staff = [{"username": "dcf.reviewer", "password": "pw-1", "name": "王审核", "tenant": "371502001",
              "roles": ["reviewer"], "email": "r@example.gov.cn"},
             {"username": "dcf.admin", "password": "pw-2", "name": "李管理", "tenant": "371502",
              "roles": ["tenant_admin", "head"]}]
    report = provision.apply(_staff_actions(staff), _admin(provider))
    assert report.created == {"group": 2, "user": 2, "role_mapping": 3, "membership": 2}
    again = provision.apply(_staff_actions(staff), _admin(provider))          # idempotent
    assert again.created == {} and again.unchanged == 8
    verifier = TokenVerifier(provider.url, "sanji", audience="sanji-platform")
    p = verifier.verify(login(provider.url, "dcf.reviewer", "pw-1"))
    assert (p.username, str(p.tenant), set(p.roles), p.display_name) == ("dcf.reviewer", "371502001", {"reviewer"},
                                                                           "王审核")
    p = verifier.verify(login(provider.url, "dcf.admin", "pw-2"))
    assert str(p.tenant) == "371502" and set(p.roles) == {"tenant_admin", "head"}
    with pytest.raises(PermissionError):
        login(provider.url, "dcf.reviewer", "wrong")
    admin = _admin(provider)
    uid = admin.get_user_id("dcf.reviewer")
    assert [g["path"] for g in admin.get_user_groups(uid)] == ["/371502/371502001"]
    assert admin.get_group_by_path("/371502/371502001")["attributes"]["tenant"] == ["371502001"]


def test_the_users_the_provider_started_with_are_in_the_directory(provider):
    admin = _admin(provider)
    uid = admin.get_user_id("demo.admin")
    assert admin.get_user(uid)["attributes"] == {"tenant": ["620602"]}
    assert [r["name"] for r in admin.get_realm_roles_of_user(uid)] == ["tenant_admin"]


def test_a_duplicate_an_unknown_role_and_a_missing_group_are_refused(provider):
    admin = _admin(provider)
    admin.create_user({"username": "dup.user", "firstName": "丙", "attributes": {"tenant": ["371502"]}})
    with pytest.raises(KeycloakPostError) as exc:
        admin.create_user({"username": "dup.user"})
    assert exc.value.response_code == 409
    with pytest.raises(KeycloakGetError) as exc:
        admin.get_realm_role("no_such_role")
    assert exc.value.response_code == 404
    with pytest.raises(KeycloakGetError) as exc:
        admin.get_group_by_path("/999999")
    assert exc.value.response_code == 404


def test_only_a_realm_administrator_gets_in(provider):
    base = f"{provider.url}/admin/realms/sanji/users"
    body = {"username": "intruder", "attributes": {"tenant": ["620602"]},
            "credentials": [{"type": "password", "value": "x"}]}
    assert httpx.post(base, json=body).status_code == 401                              # no token
    assert httpx.post(base, json=body, headers={"authorization": "Bearer not-a-jwt"}).status_code == 401
    # a person's token, even a tenant admin's, and a platform service's token are no administrator's
    person = login(provider.url, "demo.admin", "pw-demo")
    assert httpx.post(base, json=body, headers={"authorization": f"Bearer {person}"}).status_code == 403
    service = httpx.post(f"{provider.url}/realms/sanji/protocol/openid-connect/token",
                         data={"grant_type": "client_credentials", "client_id": "sanji-intake",
                               "client_secret": SERVICE_SECRET}).json()["access_token"]
    assert httpx.post(base, json=body, headers={"authorization": f"Bearer {service}"}).status_code == 403
    with pytest.raises(KeycloakAuthenticationError):
        _admin(provider, secret="wrong").get_users()
    # the mock's own door to rewrite a user stays shut, admin API or not
    assert httpx.put(f"{provider.url}/users/demo.admin", json={"claims": {"tenant": "371502"}}).status_code == 403
    with pytest.raises(PermissionError):
        login(provider.url, "intruder", "x")
