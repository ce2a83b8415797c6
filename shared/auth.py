"""Offline verification of Keycloak-shaped access tokens (DESIGN §4).

Tokens are verified with python-keycloak against a cached JWKS: the keys are fetched once, again
when a token names a key id (`kid`) we have not seen (a rotated realm key), at most once per
`min_refresh_seconds`, and on a schedule (`max_key_age_seconds`), so a key the realm withdrew stops
being trusted even if no token ever names a new one. Issuer, audience, expiry and the RS256 signature
are always checked; the tenant comes from the `tenant` claim and the roles from `realm_access.roles`.
No code path skips the signature.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import OrderedDict

from jwcrypto import jwk
from jwcrypto.common import JWException
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

from shared.errors import InvalidArgument, Unauthenticated
from shared.tenancy import DivisionCode, Principal

log = logging.getLogger("sanji.auth")

_INVALID = "登录凭证无效或已过期，请重新登录"
SERVICE_ROLE = "service"     # the realm role of every service account (shared.tenancy.Role.SERVICE)
SERVICE_ACCOUNT_PREFIX = "service-account-sanji-"


class TokenVerifier:
    def __init__(self, server_url: str, realm: str, *, audience: str, client_id: str = "sanji-services",
                 min_refresh_seconds: float = 10.0, timeout: int = 5, max_cached_tokens: int = 10000,
                 max_key_age_seconds: float = 300.0):
        self.issuer = f"{server_url.rstrip('/')}/realms/{realm}"
        self.audience = audience
        self._oidc = KeycloakOpenID(server_url=server_url.rstrip("/") + "/", realm_name=realm,
                                    client_id=client_id, timeout=timeout)
        self._min_refresh = min_refresh_seconds
        self._max_key_age = max_key_age_seconds
        self._lock = threading.Lock()
        self._keys: jwk.JWKSet | None = None
        self._kids: frozenset[str] = frozenset()
        self._last_refresh = 0.0
        self.refreshes = 0
        # verified tokens, until their expiry: the signature check is the expensive part of a call
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._max_verified = max_cached_tokens

    @classmethod
    def from_settings(cls, settings) -> TokenVerifier:
        return cls(settings.oidc_server_url, settings.oidc_realm, audience=settings.oidc_audience,
                   client_id=settings.machine_client_id, min_refresh_seconds=settings.jwks_min_refresh_seconds,
                   max_key_age_seconds=settings.jwks_max_age_seconds)

    # -- keys ------------------------------------------------------------------------------------
    def _refresh(self, *, force: bool) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and self._keys is not None and now - self._last_refresh < self._min_refresh:
                return
            try:
                certs = self._oidc.certs()
            except (KeycloakError, OSError) as exc:
                log.warning("JWKS fetch from %s failed: %s", self.issuer, exc)
                if self._keys is None:
                    raise Unauthenticated("身份认证服务暂不可用，请稍后重试") from None
                return  # keep serving with the cached keys
            keys = jwk.JWKSet()
            kids = set()
            for cert in certs.get("keys", []):
                if cert.get("use", "sig") != "sig":
                    continue
                keys.add(jwk.JWK(**cert))
                kids.add(cert.get("kid", ""))
            if self._kids and kids != self._kids:
                self._verified.clear()  # a key was rotated out: verify everything again
            self._keys, self._kids, self._last_refresh = keys, frozenset(kids), now
            self.refreshes += 1
            log.info("JWKS loaded from %s: %d key(s)", self.issuer, len(kids))

    def _keys_for(self, kid: str) -> jwk.JWKSet:
        if self._keys is None:
            self._refresh(force=True)
        elif time.monotonic() - self._last_refresh > self._max_key_age:
            self._refresh(force=True)   # on schedule: a withdrawn key is dropped; on failure the cache stays
        if kid not in self._kids:
            self._refresh(force=False)  # rate-limited: an unknown kid cannot make us hammer the IdP
        if kid not in self._kids or self._keys is None:
            raise Unauthenticated(_INVALID)
        return self._keys

    # -- tokens ----------------------------------------------------------------------------------
    def verify(self, token: str) -> Principal:
        if not token:
            raise Unauthenticated("未提供登录凭证")
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            self._verified.pop(token, None)
        principal, expires = self._verify(token)
        with self._lock:
            self._verified[token] = (principal, expires)
            while len(self._verified) > self._max_verified:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        claims = self._claims(token)
        return principal_from_claims(claims, token), float(claims["exp"])

    def _claims(self, token: str) -> dict:
        """The token's claims once its RS256 signature, issuer, audience and expiry are verified."""
        header = _unverified_header(token)
        if header.get("alg") != "RS256":
            raise Unauthenticated(_INVALID)
        keys = self._keys_for(str(header.get("kid", "")))
        try:
            return self._oidc.decode_token(
                token, validate=True, key=keys, algs=["RS256"],
                check_claims={"iss": self.issuer, "aud": self.audience, "exp": None, "sub": None},
            )
        except (JWException, ValueError, TypeError) as exc:
            log.info("token rejected: %s", type(exc).__name__)
            raise Unauthenticated(_INVALID) from None

    def verify_service(self, token: str) -> str:
        """The platform service a client-credentials token names (`sanji-<service>` → `<service>`);
        Unauthenticated for anything else, a person's token included."""
        if not token:
            raise Unauthenticated("未提供服务凭证")
        claims = self._claims(token)
        roles = (claims.get("realm_access") or {}).get("roles", [])
        username = str(claims.get("preferred_username") or "")
        client = str(claims.get("azp") or "")
        if SERVICE_ROLE not in roles or username != f"service-account-{client}" or \
                not client.startswith("sanji-"):
            raise Unauthenticated("服务凭证无效")
        return client.removeprefix("sanji-")


