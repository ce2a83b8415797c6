"""The console's login (issue 15, item 7): the authorization-code flow with PKCE (S256) against the real
loopback provider, which refuses a code redeemed without its verifier; no token in any URL; the session
cookie HttpOnly, SameSite=Lax, and Secure whenever the gateway is reached over https."""

from __future__ import annotations

import base64
import hashlib
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlparse

import httpx
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.edge import COOKIE
from gateway.pages import PKCE_COOKIE, STATE_COOKIE
from gateway.settings import GatewaySettings
from tests.support import PASSWORD


def gateway(catalogue_server, oidc, verifier, address: str = "203.0.113.60", **over) -> TestClient:
    settings = GatewaySettings(catalogue_target=catalogue_server, oidc_server_url=oidc.url, **over)
    return TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False,
                      follow_redirects=False, client=(address, 40000))


def cookies_of(response) -> dict[str, SimpleCookie]:
    jar = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        jar.update({name: morsel for name, morsel in cookie.items()})
    return jar


def sign_in(authorize_url: str, username: str = "county.admin") -> str:
    """What the browser does at the provider: open the login form, post the password; the redirect back."""
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        r = http.get(authorize_url)
        form = r.headers["location"] if r.status_code == 307 else authorize_url
        if form.startswith("/"):
            form = f"{urlparse(authorize_url).scheme}://{urlparse(authorize_url).netloc}{form}"
        r = http.post(form, data={"sub": username, "password": PASSWORD})
        assert r.status_code == 302, r.text
        return r.headers["location"]


