"""Log in against the realm with the authorization-code flow and PKCE (S256), as a browser would (tests,
bench, CLI)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlparse

import httpx


def login(server_url: str, username: str, password: str, *, realm: str = "sanji", client_id: str = "sanji-console",
          redirect_uri: str = "http://127.0.0.1:8000/console/callback") -> str:
    """Return an access token for the user (raises PermissionError on a bad password)."""
    base = f"{server_url.rstrip('/')}/realms/{realm}/protocol/openid-connect"
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": "openid profile", "state": "sanji", "code_challenge": challenge,
              "code_challenge_method": "S256"}
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        r = http.get(f"{base}/auth", params=params)
        url = r.headers["location"] if r.status_code in (302, 303, 307) else str(r.url)
        if url.startswith("/"):
            url = server_url.rstrip("/") + url
        r = http.post(url, data={"sub": username, "password": password})
        if r.status_code != 302:
            raise PermissionError(f"login failed for {username}: HTTP {r.status_code}")
        code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
        r = http.post(f"{base}/token", data={"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": redirect_uri, "client_id": client_id,
                                             "code_verifier": verifier})
        r.raise_for_status()
        return r.json()["access_token"]
