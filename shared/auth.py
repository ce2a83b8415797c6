"""Offline verification of Keycloak-shaped access tokens (DESIGN §4).

Tokens are verified with python-keycloak against a cached JWKS: the keys are fetched once and again
only when a token names a key id (`kid`) we have not seen (a rotated realm key), at most once per
`min_refresh_seconds`. Issuer, audience, expiry and the RS256 signature are always checked; the
tenant comes from the `tenant` claim and the roles from `realm_access.roles`. No code path skips
the signature.
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


class TokenVerifier:
    def __init__(self, server_url: str, realm: str, *, audience: str, client_id: str = "sanji-services",
                 min_refresh_seconds: float = 10.0, timeout: int = 5, max_cached_tokens: int = 10000):
        self.issuer = f"{server_url.rstrip('/')}/realms/{realm}"
        self.audience = audience
        self._oidc = KeycloakOpenID(server_url=server_url.rstrip("/") + "/", realm_name=realm,
                                    client_id=client_id, timeout=timeout)
        self._min_refresh = min_refresh_seconds
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
                   client_id=settings.machine_client_id, min_refresh_seconds=settings.jwks_min_refresh_seconds)

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
        header = _unverified_header(token)
        if header.get("alg") != "RS256":
            raise Unauthenticated(_INVALID)
        keys = self._keys_for(str(header.get("kid", "")))
        try:
            claims = self._oidc.decode_token(
                token, validate=True, key=keys, algs=["RS256"],
                check_claims={"iss": self.issuer, "aud": self.audience, "exp": None, "sub": None},
            )
        except (JWException, ValueError, TypeError) as exc:
            log.info("token rejected: %s", type(exc).__name__)
            raise Unauthenticated(_INVALID) from None
        return principal_from_claims(claims, token), float(claims["exp"])


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
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError, UnicodeDecodeError):
        raise Unauthenticated(_INVALID) from None
