"""Log in against the realm with the authorization-code flow and PKCE (S256), as a browser would (tests,
bench, CLI) — with `idp_hint`, through the identity provider the realm brokers (Keycloak's `kc_idp_hint`):
the browser is sent to that provider's login page, and back."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlparse

import httpx

REDIRECTS = (301, 302, 303, 307, 308)
ERROR_TEXT = re.compile(r'class="err">([^<]*)<')


def _why(r: httpx.Response) -> str:
    """What the provider's page says went wrong (its error line), else the start of the answer."""
    found = ERROR_TEXT.search(r.text)
    return found.group(1).strip() if found else r.text[:300]


def login(server_url: str, username: str, password: str, *, realm: str = "sanji", client_id: str = "sanji-console",
          redirect_uri: str = "http://127.0.0.1:8000/console/callback", idp_hint: str = "",
          http: httpx.Client | None = None) -> str:
    """Return an access token for the user (raises PermissionError on a bad password or a refused broker
    login). `http`: the browser (its cookies), by default a new one."""
    base = f"{server_url.rstrip('/')}/realms/{realm}/protocol/openid-connect"
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": "openid profile", "state": "sanji", "code_challenge": challenge,
              "code_challenge_method": "S256"}
    if idp_hint:
        params["kc_idp_hint"] = idp_hint
    own = http is None
    browser = http or httpx.Client(timeout=10)
    try:
        # to the login page: the realm's own, or (hinted) the brokered provider's
        r = browser.get(f"{base}/auth", params=params, follow_redirects=True)
        if r.status_code != 200:
            raise PermissionError(f"login refused for {username}: HTTP {r.status_code} {_why(r)}")
        r = browser.post(str(r.url), data={"sub": username, "password": password}, follow_redirects=False)
        # back through the realm's broker endpoint (if any) until the realm answers our redirect URI
        while r.status_code in REDIRECTS and not r.headers["location"].startswith(redirect_uri):
            r = browser.get(urljoin(str(r.url), r.headers["location"]), follow_redirects=False)
        if r.status_code not in REDIRECTS:
            raise PermissionError(f"login failed for {username}: HTTP {r.status_code} {_why(r)}")
        answer = parse_qs(urlparse(r.headers["location"]).query)
        if "code" not in answer or answer.get("state") != ["sanji"]:
            raise PermissionError(f"login failed for {username}: {answer.get('error', ['no code'])[0]}")
        r = browser.post(f"{base}/token", data={"grant_type": "authorization_code", "code": answer["code"][0],
                                                "redirect_uri": redirect_uri, "client_id": client_id,
                                                "code_verifier": verifier})
        r.raise_for_status()
        return r.json()["access_token"]
    finally:
        if own:
            browser.close()
