"""Identity brokering in the loopback provider, the whole login over HTTP (issue 18): the county's realm brokers
the province's realm as the realm export configures it (infra/keycloak/realm-sanji.json, `province-62`, its
URLs pointed at a loopback province realm). A real authorization-code + PKCE login with `kc_idp_hint`: the
browser goes to the province's login page, back through the county realm's broker endpoint, and the first
broker login creates the person in the county realm with the province as tenant and NO role; later logins
reuse the linked user; another province's people are refused; roles the county's administrator gives later
appear in the next token."""

from __future__ import annotations

import json
import pathlib
import secrets
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from keycloak import KeycloakAdmin

from infra.oidc.broker import IdentityProvider
from infra.oidc.client import login
from infra.oidc.provider import ProviderServer
from shared.auth import TokenVerifier
from shared.tenancy import Role

REALM = pathlib.Path(__file__).resolve().parents[2] / "keycloak" / "realm-sanji.json"
ADMIN_CLIENT, ADMIN_SECRET = "sanji-admin", secrets.token_urlsafe(24)
ALIAS = "province-62"
COUNTY_ADMIN = {"username": "county.admin", "password": "pw-admin", "name": "县管理员", "tenant": "620602",
                "roles": ["tenant_admin"]}
GANSU_PEOPLE = [{"username": f"portal.{n}", "password": f"pw-{n}", "name": name, "tenant": "62", "roles": [],
                 "email": f"{n}@example.gov.cn"}
                for n, name in (("zhangsan", "张三"), ("lisi", "李四"), ("wangwu", "王五"), ("zhaoliu", "赵六"),
                                ("sunqi", "孙七"))]
SICHUAN_PEOPLE = [{"username": "portal.zhouba", "password": "pw-zhouba", "name": "周八", "tenant": "51",
                   "roles": []}]


@pytest.fixture(scope="module")
def gansu():
    """The province's own realm (the provincial portal's login), on loopback."""
    server = ProviderServer(GANSU_PEOPLE, realm="gansu").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sichuan():
    server = ProviderServer(SICHUAN_PEOPLE, realm="sichuan").start()
    yield server
    server.stop()


def province_idp(server) -> IdentityProvider:
    """The realm export's province-62 entry and its mappers, its URLs at the loopback province realm."""
    export = json.loads(REALM.read_text(encoding="utf-8"))
    [idp] = [p for p in export["identityProviders"] if p["alias"] == ALIAS]
    base = f"{server.url}/realms/gansu"
    return IdentityProvider.from_export(
        idp, export["identityProviderMappers"], issuer=base,
        authorization_url=f"{base}/protocol/openid-connect/auth", token_url=f"{base}/protocol/openid-connect/token",
        jwks_url=f"{base}/protocol/openid-connect/certs", client_secret="loopback-secret")


@pytest.fixture(scope="module")
def county(gansu):
    server = ProviderServer([COUNTY_ADMIN], admin_clients={ADMIN_CLIENT: ADMIN_SECRET},
                            identity_providers=[province_idp(gansu)]).start()
    yield server
    server.stop()


def admin(county) -> KeycloakAdmin:
    return KeycloakAdmin(server_url=county.url, realm_name="sanji", client_id=ADMIN_CLIENT,
                         client_secret_key=ADMIN_SECRET)


def claims(county, token: str) -> dict:
    """The token's claims as a service verifies them (the county realm's key, issuer and audience)."""
    TokenVerifier(county.url, "sanji", audience="sanji-platform").verify(token)
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_first_broker_login_creates_the_person_with_the_province_and_no_role(county, gansu):
    token = login(county.url, "portal.zhangsan", "pw-zhangsan", idp_hint=ALIAS)
    c = claims(county, token)
    assert c["iss"] == f"{county.url}/realms/sanji"                   # the county realm's token, not the province's
    assert c["preferred_username"] == "province-62.portal.zhangsan"
    assert (c["tenant"], c["name"], c["identity_provider"]) == ("62", "张三", ALIAS)
    assert c["realm_access"]["roles"] == []                           # no role mapper: no rights yet
    person = TokenVerifier(county.url, "sanji", audience="sanji-platform").verify(token)
    assert str(person.tenant) == "62" and not person.roles
    kc = admin(county)
    uid = kc.get_user_id("province-62.portal.zhangsan")
    assert kc.get_realm_roles_of_user(uid) == []
    [link] = kc.get_user_social_logins(uid)
    assert (link["identityProvider"], link["userId"]) == (ALIAS, "portal.zhangsan")


