"""The loopback provider's administration API: the part of Keycloak's Admin REST API
(`/admin/realms/<realm>/…`) that provisioning uses, so `infra.keycloak.provision.apply` and the county
onboarding (`python -m infra.onboard`) add staff at run time through python-keycloak's `KeycloakAdmin`
against this provider exactly as against a real Keycloak.

Only an administrator gets in: a bearer token this provider signed, unexpired, of this realm, issued by the
client-credentials grant to a client of `admin_clients` (its token carries `realm-management`'s
`realm-admin` role, as a Keycloak service account with that role does). Everything else is 401 or 403; the
mock's own unauthenticated `PUT /users/<sub>` (issue 15) stays closed.

What it keeps: users (id, username, firstName, email, enabled, attributes — `tenant` among them), their
password, realm-role mappings and group memberships; groups (a tree by path, with attributes); the links of
users to the people of brokered identity providers (`federated-identity`, infra/oidc/broker.py). A user
created or changed here can log in at once, with the `tenant` claim and roles the admin gave.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import flask
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from oidc_provider_mock import User

ADMIN_ROLE = "realm-admin"
MANAGEMENT_CLIENT = "realm-management"
NAMESPACE = uuid.UUID("5a9b7c1e-7d1e-4c55-9a0b-2f3d0e1c6a23")


def user_id(username: str) -> str:
    """A user's id: stable for the users the provider starts with, so an id read once stays valid."""
    return str(uuid.uuid5(NAMESPACE, f"user:{username}"))


class Directory:
    """Users and groups of the realm, and what a login needs of them (claims, passwords)."""

    def __init__(self, users: list[dict], realm_roles: dict[str, str]):
        self.realm_roles = dict(realm_roles)
        self.users: dict[str, dict[str, Any]] = {}
        self.passwords: dict[str, str] = {}
        self.roles: dict[str, set[str]] = {}
        self.groups: dict[str, dict[str, Any]] = {}          # id → {id, name, path, attributes, parent}
        self.members: dict[str, set[str]] = {}               # user id → group ids
        # identity brokering (infra/oidc/broker.py): (provider alias, the person's subject there) → user id, and
        # the person's user name there
        self.links: dict[tuple[str, str], str] = {}
        self.link_names: dict[tuple[str, str], str] = {}
        for u in users:
            uid = user_id(u["username"])
            self.users[uid] = {"id": uid, "username": u["username"], "firstName": u.get("name", ""),
                               "email": u.get("email", ""), "enabled": True, "emailVerified": True,
                               "attributes": {"tenant": [str(u["tenant"])]}}
            self.passwords[u["username"]] = u.get("password", "")
            self.roles[uid] = set(u.get("roles", []))

    def by_username(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["username"] == username.lower()
                     or u["username"] == username), None)

    def group_by_path(self, path: str) -> dict[str, Any] | None:
        return next((g for g in self.groups.values() if g["path"] == path), None)

    def claims(self, uid: str) -> dict[str, Any]:
        u = self.users[uid]
        tenant = (u.get("attributes") or {}).get("tenant") or [""]
        name = " ".join(p for p in (u.get("firstName", ""), u.get("lastName", "")) if p)
        return {"preferred_username": u["username"], "name": name, "email": u.get("email", ""),
                "tenant": tenant[0], "realm_access": {"roles": sorted(self.roles.get(uid, set()))}}


def _page(items: list, args) -> list:
    first = int(args.get("first", 0) or 0)
    most = args.get("max")
    return items[first:first + int(most)] if most not in (None, "") else items[first:]


def _error(status: int, message: str):
    return flask.jsonify({"errorMessage": message}), status


