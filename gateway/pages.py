"""The gateway's own pages and identity: the public home page (search the published items), the staff
console with its login (OIDC authorisation code flow with PKCE (S256) against Keycloak or the loopback
provider; the token never appears in a URL and is kept in a cookie that is HttpOnly, SameSite=Lax and
Secure whenever the gateway is reached over https), and `/api/v1/me`, who the token says the caller is.

The pages are for people, so a console visitor without a valid token is sent to the login, not
answered 401.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
import secrets
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sanji.catalogue.v1 import catalogue_pb2 as pb

from gateway.edge import COOKIE, User, edge_of
from gateway.routes_catalogue import catalogue
from gateway.settings import GatewaySettings
from shared.errors import Unauthenticated
from shared.tenancy import Role

router = APIRouter()
TEMPLATES = Jinja2Templates(directory=str(pathlib.Path(__file__).parent / "templates"))
CONSOLE_ROWS = 200     # items on the console page; more are found by searching
STATE_COOKIE = "sanji_state"
PKCE_COOKIE = "sanji_pkce"      # the login's code verifier, until the callback redeems the code with it


def pkce_pair() -> tuple[str, str]:
    """A code verifier (RFC 7636: 43-128 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _set_cookie(request: Request, response, name: str, value: str, max_age: int) -> None:
    """Every cookie of the gateway: not readable by scripts, not sent on cross-site posts, https-only over https."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=edge_of(request).is_https(request))


def _delete_cookie(request: Request, response, name: str) -> None:
    response.delete_cookie(name, httponly=True, samesite="lax", secure=edge_of(request).is_https(request))


def _oidc(request: Request) -> tuple[GatewaySettings, str, str]:
    """The settings, the console's redirect URI and the realm's OpenID Connect path."""
    settings = edge_of(request).settings
    redirect_uri = f"{settings.public_base_url.rstrip('/')}/console/callback"
    return settings, redirect_uri, f"/realms/{settings.oidc_realm}/protocol/openid-connect"


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, q: str = "", region: str = ""):
    results = None
    if q:
        results = catalogue.call(request, None, "SearchPublicItems",
                                 pb.SearchPublicItemsRequest(region=region, query=q, limit=50))
    return TEMPLATES.TemplateResponse(request, "home.html", {"q": q, "region": region, "results": results})


# -- identity ----------------------------------------------------------------------------------------
class MeOut(BaseModel):
    username: str
    name: str
    tenant: str
    unit_kind: str
    roles: list[str]


@router.get("/api/v1/me", tags=["身份"], summary="当前登录用户", response_model=MeOut)
def me(p: User):
    return {"username": p.username, "name": p.display_name, "tenant": str(p.tenant),
            "unit_kind": p.tenant.kind.value, "roles": sorted(p.roles)}


@router.get("/console/login", include_in_schema=False)
def console_login(request: Request):
    settings, redirect_uri, realm_base = _oidc(request)
    # the browser reaches the identity provider at its public address, the gateway at its own
    browser_base = (settings.oidc_public_url or settings.oidc_server_url).rstrip("/")
    state = secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair()
    query = urlencode({"response_type": "code", "client_id": settings.oidc_client_id, "scope": "openid profile",
                       "redirect_uri": redirect_uri, "state": state,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    response = RedirectResponse(f"{browser_base}{realm_base}/auth?{query}", status_code=302)
    _set_cookie(request, response, STATE_COOKIE, state, 600)
    _set_cookie(request, response, PKCE_COOKIE, verifier, 600)
    return response


@router.get("/console/callback", include_in_schema=False)
def console_callback(request: Request, code: str = "", state: str = ""):
    if not code or not state or not secrets.compare_digest(state, request.cookies.get(STATE_COOKIE, "")):
        raise Unauthenticated("登录状态已失效，请重新登录")
    verifier = request.cookies.get(PKCE_COOKIE, "")
    if not verifier:
        raise Unauthenticated("登录状态已失效，请重新登录")
    settings, redirect_uri, realm_base = _oidc(request)
    # a public client: no secret; the code is redeemed only with the verifier its challenge was made from
    r = httpx.post(f"{settings.oidc_server_url.rstrip('/')}{realm_base}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": settings.oidc_client_id, "code_verifier": verifier})
    if r.status_code != 200:
        raise Unauthenticated("登录失败，请重新登录")
    token = r.json()["access_token"]
    edge_of(request).verifier.verify(token)
    response = RedirectResponse("/console", status_code=302)
    _set_cookie(request, response, COOKIE, token, 8 * 3600)
    _delete_cookie(request, response, STATE_COOKIE)
    _delete_cookie(request, response, PKCE_COOKIE)
    return response


@router.get("/console/logout", include_in_schema=False)
def console_logout(request: Request):
    response = RedirectResponse("/", status_code=302)
    _delete_cookie(request, response, COOKIE)
    return response


# -- the staff console -------------------------------------------------------------------------------
@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
def console(request: Request, q: str = ""):
    try:
        p = edge_of(request).authenticate(request)
    except Unauthenticated:
        return RedirectResponse("/console/login", status_code=302)
    unit_info = catalogue.call(request, None, "GetUnit", pb.GetUnitRequest(code=str(p.tenant)))
    # drafts too: an admin looks for the draft to complete (an imported list holds a thousand)
    items = catalogue.call(request, p, "ListMyItems",
                           pb.ListMyItemsRequest(include_drafts=True, limit=CONSOLE_ROWS, query=q.strip()))
    labels = [Role(r).label if r in Role._value2member_map_ else r for r in sorted(p.roles)]
    return TEMPLATES.TemplateResponse(request, "console.html", {"p": p, "unit": unit_info, "items": items, "q": q,
                                                                "role_labels": labels})
