"""Identity brokering in the loopback provider, as Keycloak does it (issue 18: a person who logged in at the
provincial portal reaches the county's pages without a second login).

The realm names its identity providers in the realm export's form (`identityProviders` and
`identityProviderMappers`, infra/keycloak/realm-sanji.json); the loopback realm takes the same entries, with
the provider's URLs pointed at another loopback realm in tests. The flow:

1. the client's authorization request (PKCE as always) carries `kc_idp_hint=<alias>`: the realm keeps the
   request and sends the browser to the provider's authorization endpoint — with a state of its own and, when
   the provider says `pkceEnabled`, a PKCE challenge of its own;
2. the person logs in there; the provider sends the browser back to
   `/realms/<realm>/broker/<alias>/endpoint` with a code;
3. the realm redeems the code (client secret + its verifier), checks the ID token (the provider's key from
   its JWKS, issuer, audience = our client id, expiry) and finds the local user linked to (alias, subject):
   the first broker login creates one (`<alias>.<username>`), with the attributes the mappers give and NO
   role (the export has no role mapper and none is taken here: a mapper of another type is refused at
   start); a user the realm's administrator linked beforehand (admin API `federated-identity`) is used as is;
   a local account of the same name that nobody linked is not taken over (Keycloak asks that person to
   prove the account; here the administrator links it);
4. the realm answers the client's original request for that user: a code, redeemed with the client's own
   PKCE verifier; the token says `identity_provider: <alias>` (Keycloak's session note, mapped by the export's
   client scope) and carries only the roles the county's administrator has given the user since.

A hint naming a provider the realm does not broker, an unknown or spent state, a callback on another alias,
a refused code or a token that fails a check: 400 with a Chinese page, and nobody is created or linked.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import flask
import httpx
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from infra.oidc import admin_api

log = logging.getLogger("sanji.oidc.broker")

HINT = "kc_idp_hint"
# how long a started broker login may take before its state is forgotten (a default: a person logging in at the
# province within ten minutes; Keycloak's login action lifespan is 5 minutes, its user action 5, its code 1)
STATE_SECONDS = 600
ATTRIBUTE_MAPPERS = ("hardcoded-attribute-idp-mapper", "oidc-user-attribute-idp-mapper")
USER_FIELDS = ("firstName", "lastName", "email")


class BrokerError(Exception):
    """A broker login refused: the Chinese text shown to the person."""


@dataclass(frozen=True)
class IdentityProvider:
    alias: str
    issuer: str
    authorization_url: str
    token_url: str
    jwks_url: str
    client_id: str
    client_secret: str
    pkce: bool = True
    scope: str = "openid profile"
    sync_mode: str = "IMPORT"
    mappers: tuple[dict[str, Any], ...] = ()
    display_name: str = ""

    @classmethod
    def from_export(cls, idp: dict[str, Any], mappers: Iterable[dict[str, Any]] = (), **overrides: str
                    ) -> IdentityProvider:
        """An entry of the realm export's `identityProviders` (OIDC) and its mappers; `overrides` replace the
        provider's URLs and secret (tests point them at a loopback realm; the export holds a vault reference)."""
        if idp.get("providerId") != "oidc":
            raise ValueError(f"identity provider {idp.get('alias')!r}: only OIDC providers are brokered here")
        c = dict(idp.get("config") or {})
        own = tuple(m for m in mappers if m.get("identityProviderAlias") == idp["alias"])
        for m in own:
            if m.get("identityProviderMapper") not in ATTRIBUTE_MAPPERS:
                # a role mapper would give the province's people county rights: never taken
                raise ValueError(f"identity provider {idp['alias']!r}: mapper {m.get('name')!r} of type"
                                 f" {m.get('identityProviderMapper')!r} is not supported (only attribute mappers)")
        values = {"issuer": c.get("issuer", ""), "authorization_url": c.get("authorizationUrl", ""),
                  "token_url": c.get("tokenUrl", ""), "jwks_url": c.get("jwksUrl", ""),
                  "client_id": c.get("clientId", ""), "client_secret": c.get("clientSecret", ""),
                  "pkce": str(c.get("pkceEnabled", "false")).lower() == "true",
                  "scope": c.get("defaultScope") or "openid profile", "sync_mode": c.get("syncMode") or "IMPORT"}
        values.update(overrides)
        return cls(alias=idp["alias"], mappers=own, display_name=idp.get("displayName") or idp["alias"], **values)

    def mapped(self, claims: dict[str, Any], first: bool) -> dict[str, Any]:
        """What the mappers give the local user: {field or attribute name: value}, for a first login all of
        them, later only the FORCE ones (a mapper's INHERIT takes the provider's sync mode)."""
        out: dict[str, Any] = {}
        for m in self.mappers:
            cfg = m.get("config") or {}
            mode = cfg.get("syncMode", "INHERIT")
            mode = self.sync_mode if mode == "INHERIT" else mode
            if not first and mode != "FORCE":
                continue
            if m["identityProviderMapper"] == "hardcoded-attribute-idp-mapper":
                out[cfg["attribute"]] = str(cfg.get("attribute.value", ""))
            elif cfg.get("claim") in claims:
                out[cfg["user.attribute"]] = str(claims[cfg["claim"]])
        return out