def test_the_console_login_sends_an_s256_challenge_and_keeps_the_verifier_in_a_cookie(catalogue_server, oidc,
                                                                                     verifier):
    gw = gateway(catalogue_server, oidc, verifier)
    r = gw.get("/console/login")
    query = parse_qs(urlparse(r.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    jar = cookies_of(r)
    pkce_verifier = jar[PKCE_COOKIE].value
    assert 43 <= len(pkce_verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(pkce_verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == [expected]
    assert pkce_verifier not in r.headers["location"]
    for name in (STATE_COOKIE, PKCE_COOKIE):
        assert jar[name]["httponly"] and jar[name]["samesite"].lower() == "lax"
        assert not jar[name]["secure"]                                  # plain http on loopback


def test_the_whole_login_puts_the_token_in_no_url(catalogue_server, oidc, verifier):
    gw = gateway(catalogue_server, oidc, verifier)
    callback = sign_in(gw.get("/console/login").headers["location"])
    assert "access_token" not in callback and "token=" not in callback
    back = urlparse(callback)
    r = gw.get(f"{back.path}?{back.query}")
    assert r.status_code == 302 and r.headers["location"] == "/console"
    jar = cookies_of(r)
    session = jar[COOKIE]
    assert session["httponly"] and session["samesite"].lower() == "lax" and not session["secure"]
    assert session.value.count(".") == 2 and session.value not in r.headers["location"]
    assert jar[PKCE_COOKIE]["max-age"] == "0" and jar[STATE_COOKIE]["max-age"] == "0"   # spent
    page = gw.get("/console", cookies={COOKIE: session.value})
    assert page.status_code == 200 and "王建国" in page.text
    # a token offered in the URL is not a login (a browser without the cookie)
    stranger = gateway(catalogue_server, oidc, verifier)
    for name in ("access_token", "token", COOKIE):
        assert stranger.get("/api/v1/me", params={name: session.value}).status_code == 401
    assert stranger.get("/api/v1/me", cookies={COOKIE: session.value}).json()["username"] == "county.admin"


def test_an_intercepted_code_without_its_verifier_is_worthless(catalogue_server, oidc, verifier):
    """Whoever reads the code on its way back (a log, a referrer, another app on the phone) cannot redeem it:
    not at the provider without the verifier, not with a wrong one; and one wrong try spends it."""
    gw = gateway(catalogue_server, oidc, verifier)
    callback = sign_in(gw.get("/console/login").headers["location"])
    code = parse_qs(urlparse(callback).query)["code"][0]
    token_url = f"{oidc.url}/realms/sanji/protocol/openid-connect/token"
    exchange = {"grant_type": "authorization_code", "code": code, "client_id": "sanji-console",
                "redirect_uri": "http://127.0.0.1:8000/console/callback"}
    r = httpx.post(token_url, data=exchange)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "access_token" not in r.text
    # the legitimate browser comes back with the verifier, but the code is spent
    back = urlparse(callback)
    assert gw.get(f"{back.path}?{back.query}").status_code == 401

    # the attacker's own browser at the gateway: the state cookie forged, no verifier of this login
    gw2 = gateway(catalogue_server, oidc, verifier)
    callback = sign_in(gw2.get("/console/login").headers["location"])
    back = urlparse(callback)
    state = parse_qs(back.query)["state"][0]
    thief = gateway(catalogue_server, oidc, verifier, address="198.51.100.66")
    r = thief.get(f"{back.path}?{back.query}", cookies={STATE_COOKIE: state})
    assert r.status_code == 401 and COOKIE not in cookies_of(r)
    r = thief.get(f"{back.path}?{back.query}", cookies={STATE_COOKIE: state, PKCE_COOKIE: "x" * 64})
    assert r.status_code == 401 and COOKIE not in cookies_of(r)


def test_the_provider_refuses_a_login_without_an_s256_challenge(oidc):
    auth = f"{oidc.url}/realms/sanji/protocol/openid-connect/auth"
    base = {"response_type": "code", "client_id": "sanji-console", "state": "s",
            "redirect_uri": "http://127.0.0.1:8000/console/callback"}
    for extra in ({}, {"code_challenge": "a" * 43, "code_challenge_method": "plain"}):
        r = httpx.get(auth, params={**base, **extra}, follow_redirects=True)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    # nor can the password be posted to the mock's own endpoint without one
    r = httpx.post(f"{oidc.url}/oauth2/authorize", params=base, data={"sub": "county.admin", "password": PASSWORD},
                   follow_redirects=False)
    assert r.status_code == 400 and "location" not in r.headers


def test_cookies_are_secure_when_the_gateway_is_served_over_https(catalogue_server, oidc, verifier):
    public = gateway(catalogue_server, oidc, verifier, public_base_url="https://zwfw.liangzhou.gov.cn")
    jar = cookies_of(public.get("/console/login"))
    assert jar[STATE_COOKIE]["secure"] and jar[PKCE_COOKIE]["secure"]

    proxied = gateway(catalogue_server, oidc, verifier, address="10.0.0.5", trusted_proxies=["10.0.0.0/24"])
    jar = cookies_of(proxied.get("/console/login", headers={"x-forwarded-proto": "https"}))
    assert jar[PKCE_COOKIE]["secure"]
    # the same header from anyone else is not believed (it would only make the cookie stricter, but the
    # scheme is the proxy's to say)
    direct = gateway(catalogue_server, oidc, verifier, address="203.0.113.61", trusted_proxies=["10.0.0.0/24"])
    jar = cookies_of(direct.get("/console/login", headers={"x-forwarded-proto": "https"}))
    assert not jar[PKCE_COOKIE]["secure"]

    # the whole login over https: the session cookie is Secure
    login = public.get("/console/login")
    verifier_cookie = cookies_of(login)[PKCE_COOKIE].value
    state_cookie = cookies_of(login)[STATE_COOKIE].value
    back = urlparse(sign_in(login.headers["location"]))
    r = public.get(f"{back.path}?{back.query}", cookies={STATE_COOKIE: state_cookie, PKCE_COOKIE: verifier_cookie})
    assert r.status_code == 302, r.text
    session = cookies_of(r)[COOKIE]
    assert session["secure"] and session["httponly"] and session["samesite"].lower() == "lax"
