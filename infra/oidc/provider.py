"""A real OIDC provider on loopback that issues Keycloak-shaped tokens (DESIGN §4).

No Keycloak server can run on these machines, so local runs and tests use `oidc-provider-mock`
(authorization-code flow, discovery, JWKS, RS256) wrapped so that it looks like a Keycloak realm:

- the realm's paths: /realms/<realm>/.well-known/openid-configuration, …/protocol/openid-connect/{auth,
  token,certs,userinfo};
- access tokens are RS256 JWTs with the claims the realm export in infra/keycloak/ configures:
  `iss` = <base>/realms/<realm>, `aud` (the platform audience), `azp` (the client), `sub`,
  `preferred_username`, `name`, `tenant` (division code) and `realm_access.roles`;
- a Chinese login page that checks the user's password (the plain mock only asks for a subject);
- the client-credentials grant for the platform's services (`sanji-<service>` with its secret), whose
  tokens say which service calls (`azp`, `service-account-sanji-<service>`, role `service`) and
  carry no tenant: a service acts for a user, whose own token travels beside it (DESIGN §4);
- none of the mock's test doors: `PUT /users/<sub>` (rewrite anyone's tenant and roles), token
  revocation by subject and dynamic client registration answer 403, demo or not;
- identity brokering as Keycloak does it (infra/oidc/broker.py): `identity_providers` in the realm export's
  form; an authorization request with `kc_idp_hint` goes to that provider, and its person comes back as the
  linked (first time: created, no role) user of this realm, the token saying `identity_provider`;
- PKCE as the realm requires it (`pkce.code.challenge.method: S256`; the mock knows no PKCE): an
  authorization request without an S256 `code_challenge` is refused, and a code is exchanged for a token
  only with the `code_verifier` whose SHA-256 is that challenge (one try: a wrong verifier spends the code).

The signing key is made when the provider starts; services find the new key by its `kid`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import secrets
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import flask
import werkzeug.serving
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey
from oidc_provider_mock import User, init_app
from oidc_provider_mock import _app as mock_app

from infra.oidc import admin_api, broker
from shared.tenancy import Role

log = logging.getLogger("sanji.oidc")

TEMPLATES = Path(__file__).parent / "templates"


SERVICE_ROLE = "service"     # the realm role of every service account (shared.tenancy.Role.SERVICE)
SERVICE_ACCOUNT_PREFIX = "service-account-"
# the mock's own routes that change who is who, or let anyone register a client: closed
CLOSED_ENDPOINTS = frozenset({"oidc-provider-mock.set_user", "oidc-provider-mock.revoke_user_tokens",
                              "oidc-provider-mock.register_client"})


_MOCK_JWT_CONFIG = mock_app.OpenIDCode.get_jwt_config


def _realm_jwt_config(self, grant, client=None):
    """The ID token's issuer is the realm's (`<base>/realms/<realm>`, as Keycloak's and as our discovery says),
    not the mock's bare host: a broker checks it (infra/oidc/broker.py)."""
    config = _MOCK_JWT_CONFIG(self, grant, client)
    realm = flask.current_app.config.get("SANJI_REALM")
    if realm:
        config["iss"] = f"{flask.request.host_url.rstrip('/')}/realms/{realm}"
    return config


mock_app.OpenIDCode.get_jwt_config = _realm_jwt_config


def make_app(users: Iterable[dict], *, realm: str = "sanji", audience: str = "sanji-platform",
             token_minutes: int = 480, service_clients: dict[str, str] | None = None,
             service_token_minutes: int = 5, admin_clients: dict[str, str] | None = None,
             identity_providers: Iterable[broker.IdentityProvider] = ()) -> flask.Flask:
    """`service_clients`: client id → secret of the services that may use the client-credentials grant.
    `admin_clients`: client id → secret of the administrators of the realm (the admin API, infra/oidc/admin_api.py:
    provisioning adds staff at run time through it, as through Keycloak's). `identity_providers`: the providers
    the realm brokers (infra/oidc/broker.py)."""
    users = list(users)
    clients = dict(service_clients or {})
    admins = dict(admin_clients or {})
    directory = admin_api.Directory(users, {str(r): r.label for r in Role})
    passwords = directory.passwords          # the same dict: a password the admin API sets logs in at once
    brokering = broker.Broker(identity_providers, directory)
    app = flask.Flask("sanji-oidc", template_folder=str(TEMPLATES))
    app.secret_key = secrets.token_bytes(16)
    app.config["SANJI_REALM"] = realm

    def access_token(client, grant_type, user, scope):  # authlib's token-generator signature
        storage = flask.g.oidc_provider_mock_storage
        claims = dict(user.claims)
        now = int(time.time())
        base = flask.request.host_url.rstrip("/")
        payload = {
            "exp": now + token_minutes * 60, "iat": now, "jti": str(uuid.uuid4()),
            "iss": f"{base}/realms/{realm}", "aud": [audience, "account"], "sub": user.sub,
            "typ": "Bearer", "azp": client.get_client_id(), "scope": scope or "openid",
            "preferred_username": claims.get("preferred_username", user.sub),
            "name": claims.get("name", ""), "email": claims.get("email", ""),
            "tenant": claims.get("tenant", ""),
            "realm_access": {"roles": list(claims.get("realm_access", {}).get("roles", []))},
        }
        if flask.g.get("identity_provider"):      # a brokered login (Keycloak's session note, mapped as a claim)
            payload["identity_provider"] = flask.g.identity_provider
        key = storage.jwk.as_dict(is_private=True)
        header = {"alg": "RS256", "typ": "JWT", "kid": key["kid"]}
        return jose_jwt.encode(header, payload, RSAKey.import_key(key))

    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = access_token
    init_app(
        app,
        user_claims=[
            User(sub=u["username"], claims={
                "preferred_username": u["username"], "name": u.get("name", ""), "email": u.get("email", ""),
                "tenant": u["tenant"], "realm_access": {"roles": list(u["roles"])},
            })
            for u in users
        ],
        access_token_max_age=timedelta(minutes=token_minutes),
    )
    # the mock switches on Flask debug mode and the interactive debugger: never on our provider
    app.debug = False
    app.wsgi_app = getattr(app.wsgi_app, "app", app.wsgi_app)

    @app.before_request
    def check_password():
        """The login form posts username and password; the mock only knows a subject."""
        if flask.request.method == "POST" and flask.request.path == "/oauth2/authorize":
            if flask.request.form.get("action") == "deny" or flask.g.get("brokered"):
                return None          # a brokered login: the provider checked the person (broker.install)
            sub = flask.request.form.get("sub", "")
            if sub not in passwords or not secrets.compare_digest(
                    passwords[sub], flask.request.form.get("password", "")):
                return flask.render_template("authorization_form.html", error="用户名或密码错误",
                                             predefined_users=[], recent_subjects=[]), 401
        return None

    challenges: dict[str, str] = {}       # authorization code → its S256 code challenge
    # the console is a public client: it redeems a code with its client id and the PKCE verifier, no secret
    # (Keycloak's public clients do the same); the mock only knew clients with a secret
    mock_app.AuthorizationCodeGrant.TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post",
                                                                   "none"]

    @app.before_request
    def pkce_challenge_required():
        if flask.request.path == "/oauth2/authorize":
            args = flask.request.args
            if not args.get("code_challenge") or args.get("code_challenge_method") != "S256":
                return flask.jsonify({"error": "invalid_request",
                                      "error_description": "缺少 PKCE 参数：code_challenge（S256）"}), 400
        return None

    @app.after_request
    def pkce_remember_challenge(response):
        if flask.request.path == "/oauth2/authorize" and response.status_code in (302, 303):
            code = parse_qs(urlparse(response.headers.get("location", "")).query).get("code")
            if code:
                challenges[code[0]] = flask.request.args["code_challenge"]
        return response

    @app.before_request
    def pkce_verifier_required():
        form = flask.request.form if flask.request.method == "POST" else {}
        if flask.request.endpoint in ("oidc-provider-mock.issue_token", "keycloak_token") \
                and form.get("grant_type") == "authorization_code":
            challenge = challenges.pop(form.get("code", ""), None)
            flask.g.identity_provider = brokering.code_providers.pop(form.get("code", ""), "")
            verifier = form.get("code_verifier", "")
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge is None or not verifier or not secrets.compare_digest(computed, challenge):
                log.warning("PKCE verification failed for a code of client %r", form.get("client_id"))
                return flask.jsonify({"error": "invalid_grant", "error_description": "PKCE 校验失败"}), 400
        return None

    @app.before_request
    def closed_doors():
        if flask.request.endpoint in CLOSED_ENDPOINTS:
            log.warning("refused %s %s from %s", flask.request.method, flask.request.path, flask.request.remote_addr)
            return flask.jsonify({"error": "access_denied", "error_description": "此接口已关闭"}), 403
        return None

    def service_token():
        """client_credentials: a short-lived token naming the calling service, for a known client only."""
        form = flask.request.form
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if flask.request.authorization and flask.request.authorization.type == "basic":
            client_id = flask.request.authorization.username or ""
            secret = flask.request.authorization.password or ""
        known = clients.get(client_id) or admins.get(client_id)
        if not known or not secrets.compare_digest(known.encode(), secret.encode()):
            log.warning("client_credentials refused for client %r", client_id)
            return flask.jsonify({"error": "unauthorized_client", "error_description": "客户端凭证无效"}), 401
        now = int(time.time())
        base = flask.request.host_url.rstrip("/")
        account = f"{SERVICE_ACCOUNT_PREFIX}{client_id}"
        payload = {"exp": now + service_token_minutes * 60, "iat": now, "jti": str(uuid.uuid4()),
                   "iss": f"{base}/realms/{realm}", "aud": [audience], "sub": account, "typ": "Bearer",
                   "azp": client_id, "scope": "profile", "preferred_username": account,
                   "realm_access": {"roles": [SERVICE_ROLE]}}
        if client_id in admins and client_id not in clients:
            # a realm administrator's service account (Keycloak: realm-management's realm-admin role), for the
            # admin API only: it is no platform service and holds no platform role
            payload.update({"aud": ["realm-management"], "realm_access": {"roles": []},
                            "resource_access": {admin_api.MANAGEMENT_CLIENT: {"roles": [admin_api.ADMIN_ROLE]}}})
        storage = flask.g.oidc_provider_mock_storage
        key = storage.jwk.as_dict(is_private=True)
        token = jose_jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key["kid"]}, payload, RSAKey.import_key(key))
        return flask.jsonify({"access_token": token, "token_type": "Bearer", "expires_in": service_token_minutes * 60})

    prefix = f"/realms/{realm}"
    view = app.view_functions

    @app.get(f"{prefix}/.well-known/openid-configuration")
    def keycloak_discovery():
        base = flask.request.host_url.rstrip("/") + prefix
        return flask.jsonify({
            "issuer": base,
            "authorization_endpoint": f"{base}/protocol/openid-connect/auth",
            "token_endpoint": f"{base}/protocol/openid-connect/token",
            "userinfo_endpoint": f"{base}/protocol/openid-connect/userinfo",
            "jwks_uri": f"{base}/protocol/openid-connect/certs",
            "end_session_endpoint": f"{base}/protocol/openid-connect/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
        })

    @app.get(f"{prefix}/protocol/openid-connect/certs")
    def keycloak_certs():
        return view["oidc-provider-mock.jwks"]()

    @app.route(f"{prefix}/protocol/openid-connect/auth", methods=["GET", "POST"])
    def keycloak_auth():
        return flask.redirect("/oauth2/authorize?" + urlencode(flask.request.args), code=307)

    @app.post(f"{prefix}/protocol/openid-connect/token")
    def keycloak_token():
        if flask.request.form.get("grant_type") == "client_credentials":
            return service_token()
        return view["oidc-provider-mock.issue_token"]()

    @app.route(f"{prefix}/protocol/openid-connect/userinfo", methods=["GET", "POST"])
    def keycloak_userinfo():
        return view["oidc-provider-mock.userinfo"]()

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "realm": realm, "users": len(directory.users)}

    def sync_user(uid: str) -> None:
        flask.g.oidc_provider_mock_storage.store_user(admin_api.mock_user(directory, uid))

    admin_api.install(app, directory, realm=realm, admin_clients=admins, sync_user=sync_user,
                      brokered_aliases=lambda: set(brokering.providers))
    broker.install(app, brokering, realm=realm, sync_user=sync_user, authorize=view["oidc-provider-mock.authorize"])

    return app