@dataclass
class _Pending:
    alias: str
    args: dict[str, str]          # the client's own authorization request, without the hint
    verifier: str
    nonce: str
    started: float = field(default_factory=time.monotonic)


class Broker:
    """The broker's state in one realm: started logins, links (alias, external subject) → local user id."""

    def __init__(self, providers: Iterable[IdentityProvider], directory: admin_api.Directory):
        self.providers = {p.alias: p for p in providers}
        self.directory = directory
        self.pending: dict[str, _Pending] = {}
        self.code_providers: dict[str, str] = {}       # our authorization code → the alias it came through
        self._keys: dict[str, KeySet] = {}

    # -- 1. away to the provider -----------------------------------------------------------------------
    def start(self, args: dict[str, str], callback: str) -> str:
        """The provider's authorization URL for a client request with a hint (raises BrokerError)."""
        alias = args.get(HINT, "")
        idp = self.providers.get(alias)
        if idp is None:
            raise BrokerError(f"本系统未配置身份提供者“{alias[:64]}”，不能以其账号登录")
        self._forget_old()
        state, verifier, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        self.pending[state] = _Pending(alias, {k: v for k, v in args.items() if k != HINT}, verifier, nonce)
        query = {"response_type": "code", "client_id": idp.client_id, "redirect_uri": callback,
                 "scope": idp.scope, "state": state, "nonce": nonce}
        if idp.pkce:
            query.update(code_challenge=_challenge(verifier), code_challenge_method="S256")
        return f"{idp.authorization_url}?{urlencode(query)}"

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - STATE_SECONDS
        for state in [s for s, p in self.pending.items() if p.started < cutoff]:
            del self.pending[state]

    # -- 2./3. back from the provider --------------------------------------------------------------------
    def finish(self, alias: str, args: dict[str, str], callback: str) -> tuple[str, dict[str, str]]:
        """The local user id of the person the provider sent back, and the client's original request."""
        pending = self.pending.pop(args.get("state", ""), None)
        if pending is None or time.monotonic() - pending.started > STATE_SECONDS:
            raise BrokerError("登录状态无效或已过期，请重新登录")
        if pending.alias != alias:
            raise BrokerError("身份提供者与发起登录时不一致")
        if args.get("error"):
            raise BrokerError(f"身份提供者未完成登录：{args.get('error_description') or args['error']}"[:200])
        idp = self.providers[alias]
        claims = self._redeem(idp, args.get("code", ""), callback, pending)
        return self._local_user(idp, claims), pending.args

    def _redeem(self, idp: IdentityProvider, code: str, callback: str, pending: _Pending) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": callback,
                "client_id": idp.client_id, "client_secret": idp.client_secret}
        if idp.pkce:
            form["code_verifier"] = pending.verifier
        try:
            r = httpx.post(idp.token_url, data=form, timeout=10)
        except httpx.HTTPError as exc:
            log.warning("broker %s: token endpoint unreachable: %s", idp.alias, exc)
            raise BrokerError("暂时无法连接身份提供者，请稍后再试") from None
        if r.status_code != 200 or not r.json().get("id_token"):
            log.warning("broker %s: code refused: HTTP %s %s", idp.alias, r.status_code, r.text[:200])
            raise BrokerError("身份提供者拒绝了登录凭据")
        claims = self._verified(idp, r.json()["id_token"])
        if claims.get("nonce") != pending.nonce:
            raise BrokerError("身份提供者的身份令牌与本次登录不符")
        return claims

    def _verified(self, idp: IdentityProvider, token: str) -> dict[str, Any]:
        """The ID token's claims, signed by the provider's key (JWKS, fetched again once for an unknown kid),
        of its issuer, for our client, unexpired."""
        for fresh in (False, True):
            keys = self._jwks(idp, fresh)
            try:
                claims = jose_jwt.decode(token, keys, algorithms=["RS256"]).claims
                break
            except (JoseError, ValueError) as exc:
                if fresh:
                    log.warning("broker %s: ID token signature refused: %s", idp.alias, exc)
                    raise BrokerError("身份提供者的身份令牌签名无效") from None
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != idp.issuer or idp.client_id not in audiences \
                or int(claims.get("exp", 0)) < time.time() or not claims.get("sub"):
            log.warning("broker %s: ID token refused (iss %r, aud %r)", idp.alias, claims.get("iss"), audience)
            raise BrokerError("身份提供者的身份令牌无效（签发者、受众或有效期不符）")
        return claims

    def _jwks(self, idp: IdentityProvider, fresh: bool) -> KeySet:
        if fresh or idp.alias not in self._keys:
            try:
                self._keys[idp.alias] = KeySet.import_key_set(httpx.get(idp.jwks_url, timeout=10).json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("broker %s: JWKS unavailable: %s", idp.alias, exc)
                raise BrokerError("暂时无法取得身份提供者的公钥，请稍后再试") from None
        return self._keys[idp.alias]

    def _local_user(self, idp: IdentityProvider, claims: dict[str, Any]) -> str:
        """First broker login: create the user (no role) and link it; later: the linked user, FORCE mappers
        applied again."""
        d = self.directory
        subject = str(claims["sub"])
        uid = d.links.get((idp.alias, subject))
        if uid is not None and uid in d.users:
            _apply(d.users[uid], idp.mapped(claims, first=False))
            return uid
        external = str(claims.get("preferred_username") or subject).lower()
        username = f"{idp.alias}.{external}".lower()
        if d.by_username(username) is not None:
            log.warning("broker %s: %s exists and is not linked to %s: not taken over", idp.alias, username,
                        subject)
            raise BrokerError(f"本系统已有账号“{username}”，须由管理员将其与该省级账号关联后方可登录")
        uid = str(uuid.uuid4())
        d.users[uid] = {"id": uid, "username": username, "firstName": "", "lastName": "",
                        "email": str(claims.get("email", "")), "enabled": True, "emailVerified": False,
                        "attributes": {}}
        d.roles[uid] = set()                    # no role: the county's administrator gives them, if any
        _apply(d.users[uid], idp.mapped(claims, first=True))
        d.links[(idp.alias, subject)] = uid
        d.link_names[(idp.alias, subject)] = external
        log.info("broker %s: first login of %s created user %s (no role)", idp.alias, subject, username)
        return uid


def _apply(user: dict[str, Any], values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name in USER_FIELDS:
            user[name] = value
        else:
            user.setdefault("attributes", {})[name] = [value]


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def install(app: flask.Flask, broker: Broker, *, realm: str, sync_user: Callable[[str], None],
            authorize: Callable[[], Any]) -> None:
    """The broker's routes on the realm's app. `authorize()`: the provider's own authorization view, run in a
    request context whose form names the user (`flask.g.brokered` set, so no password is asked)."""
    prefix = f"/realms/{realm}"

    def callback_url(alias: str) -> str:
        return f"{flask.request.host_url.rstrip('/')}{prefix}/broker/{alias}/endpoint"

    def refused(message: str):
        return flask.render_template("broker_error.html", error=message), 400

    @app.before_request
    def broker_hint():
        """A client's authorization request with `kc_idp_hint`: away to that provider (after the request itself
        was checked: PKCE by the hook before this one, client and redirect URI here)."""
        if flask.request.path != "/oauth2/authorize" or flask.request.method != "GET" \
                or HINT not in flask.request.args:
            return None
        from oidc_provider_mock import _app as mock_app

        mock_app._validate_auth_request_client_params(flask.request)    # raises its 400 for a bad client
        try:
            alias = flask.request.args[HINT]
            return flask.redirect(broker.start(dict(flask.request.args), callback_url(alias)), code=302)
        except BrokerError as exc:
            return refused(str(exc))

    @app.context_processor
    def login_choices():
        """The login page offers each brokered provider (Keycloak's login page does the same)."""
        if flask.request.path != "/oauth2/authorize" or flask.request.method != "GET":
            return {"identity_providers": []}
        args = {k: v for k, v in flask.request.args.items() if k != HINT}
        return {"identity_providers": [
            {"name": p.display_name, "url": f"{prefix}/protocol/openid-connect/auth?{urlencode({**args, HINT: a})}"}
            for a, p in broker.providers.items()]}

    @app.get(f"{prefix}/broker/<alias>/endpoint")
    def broker_endpoint(alias: str):
        try:
            uid, original = broker.finish(alias, dict(flask.request.args), callback_url(alias))
        except BrokerError as exc:
            return refused(str(exc))
        sync_user(uid)
        username = broker.directory.users[uid]["username"]
        with app.test_request_context("/oauth2/authorize?" + urlencode(original), method="POST",
                                      data={"sub": username}, base_url=flask.request.host_url):
            flask.g.brokered = alias
            response = app.preprocess_request() or authorize()
            response = app.process_response(flask.make_response(response))
        ours = parse_qs(urlparse(response.headers.get("location", "")).query).get("code")
        if ours:
            broker.code_providers[ours[0]] = alias
        return response
