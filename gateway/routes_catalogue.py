"""REST edge of the catalogue (事项目录): the public looks up published items, their guides (办事指南) and
the unit tree without logging in; each unit's administrator keeps its own item list (drafts, publishing,
adjusting, cancelling, delegating to townships and listing for village proxy points).

The request bodies are in gateway/models.py (their OpenAPI schema names are theirs).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from gateway.edge import User
from gateway.models import AdjustItemIn, CancelItemIn, CreateItemIn, DelegateItemIn, ElementsIn, ProvinceIn
from gateway.rest import Backend, file_response, to_json
from gateway.uploads import read_multipart
from shared.errors import InvalidArgument
from shared.tenancy import Principal

router = APIRouter()
catalogue = Backend("catalogue", catalogue_pb2_grpc.CatalogueServiceStub)
PUBLIC = ["公开查询"]
ADMIN = ["事项管理"]
# The largest item list the gateway passes on (the catalogue checks its own bound, just below this): a default,
# room for many times the largest county's list (广安区's 1,135 items are 212 KB) within gRPC's message size.
IMPORT_MAX_BYTES = 4 * 1024 * 1024
IMPORT_SECONDS = 180.0   # a whole county's list made into drafts (≈ a thousand rows) may take longer than a call


def _elements(model: ElementsIn) -> pb.ItemElements:
    return json_format.ParseDict(model.model_dump(), pb.ItemElements())


def _guide(request: Request, item_id: str, fmt: int, p: Principal | None, download: bool) -> Response:
    r = catalogue.call(request, p, "RenderGuide", pb.RenderGuideRequest(item_id=item_id, format=fmt))
    return file_response(r.content, r.content_type, r.filename if download else "")


# -- the public ------------------------------------------------------------------------------------
@router.get("/api/v1/public/items", tags=PUBLIC, summary="检索已公开的事项")
def public_search(request: Request, region: str = "", q: str = "", limit: int = Query(20, ge=1, le=200),
                  offset: int = Query(0, ge=0)):
    return to_json(catalogue.call(request, None, "SearchPublicItems", pb.SearchPublicItemsRequest(
        region=region, query=q, limit=limit, offset=offset)))


@router.get("/api/v1/public/items/{item_id}", tags=PUBLIC, summary="已公开事项详情")
def public_item(item_id: str, request: Request):
    return to_json(catalogue.call(request, None, "GetPublicItem", pb.GetPublicItemRequest(item_id=item_id)))


@router.get("/api/v1/public/items/{item_id}/guide.pdf", tags=PUBLIC, summary="办事指南（PDF）")
def public_guide_pdf(item_id: str, request: Request):
    return _guide(request, item_id, pb.GUIDE_FORMAT_PDF, None, True)


@router.get("/api/v1/public/items/{item_id}/guide.html", tags=PUBLIC, summary="办事指南（HTML）")
def public_guide_html(item_id: str, request: Request):
    return _guide(request, item_id, pb.GUIDE_FORMAT_HTML, None, False)


@router.get("/guide/{item_id}", include_in_schema=False)
def guide_page(item_id: str, request: Request):
    return _guide(request, item_id, pb.GUIDE_FORMAT_HTML, None, False)


@router.get("/api/v1/public/units/{code}", tags=PUBLIC, summary="单位信息")
def unit(code: str, request: Request):
    return to_json(catalogue.call(request, None, "GetUnit", pb.GetUnitRequest(code=code)))


@router.get("/api/v1/public/units/{code}/children", tags=PUBLIC, summary="下级单位")
def unit_children(code: str, request: Request):
    return to_json(catalogue.call(request, None, "ListChildUnits", pb.ListChildUnitsRequest(code=code)))


# -- the unit's administrator --------------------------------------------------------------------------
@router.get("/api/v1/catalogue/items", tags=ADMIN, summary="本单位事项清单")
def my_items(request: Request, p: User, include_drafts: bool = False, limit: int = Query(50, ge=1, le=200),
             offset: int = Query(0, ge=0), q: str = Query("", max_length=100, description="检索词（可选）")):
    return to_json(catalogue.call(request, p, "ListMyItems", pb.ListMyItemsRequest(
        include_drafts=include_drafts, limit=limit, offset=offset, query=q)))


@router.get("/api/v1/catalogue/search", tags=ADMIN, summary="在本单位清单中检索")
def my_search(request: Request, p: User, q: str, limit: int = Query(50, ge=1, le=200)):
    return to_json(catalogue.call(request, p, "SearchItems", pb.SearchItemsRequest(query=q, limit=limit)))


@router.post("/api/v1/catalogue/items", tags=ADMIN, summary="新建事项（草稿）", status_code=201)
def create_item(body: CreateItemIn, request: Request, p: User):
    return to_json(catalogue.call(request, p, "CreateItem", pb.CreateItemRequest(elements=_elements(body.elements))))


def import_items(request: Request, p: Principal, content: bytes, filename: str,
                 confirm: bool) -> pb.ImportItemsResponse:
    """The catalogue's ImportItems (the REST route and the workbench page alike)."""
    if len(content) > IMPORT_MAX_BYTES:
        raise InvalidArgument("file", f"文件过大：{len(content) // 1024} KB，"
                                      f"最大 {IMPORT_MAX_BYTES // 1024} KB（请分批导入）")
    return catalogue.call(request, p, "ImportItems", pb.ImportItemsRequest(
        content=content, filename=(filename or "")[:200], confirm=confirm),
        at_least=IMPORT_SECONDS if confirm else 0)