class ServiceCredentials:
    """This service's own client-credentials token, fetched from the realm with python-keycloak and kept
    until shortly before it expires. Sent beside the person's token on calls to internal methods."""

    def __init__(self, server_url: str, realm: str, service: str, secret: str, *, timeout: int = 5,
                 margin_seconds: float = 30.0):
        self.service = service
        self._oidc = KeycloakOpenID(server_url=server_url.rstrip("/") + "/", realm_name=realm,
                                    client_id=f"sanji-{service}", client_secret_key=secret, timeout=timeout)
        self._margin = margin_seconds
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0

    @classmethod
    def from_settings(cls, settings, service: str) -> ServiceCredentials:
        return cls(settings.oidc_server_url, settings.oidc_realm, service, settings.service_client_secret)

    def token(self) -> str:
        with self._lock:
            if self._token and time.time() < self._expires - self._margin:
                return self._token
            try:
                answer = self._oidc.token(grant_type="client_credentials")
            except (KeycloakError, OSError) as exc:
                log.warning("client-credentials token for sanji-%s failed: %s", self.service, exc)
                raise Unauthenticated("平台服务凭证获取失败，请稍后重试") from None
            self._token = answer["access_token"]
            self._expires = time.time() + float(answer.get("expires_in", 60))
            return self._token


def principal_from_claims(claims: dict, token: str = "") -> Principal:
    tenant_claim = claims.get("tenant")
    if not tenant_claim:
        raise Unauthenticated("登录凭证缺少所属单位（tenant），请联系管理员")
    try:
        tenant = DivisionCode.parse(str(tenant_claim))
    except InvalidArgument:
        raise Unauthenticated("登录凭证中的所属单位代码无效") from None
    roles = frozenset(str(r) for r in (claims.get("realm_access") or {}).get("roles", []))
    username = str(claims.get("preferred_username") or claims.get("sub"))
    return Principal(subject=str(claims["sub"]), username=username, tenant=tenant, roles=roles, token=token,
                     display_name=str(claims.get("name") or username),
                     machine=username.startswith("service-account-"))


def _unverified_header(token: str) -> dict:
    try:
        part = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError, UnicodeDecodeError):
        raise Unauthenticated(_INVALID) from None
    if not isinstance(header, dict):    # a header that decodes to a number, a list or a string is no token
        raise Unauthenticated(_INVALID)
    return header
