"""What every server-rendered page of the gateway shares (the staff workbench and the public pages):
the templates, the static files (htmx vendored from npm, the stylesheet), the session, CSRF, the
Content-Security-Policy, the menus per role, and errors as Chinese pages instead of JSON.

- The session is the OIDC access token in an HttpOnly, SameSite=Lax cookie (Secure over https); it ends
  when the token expires (the cookie's max-age is the token's lifetime) or at logout.
- CSRF: every form carries `csrf`, htmx requests send it as the X-CSRF-Token header. The value is an
  HMAC of the session token, keyed by the token itself: a page of another site can neither read the
  HttpOnly cookie nor compute it, and every gateway replica checks it without a shared secret.
- The pages call the services through the same Backends as the REST routes (gateway/routes_*.py): the
  rules stay in the services, the pages only show and post.
"""

from __future__ import annotations

import hashlib
import hmac
import pathlib
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

import grpc
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.edge import current_user, edge_of
from gateway.tracing import current_trace_id
from gateway.uploads import UPLOAD_MAX_BYTES, Form, Upload, read_multipart  # noqa: F401 — the pages' forms
from shared.errors import PermissionDenied
from shared.tenancy import Principal, Role, UnitKind

HERE = pathlib.Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
# every page can name the request's trace (the error page does: issue 23, item 5)
TEMPLATES.env.globals["trace_id"] = current_trace_id
STATIC_DIR = HERE / "static"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
FORM_MAX_BYTES = 64 * 1024
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_REFUSED = "表单已失效或缺少防伪校验码，请刷新页面后重新提交"

# The policy of every page the gateway renders: scripts and styles from the gateway only (no inline
# script, no inline style attribute needed by our templates), no frames, no plugins. The API document
# (/docs, /redoc) is FastAPI's and loads its assets from a CDN, so it is left out.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")
CSP_EXEMPT = ("/docs", "/redoc")


def csrf_of(session_token: str) -> str:
    return hmac.new(session_token.encode("utf-8"), b"sanji-csrf-v1", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    token = edge_of(request).token_of(request)
    return csrf_of(token) if token else ""


# -- menus per role ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Menu:
    path: str
    label: str
    roles: tuple[Role, ...]
    key: str = ""            # accesskey (Alt+key in Chromium)
    province_only: bool = False   # for a province's own staff (a 2-digit tenant)


MENUS = (
    Menu("/console/window", "综合受理", (Role.WINDOW_CLERK,), "n"),
    Menu("/console/window/today", "今日办件", (Role.WINDOW_CLERK, Role.CHIEF_REPRESENTATIVE, Role.HEAD), "t"),
    Menu("/console/queue", "审批待办", (Role.REVIEWER, Role.DECIDER, Role.HEAD, Role.CHIEF_REPRESENTATIVE), "q"),
    Menu("/console/cashier", "收费", (Role.CASHIER, Role.HEAD), "f"),
    Menu("/console/agent", "帮办代办", (Role.AGENT,), "a"),
    Menu("/console/handovers", "原件交接", (Role.AGENT, Role.WINDOW_CLERK, Role.TENANT_ADMIN), "h"),
    Menu("/console/complaints", "投诉办理", (Role.COMPLAINT_HANDLER, Role.SUPERVISOR, Role.HEAD), "b"),
    # the cards are the supervisor's (supervision's ListCards; DESIGN §2: supervision roles): not the head's
    Menu("/console/supervision", "电子监察", (Role.SUPERVISOR,), "j"),
    Menu("/console#catalogue", "事项清单", (Role.TENANT_ADMIN,), "c"),
    # a local holiday is proposed by an admin and approved by another admin or the head (a unit has one admin)
    Menu("/console/calendar", "工作日历", (Role.TENANT_ADMIN, Role.HEAD), "d"),
    Menu("/console/fees", "收费目录", (Role.TENANT_ADMIN,), "g"),
    Menu("/console/onboarding", "县区上线", (Role.TENANT_ADMIN,), "o", province_only=True),
)


def menus_of(p: Principal) -> list[Menu]:
    return [m for m in MENUS if any(p.has(r) for r in m.roles)
            and (not m.province_only or p.tenant.kind is UnitKind.PROVINCE)]


def allow(p: Principal, *roles: Role) -> None:
    """A page a role may not use: 403 in Chinese (the services check again on every call)."""
    if not any(p.has(r) for r in roles):
        names = "、".join(r.label for r in roles)
        raise PermissionDenied(f"您的角色不能使用此页面（需要：{names}）")


def role_labels(p: Principal) -> list[str]:
    return [Role(r).label if r in Role._value2member_map_ else r for r in sorted(p.roles)]


# -- rendering ---------------------------------------------------------------------------------------
def render(request: Request, template: str, context: dict | None = None, status: int = 200,
           p: Principal | None = None) -> HTMLResponse:
    ctx = dict(context or {})
    ctx.setdefault("p", p)
    if p is not None:
        ctx.setdefault("menus", menus_of(p))
        ctx.setdefault("role_labels", role_labels(p))
        ctx.setdefault("level", p.tenant.kind.label)
        ctx.setdefault("unit_name", unit_name(request, str(p.tenant)))
    ctx["csrf"] = csrf_token(request) if p is not None else ""
    ctx["path"] = request.url.path
    response = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status)
    response.headers["content-security-policy"] = CSP
    return response