def install(app: flask.Flask, directory: Directory, *, realm: str, admin_clients: dict[str, str],
            sync_user: Callable[[str], None], brokered_aliases: Callable[[], set[str]] = set) -> None:
    """The admin routes on `app`; `sync_user(uid)` makes a created or changed user known to the login;
    `brokered_aliases()`: the identity providers the realm brokers (a link names one of them)."""
    base = f"/admin/realms/{realm}"

    def created(kind: str, new_id: str):
        response = flask.make_response("", 201)
        response.headers["Location"] = f"{flask.request.host_url.rstrip('/')}{base}/{kind}/{new_id}"
        return response

    @app.before_request
    def admin_only():
        if not flask.request.path.startswith("/admin/"):
            return None
        header = flask.request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _error(401, "HTTP 401 Unauthorized")
        key = RSAKey.import_key(flask.g.oidc_provider_mock_storage.jwk.as_dict(is_private=False))
        try:
            claims = jose_jwt.decode(header[7:].strip(), key, algorithms=["RS256"]).claims
        except (JoseError, ValueError):
            return _error(401, "HTTP 401 Unauthorized")
        issuer = f"{flask.request.host_url.rstrip('/')}/realms/{realm}"
        if claims.get("iss") != issuer or int(claims.get("exp", 0)) < time.time():
            return _error(401, "HTTP 401 Unauthorized")
        roles = ((claims.get("resource_access") or {}).get(MANAGEMENT_CLIENT) or {}).get("roles") or []
        if claims.get("azp") not in admin_clients or ADMIN_ROLE not in roles:
            return _error(403, "HTTP 403 Forbidden")
        if not flask.request.path.startswith(base + "/") and flask.request.path != base:
            return _error(404, "Realm not found.")
        return None

    # -- users ---------------------------------------------------------------------------------------
    @app.get(f"{base}/users")
    def list_users():
        args = flask.request.args
        users = sorted(directory.users.values(), key=lambda u: u["username"])
        if args.get("username"):
            wanted = args["username"].lower()
            exact = args.get("exact", "").lower() == "true"
            users = [u for u in users if (u["username"] == wanted if exact else wanted in u["username"])]
        return flask.jsonify(_page(users, args))

    @app.post(f"{base}/users")
    def create_user():
        body = flask.request.get_json(force=True) or {}
        username = str(body.get("username", "")).strip().lower()
        if not username:
            return _error(400, "User name is missing")
        if directory.by_username(username):
            return _error(409, "User exists with same username")
        uid = str(uuid.uuid4())
        directory.users[uid] = {"id": uid, "username": username, "firstName": body.get("firstName", ""),
                                "lastName": body.get("lastName", ""), "email": body.get("email", ""),
                                "enabled": bool(body.get("enabled", True)),
                                "emailVerified": bool(body.get("emailVerified", False)),
                                "attributes": dict(body.get("attributes") or {})}
        directory.roles[uid] = set()
        for cred in body.get("credentials") or []:
            if cred.get("type") == "password":
                directory.passwords[username] = str(cred.get("value", ""))
        sync_user(uid)
        return created("users", uid)

    def _user(uid: str) -> dict[str, Any] | None:
        return directory.users.get(uid)

    @app.get(f"{base}/users/<uid>")
    def get_user(uid: str):
        u = _user(uid)
        return flask.jsonify(u) if u else _error(404, "User not found")

    @app.put(f"{base}/users/<uid>")
    def update_user(uid: str):
        u = _user(uid)
        if u is None:
            return _error(404, "User not found")
        body = flask.request.get_json(force=True) or {}
        for k in ("firstName", "lastName", "email", "enabled", "emailVerified", "attributes"):
            if k in body:
                u[k] = body[k]
        sync_user(uid)
        return "", 204

    @app.put(f"{base}/users/<uid>/reset-password")
    def reset_password(uid: str):
        u = _user(uid)
        if u is None:
            return _error(404, "User not found")
        body = flask.request.get_json(force=True) or {}
        if body.get("type", "password") != "password" or not body.get("value"):
            return _error(400, "Password is missing")
        directory.passwords[u["username"]] = str(body["value"])
        return "", 204

    # -- realm roles ---------------------------------------------------------------------------------
    def _role(name: str) -> dict[str, Any]:
        return {"id": str(uuid.uuid5(NAMESPACE, f"role:{name}")), "name": name,
                "description": directory.realm_roles.get(name, ""), "composite": False, "clientRole": False}

    @app.get(f"{base}/roles/<name>")
    def get_role(name: str):
        return flask.jsonify(_role(name)) if name in directory.realm_roles else _error(404, "Could not find role")

    @app.get(f"{base}/users/<uid>/role-mappings/realm")
    def user_roles(uid: str):
        if _user(uid) is None:
            return _error(404, "User not found")
        return flask.jsonify([_role(r) for r in sorted(directory.roles.get(uid, set()))])

    @app.post(f"{base}/users/<uid>/role-mappings/realm")
    def add_roles(uid: str):
        if _user(uid) is None:
            return _error(404, "User not found")
        names = [r.get("name", "") for r in (flask.request.get_json(force=True) or [])]
        unknown = [n for n in names if n not in directory.realm_roles]
        if unknown:
            return _error(404, f"Could not find role {unknown[0]}")
        directory.roles.setdefault(uid, set()).update(names)
        sync_user(uid)
        return "", 204

    # -- groups --------------------------------------------------------------------------------------
    def _group_rep(g: dict[str, Any]) -> dict[str, Any]:
        return {"id": g["id"], "name": g["name"], "path": g["path"], "attributes": g["attributes"],
                "subGroupCount": sum(1 for c in directory.groups.values() if c["parent"] == g["id"])}

    def _new_group(parent: dict[str, Any] | None):
        body = flask.request.get_json(force=True) or {}
        name = str(body.get("name", "")).strip()
        if not name:
            return _error(400, "Group name is missing")
        path = f"{parent['path'] if parent else ''}/{name}"
        if directory.group_by_path(path):
            return _error(409, f"Top level group named '{name}' already exists.")
        gid = str(uuid.uuid4())
        directory.groups[gid] = {"id": gid, "name": name, "path": path,
                                 "attributes": dict(body.get("attributes") or {}),
                                 "parent": parent["id"] if parent else None}
        return created("groups", gid)

    @app.post(f"{base}/groups")
    def create_group():
        return _new_group(None)

    @app.post(f"{base}/groups/<gid>/children")
    def create_child(gid: str):
        parent = directory.groups.get(gid)
        return _new_group(parent) if parent else _error(404, "Could not find group by id")

    @app.put(f"{base}/groups/<gid>")
    def update_group(gid: str):
        g = directory.groups.get(gid)
        if g is None:
            return _error(404, "Could not find group by id")
        body = flask.request.get_json(force=True) or {}
        if "attributes" in body:
            g["attributes"] = dict(body["attributes"] or {})
        return "", 204

    @app.get(f"{base}/group-by-path/<path:path>")
    def group_by_path(path: str):
        g = directory.group_by_path("/" + path.strip("/"))
        return flask.jsonify(_group_rep(g)) if g else _error(404, "Group path does not exist")

    @app.get(f"{base}/users/<uid>/groups")
    def user_groups(uid: str):
        if _user(uid) is None:
            return _error(404, "User not found")
        groups = sorted((directory.groups[g] for g in directory.members.get(uid, set())), key=lambda g: g["path"])
        return flask.jsonify(_page([_group_rep(g) for g in groups], flask.request.args))

    @app.put(f"{base}/users/<uid>/groups/<gid>")
    def join_group(uid: str, gid: str):
        if _user(uid) is None or gid not in directory.groups:
            return _error(404, "User or group not found")
        directory.members.setdefault(uid, set()).add(gid)
        return "", 204

    # -- brokered identities (Keycloak: users/{id}/federated-identity) ---------------------------------
    @app.get(f"{base}/users/<uid>/federated-identity")
    def federated_identities(uid: str):
        if _user(uid) is None:
            return _error(404, "User not found")
        return flask.jsonify([{"identityProvider": alias, "userId": subject,
                               "userName": directory.link_names.get((alias, subject), "")}
                              for (alias, subject), linked in sorted(directory.links.items()) if linked == uid])

    @app.post(f"{base}/users/<uid>/federated-identity/<alias>")
    def link_identity(uid: str, alias: str):
        """Link an existing user to a person of a provider: that person's next broker login is this user."""
        if _user(uid) is None:
            return _error(404, "User not found")
        if alias not in brokered_aliases():
            return _error(404, "Could not find identity provider")
        body = flask.request.get_json(force=True) or {}
        subject = str(body.get("userId", "")).strip()
        if not subject:
            return _error(400, "userId is missing")
        if (alias, subject) in directory.links or any(a == alias and u == uid for (a, _), u in directory.links.items()):
            return _error(409, "User is already linked with provider")
        directory.links[(alias, subject)] = uid
        directory.link_names[(alias, subject)] = str(body.get("userName", ""))
        return "", 204

    @app.delete(f"{base}/users/<uid>/federated-identity/<alias>")
    def unlink_identity(uid: str, alias: str):
        found = [k for k, u in directory.links.items() if k[0] == alias and u == uid]
        if not found:
            return _error(404, "Link not found")
        for k in found:
            directory.links.pop(k)
            directory.link_names.pop(k, None)
        return "", 204


def mock_user(directory: Directory, uid: str) -> User:
    return User(sub=directory.users[uid]["username"], claims=directory.claims(uid))