def test_a_second_login_reuses_the_linked_user(county):
    first = claims(county, login(county.url, "portal.lisi", "pw-lisi", idp_hint=ALIAS))
    kc = admin(county)
    uid = kc.get_user_id("province-62.portal.lisi")
    again = claims(county, login(county.url, "portal.lisi", "pw-lisi", idp_hint=ALIAS))
    assert again["sub"] == first["sub"] and again["preferred_username"] == first["preferred_username"]
    assert kc.get_user_id("province-62.portal.lisi") == uid
    assert len([u for u in kc.get_users({"username": "province-62.portal.lisi"})]) == 1
    # the province's password is the province's: the county realm has none for the brokered person
    with pytest.raises(PermissionError):
        login(county.url, "province-62.portal.lisi", "pw-lisi")


def test_roles_the_county_admin_assigns_afterwards_appear_in_the_next_token(county):
    login(county.url, "portal.wangwu", "pw-wangwu", idp_hint=ALIAS)
    kc = admin(county)
    uid = kc.get_user_id("province-62.portal.wangwu")
    kc.assign_realm_roles(uid, [kc.get_realm_role(str(Role.REVIEWER))])
    c = claims(county, login(county.url, "portal.wangwu", "pw-wangwu", idp_hint=ALIAS))
    assert c["realm_access"]["roles"] == [str(Role.REVIEWER)] and c["identity_provider"] == ALIAS
    assert c["tenant"] == "62"                 # the export's mapper forces the province as tenant at each login


def test_a_user_the_admin_linked_beforehand_is_used_and_a_same_named_account_is_not_taken_over(county):
    kc = admin(county)
    # linked by the administrator (Keycloak's users/{id}/federated-identity): the broker login is that user
    kc.create_user({"username": "sunqi.county", "firstName": "孙七", "enabled": True,
                    "attributes": {"tenant": ["620602"]}})
    uid = kc.get_user_id("sunqi.county")
    kc.add_user_social_login(uid, ALIAS, "portal.sunqi", "portal.sunqi")
    c = claims(county, login(county.url, "portal.sunqi", "pw-sunqi", idp_hint=ALIAS))
    assert (c["preferred_username"], c["identity_provider"]) == ("sunqi.county", ALIAS)
    assert kc.get_users({"username": "province-62.portal.sunqi", "exact": True}) == []
    # an account that merely has the name a broker login would make is not taken over
    kc.create_user({"username": "province-62.portal.zhaoliu", "enabled": True,
                    "attributes": {"tenant": ["620602"]}})
    with pytest.raises(PermissionError, match="HTTP 400"):
        login(county.url, "portal.zhaoliu", "pw-zhaoliu", idp_hint=ALIAS)
    assert kc.get_user_social_logins(kc.get_user_id("province-62.portal.zhaoliu")) == []


