"""The Keycloak provisioning plan and the realm export (no Keycloak server runs on these machines).

The plan is pure and tested directly. ``apply`` is exercised against an in-memory stand-in that keeps
only the state the used ``KeycloakAdmin`` calls touch, to show that a re-run changes nothing.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from keycloak.exceptions import KeycloakGetError

from infra.demo.users import demo_users, load_tree_rows
from infra.keycloak.provision import (
    REALM_ROLES,
    AssignRoles,
    AssignServiceAccountRole,
    CreateGroup,
    CreateUser,
    EnsureRealmRole,
    EnsureUserProfileAttribute,
    JoinGroup,
    apply,
    group_path,
    plan,
)
from shared import registry

REALM = Path(__file__).resolve().parents[1] / "realm-sanji.json"
HUMAN_ROLES = {"window_clerk", "reviewer", "decider", "cashier", "agent", "complaint_handler", "supervisor",
               "tenant_admin", "head", "chief_representative"}


@pytest.fixture(scope="module")
def rows():
    return load_tree_rows()


@pytest.fixture(scope="module")
def users(rows):
    return demo_users(rows)


# ───────────── plan ─────────────

def test_group_paths_mirror_the_tree(rows, users):
    actions = plan(rows, users)
    groups = [a for a in actions if isinstance(a, CreateGroup)]
    assert len(groups) == len(rows) + 1          # the tree, and the province of its administrator (issue 23)
    by_path = {g.path: g for g in groups}
    assert (by_path["/62"].unit_name, by_path["/62"].unit_kind, by_path["/62"].parent_path) == ("甘肃省", "province",
                                                                                                 None)
    assert by_path["/620602"].unit_name == "凉州区" and by_path["/620602"].unit_kind == "county"
    assert by_path["/620602/620602001"].unit_name == "东大街街道"
    assert by_path["/620602/620602001/620602001001"].unit_kind == "village"
    seen: set[str] = set()
    for g in groups:
        assert g.path == group_path(g.tenant) and g.name == g.tenant
        assert g.attributes()["tenant"] == [g.tenant]
        assert g.path.split("/")[-1] == g.tenant
        # parents come first, and every parent is a group of the plan
        if g.parent_path:
            assert g.parent_path in seen, g.path
            assert g.tenant.startswith(g.parent_path.split("/")[-1])
        seen.add(g.path)
    assert sum(1 for g in groups if g.unit_kind == "township") >= 15
    assert sum(1 for g in groups if g.unit_kind == "village") >= 400


def test_every_user_gets_tenant_roles_and_group(rows, users):
    actions = plan(rows, users)
    created = {a.username: a for a in actions if isinstance(a, CreateUser)}
    roles = {a.username: a.roles for a in actions if isinstance(a, AssignRoles)}
    joins = {a.username: a.group_path for a in actions if isinstance(a, JoinGroup)}
    assert set(created) == set(roles) == set(joins) == {u["username"] for u in users}
    for u in users:
        c = created[u["username"]]
        assert c.attributes() == {"tenant": [u["tenant"]]}
        assert c.representation()["attributes"]["tenant"] == [u["tenant"]]
        assert c.representation()["firstName"] == u["name"] and c.password == u["password"]
        assert set(roles[u["username"]]) == set(u["roles"])
        assert joins[u["username"]] == group_path(u["tenant"])
    # password stays out of logs
    assert "sanji-demo" not in repr(next(iter(created.values())))
    # the realm roles and the machine clients' roles are part of it
    assert {a.name for a in actions if isinstance(a, EnsureRealmRole)} == set(REALM_ROLES)
    assert HUMAN_ROLES | {"province_platform", "service"} == set(REALM_ROLES)
    assert {(a.client_id, a.role) for a in actions if isinstance(a, AssignServiceAccountRole)} == {
        ("sanji-services", "service"), ("sanji-province", "province_platform"),
        *((f"sanji-{s.name}", "service") for s in registry.SERVICES)}
    assert sum(isinstance(a, EnsureUserProfileAttribute) for a in actions) == 1


def test_plan_is_deterministic_and_order_independent(rows, users):
    first = plan(rows, users)
    assert plan(rows, users) == first
    assert plan(list(reversed(rows)), list(reversed(users))) == first
    assert plan([(r["code"], r["name"]) for r in rows], users) == first


def test_plan_refuses_bad_input(rows, users):
    with pytest.raises(ValueError, match="tenant"):
        plan(rows, [{**users[0], "tenant": "620603"}])
    with pytest.raises(ValueError, match="roles"):
        plan(rows, [{**users[0], "roles": ["root"]}])
    with pytest.raises(ValueError, match="审核人与决定人"):
        plan(rows, [{**users[0], "roles": ["reviewer", "decider"]}])
    with pytest.raises(ValueError, match="duplicate"):
        plan(rows, [users[0], users[0]])
    with pytest.raises(ValueError, match="parent"):
        plan([{"code": "620602001001", "name": "南苑社区居委会"}], [])


# ───────────── apply, against an in-memory stand-in ─────────────

class FakeKeycloakAdmin:
    """Holds what the realm would hold; records every write."""

    def __init__(self, with_clients: bool = True) -> None:
        self._ids = (f"id-{n}" for n in itertools.count(1))
        self.roles: dict[str, dict] = {}
        self.profile: dict = {"attributes": [{"name": "username"}, {"name": "email"}]}
        self.groups: dict[str, dict] = {}      # path -> group
        self.users: dict[str, dict] = {}       # id -> user
        self.user_roles: dict[str, set[str]] = {}
        self.members: dict[str, set[str]] = {}  # user id -> group paths
        names = ["sanji-services", "sanji-province", *(f"sanji-{s.name}" for s in registry.SERVICES)]
        self.clients = {name: f"c-{i}" for i, name in enumerate(names, 1)} if with_clients else {}
        self.service_accounts = {cid: self._new_user(f"service-account-{name}")
                                 for name, cid in self.clients.items()}
        self.writes: list[str] = []

    def _new_user(self, username: str, **rep) -> str:
        uid = next(self._ids)
        self.users[uid] = {"id": uid, "username": username, **rep}
        self.user_roles[uid] = set()
        self.members[uid] = set()
        return uid

    def _write(self, what: str) -> None:
        self.writes.append(what)

    def get_realm_role(self, role_name):
        if role_name not in self.roles:
            raise KeycloakGetError("Could not find role", response_code=404)
        return self.roles[role_name]

    def create_realm_role(self, payload, skip_exists=False):
        self._write(f"role {payload['name']}")
        self.roles.setdefault(payload["name"], {"id": next(self._ids), **payload})
        return payload["name"]

    def get_realm_users_profile(self):
        return json.loads(json.dumps(self.profile))

    def update_realm_users_profile(self, payload):
        self._write("profile")
        self.profile = payload
        return payload

    def get_group_by_path(self, path):
        if path not in self.groups:
            raise KeycloakGetError("Group path does not exist", response_code=404)
        return self.groups[path]

    def create_group(self, payload, parent=None, skip_exists=False):
        parent_path = next((p for p, g in self.groups.items() if g["id"] == parent), "") if parent else ""
        path = f"{parent_path}/{payload['name']}"
        assert parent is None or parent_path, "unknown parent id"
        self._write(f"group {path}")
        gid = next(self._ids)
        self.groups[path] = {"id": gid, "name": payload["name"], "path": path,
                             "attributes": payload.get("attributes", {})}
        return gid

    def update_group(self, group_id, payload):
        self._write(f"update group {group_id}")
        group = next(g for g in self.groups.values() if g["id"] == group_id)
        group.update(payload)
        return {}

    def get_user_id(self, username):
        return next((uid for uid, u in self.users.items() if u["username"] == username), None)

    def create_user(self, payload, exist_ok=False):
        self._write(f"user {payload['username']}")
        declared = {a["name"] for a in self.profile["attributes"]}
        attributes = {k: v for k, v in payload.get("attributes", {}).items() if k in declared}
        return self._new_user(**{**payload, "attributes": attributes})

    def get_user(self, user_id, user_profile_metadata=False):
        return json.loads(json.dumps(self.users[user_id]))

    def update_user(self, user_id, payload):
        self._write(f"update user {user_id}")
        self.users[user_id].update(payload)
        return {}

    def set_user_password(self, user_id, password, temporary=True):
        self._write(f"password {user_id}")
        self.users[user_id]["password"] = password
        self.users[user_id]["temporary"] = temporary
        return {}

    def get_realm_roles_of_user(self, user_id):
        return [self.roles[r] for r in sorted(self.user_roles[user_id])]

    def assign_realm_roles(self, user_id, roles):
        self._write(f"assign {user_id}")
        for r in roles:
            assert "id" in r and r["name"] in self.roles, "role representations are required"
            self.user_roles[user_id].add(r["name"])
        return {}

    def get_user_groups(self, user_id, query=None, brief_representation=True):
        return [self.groups[p] for p in sorted(self.members[user_id])]

    def group_user_add(self, user_id, group_id):
        self._write(f"join {user_id}")
        self.members[user_id].add(next(p for p, g in self.groups.items() if g["id"] == group_id))
        return {}

    def get_client_id(self, client_id):
        return self.clients.get(client_id)

    def get_client_service_account_user(self, client_id):
        return self.users[self.service_accounts[client_id]]


def test_apply_builds_the_realm_and_a_rerun_changes_nothing(rows, users):
    small = [r for r in rows if r["code"] in ("620602", "620602001") or r["code"].startswith("620602001")]
    actions = plan(small, users)
    admin = FakeKeycloakAdmin()
    report = apply(actions, admin)
    assert report.created["group"] == len(small) + 1          # and the province group of province.admin
    assert report.created["user"] == len(users)
    assert set(admin.groups) == {group_path(r["code"]) for r in small} | {"/62"}
    for u in users:
        uid = admin.get_user_id(u["username"])
        stored = admin.users[uid]
        assert stored["attributes"] == {"tenant": [u["tenant"]]}, "tenant attribute was dropped"
        assert admin.user_roles[uid] == set(u["roles"])
        assert admin.members[uid] == {group_path(u["tenant"])}
        assert stored["password"] == u["password"]
    sa_roles = {name: admin.user_roles[admin.service_accounts[cid]] for name, cid in admin.clients.items()}
    assert sa_roles == {"sanji-services": {"service"}, "sanji-province": {"province_platform"},
                        **{f"sanji-{s.name}": {"service"} for s in registry.SERVICES}}

    writes = len(admin.writes)
    again = apply(actions, admin)
    assert admin.writes[writes:] == [], "a re-run must not write anything"
    assert again.created == {} and again.unchanged == len(actions)


def test_apply_repairs_a_changed_tenant_attribute(rows, users):
    small = [r for r in rows if r["code"].startswith("620602001") or r["code"] == "620602"]
    actions = plan(small, users)
    admin = FakeKeycloakAdmin()
    apply(actions, admin)
    uid = admin.get_user_id("county.clerk")
    admin.users[uid]["attributes"] = {"tenant": ["620602001"], "phone": ["0935-5550000"]}
    report = apply(actions, admin)
    assert report.created == {"user_updated": 1}
    assert admin.users[uid]["attributes"] == {"tenant": ["620602"], "phone": ["0935-5550000"]}


def test_apply_needs_the_imported_clients(rows):
    actions = plan([{"code": "620602", "name": "凉州区"}], [])
    with pytest.raises(LookupError, match="realm-sanji.json"):
        apply(actions, FakeKeycloakAdmin(with_clients=False))


# ───────────── realm export ─────────────

@pytest.fixture(scope="module")
def realm() -> dict:
    return json.loads(REALM.read_text(encoding="utf-8"))


def _scope(realm: dict, name: str) -> dict:
    return next(s for s in realm["clientScopes"] if s["name"] == name)


def _mapper(scope: dict, mapper_type: str) -> dict:
    found = [m for m in scope["protocolMappers"] if m["protocolMapper"] == mapper_type]
    assert len(found) == 1, (scope["name"], mapper_type)
    return found[0]


def test_realm_basics(realm):
    assert realm["realm"] == "sanji" and realm["enabled"] is True
    assert realm["defaultSignatureAlgorithm"] == "RS256"
    assert {r["name"] for r in realm["roles"]["realm"]} == set(REALM_ROLES)
    assert "users" not in realm and "groups" not in realm, "users and groups are provisioned, not imported"


def test_tenant_claim_mapper(realm):
    platform = _scope(realm, "sanji-platform")
    tenant = next(m for m in platform["protocolMappers"] if m["config"].get("claim.name") == "tenant")
    assert tenant["protocolMapper"] == "oidc-usermodel-attribute-mapper"
    cfg = tenant["config"]
    assert cfg["user.attribute"] == "tenant" and cfg["jsonType.label"] == "String"
    assert cfg["access.token.claim"] == cfg["id.token.claim"] == cfg["userinfo.token.claim"] == "true"
    assert cfg.get("multivalued", "false") == "false"


def test_audience_and_groups_mappers(realm):
    platform = _scope(realm, "sanji-platform")
    aud = _mapper(platform, "oidc-audience-mapper")["config"]
    assert aud["included.custom.audience"] == "sanji-platform" and aud["access.token.claim"] == "true"
    groups = _mapper(platform, "oidc-group-membership-mapper")["config"]
    assert groups["claim.name"] == "groups" and groups["full.path"] == "false"


def test_realm_roles_in_realm_access(realm):
    roles = _mapper(_scope(realm, "roles"), "oidc-usermodel-realm-role-mapper")["config"]
    assert roles["claim.name"] == "realm_access.roles"
    assert roles["multivalued"] == "true" and roles["access.token.claim"] == "true"
    # subject claim (Keycloak ≥ 25 puts `sub` in the basic scope)
    _mapper(_scope(realm, "basic"), "oidc-sub-mapper")


def test_default_scopes_and_clients(realm):
    for name in ("sanji-platform", "roles", "basic", "profile"):
        assert name in realm["defaultDefaultClientScopes"]
    clients = {c["clientId"]: c for c in realm["clients"]}
    console = clients["sanji-console"]
    assert console["publicClient"] is True and console["standardFlowEnabled"] is True
    assert console["redirectUris"] == ["http://127.0.0.1:8000/*"]
    assert console["attributes"]["pkce.code.challenge.method"] == "S256"
    assert {"sanji-platform", "roles"} <= set(console["defaultClientScopes"])
    for client_id in ("sanji-services", "sanji-province", *(f"sanji-{s.name}" for s in registry.SERVICES)):
        c = clients[client_id]
        assert c["publicClient"] is False and c["serviceAccountsEnabled"] is True
        assert c["standardFlowEnabled"] is False and c["secret"].startswith("CHANGE-ME")
        assert {"sanji-platform", "roles"} <= set(c["defaultClientScopes"])
    scopes = {s["name"] for s in realm["clientScopes"]}
    for c in realm["clients"]:
        assert set(c["defaultClientScopes"]) <= scopes


def test_user_profile_declares_tenant(realm):
    provider = realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    tenant = next(a for a in profile["attributes"] if a["name"] == "tenant")
    assert tenant["permissions"]["edit"] == ["admin"], "users must not change their own tenant"
    assert {a["name"] for a in profile["attributes"]} >= {"username", "email", "firstName", "lastName"}


def test_an_onboarded_users_initial_password_is_temporary_and_the_demos_is_not(rows, users):
    """An initial password handed out on a sheet (infra.onboard marks it temporary_password) is set temporary, so
    Keycloak asks for a new one at the first login; the demo users' passwords stay as they are."""
    small = [r for r in rows if r["code"] in ("620602", "620602001")]
    staff = [{"username": "new.clerk", "name": "新同事", "tenant": "620602001", "roles": ["window_clerk"],
              "password": "initial-Pw-123", "temporary_password": True}]
    demo = [u for u in users if u["tenant"] in ("620602", "620602001")][:1]
    actions = plan(small, staff + demo)
    assert {a.username: a.temporary for a in actions if isinstance(a, CreateUser)} == \
        {"new.clerk": True, demo[0]["username"]: False}
    admin = FakeKeycloakAdmin()
    apply(actions, admin)
    assert admin.users[admin.get_user_id("new.clerk")]["temporary"] is True
    assert admin.users[admin.get_user_id(demo[0]["username"])]["temporary"] is False
    assert "initial-Pw-123" not in repr([a for a in actions if isinstance(a, CreateUser)])