# rows a console list shows at a time (分页); the rest are a 下一页 away. The lists bench measures this page
# (tests/bench/bench_lists.py): the page people open all day is the call it times
CONSOLE_PAGE = 20
# how far a console list pages: as far as its count goes (the services count up to 1,000 and say "1000+");
# past it a list is searched or filtered, not paged through
CONSOLE_MAX_OFFSET = 1000


@dataclass(frozen=True)
class Pager:
    """Where a page of a console list is in the whole: rows first–last of `total` ("1000+" when the count was
    capped), with the addresses of the pages before and after (None at either end)."""
    first: int
    last: int
    total: str
    prev: str | None
    next: str | None


def capped(count: int, more: bool) -> str:
    """A count the services made up to their cap (LIST_TOTAL_CAP, 1,000): "1000+" when more match."""
    return f"{count}+" if more else str(count)


def pager(request: Request, offset: int, shown: int, total: int, total_capped: bool,
          param: str = "offset") -> Pager:
    """The pager of a list whose page at `offset` (the query parameter `param`) shows `shown` rows of `total`."""
    more = shown == CONSOLE_PAGE and (total_capped or offset + shown < total) and offset + shown < CONSOLE_MAX_OFFSET
    at = request.url.remove_query_params(param)
    return Pager(first=offset + 1 if shown else offset, last=offset + shown, total=capped(total, total_capped),
                 prev=str(at.include_query_params(**{param: max(offset - CONSOLE_PAGE, 0)})) if offset > 0 else None,
                 next=str(at.include_query_params(**{param: offset + shown})) if more else None)


def unit_name(request: Request, code: str) -> str:
    from sanji.catalogue.v1 import catalogue_pb2 as cpb

    from gateway.routes_catalogue import catalogue

    cache = request.app.state.__dict__.setdefault("unit_names", {})
    if code not in cache:
        try:
            cache[code] = catalogue.call(request, None, "GetUnit", cpb.GetUnitRequest(code=code)).name or code
        except grpc.RpcError:
            return code
    return cache[code]


def is_page(request: Request) -> bool:
    """A request of a page (HTML answers): the workbench and the public pages, not the REST API."""
    path = request.url.path
    return not (path.startswith("/api/") or path in ("/openapi.json", "/healthz") or path.startswith(CSP_EXEMPT))


# -- forms -------------------------------------------------------------------------------------------
class CsrfRefused(PermissionDenied):
    def __init__(self):
        super().__init__(CSRF_REFUSED)


async def posted(request: Request) -> Form:
    """The form of a page's POST, refused (403) unless it carries the CSRF value of the caller's session."""
    raw = await request.body()
    if len(raw) > FORM_MAX_BYTES:
        from shared.errors import InvalidArgument

        raise InvalidArgument("body", "表单内容过长")
    data = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=1000)
    token = edge_of(request).token_of(request)
    sent = (data.get(CSRF_FIELD) or [""])[0] or request.headers.get(CSRF_HEADER, "")
    if not token or not sent or not hmac.compare_digest(sent, csrf_of(token)):
        raise CsrfRefused()
    data.pop(CSRF_FIELD, None)
    return Form(data)


async def posted_upload(request: Request) -> Upload:
    """The multipart form of a page's POST (read_multipart), refused (403) unless it carries the CSRF value of
    the caller's session."""
    upload = await read_multipart(request)
    token = edge_of(request).token_of(request)
    sent = upload.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    if not token or not sent or not hmac.compare_digest(sent, csrf_of(token)):
        raise CsrfRefused()
    upload.form.data.pop(CSRF_FIELD, None)
    return upload


Posted = Annotated[Form, Depends(posted)]
Uploaded = Annotated[Upload, Depends(posted_upload)]
# a page for staff: the verified person (current_user), or the login when there is none (see pages.install)
Staff = Annotated[Principal, Depends(current_user)]


def static_file(name: str) -> Response:
    path = (STATIC_DIR / name).resolve()
    if path.parent != STATIC_DIR.resolve() or path.suffix not in STATIC_TYPES or not path.is_file():
        return Response(status_code=404)
    return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix],
                    headers={"cache-control": "public, max-age=3600"})