class ProviderServer:
    """The provider in a background thread (tests) — the same app `python -m infra.oidc` serves."""

    def __init__(self, users: Iterable[dict], *, host: str = "127.0.0.1", port: int = 0, **kw):
        self.app = make_app(users, **kw)
        self._server = werkzeug.serving.make_server(host, port, self.app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = None

    def start(self) -> ProviderServer:
        import threading

        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="oidc-provider")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="sanji loopback OIDC provider (Keycloak-shaped tokens)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--users", type=Path, help="JSON list of users; default: the demo users")
    ap.add_argument("--realm", default="sanji")
    ap.add_argument("--audience", default="sanji-platform")
    ap.add_argument("--service-clients", type=Path,
                    help="JSON object client id → secret of the services (client-credentials grant)")
    ap.add_argument("--admin-clients", type=Path,
                    help="JSON object client id → secret of the realm's administrators (the admin API)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s oidc %(levelname)s %(message)s")
    if args.users:
        users = json.loads(args.users.read_text(encoding="utf-8"))
    else:
        from infra.demo.load import load_demo_users
        users = load_demo_users()
    clients = json.loads(args.service_clients.read_text(encoding="utf-8")) if args.service_clients else {}
    admins = json.loads(args.admin_clients.read_text(encoding="utf-8")) if args.admin_clients else {}
    app = make_app(users, realm=args.realm, audience=args.audience, service_clients=clients, admin_clients=admins)
    log.info("OIDC provider for realm %s on http://%s:%d (%d users)", args.realm, args.host, args.port, len(users))
    werkzeug.serving.run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
