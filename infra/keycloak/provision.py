"""Provision a Keycloak realm from the tenant tree: groups mirroring the tree, and the demo users.

    python -m infra.keycloak.provision --server-url https://id.example.gov.cn --realm sanji \\
        --admin-user admin --admin-password-file /run/secrets/kc-admin [--dry-run]

The work is split in two so that the interesting part can be tested without a Keycloak server:

- ``plan(tree_rows, users)`` is pure: it turns the tenant tree (``code,name`` rows) and the users into a
  list of actions — realm roles, the ``tenant`` user-profile attribute, one group per unit
  (``/620602/620602001/620602001001``, attribute ``tenant`` = the division code), users with the
  ``tenant`` attribute, their realm roles and group membership, and the machine clients' service-account
  roles;
- ``apply(actions, admin)`` executes them against ``python-keycloak``'s ``KeycloakAdmin``, idempotently:
  each action looks first and only creates or changes what is missing, so it can be re-run after a
  failure or when the tree grows.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shared import registry
from shared.tenancy import Role

log = logging.getLogger("sanji.keycloak.provision")

# DESIGN §4: the human roles plus the two machine roles
# the realm roles are the platform's roles (shared.tenancy.Role), nothing more
REALM_ROLES: dict[str, str] = {str(r): r.label for r in Role}
# machine clients of the realm export and the realm role each one's service account holds
SERVICE_ACCOUNT_ROLES: dict[str, str] = {"sanji-services": "service", "sanji-province": "province_platform",
                                         # each service's own identity for internal methods (shared.auth)
                                         **{f"sanji-{s.name}": "service" for s in registry.SERVICES}}

TENANT_ATTRIBUTE: dict[str, Any] = {
    "name": "tenant",
    "displayName": "所属单位区划代码",
    "validations": {"pattern": {"pattern": r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$",
                                "error-message": "区划代码应为 2、4、6、9 或 12 位数字"}},
    "required": {"roles": ["admin"]},
    "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
    "multivalued": False,
}

_KIND = {6: "county", 9: "township", 12: "village"}


# ───────────────────────────── actions ─────────────────────────────

@dataclass(frozen=True)
class EnsureRealmRole:
    name: str
    description: str


@dataclass(frozen=True)
class EnsureUserProfileAttribute:
    """Keycloak ≥ 24 drops attributes its user profile does not declare: declare ``tenant``."""

    definition: Mapping[str, Any] = field(default_factory=lambda: TENANT_ATTRIBUTE, compare=False, hash=False)
    name: str = "tenant"


@dataclass(frozen=True)
class CreateGroup:
    path: str                 # /620602/620602001
    name: str                 # the division code
    tenant: str
    unit_name: str            # 东大街街道
    unit_kind: str            # county / township / village

    @property
    def parent_path(self) -> str | None:
        head, _, _ = self.path.rpartition("/")
        return head or None

    def attributes(self) -> dict[str, list[str]]:
        return {"tenant": [self.tenant], "unit_name": [self.unit_name], "unit_kind": [self.unit_kind]}


@dataclass(frozen=True)
class CreateUser:
    username: str
    email: str
    full_name: str
    tenant: str
    password: str = field(repr=False)
    enabled: bool = True
    # an initial password handed out on a sheet (python -m infra.onboard): Keycloak asks for a new one at the first
    # login (its required action UPDATE_PASSWORD, on the console's authorization-code login page)
    temporary: bool = False

    def attributes(self) -> dict[str, list[str]]:
        return {"tenant": [self.tenant]}

    def representation(self) -> dict[str, Any]:
        # Chinese names are not split into given/family name: the whole 姓名 goes to firstName, so the
        # token's `name` claim reads 王丽娟 and not "丽娟 王".
        return {"username": self.username, "email": self.email, "emailVerified": True,
                "firstName": self.full_name, "enabled": self.enabled, "attributes": self.attributes()}


@dataclass(frozen=True)
class AssignRoles:
    username: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class JoinGroup:
    username: str
    group_path: str


@dataclass(frozen=True)
class AssignServiceAccountRole:
    client_id: str
    role: str


Action = (EnsureRealmRole | EnsureUserProfileAttribute | CreateGroup | CreateUser | AssignRoles | JoinGroup
          | AssignServiceAccountRole)


# ───────────────────────────── planning (pure) ─────────────────────────────

def _pairs(tree_rows: Iterable[Mapping[str, str] | Sequence[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in tree_rows:
        code, name = (row["code"], row["name"]) if isinstance(row, Mapping) else (row[0], row[1])
        out[str(code).strip()] = str(name).strip()
    return out


def group_path(code: str) -> str:
    """The group path of a unit: its county, township and village codes (``/620602/620602001``); a province's own
    staff (a 2-digit tenant, issue 23) sit in a top-level group of the province (``/62``)."""
    if len(code) == 2 and code.isdigit():
        return f"/{code}"
    if len(code) not in _KIND:
        raise ValueError(f"not a county, township or village code: {code!r}")
    parts = [code[:n] for n in (6, 9, 12) if n <= len(code)]
    return "/" + "/".join(parts)


def plan(tree_rows: Iterable[Mapping[str, str] | Sequence[str]],
         users: Iterable[Mapping[str, Any]]) -> list[Action]:
    """Everything the realm needs for this tree and these users, parents before children."""
    units = _pairs(tree_rows)
    actions: list[Action] = [EnsureRealmRole(n, d) for n, d in REALM_ROLES.items()]
    actions.append(EnsureUserProfileAttribute())
    for code in sorted(units, key=lambda c: (len(c), c)):
        if len(code) not in _KIND:
            raise ValueError(f"unexpected division code in the tenant tree: {code!r}")
        if len(code) > 6 and code[:6] not in units or len(code) == 12 and code[:9] not in units:
            raise ValueError(f"unit {code} has no parent in the tenant tree")
        actions.append(CreateGroup(group_path(code), code, code, units[code], _KIND[len(code)]))

    user_actions: list[Action] = []
    seen: set[str] = set()
    for u in sorted(users, key=lambda u: u["username"]):
        username = u["username"]
        if username in seen:
            raise ValueError(f"duplicate user {username}")
        seen.add(username)
        tenant = str(u["tenant"])
        if tenant not in units and len(tenant) == 2 and tenant.isdigit():
            # the province's administrator, above the county trees (its group once, before its users join it)
            units[tenant] = u.get("tenant_name") or tenant
            actions.append(CreateGroup(group_path(tenant), tenant, tenant, units[tenant], "province"))
        if tenant not in units:
            raise ValueError(f"user {username}: tenant {tenant} is not in the tenant tree")
        roles = tuple(sorted(set(u["roles"])))
        unknown = set(roles) - set(REALM_ROLES)
        if unknown:
            raise ValueError(f"user {username}: unknown roles {sorted(unknown)}")
        if {"reviewer", "decider"} <= set(roles):
            raise ValueError(f"user {username}: the same person may not review and decide (审核人与决定人分离)")
        user_actions += [
            CreateUser(username, u.get("email", ""), u["name"], tenant, u.get("password", ""),
                       temporary=bool(u.get("temporary_password", False))),
            AssignRoles(username, roles),
            JoinGroup(username, group_path(tenant)),
        ]
    actions += user_actions
    actions += [AssignServiceAccountRole(c, r) for c, r in SERVICE_ACCOUNT_ROLES.items()]
    return actions


def summarize(actions: Sequence[Action]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in actions:
        out[type(a).__name__] = out.get(type(a).__name__, 0) + 1
    return out


# ───────────────────────────── applying ─────────────────────────────

class KeycloakAdminPort(Protocol):
    """The part of ``keycloak.KeycloakAdmin`` (python-keycloak 7.x) that ``apply`` uses."""

    def create_realm_role(self, payload: dict, skip_exists: bool = False) -> str: ...
    def get_realm_users_profile(self) -> dict: ...
    def update_realm_users_profile(self, payload: dict) -> dict: ...
    def get_group_by_path(self, path: str) -> dict: ...
    def create_group(self, payload: dict, parent: str | None = None, skip_exists: bool = False) -> str | None: ...
    def update_group(self, group_id: str, payload: dict) -> dict: ...
    def get_user_id(self, username: str) -> str | None: ...
    def create_user(self, payload: dict, exist_ok: bool = False) -> str: ...
    def get_user(self, user_id: str, user_profile_metadata: bool = False) -> dict: ...
    def update_user(self, user_id: str, payload: dict) -> dict: ...
    def set_user_password(self, user_id: str, password: str, temporary: bool = True) -> dict: ...
    def get_realm_role(self, role_name: str) -> dict: ...
    def get_realm_roles_of_user(self, user_id: str) -> list: ...
    def assign_realm_roles(self, user_id: str, roles: str | list) -> dict: ...
    def get_user_groups(self, user_id: str, query: dict | None = None, brief_representation: bool = True) -> list: ...
    def group_user_add(self, user_id: str, group_id: str) -> dict: ...
    def get_client_id(self, client_id: str) -> str | None: ...
    def get_client_service_account_user(self, client_id: str) -> dict: ...


def _is_not_found(exc: Exception) -> bool:
    return getattr(exc, "response_code", None) == 404


@dataclass
class ApplyReport:
    created: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    passwords_set: list[str] = field(default_factory=list)   # the usernames whose password this run set

    def count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1


class _Applier:
    def __init__(self, admin: KeycloakAdminPort, reset_passwords: bool) -> None:
        self.admin = admin
        self.reset_passwords = reset_passwords
        self.group_ids: dict[str, str] = {}
        self.user_ids: dict[str, str] = {}
        self.role_reps: dict[str, dict] = {}
        self.report = ApplyReport()

    # groups
    def _find_group(self, path: str) -> dict | None:
        from keycloak.exceptions import KeycloakGetError

        try:
            return self.admin.get_group_by_path(path)
        except KeycloakGetError as exc:
            if _is_not_found(exc):
                return None
            raise

    def group_id(self, path: str) -> str:
        if path not in self.group_ids:
            found = self._find_group(path)
            if found is None:
                raise LookupError(f"group {path} does not exist")
            self.group_ids[path] = found["id"]
        return self.group_ids[path]

    def create_group(self, a: CreateGroup) -> None:
        found = self._find_group(a.path)
        if found is not None:
            self.group_ids[a.path] = found["id"]
            if (found.get("attributes") or {}) != a.attributes():
                self.admin.update_group(found["id"], {"name": a.name, "attributes": a.attributes()})
                self.report.count("group_updated")
            else:
                self.report.unchanged += 1
            return
        parent = self.group_id(a.parent_path) if a.parent_path else None
        new_id = self.admin.create_group({"name": a.name, "attributes": a.attributes()}, parent=parent,
                                         skip_exists=True)
        self.group_ids[a.path] = new_id or self.group_id(a.path)
        self.report.count("group")

    # users
    def user_id(self, username: str) -> str:
        if username not in self.user_ids:
            uid = self.admin.get_user_id(username)
            if uid is None:
                raise LookupError(f"user {username} does not exist")
            self.user_ids[username] = uid
        return self.user_ids[username]

    def create_user(self, a: CreateUser) -> None:
        uid = self.admin.get_user_id(a.username)
        rep = a.representation()
        if uid is None:
            uid = self.admin.create_user(rep, exist_ok=True)
            self.admin.set_user_password(uid, a.password, temporary=a.temporary)
            self.report.passwords_set.append(a.username)
            self.report.count("user")
        else:
            current = self.admin.get_user(uid)
            if any(current.get(k) != v for k, v in rep.items() if k != "attributes") or \
                    (current.get("attributes") or {}).get("tenant") != [a.tenant]:
                attributes = dict(current.get("attributes") or {})
                attributes.update(a.attributes())
                self.admin.update_user(uid, {**rep, "attributes": attributes})
                self.report.count("user_updated")
            else:
                self.report.unchanged += 1
            if self.reset_passwords and a.password:
                self.admin.set_user_password(uid, a.password, temporary=a.temporary)
                self.report.passwords_set.append(a.username)
        self.user_ids[a.username] = uid

    def role(self, name: str) -> dict:
        if name not in self.role_reps:
            self.role_reps[name] = self.admin.get_realm_role(name)
        return self.role_reps[name]

    def _assign(self, uid: str, roles: Iterable[str]) -> int:
        have = {r["name"] for r in self.admin.get_realm_roles_of_user(uid)}
        missing = [self.role(r) for r in roles if r not in have]
        if missing:
            self.admin.assign_realm_roles(uid, missing)
        return len(missing)

    def assign_roles(self, a: AssignRoles) -> None:
        n = self._assign(self.user_id(a.username), a.roles)
        for _ in range(n):
            self.report.count("role_mapping")
        if not n:
            self.report.unchanged += 1

    def join_group(self, a: JoinGroup) -> None:
        uid = self.user_id(a.username)
        paths = {g.get("path") for g in self.admin.get_user_groups(uid)}
        if a.group_path in paths:
            self.report.unchanged += 1
            return
        self.admin.group_user_add(uid, self.group_id(a.group_path))
        self.report.count("membership")

    def service_account_role(self, a: AssignServiceAccountRole) -> None:
        cid = self.admin.get_client_id(a.client_id)
        if cid is None:
            raise LookupError(f"client {a.client_id} does not exist: import realm-sanji.json first")
        sa = self.admin.get_client_service_account_user(cid)
        if self._assign(sa["id"], [a.role]):
            self.report.count("service_account_role")
        else:
            self.report.unchanged += 1

    def ensure_role(self, a: EnsureRealmRole) -> None:
        from keycloak.exceptions import KeycloakGetError

        try:
            self.role_reps[a.name] = self.admin.get_realm_role(a.name)
            self.report.unchanged += 1
        except KeycloakGetError as exc:
            if not _is_not_found(exc):
                raise
            self.admin.create_realm_role({"name": a.name, "description": a.description}, skip_exists=True)
            self.report.count("realm_role")

    def ensure_profile_attribute(self, a: EnsureUserProfileAttribute) -> None:
        profile = self.admin.get_realm_users_profile()
        attributes = profile.get("attributes") or []
        if any(attr.get("name") == a.name for attr in attributes):
            self.report.unchanged += 1
            return
        self.admin.update_realm_users_profile({**profile, "attributes": [*attributes, dict(a.definition)]})
        self.report.count("profile_attribute")

    def run(self, action: Action) -> None:
        match action:
            case EnsureRealmRole():
                self.ensure_role(action)
            case EnsureUserProfileAttribute():
                self.ensure_profile_attribute(action)
            case CreateGroup():
                self.create_group(action)
            case CreateUser():
                self.create_user(action)
            case AssignRoles():
                self.assign_roles(action)
            case JoinGroup():
                self.join_group(action)
            case AssignServiceAccountRole():
                self.service_account_role(action)
            case _:
                raise TypeError(f"unknown action {action!r}")


def apply(actions: Sequence[Action], admin: KeycloakAdminPort, *, reset_passwords: bool = False) -> ApplyReport:
    """Execute the plan; safe to re-run (existing groups, users, roles and memberships are kept)."""
    applier = _Applier(admin, reset_passwords)
    for action in actions:
        applier.run(action)
    return applier.report


# ───────────────────────────── command line ─────────────────────────────

def _read_tree(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{"code": r["code"], "name": r["name"]} for r in csv.DictReader(fh)]


def main(argv: list[str] | None = None) -> int:
    from infra.demo.users import DIVISIONS_CSV, demo_users

    ap = argparse.ArgumentParser(description="Create the tenant-tree groups and demo users in a Keycloak realm.")
    ap.add_argument("--server-url", default="http://127.0.0.1:8080", help="Keycloak base URL")
    ap.add_argument("--realm", default="sanji", help="realm to provision (import realm-sanji.json first)")
    ap.add_argument("--admin-realm", default="master", help="realm of the administrator account")
    ap.add_argument("--admin-user", default="admin")
    ap.add_argument("--admin-password-file", type=Path,
                    help="file holding the administrator's password (prompted for when absent)")
    ap.add_argument("--admin-client-id", default="admin-cli")
    ap.add_argument("--ca-bundle", help="CA bundle for TLS verification (default: system CAs)")
    ap.add_argument("--divisions", type=Path, default=DIVISIONS_CSV, help="tenant tree CSV (code,name)")
    ap.add_argument("--no-demo-users", action="store_true", help="create the groups only")
    ap.add_argument("--reset-passwords", action="store_true", help="set the demo passwords again on existing users")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    rows = _read_tree(args.divisions)
    users = [] if args.no_demo_users else demo_users(rows)
    actions = plan(rows, users)
    print(f"plan: {summarize(actions)}")
    if args.dry_run:
        for a in actions:
            print(f"  {a}")
        return 0

    from keycloak import KeycloakAdmin  # composition root: built here, never at import time

    password = (args.admin_password_file.read_text(encoding="utf-8").strip() if args.admin_password_file
                else getpass.getpass(f"{args.admin_user}@{args.server_url} password: "))
    admin = KeycloakAdmin(server_url=args.server_url, username=args.admin_user, password=password,
                          realm_name=args.realm, user_realm_name=args.admin_realm,
                          client_id=args.admin_client_id, verify=args.ca_bundle or True)
    report = apply(actions, admin, reset_passwords=args.reset_passwords)
    print(f"created/changed: {report.created}; already in place: {report.unchanged}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
