"""The REST edge (FastAPI): public guide lookup and search, catalogue administration, the staff
console. It owns no business data; it verifies the caller's token and calls the services over gRPC
with that token, so each service checks the same person again.
"""


import importlib
import logging
import pathlib
import secrets
from typing import Annotated
from urllib.parse import urlencode

import httpx
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from gateway import errors as http_errors
from gateway.edge import Edge
from gateway.models import AdjustItemIn, CancelItemIn, CreateItemIn, DelegateItemIn, ElementsIn
from gateway.settings import GatewaySettings
from shared.auth import TokenVerifier
from shared.errors import Unauthenticated
from shared.grpc.client import bearer, make_channel
from shared.tenancy import Principal, Role

log = logging.getLogger("sanji.gateway")
TEMPLATES = Jinja2Templates(directory=str(pathlib.Path(__file__).parent / "templates"))
COOKIE = "sanji_session"
CONSOLE_ROWS = 200     # items on the console page; more are found by searching
# REST routers of the other services (each a module with `router`), included when present
ROUTERS = ["gateway.routes_intake", "gateway.routes_agency", "gateway.routes_approval", "gateway.routes_fees"]


def to_json(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def create_app(settings: GatewaySettings, *, verifier: TokenVerifier | None = None) -> FastAPI:
    verifier = verifier or TokenVerifier.from_settings(settings)
    channel = make_channel(settings.catalogue_target)
    catalogue = catalogue_pb2_grpc.CatalogueServiceStub(channel)
    timeout = settings.grpc_timeout_seconds
    oidc_browser = (settings.oidc_public_url or settings.oidc_server_url).rstrip("/")

    app = FastAPI(
        title="sanji 县乡村三级政务服务平台 API",
        version="0.1.0",
        description="公开的办事指南查询与事项检索；各单位凭令牌管理本单位事项清单。错误信息为中文，422 时指明字段。",
    )
    http_errors.install(app)
    app.state.channel = channel
    app.state.edge = Edge(settings, verifier)
    for module in ROUTERS:
        try:
            app.include_router(importlib.import_module(module).router)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise

    # -- identity -----------------------------------------------------------------------------
    def token_of(request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.cookies.get(COOKIE, "")

    def principal(request: Request) -> Principal:
        token = token_of(request)
        if not token:
            raise Unauthenticated("未登录或登录已失效，请重新登录")
        return verifier.verify(token)

    def md(p: Principal):
        return bearer(p.token)

    User = Annotated[Principal, Depends(principal)]

    # -- public ---------------------------------------------------------------------------------
    @app.get("/healthz", include_in_schema=False)
    def healthz():
        return {"status": "ok"}

    @app.get("/api/v1/public/items", tags=["公开查询"], summary="检索已公开的事项")
    def public_search(region: str = "", q: str = "", limit: int = Query(20, ge=1, le=200),
                      offset: int = Query(0, ge=0)):
        r = catalogue.SearchPublicItems(pb.SearchPublicItemsRequest(region=region, query=q, limit=limit,
                                                                    offset=offset), timeout=timeout)
        return to_json(r)

    @app.get("/api/v1/public/items/{item_id}", tags=["公开查询"], summary="已公开事项详情")
    def public_item(item_id: str):
        return to_json(catalogue.GetPublicItem(pb.GetPublicItemRequest(item_id=item_id), timeout=timeout))

    def guide(item_id: str, fmt: int, p: Principal | None, download: bool) -> Response:
        r = catalogue.RenderGuide(pb.RenderGuideRequest(item_id=item_id, format=fmt),
                                  metadata=md(p) if p else None, timeout=timeout)
        headers = {}
        if download:
            from urllib.parse import quote

            headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(r.filename)}"
        return Response(content=r.content, media_type=r.content_type, headers=headers)

    @app.get("/api/v1/public/items/{item_id}/guide.pdf", tags=["公开查询"], summary="办事指南（PDF）")
    def public_guide_pdf(item_id: str):
        return guide(item_id, pb.GUIDE_FORMAT_PDF, None, True)

    @app.get("/api/v1/public/items/{item_id}/guide.html", tags=["公开查询"], summary="办事指南（HTML）")
    def public_guide_html(item_id: str):
        return guide(item_id, pb.GUIDE_FORMAT_HTML, None, False)

    @app.get("/guide/{item_id}", include_in_schema=False)
    def guide_page(item_id: str):
        return guide(item_id, pb.GUIDE_FORMAT_HTML, None, False)

    @app.get("/api/v1/public/units/{code}", tags=["公开查询"], summary="单位信息")
    def unit(code: str):
        return to_json(catalogue.GetUnit(pb.GetUnitRequest(code=code), timeout=timeout))

    @app.get("/api/v1/public/units/{code}/children", tags=["公开查询"], summary="下级单位")
    def unit_children(code: str):
        return to_json(catalogue.ListChildUnits(pb.ListChildUnitsRequest(code=code), timeout=timeout))

    # -- catalogue administration ---------------------------------------------------------------
    @app.get("/api/v1/me", tags=["身份"], summary="当前登录用户")
    def me(p: User):
        return {"username": p.username, "name": p.display_name, "tenant": str(p.tenant),
                "unit_kind": p.tenant.kind.value, "roles": sorted(p.roles)}

    @app.get("/api/v1/catalogue/items", tags=["事项管理"], summary="本单位事项清单")
    def my_items(p: User, include_drafts: bool = False, limit: int = Query(50, ge=1, le=200),
                 offset: int = Query(0, ge=0), q: str = Query("", max_length=100, description="检索词（可选）")):
        return to_json(catalogue.ListMyItems(pb.ListMyItemsRequest(include_drafts=include_drafts, limit=limit,
                                                                   offset=offset, query=q),
                                             metadata=md(p), timeout=timeout))

    @app.get("/api/v1/catalogue/search", tags=["事项管理"], summary="在本单位清单中检索")
    def my_search(p: User, q: str, limit: int = Query(50, ge=1, le=200)):
        return to_json(catalogue.SearchItems(pb.SearchItemsRequest(query=q, limit=limit), metadata=md(p),
                                             timeout=timeout))

    def elements(model: ElementsIn) -> pb.ItemElements:
        return json_format.ParseDict(model.model_dump(), pb.ItemElements())

    @app.post("/api/v1/catalogue/items", tags=["事项管理"], summary="新建事项（草稿）", status_code=201)
    def create_item(body: CreateItemIn, p: User):
        return to_json(catalogue.CreateItem(pb.CreateItemRequest(elements=elements(body.elements)),
                                            metadata=md(p), timeout=timeout))

    @app.get("/api/v1/catalogue/items/{item_id}", tags=["事项管理"], summary="事项详情（可指定版本）")
    def get_item(item_id: str, p: User, version: int = Query(0, ge=0)):
        return to_json(catalogue.GetItem(pb.GetItemRequest(item_id=item_id, version=version), metadata=md(p),
                                         timeout=timeout))

    @app.get("/api/v1/catalogue/items/{item_id}/versions", tags=["事项管理"], summary="事项的各个版本")
    def item_versions(item_id: str, p: User):
        return to_json(catalogue.ListItemVersions(pb.ListItemVersionsRequest(item_id=item_id), metadata=md(p),
                                                  timeout=timeout))

    @app.put("/api/v1/catalogue/items/{item_id}/draft", tags=["事项管理"], summary="修改草稿")
    def update_draft(item_id: str, body: CreateItemIn, p: User):
        return to_json(catalogue.UpdateDraft(pb.UpdateDraftRequest(item_id=item_id, elements=elements(body.elements)),
                                             metadata=md(p), timeout=timeout))

    @app.post("/api/v1/catalogue/items/{item_id}/publish", tags=["事项管理"], summary="发布")
    def publish(item_id: str, p: User):
        return to_json(catalogue.PublishItem(pb.PublishItemRequest(item_id=item_id), metadata=md(p),
                                             timeout=timeout))

    @app.post("/api/v1/catalogue/items/{item_id}/adjust", tags=["事项管理"], summary="调整（发布新版本）")
    def adjust(item_id: str, body: AdjustItemIn, p: User):
        return to_json(catalogue.AdjustItem(pb.AdjustItemRequest(item_id=item_id, elements=elements(body.elements),
                                                                 reason=body.reason), metadata=md(p), timeout=timeout))

    @app.post("/api/v1/catalogue/items/{item_id}/cancel", tags=["事项管理"], summary="取消")
    def cancel(item_id: str, body: CancelItemIn, p: User):
        return to_json(catalogue.CancelItem(pb.CancelItemRequest(item_id=item_id, reason=body.reason),
                                            metadata=md(p), timeout=timeout))

    @app.post("/api/v1/catalogue/items/{item_id}/delegate", tags=["事项管理"], summary="下放或设为村级代办")
    def delegate(item_id: str, body: DelegateItemIn, p: User):
        kind = pb.LISTING_KIND_DELEGATED if body.kind == "delegated" else pb.LISTING_KIND_PROXY
        return to_json(catalogue.DelegateItem(pb.DelegateItemRequest(
            item_id=item_id, target_tenants=body.target_tenants, kind=kind, reason=body.reason),
            metadata=md(p), timeout=timeout))

    @app.get("/api/v1/catalogue/items/{item_id}/guide.pdf", tags=["事项管理"], summary="办事指南预览（含草稿）")
    def guide_preview(item_id: str, p: User):
        return guide(item_id, pb.GUIDE_FORMAT_PDF, p, True)

    # -- pages: public home and the staff console -----------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, q: str = "", region: str = ""):
        results = None
        if q:
            results = catalogue.SearchPublicItems(pb.SearchPublicItemsRequest(region=region, query=q, limit=50),
                                                  timeout=timeout)
        return TEMPLATES.TemplateResponse(request, "home.html", {"q": q, "region": region, "results": results})

    redirect_uri = f"{settings.public_base_url.rstrip('/')}/console/callback"
    realm_base = f"/realms/{settings.oidc_realm}/protocol/openid-connect"

    @app.get("/console/login", include_in_schema=False)
    def console_login():
        state = secrets.token_urlsafe(16)
        query = urlencode({"response_type": "code", "client_id": settings.oidc_client_id, "scope": "openid profile",
                           "redirect_uri": redirect_uri, "state": state})
        response = RedirectResponse(f"{oidc_browser}{realm_base}/auth?{query}", status_code=302)
        response.set_cookie("sanji_state", state, httponly=True, samesite="lax", max_age=600)
        return response

    @app.get("/console/callback", include_in_schema=False)
    def console_callback(request: Request, code: str = "", state: str = ""):
        if not code or not state or not secrets.compare_digest(state, request.cookies.get("sanji_state", "")):
            raise Unauthenticated("登录状态已失效，请重新登录")
        r = httpx.post(f"{settings.oidc_server_url.rstrip('/')}{realm_base}/token", timeout=10, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": settings.oidc_client_id, "client_secret": "public"})
        if r.status_code != 200:
            raise Unauthenticated("登录失败，请重新登录")
        token = r.json()["access_token"]
        verifier.verify(token)
        response = RedirectResponse("/console", status_code=302)
        response.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=8 * 3600)
        response.delete_cookie("sanji_state")
        return response

    @app.get("/console/logout", include_in_schema=False)
    def console_logout():
        response = RedirectResponse("/", status_code=302)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/console", response_class=HTMLResponse, include_in_schema=False)
    def console(request: Request, q: str = ""):
        token = token_of(request)
        if not token:
            return RedirectResponse("/console/login", status_code=302)
        try:
            p = verifier.verify(token)
        except Unauthenticated:
            return RedirectResponse("/console/login", status_code=302)
        unit_info = catalogue.GetUnit(pb.GetUnitRequest(code=str(p.tenant)), timeout=timeout)
        # drafts too: an admin looks for the draft to complete (an imported list holds a thousand)
        items = catalogue.ListMyItems(pb.ListMyItemsRequest(include_drafts=True, limit=CONSOLE_ROWS, query=q.strip()),
                                      metadata=md(p), timeout=timeout)
        labels = [Role(r).label if r in Role._value2member_map_ else r for r in sorted(p.roles)]
        return TEMPLATES.TemplateResponse(request, "console.html", {"p": p, "unit": unit_info, "items": items, "q": q,
                                                                    "role_labels": labels})

    return app


def instrument(app: FastAPI) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz")