async def _list_file(request: Request) -> tuple[str, bytes]:
    upload = await read_multipart(request, IMPORT_MAX_BYTES + 64 * 1024)
    if not upload.content:
        raise InvalidArgument("file", "请上传事项清单文件（CSV，表单字段 file）")
    return upload.filename, upload.content


IMPORT_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "事项清单 CSV（UTF-8 或 GBK）"}}}}}}}


@router.post("/api/v1/catalogue/imports", tags=ADMIN, openapi_extra=IMPORT_BODY,
             summary="导入省级公布的事项清单（先预览，confirm=true 时导入为草稿）")
def import_list(request: Request, p: User, upload: Annotated[tuple[str, bytes], Depends(_list_file)],
                confirm: bool = Query(False, description="false：只返回逐行报告；true：导入为本单位草稿")):
    filename, content = upload
    if len(content) > IMPORT_MAX_BYTES:
        raise InvalidArgument("file", f"文件过大：{len(content) // 1024} KB，"
                                      f"最大 {IMPORT_MAX_BYTES // 1024} KB（请分批导入）")
    return to_json(catalogue.call(request, p, "ImportItems", pb.ImportItemsRequest(
        content=content, filename=filename[:200], confirm=confirm), at_least=IMPORT_SECONDS if confirm else 0))


@router.get("/api/v1/catalogue/items/{item_id}", tags=ADMIN, summary="事项详情（可指定版本）")
def get_item(item_id: str, request: Request, p: User, version: int = Query(0, ge=0)):
    return to_json(catalogue.call(request, p, "GetItem", pb.GetItemRequest(item_id=item_id, version=version)))


@router.get("/api/v1/catalogue/items/{item_id}/versions", tags=ADMIN, summary="事项的各个版本")
def item_versions(item_id: str, request: Request, p: User):
    return to_json(catalogue.call(request, p, "ListItemVersions", pb.ListItemVersionsRequest(item_id=item_id)))


@router.put("/api/v1/catalogue/items/{item_id}/draft", tags=ADMIN, summary="修改草稿")
def update_draft(item_id: str, body: CreateItemIn, request: Request, p: User):
    return to_json(catalogue.call(request, p, "UpdateDraft", pb.UpdateDraftRequest(
        item_id=item_id, elements=_elements(body.elements))))


@router.post("/api/v1/catalogue/items/{item_id}/publish", tags=ADMIN, summary="发布")
def publish(item_id: str, request: Request, p: User):
    return to_json(catalogue.call(request, p, "PublishItem", pb.PublishItemRequest(item_id=item_id)))


@router.post("/api/v1/catalogue/items/{item_id}/adjust", tags=ADMIN, summary="调整（发布新版本）")
def adjust(item_id: str, body: AdjustItemIn, request: Request, p: User):
    return to_json(catalogue.call(request, p, "AdjustItem", pb.AdjustItemRequest(
        item_id=item_id, elements=_elements(body.elements), reason=body.reason)))


@router.post("/api/v1/catalogue/items/{item_id}/cancel", tags=ADMIN, summary="取消")
def cancel(item_id: str, body: CancelItemIn, request: Request, p: User):
    return to_json(catalogue.call(request, p, "CancelItem", pb.CancelItemRequest(item_id=item_id, reason=body.reason)))


@router.post("/api/v1/catalogue/items/{item_id}/delegate", tags=ADMIN, summary="下放、设为代办或代收")
def delegate(item_id: str, body: DelegateItemIn, request: Request, p: User):
    kind = {"delegated": pb.LISTING_KIND_DELEGATED, "proxy": pb.LISTING_KIND_PROXY,
            "collect": pb.LISTING_KIND_COLLECT}[body.kind]
    return to_json(catalogue.call(request, p, "DelegateItem", pb.DelegateItemRequest(
        item_id=item_id, target_tenants=body.target_tenants, kind=kind, reason=body.reason)))


@router.get("/api/v1/catalogue/items/{item_id}/guide.pdf", tags=ADMIN, summary="办事指南预览（含草稿）")
def guide_preview(item_id: str, request: Request, p: User):
    return _guide(request, item_id, pb.GUIDE_FORMAT_PDF, p, True)


# -- provinces as data (issue 23) -------------------------------------------------------------------------
@router.get("/api/v1/public/provinces", tags=PUBLIC, summary="本部署的各省配置")
def provinces(request: Request):
    return to_json(catalogue.call(request, None, "ListProvinces", pb.ListProvincesRequest()))


@router.get("/api/v1/public/provinces/{code}", tags=PUBLIC, summary="省级配置")
def province(code: str, request: Request):
    return to_json(catalogue.call(request, None, "GetProvince", pb.GetProvinceRequest(tenant_code=code)))


@router.put("/api/v1/catalogue/provinces/{code}", tags=ADMIN, summary="维护本省配置（省级管理员）")
def update_province(code: str, body: ProvinceIn, request: Request, p: User):
    return to_json(catalogue.call(request, p, "UpdateProvince", pb.UpdateProvinceRequest(province=pb.Province(
        tenant_code=code, name=body.name, calendar_region=body.calendar_region, payment_key_ref=body.payment_key_ref,
        n_tong=body.n_tong, complaint_working_days=body.complaint_working_days,
        rectification_days=body.rectification_days, supervision_thresholds=body.supervision_thresholds))))