def test_another_provinces_idp_and_its_people_are_refused(county, sichuan):
    kc = admin(county)
    before = len(kc.get_users({}))
    # a provider the county realm does not broker
    with pytest.raises(PermissionError, match="HTTP 400") as e:
        login(county.url, "portal.zhouba", "pw-zhouba", idp_hint="province-51")
    assert "未配置身份提供者" in str(e.value)
    # Sichuan's person at Gansu's login page: unknown there
    with pytest.raises(PermissionError):
        login(county.url, "portal.zhouba", "pw-zhouba", idp_hint=ALIAS)
    # Sichuan's code carried back to the county realm's province-62 endpoint with a state the county issued:
    # redeemed at Gansu's token endpoint, it is refused there, and nobody is created
    with httpx.Client(timeout=10) as browser:
        away = browser.get(f"{county.url}/realms/sanji/protocol/openid-connect/auth", params={
            "response_type": "code", "client_id": "sanji-console", "redirect_uri": "http://127.0.0.1:8000/cb",
            "scope": "openid", "state": "s", "code_challenge": "x" * 43, "code_challenge_method": "S256",
            "kc_idp_hint": ALIAS}, follow_redirects=True)
        ask = parse_qs(urlparse(str(away.url)).query)
        callback, state = ask["redirect_uri"][0], ask["state"][0]
        foreign = browser.post(f"{sichuan.url}/oauth2/authorize?" + str(httpx.QueryParams({
            "response_type": "code", "client_id": ask["client_id"][0], "redirect_uri": callback,
            "scope": "openid profile", "state": state, "nonce": ask["nonce"][0],
            "code_challenge": ask["code_challenge"][0], "code_challenge_method": "S256"})),
            data={"sub": "portal.zhouba", "password": "pw-zhouba"})
        assert foreign.status_code == 302
        back = browser.get(foreign.headers["location"])
        assert back.status_code == 400 and "拒绝" in back.text
        # and the state is spent: the same callback again is refused as well
        again = browser.get(foreign.headers["location"])
        assert again.status_code == 400 and "已过期" in again.text
    assert len(kc.get_users({})) == before


def test_a_forged_callback_and_a_bad_client_request_create_nobody(county):
    kc = admin(county)
    before = len(kc.get_users({}))
    with httpx.Client(timeout=10) as browser:
        r = browser.get(f"{county.url}/realms/sanji/broker/{ALIAS}/endpoint", params={"code": "x", "state": "y"})
        assert r.status_code == 400 and "已过期" in r.text
        # without PKCE the client's request is refused before anyone is sent to the province
        r = browser.get(f"{county.url}/realms/sanji/protocol/openid-connect/auth", follow_redirects=True, params={
            "response_type": "code", "client_id": "sanji-console", "redirect_uri": "http://127.0.0.1:8000/cb",
            "kc_idp_hint": ALIAS})
        assert r.status_code == 400 and "PKCE" in r.text
    assert len(kc.get_users({})) == before


def test_the_county_login_page_offers_the_province_login(county):
    r = httpx.get(f"{county.url}/realms/sanji/protocol/openid-connect/auth", follow_redirects=True, params={
        "response_type": "code", "client_id": "sanji-console", "redirect_uri": "http://127.0.0.1:8000/cb",
        "scope": "openid", "code_challenge": "x" * 43, "code_challenge_method": "S256"})
    assert r.status_code == 200 and "使用甘肃政务服务网统一身份认证（省级平台）账号登录" in r.text
    assert f"kc_idp_hint={ALIAS}" in r.text


def test_a_role_mapper_is_never_taken():
    export = json.loads(REALM.read_text(encoding="utf-8"))
    [idp] = [p for p in export["identityProviders"] if p["alias"] == ALIAS]
    mapper = {"name": "roles", "identityProviderAlias": ALIAS, "identityProviderMapper": "oidc-role-idp-mapper",
              "config": {"claim": "roles", "role": "reviewer"}}
    with pytest.raises(ValueError, match="not supported"):
        IdentityProvider.from_export(idp, [*export["identityProviderMappers"], mapper])


def test_the_realm_export_puts_the_identity_provider_in_the_token():
    """Keycloak notes the provider of a brokered login in the user session; the export's platform scope maps that
    note to the `identity_provider` claim, as the loopback realm issues it."""
    export = json.loads(REALM.read_text(encoding="utf-8"))
    [scope] = [s for s in export["clientScopes"] if s["name"] == "sanji-platform"]
    [mapper] = [m for m in scope["protocolMappers"] if m["name"] == "identity_provider"]
    assert mapper["protocolMapper"] == "oidc-usersessionmodel-note-mapper"
    assert mapper["config"]["user.session.note"] == mapper["config"]["claim.name"] == "identity_provider"
    assert mapper["config"]["access.token.claim"] == "true"
