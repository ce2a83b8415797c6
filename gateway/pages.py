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
import secrets
from urllib.parse import urlencode

import grpc
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sanji.catalogue.v1 import catalogue_pb2 as pb

from gateway import errors as http_errors
from gateway.edge import COOKIE, User, edge_of
from gateway.pages_kit import CSP, CSP_EXEMPT, Posted, Staff, allow, is_page, render, static_file
from gateway.routes_catalogue import catalogue
from gateway.settings import GatewaySettings
from shared.errors import DomainError, InvalidArgument, Unauthenticated
from shared.tenancy import Role

router = APIRouter()
SESSION_MAX_SECONDS = 8 * 3600   # a cookie never outlives the token in it, nor a working day
# the policy of pages rendered elsewhere (the catalogue's guide, intake's progress page): their styles are inline
CSP_OTHER = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
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
    return render(request, "home.html", {"q": q, "region": region, "results": results})


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
    answer = r.json()
    token = answer["access_token"]
    edge_of(request).verifier.verify(token)
    response = RedirectResponse("/console", status_code=302)
    # the session ends when the token does (then the next page sends the person to the login again)
    lifetime = int(answer.get("expires_in") or SESSION_MAX_SECONDS)
    _set_cookie(request, response, COOKIE, token, max(60, min(lifetime, SESSION_MAX_SECONDS)))
    _delete_cookie(request, response, STATE_COOKIE)
    _delete_cookie(request, response, PKCE_COOKIE)
    return response


@router.get("/console/logout", include_in_schema=False)
def console_logout_page(request: Request):
    """A link to the logout asks first: the logout itself is a form (with its CSRF value)."""
    try:
        p = edge_of(request).authenticate(request)
    except Unauthenticated:
        return RedirectResponse("/", status_code=302)
    return render(request, "logout.html", {}, p=p)


@router.post("/console/logout", include_in_schema=False)
def console_logout(request: Request, p: Staff, form: Posted):
    response = RedirectResponse("/", status_code=303)
    _delete_cookie(request, response, COOKIE)
    return response


# -- the staff workbench (工作台) ---------------------------------------------------------------------
@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
def console(request: Request, q: str = ""):
    """The workbench's home: the menus of the person's roles; a unit admin's item list (drafts too)."""
    try:
        p = edge_of(request).authenticate(request)
    except Unauthenticated:
        return RedirectResponse("/console/login", status_code=302)
    items = None
    if p.has(Role.TENANT_ADMIN):
        # drafts too: an admin looks for the draft to complete (an imported list holds a thousand)
        items = catalogue.call(request, p, "ListMyItems",
                               pb.ListMyItemsRequest(include_drafts=True, limit=CONSOLE_ROWS, query=q.strip()))
    return render(request, "console.html", {"items": items, "q": q}, p=p)


@router.post("/console/catalogue/{item_id}/publish", include_in_schema=False)
def publish_draft(request: Request, item_id: str, p: Staff, form: Posted):
    """The unit admin publishes a completed draft (the catalogue checks it is complete)."""
    allow(p, Role.TENANT_ADMIN)
    catalogue.call(request, p, "PublishItem", pb.PublishItemRequest(item_id=item_id))
    return RedirectResponse("/console#catalogue", status_code=303)


@router.get("/static/{name}", include_in_schema=False)
def static(name: str):
    return static_file(name)


# -- pages answer as pages ------------------------------------------------------------------------------
def _error_page(request: Request, status: int, message: str):
    p = None
    try:
        p = edge_of(request).authenticate(request)
    except DomainError:
        p = None
    titles = {401: "登录失败", 403: "无权访问", 404: "未找到", 409: "当前状态不能办理", 422: "填写有误",
              503: "服务暂时不可用"}
    return render(request, "error.html", {"status": status, "title": titles.get(status, "无法办理"),
                                          "message": message}, status=status, p=p)


def install(app) -> None:
    """Pages answer errors as Chinese pages (the REST API keeps its JSON), a visitor without a session is
    sent to the login, and every HTML answer carries a Content-Security-Policy."""

    @app.middleware("http")
    async def page_headers(request: Request, call_next):
        response = await call_next(request)
        if response.headers.get("content-type", "").startswith("text/html") and \
                not request.url.path.startswith(CSP_EXEMPT):
            response.headers.setdefault("content-security-policy", CSP_OTHER)
            response.headers.setdefault("x-content-type-options", "nosniff")
            response.headers.setdefault("referrer-policy", "same-origin")
        return response

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError):
        # input the edge refuses (gateway.inputs: a NUL, a lone surrogate) is answered as the API answers it,
        # 422 naming the field, on every path alike
        if not is_page(request) or isinstance(exc, InvalidArgument):
            status = next((s for cls, s in http_errors.HTTP_OF_DOMAIN.items() if isinstance(exc, cls)), 400)
            return http_errors.body(exc.code, exc.message, exc.field, status)
        if isinstance(exc, Unauthenticated) and request.url.path != "/console/callback":
            if request.headers.get("hx-request"):
                return HTMLResponse("", headers={"hx-redirect": "/console/login"})
            return RedirectResponse("/console/login", status_code=303)
        status = next((s for cls, s in http_errors.HTTP_OF_DOMAIN.items() if isinstance(exc, cls)), 400)
        return _error_page(request, status, exc.message)

    @app.exception_handler(grpc.RpcError)
    async def rpc_error(request: Request, exc: grpc.RpcError):
        answer = http_errors.from_rpc_error(exc)
        if not is_page(request):
            return answer
        if answer.status_code == 401:
            return RedirectResponse("/console/login", status_code=303)
        message = exc.details() if answer.status_code < 500 and hasattr(exc, "details") else ""
        return _error_page(request, answer.status_code, message or http_errors.UNAVAILABLE)


def _include_pages() -> None:
    from gateway import (
        pages_admin,
        pages_agency,
        pages_office,
        pages_onboarding,
        pages_public,
        pages_watch,
        pages_window,
    )

    for module in (pages_window, pages_office, pages_agency, pages_watch, pages_public, pages_admin, pages_onboarding):
        router.include_router(module.router)


_include_pages()
